/**
 * Byte sizes written the way people write them ("1GiB", "64MiB", "4096", "2g"), for the
 * generators' `guestBytes` and the CLI's `--guest`. Binary multiples only: "1G" is 2^30.
 */
import { MemattrRangeError, MemattrTypeError } from "../core/errors.js";

const UNIT_SHIFT: Record<string, number> = {
  "": 0,
  b: 0,
  k: 10,
  kb: 10,
  kib: 10,
  m: 20,
  mb: 20,
  mib: 20,
  g: 30,
  gb: 30,
  gib: 30,
  t: 40,
  tb: 40,
  tib: 40,
  p: 50,
  pb: 50,
  pib: 50,
};

/**
 * Parses a byte count with an optional binary unit.
 * @param text such as `"1GiB"`, `"64 MiB"`, `"512k"` or `"4096"`.
 * @returns the number of bytes (exact up to 2^53).
 * @throws MemattrTypeError when `text` is not a number with a known unit.
 * @throws MemattrRangeError when the result is not a safe integer.
 * @example
 * ```ts
 * import { parseBytes } from "memattr";
 * console.log(parseBytes("1GiB")); // 1073741824
 * ```
 */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const shift = m ? UNIT_SHIFT[m[2]!.toLowerCase()] : undefined;
  if (!m || shift === undefined) throw new MemattrTypeError(`not a byte size: ${JSON.stringify(text)} (try "1GiB", "64MiB", "4096")`);
  const bytes = Number(m[1]) * 2 ** shift;
  if (!Number.isSafeInteger(bytes)) throw new MemattrRangeError(`byte size ${JSON.stringify(text)} is not a whole number of bytes below 2^53`);
  return bytes;
}

/**
 * Formats a byte count with the largest binary unit that keeps it readable.
 * @example
 * ```ts
 * import { formatBytes } from "memattr";
 * console.log(formatBytes(64 * 2 ** 20)); // 64 MiB
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let v = bytes;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(2)} ${units[i]}`;
}
