/**
 * `batched`: queue the side each committed conversion left, and discard the queue in one
 * coalesced batch when it reaches a byte budget, after N conversions, or after a time
 * interval — whichever comes first. Pages that flipped back before the flush are in use again
 * and are not discarded (only pages still stale are), so flip-flop pages pay fewer discards
 * and the coalesced batch needs fewer syscalls.
 */
import { MemattrRangeError } from "../core/errors.js";
import { PAGE_BYTES, type Side } from "../model/states.js";
import type { Tracker } from "../model/tracker.js";
import { batchOf, coalesceFlat, sideLeft } from "./_ranges.js";
import { collectStale } from "./_stale.js";
import type { DiscardBatch, DiscardPolicy, SettledConversion } from "./types.js";

/** Options of {@link batchedPolicy}. */
export interface BatchedOptions {
  /** Flush when the queued pages reach this many bytes. Default 2 MiB. */
  maxQueuedBytes?: number;
  /** Flush after this many settled conversions. Default 64. */
  maxConversions?: number;
  /** Flush on the first event at least this long after the last flush. Default 50 ms. */
  intervalMs?: number;
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !(v > 0)) throw new MemattrRangeError(`batched: ${name} must be a number > 0, got ${String(v)}`);
  return v;
}

/**
 * Creates the batched policy.
 *
 * **Guarantee:** after each `onCommit`/`onAbort` returns and its batch is carried out, the
 * queue holds fewer than `maxQueuedBytes` of pages, fewer than `maxConversions` conversions and
 * is younger than `intervalMs` (measured at the last event); every page made stale by a
 * conversion is either in the queue or was discarded. So, while guest touches land on the side
 * a page is on, stale bytes stay below `maxQueuedBytes` plus the pages of the one conversion
 * being committed, and so does double allocation outside pending conversions.
 * Per conversion: O(owned ranges) to queue; a flush is O(queued ranges · log) plus the runs in them.
 * @param options - flush thresholds.
 * @returns a fresh policy.
 * @throws MemattrRangeError when a threshold is not a number > 0.
 * @example
 * ```ts
 * import { batchedPolicy, createTracker } from "memattr";
 * const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
 * const p = batchedPolicy({ maxConversions: 2 });
 * const a = t.requestConversion({ gfn: 0, npages: 1, to: "private" });
 * a.commit();
 * p.onCommit(t, a, 0); // null: queued
 * ```
 */
export function batchedPolicy(options: BatchedOptions = {}): DiscardPolicy {
  return new BatchedPolicy(options);
}

class BatchedPolicy implements DiscardPolicy {
  readonly name = "batched";
  private readonly maxQueuedPages: number;
  private readonly maxConversions: number;
  private readonly intervalMs: number;
  // Queued ranges per side, flat [start, end, …], not yet coalesced.
  private queued: Record<Side, number[]> = { shared: [], private: [] };
  private queuedPages = 0;
  private conversions = 0;
  private lastFlushMs = Number.NaN;

  constructor(o: BatchedOptions) {
    this.maxQueuedPages = Math.max(1, Math.floor(positive("maxQueuedBytes", o.maxQueuedBytes, 2 * 2 ** 20) / PAGE_BYTES));
    this.maxConversions = Math.ceil(positive("maxConversions", o.maxConversions, 64));
    this.intervalMs = positive("intervalMs", o.intervalMs, 50);
  }

  private enqueue(side: Side, flat: readonly number[], npages: number): void {
    const q = this.queued[side];
    for (let i = 0; i < flat.length; i++) q.push(flat[i]!);
    this.queuedPages += npages;
  }

  // A settled conversion's owned ranges that hold stale pages; one that left none (memory
  // accepted before anything populated it) has nothing to discard and is not queued, so it
  // neither grows the queue nor forces a flush.
  private enqueueStale(tracker: Tracker, side: Side, c: SettledConversion): void {
    const known = c.leftStale;
    if (known === false) return;
    const q = this.queued[side];
    const flat = c.ownedFlat;
    for (let i = 0; i < flat.length; i += 2) {
      const gfn = flat[i]!;
      const end = flat[i + 1]!;
      if (known !== true && !tracker.hasStalePages(gfn, end - gfn)) continue;
      q.push(gfn, end);
      this.queuedPages += end - gfn;
    }
  }

  private due(nowMs: number): boolean {
    if (Number.isNaN(this.lastFlushMs)) this.lastFlushMs = nowMs;
    return this.queuedPages >= this.maxQueuedPages || this.conversions >= this.maxConversions || nowMs - this.lastFlushMs >= this.intervalMs;
  }

  onCommit(tracker: Tracker, c: SettledConversion, nowMs: number): DiscardBatch | null {
    this.enqueueStale(tracker, sideLeft(c.to), c);
    this.conversions++;
    return this.due(nowMs) ? this.flush(tracker, nowMs) : null;
  }

  onAbort(tracker: Tracker, c: SettledConversion, nowMs: number): DiscardBatch | null {
    // The side the conversion was heading to is not used after all.
    this.enqueueStale(tracker, c.to, c);
    this.conversions++;
    return this.due(nowMs) ? this.flush(tracker, nowMs) : null;
  }

  onPopulate(tracker: Tracker, side: Side, gfn: number, npages: number, nowMs: number): DiscardBatch | null {
    // A touch on the side a page does not use (a device writing a private page's shared
    // side) makes it stale outside any conversion: queue what is stale there.
    const flat: number[] = [];
    const [stale] = collectStale(tracker, side, gfn, npages, flat);
    if (stale > 0) this.enqueue(side, flat, stale);
    return this.queuedPages > 0 && this.due(nowMs) ? this.flush(tracker, nowMs) : null;
  }

  flush(tracker: Tracker, nowMs: number): DiscardBatch | null {
    this.lastFlushMs = nowMs;
    this.conversions = 0;
    if (this.queuedPages === 0) return null;
    const out: Record<Side, number[]> = { shared: [], private: [] };
    for (const side of ["shared", "private"] as const) {
      for (const r of coalesceFlat(this.queued[side])) collectStale(tracker, side, r.gfn, r.npages, out[side]);
    }
    this.queued = { shared: [], private: [] };
    this.queuedPages = 0;
    return batchOf(out.shared, out.private);
  }
}
