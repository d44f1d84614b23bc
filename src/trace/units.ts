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
  const m = typeof text === "string" ? /^\s*(\d+)(?:\.(\d+))?\s*([a-zA-Z]*)\s*$/.exec(text) : null;
  const shift = m ? UNIT_SHIFT[m[3]!.toLowerCase()] : undefined;
  if (!m || shift === undefined || !Object.hasOwn(UNIT_SHIFT, m[3]!.toLowerCase())) {
    throw new MemattrTypeError(`not a byte size: ${typeof text === "string" ? JSON.stringify(text) : typeof text} (try "1GiB", "64MiB", "4096")`);
  }
  // Exact in integers: digits · 2^shift / 10^decimals must be a whole number (a double would round
  // "4096.0000000000000001" to 4096). Past 16 integer digits the value is beyond 2^53, and a
  // fraction of more digits than `shift` (trailing zeros dropped) is never whole: no big numbers.
  const whole = m[1]!.replace(/^0+(?=\d)/, "");
  const frac = (m[2] ?? "").replace(/0+$/, "");
  if (whole.length > 16 || frac.length > shift) {
    throw new MemattrRangeError(`byte size ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)} is not a whole number of bytes below 2^53`);
  }
  const scaled = BigInt(whole + frac) << BigInt(shift);
  const denominator = 10n ** BigInt(frac.length);
  if (scaled % denominator !== 0n || scaled / denominator > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MemattrRangeError(`byte size ${JSON.stringify(text)} is not a whole number of bytes below 2^53`);
  }
  return Number(scaled / denominator);
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
