// Internal: validation of untrusted numbers. Accepts number or bigint; NaN, Infinity,
// fractions and other types are MemattrTypeError; negative or too large is MemattrRangeError.
// Nothing here changes state, so callers validate everything first, then act.
import { MemattrRangeError, MemattrTypeError } from "../core/errors.js";
import { MAX_GFN } from "../core/types.js";

/** 2^64: one past the largest value a u64 register holds. */
export const U64_LIMIT = 1n << 64n;

function show(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

/**
 * Checks that `value` is an integer in `[min, max]` and returns it as a number.
 * `max` must be at most 2^53 - 1, so the result is exact.
 */
export function checkInteger(value: unknown, name: string, min: number, max: number): number {
  let n: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || !Number.isInteger(value)) {
      throw new MemattrTypeError(`${name} must be a finite integer, got ${show(value)}`);
    }
    n = value;
  } else if (typeof value === "bigint") {
    if (value < BigInt(min) || value > BigInt(max)) {
      throw new MemattrRangeError(`${name} must be in [${min}, ${max}], got ${show(value)}`);
    }
    n = Number(value);
  } else {
    throw new MemattrTypeError(`${name} must be a number or bigint, got ${value === null ? "null" : typeof value}`);
  }
  if (n < min || n > max) throw new MemattrRangeError(`${name} must be in [${min}, ${max}], got ${show(value)}`);
  return n === 0 ? 0 : n; // folds -0
}

/** A gfn: integer in [0, 2^40). */
export function checkGfn(value: unknown, name = "gfn"): number {
  return checkInteger(value, name, 0, MAX_GFN - 1);
}

/** A page count: integer in [1, 2^40]. */
export function checkNpages(value: unknown, name = "npages"): number {
  return checkInteger(value, name, 1, MAX_GFN);
}

/** A u64 register value as a bigint: integer in [0, 2^64). Numbers must be safe integers. */
export function checkU64(value: unknown, name: string): bigint {
  if (typeof value === "bigint") {
    if (value < 0n || value >= U64_LIMIT) {
      throw new MemattrRangeError(`${name} must be a u64 in [0, 2^64), got ${show(value)}`);
    }
    return value;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value) || !Number.isInteger(value)) {
      throw new MemattrTypeError(`${name} must be a finite integer, got ${show(value)}`);
    }
    if (value < 0) throw new MemattrRangeError(`${name} must be a u64 in [0, 2^64), got ${show(value)}`);
    // Above 2^53 a number is no longer exact: a guest value there must arrive as a bigint.
    if (!Number.isSafeInteger(value)) {
      throw new MemattrRangeError(`${name} ${show(value)} is beyond 2^53 - 1; pass it as a bigint`);
    }
    return BigInt(value);
  }
  throw new MemattrTypeError(`${name} must be a number or bigint, got ${value === null ? "null" : typeof value}`);
}

/** One of the given strings. */
export function checkOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new MemattrTypeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(", ")}, got ${show(value)}`);
  }
  return value as T;
}

/** A boolean, or undefined (read as `fallback`). */
export function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new MemattrTypeError(`${name} must be a boolean, got ${show(value)}`);
  return value;
}

/** A plain object argument. */
export function checkObject(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null) {
    throw new MemattrTypeError(`${name} must be an object, got ${value === null ? "null" : typeof value}`);
  }
  return value as Record<string, unknown>;
}
