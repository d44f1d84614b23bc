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
  inGuestMemory(tracker, gfn, npages, (g0, n0) =>
    tracker.forEachRawRun(
      (g, n, v) => {
        if (!isStale(v, side)) return;
        stale += n;
        if (isDoubleAllocated(v)) dbl += n;
        if (flat.length > 0 && flat[flat.length - 1] === g) flat[flat.length - 1] = g + n;
        else flat.push(g, g + n);
      },
      g0,
      n0,
    ),
  );
  return [stale, dbl];
}

/**
 * Calls `fn` on `gfn + npages` when it lies inside guest memory (the usual case, one lookup),
 * else on each part of it that still does: a range a policy remembered may have been unplugged
 * since (`Tracker.removeRegion`), and its pages are nobody's to discard any more.
 */
function inGuestMemory(tracker: Tracker, gfn: number, npages: number, fn: (gfn: number, npages: number) => void): void {
  if (tracker.memory.contains(gfn, npages)) {
    fn(gfn, npages);
    return;
  }
  const end = gfn + npages;
  tracker.memory.forEach((s, e) => {
    const a = Math.max(s, gfn);
    const b = Math.min(e, end);
    if (a < b) fn(a, b - a);
  });
}

/** Stale pages of `side` and double-allocated pages inside `ranges` (disjoint). */
export function countStale(tracker: Tracker, side: Side, ranges: readonly GfnRange[]): [number, number] {
  let stale = 0;
  let dbl = 0;
  for (const r of ranges) {
    inGuestMemory(tracker, r.gfn, r.npages, (g0, n0) =>
      tracker.forEachRawRun(
        (_g, n, v) => {
          if (!isStale(v, side)) return;
          stale += n;
          if (isDoubleAllocated(v)) dbl += n;
        },
        g0,
        n0,
      ),
    );
  }
  return [stale, dbl];
}
