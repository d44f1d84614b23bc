/**
 * `adaptive`: keep recently flipped pages populated on both sides, discard cold stale pages,
 * and never let stale (hence double-allocated) memory exceed a byte budget.
 *
 * The idea: OVMF's DMA bounce pages flip private → shared → private thousands of times at a
 * few hot gfns. Keeping both sides of those few pages populated costs a few KiB and saves a
 * punch-hole plus a refault per flip; a hostile guest that flips all of memory page by page
 * only ever gets `budgetBytes` held twice.
 *
 * ## How the budget is enforced
 * Recency is kept by CLOCK, the second-chance approximation of LRU, over the ranges that
 * became stale: every committed or aborted conversion's owned ranges that hold stale pages, and
 * any populate that made pages stale (a touch on the side a page does not use). Ranges sit in a ring in arrival
 * order; remembering a range already held only sets its reference bit (one Map lookup, no
 * reordering, no garbage — the common case of a bounce page flipped out and back). Eviction
 * takes the oldest entry, except that a referenced one loses its bit and goes to the back
 * instead. The key is the first gfn, not the side: a page is stale on at most one side (its
 * attribute decides which), so evicting an entry collects the stale runs of both sides in its
 * range. After every hook the
 * policy reads two O(1) running totals from the tracker — stale pages of both sides and
 * double-allocated pages. When either exceeds `budgetBytes`, it evicts the coldest LRU entries,
 * discarding the pages still stale in each (pages that flipped back are in use and are
 * skipped), until both totals are at or below the low-water mark (`lowWaterRatio × budget`,
 * so evictions come in batches rather than one page per conversion). If the LRU runs dry
 * (stale pages it never saw), it falls back to the tracker's whole-guest `staleRuns`, which
 * costs O(runs in the guest) and happens only on such traces.
 *
 * Why stale counts, not just double allocation: double-allocated pages that are not pending
 * are a subset of stale pages (one side is the page's attribute, the other is stale), and a
 * guest touch may populate the in-use side of any stale page at any time without asking the
 * VMM. Bounding stale pages therefore bounds double allocation at every instant, not only
 * after the policy has run.
 */
import { MemattrRangeError } from "../core/errors.js";
import { PAGE_BYTES, type Side } from "../model/states.js";
import type { Tracker } from "../model/tracker.js";
import { batchOf, coalesceFlat, pagesOf } from "./_ranges.js";
import { collectStale, countStale } from "./_stale.js";
import type { DiscardBatch, DiscardPolicy, SettledConversion } from "./types.js";

/** Options of {@link adaptivePolicy}. */
export interface AdaptiveOptions {
  /** Most bytes held stale or twice. Default 2 MiB. At least one page. */
  budgetBytes?: number;
  /** When over budget, evict down to this fraction of it. Default 0.75; in (0, 1]. */
  lowWaterRatio?: number;
  /** Most ranges remembered; the coldest beyond it are evicted. Default max(4096, 2 × budget pages). */
  maxEntries?: number;
}

/**
 * Creates the adaptive policy.
 *
 * **Guarantee:** after every `onCommit` / `onAbort` / `onPopulate` returns and its batch is
 * carried out, the tracker's stale pages (both sides) and its double-allocated pages are each
 * at most `budgetBytes / 4096`. Between hooks, a guest touch can only populate the in-use side
 * of an already stale page, so double allocation of pages not pending a conversion never
 * exceeds the budget at any instant. The one thing no policy may fix: pages populated on both
 * sides *while* a conversion is pending (discarding either side could lose data if it
 * aborts); those are brought back under budget by evicting other stale pages, or at the next
 * hook after the conversion settles.
 * Cost per conversion: O(owned ranges) plus, when over budget, O(runs in the evicted ranges).
 * @param options - budget, low-water mark, LRU size.
 * @returns a fresh policy.
 * @throws MemattrRangeError for a budget under one page, or a ratio outside (0, 1].
 * @example
 * ```ts
 * import { adaptivePolicy, createTracker } from "memattr";
 * const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
 * const p = adaptivePolicy({ budgetBytes: 2 * 2 ** 20 });
 * const c = t.requestConversion({ gfn: 8, npages: 2, to: "private" });
 * c.commit();
 * p.onCommit(t, c, 0); // null: 2 pages are well under budget
 * ```
 */
export function adaptivePolicy(options: AdaptiveOptions = {}): DiscardPolicy {
  return new AdaptivePolicy(options);
}

const SIDES = ["shared", "private"] as const;

class AdaptivePolicy implements DiscardPolicy {
  readonly name = "adaptive";
  private readonly budgetPages: number;
  private readonly lowWaterPages: number;
  private readonly maxEntries: number;
  // CLOCK ring of stale-range candidates: slot → first gfn, pages, reference bit; `count`
  // slots in use from `head` on (wrapping). Grows by doubling when a hook adds more ranges
  // than it has room for (eviction brings it back to maxEntries).
  private readonly slotOf = new Map<number, number>();
  private ringGfn = new Float64Array(64);
  private ringPages = new Float64Array(64);
  private ringRef = new Uint8Array(64);
  private head = 0;
  private count = 0;
  // The entry remembered last and its slot (-1: none): a bounce page flipped out and back is
  // remembered twice in a row, the second time with no Map lookup. Cleared whenever entries move.
  private lastGfn = -1;
  private lastSlot = -1;
  private staleSeen = 0;

  constructor(o: AdaptiveOptions) {
    const budgetBytes = o.budgetBytes ?? 2 * 2 ** 20;
    if (typeof budgetBytes !== "number" || !(budgetBytes >= PAGE_BYTES)) {
      throw new MemattrRangeError(`adaptive: budgetBytes must be ≥ ${PAGE_BYTES}, got ${String(budgetBytes)}`);
    }
    const ratio = o.lowWaterRatio ?? 0.75;
    if (typeof ratio !== "number" || !(ratio > 0 && ratio <= 1)) {
      throw new MemattrRangeError(`adaptive: lowWaterRatio must be in (0, 1], got ${String(ratio)}`);
    }
    this.budgetPages = Math.floor(budgetBytes / PAGE_BYTES);
    this.lowWaterPages = Math.floor(this.budgetPages * ratio);
    this.maxEntries = Math.max(1, Math.floor(o.maxEntries ?? Math.max(4096, 2 * this.budgetPages)));
  }

  private remember(gfn: number, npages: number): void {
    const slot = gfn === this.lastGfn ? this.lastSlot : this.slotOf.get(gfn);
    if (slot !== undefined) {
      this.ringRef[slot] = 1;
      if (npages > this.ringPages[slot]!) this.ringPages[slot] = npages;
      this.lastGfn = gfn;
      this.lastSlot = slot;
      return;
    }
    if (this.count === this.ringGfn.length) this.grow();
    const at = (this.head + this.count) % this.ringGfn.length;
    this.ringGfn[at] = gfn;
    this.ringPages[at] = npages;
    this.ringRef[at] = 0;
    this.slotOf.set(gfn, at);
    this.count++;
    this.lastGfn = gfn;
    this.lastSlot = at;
  }

  private grow(): void {
    this.lastGfn = -1;
    const n = this.ringGfn.length;
    const g = new Float64Array(2 * n);
    const p = new Float64Array(2 * n);
    const r = new Uint8Array(2 * n);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % n;
      g[i] = this.ringGfn[from]!;
      p[i] = this.ringPages[from]!;
      r[i] = this.ringRef[from]!;
      this.slotOf.set(g[i]!, i);
    }
    this.ringGfn = g;
    this.ringPages = p;
    this.ringRef = r;
    this.head = 0;
  }

  /** Removes the coldest entry (second chance for referenced ones) into `out` = [gfn, npages]. */
  private evictOne(out: [number, number]): void {
    this.lastGfn = -1;
    const n = this.ringGfn.length;
    for (;;) {
      const at = this.head;
      this.head = (at + 1) % n;
      if (this.ringRef[at] === 1) {
        // Second chance: to the back, bit cleared. count is unchanged, so the back slot is
        // free (or is `at` itself when the ring is full).
        const back = (this.head + this.count - 1) % n;
        this.ringRef[at] = 0;
        if (back !== at) {
          this.ringGfn[back] = this.ringGfn[at]!;
          this.ringPages[back] = this.ringPages[at]!;
          this.ringRef[back] = 0;
          this.slotOf.set(this.ringGfn[back]!, back);
        }
        continue;
      }
      out[0] = this.ringGfn[at]!;
      out[1] = this.ringPages[at]!;
      this.slotOf.delete(out[0]);
      this.count--;
      return;
    }
  }

  // A settled conversion's owned ranges that hold stale pages. One that left none (memory
  // accepted before anything populated it: most of a big guest's boot) is not remembered: it
  // has nothing to discard, and as an entry it would only push hot ones out of a full ring.
  // Pages that turn stale later do so by a populate (onPopulate remembers it) or by another
  // conversion (remembered then).
  private rememberStale(tracker: Tracker, c: SettledConversion): void {
    const known = c.leftStale;
    if (known === false) return;
    const flat = c.ownedFlat;
    for (let i = 0; i < flat.length; i += 2) {
      const gfn = flat[i]!;
      const npages = flat[i + 1]! - gfn;
      if (known === true || tracker.hasStalePages(gfn, npages)) this.remember(gfn, npages);
    }
  }

  onCommit(tracker: Tracker, c: SettledConversion): DiscardBatch | null {
    this.rememberStale(tracker, c);
    return this.enforce(tracker);
  }

  onAbort(tracker: Tracker, c: SettledConversion): DiscardBatch | null {
    this.rememberStale(tracker, c);
    return this.enforce(tracker);
  }

  onPopulate(tracker: Tracker, _side: Side, gfn: number, npages: number): DiscardBatch | null {
    const stale = tracker.totalStalePages();
    // A populate that made pages stale (a touch on the side a page does not use): remember it.
    if (stale > this.staleSeen) this.remember(gfn, npages);
    return this.enforce(tracker, stale);
  }

  flush(): DiscardBatch | null {
    return null; // holding stale pages under budget is the point; nothing is owed.
  }

  private enforce(tracker: Tracker, staleNow?: number): DiscardBatch | null {
    const stale = staleNow ?? tracker.totalStalePages();
    const dbl = tracker.doubleAllocatedPages();
    if (stale <= this.budgetPages && dbl <= this.budgetPages && this.count <= this.maxEntries) {
      this.staleSeen = stale;
      return null;
    }
    const flat: Record<Side, number[]> = { shared: [], private: [] };
    const victim: [number, number] = [0, 0];
    const low = stale > this.budgetPages || dbl > this.budgetPages ? this.lowWaterPages : this.budgetPages;
    // Evict the coldest entries; a batch may overlap itself (entries overlap), so recount the
    // merged batch exactly and go on while it is still short.
    let freedStale = 0;
    let freedDbl = 0;
    for (;;) {
      while ((stale - freedStale > low || dbl - freedDbl > low || this.count > this.maxEntries) && this.count > 0) {
        this.evictOne(victim);
        const [gfn, npages] = victim;
        for (const side of SIDES) {
          const [s, d] = collectStale(tracker, side, gfn, npages, flat[side]);
          freedStale += s;
          freedDbl += d;
        }
      }
      const shared = coalesceFlat(flat.shared);
      const priv = coalesceFlat(flat.private);
      if (pagesOf(shared) + pagesOf(priv) !== flatPages(flat.shared) + flatPages(flat.private)) {
        // Evicted entries overlapped: recount the merged batch exactly.
        const [ss, sd] = countStale(tracker, "shared", shared);
        const [ps, pd] = countStale(tracker, "private", priv);
        freedStale = ss + ps;
        freedDbl = sd + pd;
        flat.shared = flatOf(shared);
        flat.private = flatOf(priv);
      }
      const short = stale - freedStale > low || dbl - freedDbl > low;
      if (!short || this.count === 0) break;
    }
    if (stale - freedStale > this.budgetPages || dbl - freedDbl > this.budgetPages) {
      // Stale pages the LRU never saw: take them from the tracker (O(runs in the guest)).
      const already = { shared: coalesceFlat(flat.shared), private: coalesceFlat(flat.private) };
      for (const side of ["shared", "private"] as const) {
        for (const r of tracker.staleRuns(side)) {
          if (stale - freedStale <= low && dbl - freedDbl <= low) break;
          if (overlaps(already[side], r.gfn, r.npages)) continue;
          const [s, d] = collectStale(tracker, side, r.gfn, r.npages, flat[side]);
          freedStale += s;
          freedDbl += d;
        }
      }
    }
    this.staleSeen = stale - freedStale;
    return batchOf(flat.shared, flat.private);
  }
}

function flatPages(flat: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < flat.length; i += 2) n += flat[i + 1]! - flat[i]!;
  return n;
}

function flatOf(ranges: readonly { gfn: number; npages: number }[]): number[] {
  const out: number[] = [];
  for (const r of ranges) out.push(r.gfn, r.gfn + r.npages);
  return out;
}

// Ranges are few (one batch); a linear scan is fine.
function overlaps(ranges: readonly { gfn: number; npages: number }[], gfn: number, npages: number): boolean {
  for (const r of ranges) if (r.gfn < gfn + npages && gfn < r.gfn + r.npages) return true;
  return false;
}
