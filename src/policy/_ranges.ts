/**
 * Internal range helpers shared by the policies: building coalesced, ascending discard
 * batches from flat `[start, end, …]` lists (end exclusive).
 */
import type { GfnRange } from "../model/errors.js";
import type { Side } from "../model/states.js";
import type { DiscardBatch } from "./types.js";

/** The side a page no longer uses once its attribute is `to`. */
export function sideLeft(to: "shared" | "private"): Side {
  return to === "private" ? "shared" : "private";
}

/**
 * Sorts and merges flat `[start, end, …]` pairs (in place on a copy) into coalesced ranges.
 * O(k log k) in the number of pairs.
 */
export function coalesceFlat(flat: readonly number[]): GfnRange[] {
  const n = flat.length >> 1;
  if (n === 0) return [];
  const order = new Array<number>(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    order[i] = i;
    if (i > 0 && flat[2 * i]! < flat[2 * i - 2]!) sorted = false;
  }
  if (!sorted) order.sort((a, b) => flat[2 * a]! - flat[2 * b]!);
  const out: GfnRange[] = [];
  let s = flat[2 * order[0]!]!;
  let e = flat[2 * order[0]! + 1]!;
  for (let k = 1; k < n; k++) {
    const i = order[k]!;
    const si = flat[2 * i]!;
    const ei = flat[2 * i + 1]!;
    if (si <= e) {
      if (ei > e) e = ei;
    } else {
      out.push({ gfn: s, npages: e - s });
      s = si;
      e = ei;
    }
  }
  out.push({ gfn: s, npages: e - s });
  return out;
}

/** Pages covered by `ranges`. */
export function pagesOf(ranges: readonly GfnRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.npages;
  return n;
}

/** A batch from per-side flat lists, or null when both are empty. */
export function batchOf(sharedFlat: readonly number[], privateFlat: readonly number[]): DiscardBatch | null {
  if (sharedFlat.length === 0 && privateFlat.length === 0) return null;
  return { shared: coalesceFlat(sharedFlat), private: coalesceFlat(privateFlat) };
}

/** Total pages in a batch (0 for null). */
export function batchPages(batch: DiscardBatch | null): number {
  return batch === null ? 0 : pagesOf(batch.shared) + pagesOf(batch.private);
}
