/**
 * Internal: exact counts of stale and double-allocated pages over a few ranges, through the
 * tracker's raw run iteration (the value tests are model/states.ts's isStale / isDoubleAllocated).
 */
import type { GfnRange } from "../model/errors.js";
import { isDoubleAllocated, isStale, type Side } from "../model/states.js";
import type { Tracker } from "../model/tracker.js";

/**
 * Appends the stale runs of `side` inside `gfn + npages` to `flat` (coalescing with its last
 * pair) and returns `[stalePages, doublePages]` found there. O(runs in the range).
 */
export function collectStale(tracker: Tracker, side: Side, gfn: number, npages: number, flat: number[]): [number, number] {
  let stale = 0;
  let dbl = 0;
  tracker.forEachRawRun(
    (g, n, v) => {
      if (!isStale(v, side)) return;
      stale += n;
      if (isDoubleAllocated(v)) dbl += n;
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
        if (!isStale(v, side)) return;
        stale += n;
        if (isDoubleAllocated(v)) dbl += n;
      },
      r.gfn,
      r.npages,
    );
  }
  return [stale, dbl];
}
