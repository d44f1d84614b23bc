/**
 * The conversion tracker: per-page conversion and backing state of one guest, kept in a
 * Wasm range map (see ./states.ts for the state table and the bit layout of a page value).
 * The state machine itself — deciding a request, marking the owned pages pending, commit,
 * exact abort, the launch gate, a memory fault's decision, the backing bits — runs inside the
 * core (assembly/conv.ts), once for JavaScript and C alike; this facade validates JavaScript
 * arguments, turns the core's codes into typed errors, and keeps handles, events and totals.
 *
 * Rules in one place:
 * - Every range must lie wholly inside one region of the guest memory map (EOUTSIDE).
 * - Every call validates all its arguments and checks for conflicts before it changes
 *   anything: a thrown MemattrError means the state (and `snapshot()`) is unchanged. A refused
 *   call emits a `refused` event.
 * - Overlaps: a request joins pages already pending the same way (it does not own them) and
 *   skips pages already in the target attribute (not owned, not counted in `npagesOwned`). A page
 *   pending the other way refuses the whole request (ECONFLICT); so does joining a page pending
 *   to private with a different PRESERVE flag.
 * - Commit and abort change only the handle's owned pages and only their conversion bits;
 *   populate/discard bits reflect the backings and are never rolled back.
 * - Launch gate: PRESERVE (in-place encryption) only for `to: "private"` and only before
 *   `launch()`; `launch()` is refused while a preserving conversion is pending.
 */
import {
  CONV_JOIN_ANY_PRESERVE, CONV_PRESERVE, CONV_TO_PRIVATE, E_BUSY, E_NOSPC, E_NXIO, E_OPNOTSUPP, E_PERM, E_ALREADY, E_INPROGRESS,
  FAULT_CONVERT, FAULT_IN_FLIGHT, OUT_AT_GFN, OUT_AT_VALUE, OUT_FIRST_END, OUT_FIRST_START, OUT_ID, OUT_OWNED_PAGES,
  OUT_OWNED_RANGES, OUT_REFAULT_PAGES, OUT_SLOT, OUT_VALUE_AFTER, OUT_VALUE_BEFORE, SIDE_PRIVATE, SIDE_SHARED, CONV_MAX_OPEN,
} from "../core/_abi.js";
import { codeToError, MemattrError, MemattrTypeError } from "../core/errors.js";
import type { ModelCore } from "../core/model-core.js";
import { RangeMap } from "../core/range-map.js";
import { MAX_GFN } from "../core/types.js";
import { checkBoolean, checkGfn, checkNpages, checkObject, checkOneOf } from "./_check.js";
import { type ConversionOwner, PendingConversion } from "./conversion.js";
import {
  ConversionConflictError,
  ConversionError,
  ConversionSettledError,
  type GfnRange,
  LaunchGateError,
  OutsideGuestMemoryError,
} from "./errors.js";
import {
  EventHub,
  type RequestSource,
  type TrackerEvent,
  type TrackerEventOf,
  type TrackerEventType,
  type Unsubscribe,
} from "./events.js";
import { decodeMapGpaRange, decodeMemoryFault, type MapGpaRangeArgs, type MemoryFaultArgs } from "./hypercall.js";
import { GuestMemoryMap } from "./regions.js";
import {
  type Attribute,
  type ConversionState,
  conversionBitsOf,
  conversionStateOf,
  decodePageValue,
  PAGE_BYTES,
  type PageState,
  PENDING,
  PRESERVE,
  PRIVATE,
  PRIVATE_POPULATED,
  populatedBit,
  REACHABLE_VALUES,
  SHARED_POPULATED,
  type Side,
  valuesMatching,
} from "./states.js";

const ATTRIBUTES: readonly Attribute[] = ["shared", "private"];
const SIDES: readonly Side[] = ["shared", "private"];
const CONVERSION_STATES: readonly ConversionState[] = ["shared", "private", "pending-private", "pending-shared"];

/** Options of a tracker. */
export interface TrackerOptions {
  /** Guest memory map: one or more non-overlapping `{gfn, npages}` regions. */
  regions: readonly GfnRange[];
  /** Attribute of every page at start (default `shared`, KVM's default attribute). */
  initial?: Attribute;
}

/** A conversion request from the VMM's side. */
export interface ConversionRequest {
  /** First page. */
  gfn: number | bigint;
  /** Pages, ≥ 1. */
  npages: number | bigint;
  /** Target attribute. */
  to: Attribute;
  /** Copy the shared contents into the private page (in-place encryption); only before launch. */
  preserve?: boolean;
}

/** What a memory fault means; returned by `onMemoryFault`. */
export type FaultDecision =
  /** The access needs the other attribute: an implicit conversion request, now pending. */
  | { kind: "convert"; gfn: number; npages: number; to: Attribute; conversion: PendingConversion }
  /** A conversion towards the access is already pending: complete it, then re-enter the guest. */
  | { kind: "in-flight"; gfn: number; npages: number; to: Attribute }
  /** The state already matches the access (a race with another vCPU): re-enter the guest. */
  | { kind: "spurious"; gfn: number; npages: number; to: Attribute }
  /** The guest may not make this access; nothing changed. */
  | {
      kind: "violation";
      gfn: number;
      npages: number;
      to: Attribute;
      reason: "outside-guest-memory" | "pending-opposite";
      error: MemattrError;
    };

/** What `Tracker.markPopulated` found: pages that were empty, and pages discarded before (refaults). */
export interface PopulateCounts {
  npagesNew: number;
  npagesRefault: number;
}

/** Page totals by state, all O(1) from the core's per-value counts. */
export interface PageTotals {
  /** Pages of guest memory. */
  guest: number;
  shared: number;
  private: number;
  pendingPrivate: number;
  pendingShared: number;
  /** Pages pending to private with PRESERVE. */
  preserving: number;
  sharedPopulated: number;
  privatePopulated: number;
  /** Pages populated on both sides. */
  doubleAllocated: number;
  /** Shared side populated on a private page not pending back (a discard candidate). */
  sharedStale: number;
  /** Private side populated on a shared page not pending back (a discard candidate). */
  privateStale: number;
  sharedDiscarded: number;
  privateDiscarded: number;
}

/** One run for display. */
export interface StateRun {
  gfn: number;
  npages: number;
  /** Raw page value (see the bit layout in states.ts). */
  value: number;
  state: PageState;
}

const DOUBLE_VALUES = valuesMatching(SHARED_POPULATED | PRIVATE_POPULATED, SHARED_POPULATED | PRIVATE_POPULATED);
const STATE_VALUES: Record<ConversionState, Int32Array> = {
  shared: valuesMatching(PRIVATE | PENDING, 0),
  private: valuesMatching(PRIVATE | PENDING, PRIVATE),
  "pending-private": valuesMatching(PRIVATE | PENDING, PENDING),
  "pending-shared": valuesMatching(PRIVATE | PENDING, PRIVATE | PENDING),
};
const POPULATED_VALUES: Record<Side, Int32Array> = {
  shared: valuesMatching(SHARED_POPULATED, SHARED_POPULATED),
  private: valuesMatching(PRIVATE_POPULATED, PRIVATE_POPULATED),
};
// Stale on side X: populated on X, attribute is the other one, not pending back to X.
const STALE_VALUES: Record<Side, Int32Array> = {
  shared: valuesMatching(SHARED_POPULATED | PRIVATE | PENDING, SHARED_POPULATED | PRIVATE),
  private: valuesMatching(PRIVATE_POPULATED | PRIVATE | PENDING, PRIVATE_POPULATED),
};

// A page is stale on at most one side (the PRIVATE bit decides which), so the union sums both.
const STALE_ANY_VALUES = Int32Array.from([...STALE_VALUES.shared, ...STALE_VALUES.private]);
// The same two sets per value in one table, for the running totals' updates: bit 0 stale on
// either side, bit 1 populated on both sides.
const TOTALS_CLASS = totalsClassTable();

function totalsClassTable(): Uint8Array {
  const t = new Uint8Array(256);
  for (const v of STALE_ANY_VALUES) t[v]! |= 1;
  for (const v of DOUBLE_VALUES) t[v]! |= 2;
  return t;
}

function isStale(value: number, side: Side): boolean {
  const pop = populatedBit(side);
  const attrBit = side === "private" ? PRIVATE : 0;
  return (value & pop) !== 0 && (value & PENDING) === 0 && (value & PRIVATE) !== attrBit;
}

function pendingTarget(value: number): Attribute {
  return (value & PRIVATE) !== 0 ? "shared" : "private";
}

/** `x` (an integer read from a Float64Array) as a V8 small integer when it is one (below 2^30). */
function smallInt(x: number): number {
  return x < 0x40000000 ? x | 0 : x;
}

/**
 * The error for a request to `to` that the core refused (E_BUSY) at gfn `s`, whose value `v`
 * is pending the other way, or to private with the other PRESERVE.
 */
function conflictError(v: number, s: number, gfn: number, npages: number, to: Attribute, preserve: boolean): ConversionConflictError {
  if (pendingTarget(v) !== to) {
    const state = conversionStateOf(v);
    return new ConversionConflictError(state, `pending-${to}`, gfn, npages, s, `gfn 0x${s.toString(16)} is ${state}`);
  }
  return new ConversionConflictError(
    "pending-private",
    "pending-private",
    gfn,
    npages,
    s,
    `gfn 0x${s.toString(16)} is pending to private ${preserve ? "without" : "with"} preserve`,
  );
}

/**
 * Conversion state of one guest's memory, over a range map.
 * @remarks Single-threaded: one tracker and its handles belong to one JS thread (a VMM with
 * several vCPU threads funnels their exits to it).
 * @example
 * ```ts
 * import { createTracker, KVM_MAP_GPA_RANGE_ENCRYPTED } from "memattr";
 * const t = await createTracker({ regions: [{ gfn: 0, npages: 262144 }] }); // 1 GiB
 * const c = t.fromHypercall({ gpa: 0x10_0000, npages: 16, attrs: KVM_MAP_GPA_RANGE_ENCRYPTED });
 * c.commit(); // after KVM_SET_MEMORY_ATTRIBUTES succeeded
 * t.isPrivate(0x100); // true
 * ```
 */
export class Tracker implements ConversionOwner {
  /** The guest memory map. */
  readonly memory: GuestMemoryMap;
  private readonly map: RangeMap;
  /** The core's conversion exports (assembly/conv.ts): the state machine lives there. */
  private readonly core: ModelCore;
  private readonly hub = new EventHub();
  // Open conversions. The newest sits in a slot (a flip is nearly always settled before the next
  // request), the older ones in the Map: a Map going 0 → 1 → 0 entries per flip makes V8 rehash
  // it again and again (~2.5 MB of garbage per 20 000 flips). Ids only grow, so
  // [...openOlder.values(), openNewest] is in ascending id order.
  private readonly openOlder = new Map<number, PendingConversion>();
  private openNewest: PendingConversion | null = null;
  // Running totals the policies read after every hook: stale pages (either side) and pages
  // populated on both sides. The core reports each one-value edit's value before and after, which
  // keeps them exact; every other edit marks them dirty and the next read recounts them from the
  // map's per-value totals.
  private staleTotal = 0;
  private doubleTotal = 0;
  private totalsDirty = true;

  /**
   * Takes ownership of `map` (clears it) and marks every page of `options.regions` as guest
   * memory in the `initial` attribute with both backings empty.
   * @param map - a Wasm `RangeMap`, empty or disposable (the tracker clears it).
   * @param options - the guest memory map and initial attribute.
   * @throws MemattrTypeError when `map` is not a RangeMap, or for a malformed memory map.
   * @throws MemattrRangeError for an overlapping memory map.
   * @example
   * ```ts
   * import { RangeMap, Tracker, ramRegions } from "memattr";
   * const t = new Tracker(await RangeMap.create(), { regions: ramRegions(2 ** 30) });
   * ```
   */
  constructor(map: RangeMap, options: TrackerOptions) {
    const o = checkObject(options, "options");
    this.memory = new GuestMemoryMap(o.regions as GfnRange[]);
    const initial = o.initial === undefined ? "shared" : checkOneOf(o.initial, "initial", ATTRIBUTES);
    if (!(map instanceof RangeMap)) throw new MemattrTypeError("map must be a RangeMap: the conversion state machine runs in its Wasm core");
    this.map = map;
    this.core = map.modelCore();
    map.clear();
    const initialPrivate = initial === "private" ? 1 : 0;
    this.memory.forEach((start, end) => {
      const rc = this.core.x.guestAdd(start, end, initialPrivate);
      if (rc !== 0) throw codeToError(rc, "guestAdd");
    });
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

  private refuse(op: string, err: unknown): never {
    if (err instanceof MemattrError && this.hub.wants("refused")) this.hub.emit({ type: "refused", op, error: err });
    throw err;
  }

  // `n` pages went from value `u` to `nv` (a one-run edit): keeps the running totals exact.
  private changed(u: number, nv: number, n: number): void {
    if (this.totalsDirty) return;
    const a = TOTALS_CLASS[u]!;
    const b = TOTALS_CLASS[nv]!;
    if (a === b) return;
    this.staleTotal += n * ((b & 1) - (a & 1));
    this.doubleTotal += n * ((b >> 1) - (a >> 1));
  }

  // What an edit the core reported did to the running totals: `n` pages went from one value to
  // another (OUT_VALUE_BEFORE/AFTER), or, when it spanned several values (-1), a recount is due.
  private edited(o: Float64Array, n: number): void {
    const before = o[OUT_VALUE_BEFORE]! | 0;
    if (before >= 0) this.changed(before, o[OUT_VALUE_AFTER]! | 0, n);
    else this.totalsDirty = true;
  }

  private recountTotals(): void {
    this.staleTotal = this.sumPages(STALE_ANY_VALUES);
    this.doubleTotal = this.sumPages(DOUBLE_VALUES);
    this.totalsDirty = false;
  }


  // ---- launch gate -----------------------------------------------------------------------

  /** True after `launch()`. */
  get launched(): boolean {
    return this.core.x.convLaunched() === 1;
  }

  /**
   * Marks the guest launched (SNP_LAUNCH_FINISH / TDX finalize): from now on a conversion
   * may not preserve contents.
   * @throws LaunchGateError ELAUNCHED when already launched; EPENDING while a preserving
   *   conversion is pending (commit or abort it first).
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
   * t.requestConversion({ gfn: 0, npages: 8, to: "private", preserve: true }).commit();
   * t.launch();
   * ```
   */
  launch(): void {
    const rc = this.core.x.convLaunch();
    if (rc === E_ALREADY) {
      this.refuse("launch", new LaunchGateError("ELAUNCHED", "launched", "launched", 0, 0, "the guest is already launched"));
    }
    if (rc === E_INPROGRESS) {
      const c = this.openList().find((h) => h.preserve)!;
      this.refuse(
        "launch",
        new LaunchGateError(
          "EPENDING",
          "pre-launch",
          "launched",
          c.gfn,
          c.npages,
          `preserving conversion #${c.id} is still pending; commit or abort it before launch`,
        ),
      );
    }
    if (rc !== 0) this.refuse("launch", codeToError(rc, "launch"));
    if (this.hub.wants("launched")) this.hub.emit({ type: "launched" });
  }

  // ---- conversions -----------------------------------------------------------------------

  private checkRange(gfnIn: unknown, npagesIn: unknown, what: string): [number, number] {
    const gfn = checkGfn(gfnIn);
    const npages = checkNpages(npagesIn);
    if (!this.memory.contains(gfn, npages)) throw new OutsideGuestMemoryError(gfn, npages, what);
    return [gfn, npages];
  }

  /**
   * Requests a conversion of `npages` pages from `gfn` to `to`; the owned pages become pending.
   * Maps to the guest's `KVM_HC_MAP_GPA_RANGE` before the VMM's `KVM_SET_MEMORY_ATTRIBUTES`.
   * @param request - `{gfn, npages, to, preserve?}`; `preserve` only with `to: "private"`, before launch.
   * @param reuse - a settled handle of this tracker the caller is done with: when the request
   *   owns at most one range (always for a range over one run, the 1–2 page flip) it is reset
   *   and returned instead of a new object, so an exit handler that keeps its last handle
   *   allocates nothing per conversion; otherwise a new handle is returned. Unchanged when the
   *   request is refused or a new handle is returned.
   * @returns the pending handle; commit it after `KVM_SET_MEMORY_ATTRIBUTES` succeeds, abort otherwise.
   * @throws MemattrTypeError / MemattrRangeError for malformed numbers or `to`.
   * @throws OutsideGuestMemoryError (EOUTSIDE) when the range is not inside one region.
   * @throws ConversionError (EPRESERVE) for `preserve` with `to: "shared"`.
   * @throws LaunchGateError (ELAUNCHED) for `preserve` after `launch()`.
   * @throws ConversionConflictError (ECONFLICT) when a page is pending the other way or with another PRESERVE.
   * @throws ConversionError (EREUSE) when `reuse` is still pending or comes from another tracker.
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 1024 }] });
   * const c = t.requestConversion({ gfn: 0x10, npages: 4, to: "private" });
   * t.state(0x10).conversion; // "pending-private"
   * c.commit();
   * const d = t.requestConversion({ gfn: 0x10, npages: 4, to: "shared" }, c); // d === c, now pending
   * ```
   */
  requestConversion(request: ConversionRequest, reuse?: PendingConversion): PendingConversion {
    const flip = this.requestFlip(request, reuse);
    if (flip !== null) return flip;
    let c: PendingConversion;
    try {
      if (reuse !== undefined) this.checkReusable(reuse);
      const o = checkObject(request, "request");
      // checkRange inlined: no tuple on the hot path
      const gfn = checkGfn(o.gfn);
      const npages = checkNpages(o.npages);
      if (!this.memory.contains(gfn, npages)) throw new OutsideGuestMemoryError(gfn, npages, "requestConversion");
      const to = o.to === "private" || o.to === "shared" ? o.to : checkOneOf(o.to, "to", ATTRIBUTES);
      const preserve = checkBoolean(o.preserve, "preserve", false);
      c = this.request(gfn, npages, to, preserve, "api", true, reuse);
    } catch (err) {
      this.refuse("requestConversion", err);
    }
    this.emitRequested(c);
    return c;
  }

  /**
   * Requests a conversion from raw `KVM_HC_MAP_GPA_RANGE` arguments (untrusted guest values,
   * number or bigint), with the kernel's checks and memattr's stricter attribute checks.
   * Never preserves contents.
   * @param args - `{gpa, npages, attrs}`: a0..a2 of the hypercall.
   * @returns the pending handle.
   * @throws MemattrTypeError / MemattrRangeError for malformed values.
   * @throws HypercallError (EINVAL) for unaligned gpa, npages 0, wrap-around, unknown attrs, unaligned 2M/1G.
   * @throws OutsideGuestMemoryError (EOUTSIDE) when the range is not inside one region.
   * @throws ConversionConflictError (ECONFLICT) when a page is pending the other way.
   * @example
   * ```ts
   * import { createTracker, KVM_MAP_GPA_RANGE_ENCRYPTED } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 1024 }] });
   * t.fromHypercall({ gpa: 0x8000n, npages: 1n, attrs: BigInt(KVM_MAP_GPA_RANGE_ENCRYPTED) }).commit();
   * ```
   */
  fromHypercall(args: MapGpaRangeArgs, reuse?: PendingConversion): PendingConversion {
    let c: PendingConversion;
    try {
      if (reuse !== undefined) this.checkReusable(reuse);
      const r = decodeMapGpaRange(args);
      const gfn = r.gfn < BigInt(MAX_GFN) ? Number(r.gfn) : -1;
      const npages = r.npages <= BigInt(MAX_GFN) ? Number(r.npages) : -1;
      if (gfn < 0 || npages < 0 || !this.memory.contains(gfn, npages)) {
        throw new OutsideGuestMemoryError(Number(r.gfn), Number(r.npages), "KVM_HC_MAP_GPA_RANGE");
      }
      c = this.request(gfn, npages, r.to, false, "hypercall", true, reuse);
    } catch (err) {
      this.refuse("fromHypercall", err);
    }
    this.emitRequested(c);
    return c;
  }

  /**
   * Decides what a `KVM_EXIT_MEMORY_FAULT` means, per page of the (rounded-out) range:
   * outside guest memory or pending away from the access → `violation` (nothing changes);
   * otherwise, a page in the other attribute → `convert` (an implicit request, now pending,
   * never preserving); a page pending towards the access → `in-flight`; all pages already
   * matching → `spurious`. The first listed kind that applies to any page wins.
   * @param args - `{gpa, size, private}` or `{gpa, size, flags}` from run.memory_fault.
   * @returns the decision as data.
   * @throws MemattrTypeError / MemattrRangeError for malformed values (size 0, NaN, beyond 2^64).
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 1024 }] });
   * const d = t.onMemoryFault({ gpa: 0x5000, size: 4096, private: true });
   * if (d.kind === "convert") d.conversion.commit();
   * ```
   */
  onMemoryFault(args: MemoryFaultArgs): FaultDecision {
    let decision: FaultDecision;
    try {
      decision = this.decideFault(args);
    } catch (err) {
      this.refuse("onMemoryFault", err);
    }
    if (decision.kind === "convert") this.emitRequested(decision.conversion);
    if (decision.kind === "violation" && this.hub.wants("refused")) {
      this.hub.emit({ type: "refused", op: "onMemoryFault", error: decision.error });
    }
    if (this.hub.wants("faulted")) {
      const { kind, gfn, npages, to } = decision;
      this.hub.emit({ type: "faulted", kind, gfn, npages, to });
    }
    return decision;
  }

  private decideFault(args: MemoryFaultArgs): FaultDecision {
    const r = decodeMemoryFault(args);
    // gpa < 2^64, so gfn and npages are < 2^52: exact as numbers.
    const gfn = Number(r.gfn);
    const npages = Number(r.npages);
    const to = r.to;
    if (gfn >= MAX_GFN || npages > MAX_GFN || !this.memory.contains(gfn, npages)) {
      const error = new OutsideGuestMemoryError(gfn, npages, "KVM_EXIT_MEMORY_FAULT");
      return { kind: "violation", gfn, npages, to, reason: "outside-guest-memory", error };
    }
    const rc = this.core.x.convFault(gfn, gfn + npages, to === "private" ? 1 : 0);
    if (rc === FAULT_CONVERT) return { kind: "convert", gfn, npages, to, conversion: this.openFromCore(gfn, npages, to, false, "fault") };
    if (rc >= 0) return { kind: rc === FAULT_IN_FLIGHT ? "in-flight" : "spurious", gfn, npages, to };
    if (rc === E_BUSY) {
      const o = this.core.out();
      const at = o[OUT_AT_GFN]!;
      const from = conversionStateOf(o[OUT_AT_VALUE]!);
      const error = new ConversionConflictError(from, to, gfn, npages, at, `${to} access to gfn 0x${at.toString(16)}, which is ${from}`);
      return { kind: "violation", gfn, npages, to, reason: "pending-opposite", error };
    }
    if (rc === E_NXIO) {
      const error = new OutsideGuestMemoryError(gfn, npages, "KVM_EXIT_MEMORY_FAULT");
      return { kind: "violation", gfn, npages, to, reason: "outside-guest-memory", error };
    }
    throw this.requestError(rc, gfn, npages, to, false, "onMemoryFault");
  }

  /** Open (pending) conversions, by ascending id. */
  pendingConversions(): PendingConversion[] {
    return this.openList();
  }

  private openList(): PendingConversion[] {
    const out = [...this.openOlder.values()];
    if (this.openNewest !== null) out.push(this.openNewest);
    return out;
  }

  private emitRequested(c: PendingConversion): void {
    if (!this.hub.wants("requested")) return;
    this.hub.emit({
      type: "requested",
      id: c.id,
      gfn: c.gfn,
      npages: c.npages,
      to: c.to,
      preserve: c.preserve,
      source: c.source,
      npagesOwned: c.npagesOwned,
    });
  }

  // A validated range: the core checks the rest (outside guest memory, preserve, launch gate,
  // conflicts) and marks the owned pages pending, or changes nothing and says why.
  private request(
    gfn: number,
    npages: number,
    to: Attribute,
    preserve: boolean,
    source: RequestSource,
    strictPreserve: boolean,
    reuse?: PendingConversion,
  ): PendingConversion {
    const flags = (to === "private" ? CONV_TO_PRIVATE : 0) | (preserve ? CONV_PRESERVE : 0) | (strictPreserve ? 0 : CONV_JOIN_ANY_PRESERVE);
    const rc = this.core.x.convRequest(gfn, gfn + npages, flags);
    if (rc !== 0) throw this.requestError(rc, gfn, npages, to, preserve, "requestConversion");
    return this.openFromCore(gfn, npages, to, preserve, source, reuse);
  }

  /** The typed error for a code the core's request refused with (the map is unchanged). */
  private requestError(rc: number, gfn: number, npages: number, to: Attribute, preserve: boolean, what: string): MemattrError {
    switch (rc) {
      case E_NXIO:
        return new OutsideGuestMemoryError(gfn, npages, what);
      case E_OPNOTSUPP:
        return new ConversionError("EPRESERVE", "private", "shared", gfn, npages, "private → shared never preserves contents");
      case E_PERM:
        return new LaunchGateError("ELAUNCHED", "shared", "pending-private", gfn, npages, "preserving contents (in-place encryption) is only allowed before launch");
      case E_BUSY: {
        const o = this.core.out();
        return conflictError(o[OUT_AT_VALUE]!, o[OUT_AT_GFN]!, gfn, npages, to, preserve);
      }
      case E_NOSPC:
        return new ConversionError("ENOSPC", "shared or private", `pending-${to}`, gfn, npages, `${CONV_MAX_OPEN} conversions are already open; commit or abort some first`);
      default:
        return codeToError(rc, what);
    }
  }

  /**
   * The handle of the conversion the core just opened (its results at core.out()): `reuse`
   * reset when it owns at most one range, else a new one.
   */
  private openFromCore(gfn: number, npages: number, to: Attribute, preserve: boolean, source: RequestSource, reuse?: PendingConversion): PendingConversion {
    const o = this.core.out();
    // Numbers read from the Float64Array come back as small integers where they fit (`| 0`,
    // or the caller's own gfn/npages): handle fields then stay V8 small integers, not boxed doubles.
    const id = smallInt(o[OUT_ID]!);
    const slot = o[OUT_SLOT]! | 0;
    const ownedRaw = o[OUT_OWNED_PAGES]!;
    const owned = ownedRaw === npages ? npages : smallInt(ownedRaw);
    const nranges = o[OUT_OWNED_RANGES]!;
    if (owned > 0) this.edited(o, owned);
    if (nranges <= 1) {
      const whole = owned === npages;
      const start = whole ? gfn : smallInt(o[OUT_FIRST_START]!);
      const end = nranges === 0 ? start : whole ? gfn + npages : smallInt(o[OUT_FIRST_END]!);
      if (reuse !== undefined) return this.opened(reuse.reuseFor(id, slot, gfn, npages, to, preserve, source, start, end));
      return this.opened(new PendingConversion(this, id, slot, gfn, npages, to, preserve, source, end > start ? [start, end] : [], owned));
    }
    const flat = this.core.ownedRanges(slot, id, nranges).map(smallInt);
    return this.opened(new PendingConversion(this, id, slot, gfn, npages, to, preserve, source, flat, owned));
  }

  /**
   * The exit handler's common case in as few steps as possible: a plain request (numbers, no
   * preserve) with no `requested` listener, straight to the core. Accepts exactly what the general
   * path would accept for such a request; for anything else (or a refusal) it changes nothing and
   * returns null, and the general path decides again and names what is wrong.
   */
  private requestFlip(request: ConversionRequest, reuse: PendingConversion | undefined): PendingConversion | null {
    if (typeof request !== "object" || request === null) return null;
    const gfn = request.gfn;
    const npages = request.npages;
    const to = request.to;
    const preserve = request.preserve;
    if (typeof gfn !== "number" || typeof npages !== "number" || (preserve !== undefined && preserve !== false)) return null;
    if (!(gfn >= 0 && npages >= 1 && Number.isInteger(gfn) && Number.isInteger(npages)) || (to !== "private" && to !== "shared")) return null;
    if (!this.memory.contains(gfn, npages) || this.hub.wants("requested")) return null;
    if (reuse !== undefined && !this.reusable(reuse)) return null;
    let rc: number;
    try {
      rc = this.core.x.convRequest(gfn, gfn + npages, to === "private" ? CONV_TO_PRIVATE : 0);
    } catch {
      return null; // a disposed map: the general path reports it
    }
    if (rc !== 0) return null;
    const o = this.core.out();
    if (o[OUT_OWNED_PAGES] !== npages) return this.openFromCore(gfn, npages, to, false, "api", reuse);
    // the flip: the whole range owned, one value before and after
    this.edited(o, npages);
    const id = smallInt(o[OUT_ID]!);
    const slot = o[OUT_SLOT]! | 0;
    if (reuse !== undefined) return this.opened(reuse.reuseFor(id, slot, gfn, npages, to, false, "api", gfn, gfn + npages));
    return this.opened(new PendingConversion(this, id, slot, gfn, npages, to, false, "api", [gfn, gfn + npages], npages));
  }

  private reusable(reuse: PendingConversion): boolean {
    return reuse instanceof PendingConversion && reuse.ownedBy(this) && reuse.status !== "pending";
  }

  private checkReusable(reuse: PendingConversion): void {
    if (this.reusable(reuse)) return;
    if (!(reuse instanceof PendingConversion) || !reuse.ownedBy(this)) {
      throw new ConversionError("EREUSE", "unknown", "pending", 0, 0, "reuse: not a conversion handle of this tracker");
    }
    throw new ConversionError("EREUSE", "pending", "pending", reuse.gfn, reuse.npages, `reuse: conversion #${reuse.id} is still pending; commit or abort it first`);
  }

  private opened(c: PendingConversion): PendingConversion {
    if (this.openNewest !== null) this.openOlder.set(this.openNewest.id, this.openNewest);
    this.openNewest = c;
    return c;
  }

  /** @internal Called by PendingConversion.commit()/abort(). */
  settleConversion(c: PendingConversion, outcome: "committed" | "aborted"): void {
    const committed = outcome === "committed";
    if (c.status !== "pending" || (this.openNewest !== c && this.openOlder.get(c.id) !== c)) {
      const err =
        c.status !== "pending"
          ? new ConversionSettledError(c.status, outcome, c.gfn, c.npages, c.id)
          : new ConversionError("EFOREIGN", "unknown", outcome, c.gfn, c.npages, `conversion #${c.id} is not from this tracker`);
      this.refuse(committed ? "commit" : "abort", err);
    }
    const rc = committed ? this.core.x.convCommit(c.slot, c.id) : this.core.x.convAbort(c.slot, c.id);
    if (rc !== 0) this.refuse(committed ? "commit" : "abort", codeToError(rc, committed ? "commit" : "abort"));
    if (c.npagesOwned > 0) this.edited(this.core.out(), c.npagesOwned);
    c.markSettled(outcome);
    if (this.openNewest === c) this.openNewest = null;
    else this.openOlder.delete(c.id);
    if (outcome === "committed" && this.hub.wants("committed")) {
      this.hub.emit({
        type: "committed",
        id: c.id,
        gfn: c.gfn,
        npages: c.npages,
        to: c.to,
        preserve: c.preserve,
        runs: c.runs,
        npagesOwned: c.npagesOwned,
      });
    } else if (outcome === "aborted" && this.hub.wants("aborted")) {
      this.hub.emit({ type: "aborted", id: c.id, gfn: c.gfn, npages: c.npages, to: c.to, runs: c.runs, npagesOwned: c.npagesOwned });
    }
  }

  // ---- backings --------------------------------------------------------------------------

  /**
   * Records that `side`'s backing now holds pages `gfn .. gfn + npages - 1` (after a
   * populate, a guest touch, or at bind time for pre-allocated pages).
   * @param side - `shared` (memfd) or `private` (guest_memfd).
   * @param out - an object to fill and return instead of a new one (a replay loop reuses one:
   *   no allocation per touch); both fields are overwritten.
   * @returns `npagesNew` (were empty) and `npagesRefault` (were discarded before).
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError for a bad range.
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
   * t.markPopulated("shared", 0, 8); // { npagesNew: 8, npagesRefault: 0 }
   * ```
   */
  markPopulated(side: Side, gfn: number, npages: number, out?: PopulateCounts): PopulateCounts {
    const res = out ?? { npagesNew: 0, npagesRefault: 0 };
    res.npagesNew = 0;
    res.npagesRefault = 0;
    let g: number;
    let n: number;
    try {
      checkOneOf(side, "side", SIDES);
      // checkRange inlined: no tuple per touch
      g = checkGfn(gfn);
      n = checkNpages(npages);
      if (!this.memory.contains(g, n)) throw new OutsideGuestMemoryError(g, n, "markPopulated");
      const rc = this.core.x.pagesPopulate(g, g + n, side === "shared" ? SIDE_SHARED : SIDE_PRIVATE);
      if (rc < 0) throw rc === E_NXIO ? new OutsideGuestMemoryError(g, n, "markPopulated") : codeToError(rc, "markPopulated");
      const o = this.core.out();
      res.npagesNew = rc;
      res.npagesRefault = smallInt(o[OUT_REFAULT_PAGES]!);
      if (rc + res.npagesRefault > 0) this.edited(o, n);
    } catch (err) {
      this.refuse("markPopulated", err);
    }
    if (this.hub.wants("populated")) this.hub.emit({ type: "populated", side, gfn: g, npages: n, npagesNew: res.npagesNew, npagesRefault: res.npagesRefault });
    return res;
  }

  /**
   * Records that `side`'s backing dropped pages `gfn .. gfn + npages - 1` (hole-punched).
   * Populated pages become discarded; empty or already discarded pages stay as they are.
   * @returns `npagesFreed`: pages that were populated.
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError for a bad range.
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
   * t.markPopulated("shared", 0, 8);
   * t.markDiscarded("shared", 0, 64); // { npagesFreed: 8 }
   * ```
   */
  markDiscarded(side: Side, gfn: number, npages: number): { npagesFreed: number } {
    let npagesFreed = 0;
    let g: number;
    let n: number;
    try {
      checkOneOf(side, "side", SIDES);
      g = checkGfn(gfn);
      n = checkNpages(npages);
      if (!this.memory.contains(g, n)) throw new OutsideGuestMemoryError(g, n, "markDiscarded");
      const rc = this.core.x.pagesDiscard(g, g + n, side === "shared" ? SIDE_SHARED : SIDE_PRIVATE);
      if (rc < 0) throw rc === E_NXIO ? new OutsideGuestMemoryError(g, n, "markDiscarded") : codeToError(rc, "markDiscarded");
      npagesFreed = rc;
      if (rc > 0) this.edited(this.core.out(), n);
    } catch (err) {
      this.refuse("markDiscarded", err);
    }
    if (this.hub.wants("discarded")) this.hub.emit({ type: "discarded", side, gfn: g, npages: n, npagesFreed });
    return { npagesFreed };
  }

  // ---- queries ---------------------------------------------------------------------------

  private checkedGfn(gfnIn: unknown, what: string): number {
    const gfn = checkGfn(gfnIn);
    if (this.memory.regionOf(gfn) < 0) throw new OutsideGuestMemoryError(gfn, 1, what);
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
    if (this.totalsDirty) this.recountTotals();
    return this.staleTotal;
  }

  /** Pages populated on both sides. O(1). */
  doubleAllocatedPages(): number {
    if (this.totalsDirty) this.recountTotals();
    return this.doubleTotal;
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
    for (const c of this.openList()) {
      parts.push(`pending ${c.id} ${c.to}${c.preserve ? " preserve" : ""} ${c.source} ${c.gfn.toString(16)}+${c.npages.toString(16)} owns ${c.ownedFlat.map((x) => x.toString(16)).join(",")}`);
    }
    return parts.join("\n");
  }

  /** Bytes of memory the map holds, when it can tell (the Wasm RangeMap can), else -1. */
  memoryBytes(): number {
    return this.map.memoryBytes();
  }

  /** Releases the map when it has a `dispose()` (the Wasm RangeMap does). Later calls on the map throw EDISPOSED. */
  dispose(): void {
    this.map.dispose();
  }

  /** `using t = await createTracker(...)` disposes it at scope end. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
