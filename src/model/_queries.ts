/**
 * Internal: the Tracker's queries — everything that reads the state and changes nothing. The
 * Tracker (./tracker.ts) extends this view with the calls that change the state.
 *
 * Short names: `gfn` a 4 KiB guest page; a range is `gfn + npages`; `side` a page's backing
 * (`shared` memfd, `private` guest_memfd); a *stale* page is populated on the side its attribute
 * no longer uses (a discard candidate).
 */
import type { ModelCore } from "../core/model-core.js";
import type { RangeMap } from "../core/range-map.js";
import { MAX_GFN } from "../core/types.js";
import { OpenTable } from "./_open.js";
import type { PendingConversion } from "./conversion.js";
import { EventHub, type TrackerEvent, type TrackerEventOf, type TrackerEventType, type Unsubscribe } from "./events.js";
import { checkGfn, checkNpages, checkOneOf } from "./_check.js";
import type { RunningTotals } from "./_totals.js";
import type { GfnRange } from "./errors.js";
import type { GuestMemoryMap } from "./regions.js";
import {
  type ConversionState,
  conversionBitsOf,
  decodePageValue,
  isStale,
  isStaleEitherSide,
  PAGE_BYTES,
  type PageState,
  PENDING,
  POPULATED_VALUES,
  PRIVATE,
  populatedBit,
  REACHABLE_VALUES,
  type Side,
  STALE_VALUES,
  STATE_VALUES,
} from "./states.js";
import type { PageTotals, StateRun } from "./tracker-types.js";

/** The sides of a page, for argument checks. */
export const SIDES: readonly Side[] = ["shared", "private"];
const CONVERSION_STATES: readonly ConversionState[] = ["shared", "private", "pending-private", "pending-shared"];

/** @internal The half of a Tracker that changes nothing: queries, events, snapshot, lifetime. */
export abstract class TrackerView {
  /** The guest memory map. */
  readonly memory: GuestMemoryMap;
  protected readonly map: RangeMap;
  protected readonly running: RunningTotals;
  /** The core's conversion exports (assembly/conv.ts): the state machine lives there. */
  protected readonly core: ModelCore;
  protected readonly hub = new EventHub();
  /** Open (pending) conversions by id (ids only grow: values() is in id order). */
  protected readonly open = new OpenTable<number, PendingConversion>();

  protected constructor(map: RangeMap, memory: GuestMemoryMap, running: RunningTotals) {
    this.map = map;
    this.memory = memory;
    this.running = running;
    this.core = map.modelCore();
  }

  // ---- events ---------------------------------------------------------------------------

  /**
   * Listens to one event type. Costs nothing while nobody listens.
   * @returns a function that removes the listener.
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
   * const off = t.on("committed", (e) => console.log(e.runs));
   * t.requestConversion({ gfn: 0, npages: 2, to: "private" }).commit();
   * off();
   * ```
   */
  on<K extends TrackerEventType>(type: K, listener: (event: TrackerEventOf<K>) => void): Unsubscribe {
    return this.hub.on(type, listener);
  }

  /** Listens to every event. @returns a function that removes the listener. */
  subscribe(listener: (event: TrackerEvent) => void): Unsubscribe {
    return this.hub.subscribe(listener);
  }

  /** True after `launch()`. */
  get launched(): boolean {
    return this.core.x.convLaunched() === 1;
  }

  /** Open (pending) conversions, by ascending id. */
  pendingConversions(): PendingConversion[] {
    return this.open.values();
  }

  /** A checked range of guest memory, as [gfn, npages]. */
  protected checkRange(gfnIn: unknown, npagesIn: unknown, what: string): [number, number] {
    const gfn = checkGfn(gfnIn);
    const npages = checkNpages(npagesIn);
    this.memory.require(gfn, npages, what);
    return [gfn, npages];
  }

  /** A checked gfn of guest memory. */
  protected checkedGfn(gfnIn: unknown, what: string): number {
    const gfn = checkGfn(gfnIn);
    this.memory.require(gfn, 1, what);
    return gfn;
  }

  /**
   * True when page `gfn`'s committed attribute is private (a page pending to shared is still private).
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError for a bad gfn.
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }], initial: "private" });
   * t.isPrivate(3); // true
   * ```
   */
  isPrivate(gfn: number): boolean {
    return (this.map.get(this.checkedGfn(gfn, "isPrivate")) & PRIVATE) !== 0;
  }

  /** Raw value of page `gfn` (see states.ts). @throws as isPrivate. */
  valueAt(gfn: number): number {
    return this.map.get(this.checkedGfn(gfn, "valueAt"));
  }

  /** Decoded state of page `gfn`. @throws as isPrivate. */
  state(gfn: number): PageState {
    return decodePageValue(this.map.get(this.checkedGfn(gfn, "state")));
  }

  /**
   * True when every page of `gfn .. gfn + npages - 1` is in conversion state `state`
   * (backing bits ignored). O(runs in the range).
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError for a bad range or state.
   */
  isUniform(gfn: number, npages: number, state: ConversionState): boolean {
    const [g, n] = this.checkRange(gfn, npages, "isUniform");
    const want = conversionBitsOf(checkOneOf(state, "state", CONVERSION_STATES));
    let uniform = true;
    this.map.forEachRun(g, g + n, (_s, _e, v) => {
      if ((v & (PRIVATE | PENDING)) !== want) uniform = false;
      return uniform;
    });
    return uniform;
  }

  private sumPages(values: Int32Array): number {
    return this.map.pagesOfValues(values);
  }

  /** Pages in conversion state `state`. O(1) (a sum over at most 18 per-value totals). */
  pagesIn(state: ConversionState): number {
    return this.sumPages(STATE_VALUES[checkOneOf(state, "state", CONVERSION_STATES)]);
  }

  /** Pages populated on `side`. O(1). */
  populatedPages(side: Side): number {
    return this.sumPages(POPULATED_VALUES[checkOneOf(side, "side", SIDES)]);
  }

  /** Pages populated on `side` that the page no longer uses (discard candidates). O(1). */
  stalePages(side: Side): number {
    return this.sumPages(STALE_VALUES[checkOneOf(side, "side", SIDES)]);
  }

  /** Pages stale on either side (`stalePages("shared") + stalePages("private")`): one read. O(1). */
  totalStalePages(): number {
    return this.running.stalePages();
  }

  /** Pages populated on both sides. O(1). */
  doubleAllocatedPages(): number {
    return this.running.doublePages();
  }

  /** Bytes held twice (pages populated on both sides × 4096). O(1). */
  doubleAllocatedBytes(): number {
    return this.doubleAllocatedPages() * PAGE_BYTES;
  }

  /** All totals at once (45 per-value counts). */
  totals(): PageTotals {
    const t: PageTotals = {
      guest: 0,
      shared: 0,
      private: 0,
      pendingPrivate: 0,
      pendingShared: 0,
      preserving: 0,
      sharedPopulated: 0,
      privatePopulated: 0,
      doubleAllocated: 0,
      sharedStale: 0,
      privateStale: 0,
      sharedDiscarded: 0,
      privateDiscarded: 0,
    };
    for (const v of REACHABLE_VALUES) {
      const n = this.map.pages(v);
      if (n === 0) continue;
      t.guest += n;
      const s = decodePageValue(v);
      if (s.conversion === "shared") t.shared += n;
      else if (s.conversion === "private") t.private += n;
      else if (s.conversion === "pending-private") t.pendingPrivate += n;
      else t.pendingShared += n;
      if (s.preserve) t.preserving += n;
      if (s.shared === "populated") t.sharedPopulated += n;
      if (s.private === "populated") t.privatePopulated += n;
      if (s.shared === "populated" && s.private === "populated") t.doubleAllocated += n;
      if (isStale(v, "shared")) t.sharedStale += n;
      if (isStale(v, "private")) t.privateStale += n;
      if (s.shared === "discarded") t.sharedDiscarded += n;
      if (s.private === "discarded") t.privateDiscarded += n;
    }
    return t;
  }

  // Flat [s0, e0, ...] of coalesced runs in [gfn, gfn + npages) whose value satisfies `keep`.
  private coalescedRuns(gfn: number, npages: number, keep: (value: number) => boolean): number[] {
    const out: number[] = [];
    this.map.forEachRun(gfn, gfn + npages, (s, e, v) => {
      if (!keep(v)) return;
      if (out.length > 0 && out[out.length - 1] === s) out[out.length - 1] = e;
      else out.push(s, e);
    });
    return out;
  }

  private rangesMatching(gfn: number | undefined, npages: number | undefined, what: string, keep: (v: number) => boolean): GfnRange[] {
    const flat: number[] = [];
    const collect = (g: number, n: number) => {
      const part = this.coalescedRuns(g, n, keep);
      // Regions are never adjacent after merging, so no coalescing across them is needed.
      for (const x of part) flat.push(x);
    };
    if (gfn === undefined && npages === undefined) this.memory.forEach((s, e) => collect(s, e - s));
    else collect(...this.checkRange(gfn, npages, what));
    const out: GfnRange[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ gfn: flat[i]!, npages: flat[i + 1]! - flat[i]! });
    return out;
  }

  /**
   * Coalesced ranges populated on `side`, in `gfn .. gfn + npages - 1` or all guest memory.
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError for a bad range.
   */
  populatedRuns(side: Side, gfn?: number, npages?: number): GfnRange[] {
    const pop = populatedBit(checkOneOf(side, "side", SIDES));
    return this.rangesMatching(gfn, npages, "populatedRuns", (v) => (v & pop) !== 0);
  }

  /**
   * Coalesced ranges populated on `side` that their page no longer uses (discard candidates:
   * the attribute is the other side and no conversion back is pending).
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError for a bad range.
   */
  staleRuns(side: Side, gfn?: number, npages?: number): GfnRange[] {
    const s = checkOneOf(side, "side", SIDES);
    return this.rangesMatching(gfn, npages, "staleRuns", (v) => isStale(v, s));
  }

  /**
   * Coalesced ranges in conversion state `state`, in `gfn .. gfn + npages - 1` or all guest memory.
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError for a bad range.
   */
  rangesIn(state: ConversionState, gfn?: number, npages?: number): GfnRange[] {
    const want = conversionBitsOf(checkOneOf(state, "state", CONVERSION_STATES));
    return this.rangesMatching(gfn, npages, "rangesIn", (v) => (v & (PRIVATE | PENDING)) === want);
  }

  /**
   * True when some page of the range is stale on either side (populated on the side its
   * attribute does not use; see {@link stalePages}). One call into the core when the range holds
   * one value — a conversion's owned range just after it settled — else O(runs in the range).
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError for a bad range.
   */
  hasStalePages(gfn: number, npages: number): boolean {
    const [g, n] = this.checkRange(gfn, npages, "hasStalePages");
    const u = this.map.uniformValue(g, g + n);
    if (u >= 0) return isStaleEitherSide(u);
    let found = false;
    this.map.forEachRun(g, g + n, (_s, _e, v) => {
      found = isStaleEitherSide(v);
      return !found;
    });
    return found;
  }

  /**
   * Calls `fn(gfn, npages, value)` for each maximal run of raw values in the range (or all
   * guest memory, region by region). For hot paths; `runs()` decodes for display.
   */
  forEachRawRun(fn: (gfn: number, npages: number, value: number) => void, gfn?: number, npages?: number): void {
    const visit = (g: number, n: number) => this.map.forEachRun(g, g + n, (s, e, v) => void fn(s, e - s, v));
    if (gfn === undefined && npages === undefined) this.memory.forEach((s, e) => visit(s, e - s));
    else visit(...this.checkRange(gfn, npages, "forEachRawRun"));
  }

  /**
   * Maximal runs of equal page values, decoded, in the range or all guest memory.
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError for a bad range.
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
   * t.requestConversion({ gfn: 8, npages: 8, to: "private" }).commit();
   * t.runs().map((r) => `${r.gfn}+${r.npages} ${r.state.conversion}`); // ["0+8 shared", "8+8 private", "16+48 shared"]
   * ```
   */
  runs(gfn?: number, npages?: number): StateRun[] {
    const out: StateRun[] = [];
    this.forEachRawRun((g, n, value) => out.push({ gfn: g, npages: n, value, state: decodePageValue(value) }), gfn, npages);
    return out;
  }

  /** Number of maximal runs in the underlying map (a fragmentation measure). */
  runCount(): number {
    return this.map.runCount();
  }

  /** Bytes of memory the map holds: its tree and the core's conversion table. */
  memoryBytes(): number {
    return this.map.memoryBytes();
  }

  // ---- whole state -----------------------------------------------------------------------

  /**
   * A deterministic text encoding of the whole state: launch flag, next handle id, every run of
   * the map (including value-0 runs outside guest memory) and every pending handle. Two equal
   * snapshots mean equal state; tests compare it around refused calls.
   */
  snapshot(): string {
    const parts: string[] = [`memattr-model/1 launched=${this.launched ? 1 : 0} next=${this.core.x.convNextId()}`];
    const runs: string[] = [];
    this.map.forEachRun(0, MAX_GFN, (s, e, v) => void runs.push(`${s.toString(16)}+${(e - s).toString(16)}:${v.toString(16)}`));
    parts.push(`runs ${runs.join(",")}`);
    for (const c of this.open.values()) {
      parts.push(
        `pending ${c.id} ${c.to}${c.preserve ? " preserve" : ""} ${c.source} ${c.gfn.toString(16)}+${c.npages.toString(16)} owns ${c.ownedFlat.map((x) => x.toString(16)).join(",")}`,
      );
    }
    return parts.join("\n");
  }

  /** Releases the Wasm map; later calls on it throw EDISPOSED. */
  dispose(): void {
    this.map.dispose();
  }

  /** `using t = await createTracker(...)` disposes it at scope end. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
