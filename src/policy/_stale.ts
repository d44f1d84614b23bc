/**
 * Internal: page-value tests the policies share (see model/states.ts for the bit layout), and
 * exact counts over a few ranges through the tracker's raw run iteration.
 */
import type { GfnRange } from "../model/errors.js";
import { PENDING, PRIVATE, PRIVATE_POPULATED, SHARED_POPULATED, type Side } from "../model/states.js";
import type { Tracker } from "../model/tracker.js";

const BOTH = SHARED_POPULATED | PRIVATE_POPULATED;

/** Populated on `side` while the committed attribute is the other side and nothing is pending. */
export function isStaleValue(value: number, side: Side): boolean {
  if (side === "shared") return (value & (SHARED_POPULATED | PENDING | PRIVATE)) === (SHARED_POPULATED | PRIVATE);
  return (value & (PRIVATE_POPULATED | PENDING | PRIVATE)) === PRIVATE_POPULATED;
}

/** Populated on both sides. */
export function isDoubleValue(value: number): boolean {
  return (value & BOTH) === BOTH;
}

/**
 * Appends the stale runs of `side` inside `gfn + npages` to `flat` (coalescing with its last
 * pair) and returns `[stalePages, doublePages]` found there. O(runs in the range).
 */
export function collectStale(tracker: Tracker, side: Side, gfn: number, npages: number, flat: number[]): [number, number] {
  let stale = 0;
  let dbl = 0;
  tracker.forEachRawRun(
    (g, n, v) => {
      if (!isStaleValue(v, side)) return;
      stale += n;
      if (isDoubleValue(v)) dbl += n;
      if (flat.length > 0 && flat[flat.length - 1] === g) flat[flat.length - 1] = g + n;
      else flat.push(g, g + n);
    },
    gfn,
    npages,
  );
  return [stale, dbl];
}

/** Stale pages of `side` and double-allocated pages inside `ranges` (disjoint). */
export function countStale(tracker: Tracker, side: Side, ranges: readonly GfnRange[]): [number, number] {
  let stale = 0;
  let dbl = 0;
  for (const r of ranges) {
    tracker.forEachRawRun(
      (_g, n, v) => {
        if (!isStaleValue(v, side)) return;
        stale += n;
        if (isDoubleValue(v)) dbl += n;
      },
      r.gfn,
      r.npages,
    );
  }
  return [stale, dbl];
}
