// Argument checks shared by RangeMap and its batch: cheap tests inline at the call site, and
// these slow paths that work out which error to throw and quote the argument.
import { MemattrRangeError, MemattrTypeError } from "./errors.js";
import { MAX_GFN, MAX_VALUE } from "./types.js";

function quote(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  if (typeof x === "bigint") return `${x}n`;
  if (Array.isArray(x)) return `an array`;
  if (typeof x === "object" && x !== null) return ArrayBuffer.isView(x) ? `a ${x.constructor.name}` : "an object";
  if (typeof x === "function") return "a function";
  return String(x); // number, boolean, null, undefined, symbol: never throws
}

function checkInteger(name: string, x: unknown): asserts x is number {
  if (typeof x !== "number" || !Number.isInteger(x)) {
    throw new MemattrTypeError(`${name} must be an integer, got ${quote(x)}`);
  }
}

/** A list of numbers as the bulk methods take it: a typed array of numbers (each entry a number by its type), or an array (each entry checked as it is staged). */
export type NumberList = ArrayLike<number>;

/**
 * Checks that `list` is a typed array of numbers or an array, and returns its length. The entries
 * of an array are checked where they are staged ({@link stageNumbers}); a typed array's are
 * numbers by its type, and the core checks their values.
 * @throws MemattrTypeError for anything else: a string, an array-like object, a BigInt64Array.
 */
export function listLength(name: string, list: unknown): number {
  if (Array.isArray(list)) return list.length;
  if (ArrayBuffer.isView(list) && !(list instanceof DataView) && !(list instanceof BigInt64Array) && !(list instanceof BigUint64Array)) {
    return (list as unknown as ArrayLike<number>).length;
  }
  throw new MemattrTypeError(`${name} must be an array or a typed array of numbers, got ${quote(list)}`);
}

/**
 * Copies `count` numbers from `list[from]` into `dst[at]`: one `set()` for a typed array, and for
 * an array a typeof test per entry (a string, null or boolean would be coerced to a page number).
 * @throws MemattrTypeError naming the first entry that is not a number.
 */
export function stageNumbers(name: string, list: NumberList, from: number, count: number, dst: Float64Array, at: number): void {
  if (!Array.isArray(list)) {
    dst.set(count === list.length ? (list as Float64Array) : (list as Float64Array).subarray(from, from + count), at);
    return;
  }
  for (let i = 0; i < count; i++) {
    const v = list[from + i];
    if (typeof v !== "number") throw new MemattrTypeError(`${name}[${from + i}] must be a number, got ${quote(v)}`);
    dst[at + i] = v;
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

/**
 * True when [start, end) is a valid range; the fast check every method runs first. Number.isInteger
 * comes first: it is false for anything but a number, without converting it, so a symbol or an
 * object is never compared (which throws, or calls its valueOf).
 */
export function isRange(start: number, end: number): boolean {
  return Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= MAX_GFN;
}

/** True when `value` is a page value or mask, 0–255. */
export function isByte(value: number): boolean {
  return typeof value === "number" && (value & 255) === value;
}

/** True when `gfn` is a page number in [0, 2^40). */
export function isGfn(gfn: number): boolean {
  return typeof gfn === "number" && gfn >= 0 && gfn < MAX_GFN && Number.isInteger(gfn);
}
