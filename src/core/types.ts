/**
 * The contract of a range map, shared by the Wasm-backed `RangeMap` and by the simple
 * reference models used in tests.
 *
 * Conventions used throughout memattr:
 * - `gfn`: guest frame number, a 4 KiB page index in `[0, MAX_GFN)`.
 * - A range is half-open `[start, end)` in gfns unless its doc says otherwise.
 * - `value`: a small unsigned integer 0–255 stored per page; the model layer gives it meaning.
 */

import { GFN_BITS, MAX_VALUE } from "./_abi.js";

/** One past the largest page number a map can hold (2^40 pages = 4 PiB of guest memory). */
export const MAX_GFN = 2 ** GFN_BITS;

/** Largest value a page can hold. */
export { MAX_VALUE };

/** A maximal run of equal values, half-open `[start, end)`. */
export interface Run {
  start: number;
  end: number;
  value: number;
}

/**
 * The operations every range map offers. All ranges are half-open `[start, end)` with
 * `0 <= start < end <= MAX_GFN`; `value` is an integer 0–255. Invalid arguments throw a
 * `MemattrError` subclass and leave the map unchanged.
 */
export interface RangeMapLike {
  /** Sets every page of `[start, end)` to `value`. */
  set(start: number, end: number, value: number): void;
  /**
   * Masked update of every page in `[start, end)`: `v = (v & ~clearMask) | setMask`.
   * Used by the model to change one field (say the attribute bit) while keeping others
   * (say the populated bits) that differ page by page.
   */
  update(start: number, end: number, clearMask: number, setMask: number): void;
  /** Value of page `gfn`. */
  get(gfn: number): number;
  /** True when every page of `[start, end)` holds `value`. */
  isUniform(start: number, end: number, value: number): boolean;
  /** The one value held by all of `[start, end)`, or -1 when it is mixed. */
  uniformValue(start: number, end: number): number;
  /**
   * `uniformValue`, then — when that value `u` passes `(u & testMask) === testValue` — the
   * masked update `(u & ~clearMask) | setMask` of the whole range. Returns `u` (or -1 when
   * mixed: nothing changed).
   */
  updateIfUniform(start: number, end: number, testMask: number, testValue: number, clearMask: number, setMask: number): number;
  /** Maximal runs overlapping `[start, end)`, clipped to it, in ascending order. */
  runs(start: number, end: number): Run[];
  /** Calls `fn` for each clipped maximal run in `[start, end)`; stop early by returning false. */
  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void | boolean): void;
  /** Number of pages in the whole map holding `value`. */
  pages(value: number): number;
  /** Number of pages in `[start, end)` holding `value`. */
  countInRange(start: number, end: number, value: number): number;
  /** Number of maximal runs in the whole map (the empty map is one run of value 0). */
  runCount(): number;
  /** Resets every page to 0 and releases what can be released. */
  clear(): void;
}
