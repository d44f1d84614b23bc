// Argument checks shared by RangeMap and its batch: cheap tests inline at the call site, and
// these slow paths that work out which error to throw and quote the argument.
import { MemattrRangeError, MemattrTypeError } from "./errors.js";
import { MAX_GFN, MAX_VALUE } from "./types.js";

function quote(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x);
  if (typeof x === "bigint") return `${x}n`;
  return String(x);
}

function checkInteger(name: string, x: unknown): asserts x is number {
  if (typeof x !== "number" || !Number.isInteger(x)) {
    throw new MemattrTypeError(`${name} must be an integer, got ${quote(x)}`);
  }
}

/** Throws the error a bad page number deserves (never returns). */
export function badGfn(name: string, gfn: unknown): never {
  checkInteger(name, gfn);
  throw new MemattrRangeError(`${name} must be a page number in [0, 2^40), got ${quote(gfn)}`);
}

/** Throws the error a bad half-open range [start, end) deserves (never returns). */
export function badRange(start: unknown, end: unknown): never {
  checkInteger("start", start);
  checkInteger("end", end);
  if (start < 0 || start >= MAX_GFN) throw new MemattrRangeError(`start must be in [0, 2^40), got ${quote(start)}`);
  if (end <= 0 || end > MAX_GFN) throw new MemattrRangeError(`end must be in (0, 2^40], got ${quote(end)}`);
  throw new MemattrRangeError(`start must be below end, got start ${quote(start)} and end ${quote(end)}`);
}

/** Throws the error a bad page value (or mask) deserves (never returns). */
export function badValue(name: string, value: unknown): never {
  checkInteger(name, value);
  throw new MemattrRangeError(`${name} must be an integer 0–${MAX_VALUE}, got ${quote(value)}`);
}

/** True when [start, end) is a valid range; the fast check every method runs first. */
export function isRange(start: number, end: number): boolean {
  return start >= 0 && start < end && end <= MAX_GFN && Number.isInteger(start) && Number.isInteger(end);
}
