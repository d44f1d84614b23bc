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
  CONV_JOIN_ANY_PRESERVE,
  CONV_PRESERVE,
  CONV_TO_PRIVATE,
  E_ALREADY,
  E_BUSY,
  E_EXIST,
  E_INPROGRESS,
  E_NXIO,
  FAULT_CONVERT,
  FAULT_IN_FLIGHT,
  OUT_AT_GFN,
  OUT_FIRST_END,
  OUT_FIRST_START,
  OUT_ID,
  OUT_OWNED_PAGES,
  OUT_OWNED_RANGES,
  OUT_REFAULT_PAGES,
  OUT_SLOT,
  OUT_VALUE_AFTER,
  OUT_VALUE_BEFORE,
  SIDE_PRIVATE,
  SIDE_SHARED,
} from "../core/_abi.js";
import { codeToError, MemattrError, MemattrRangeError, MemattrTypeError } from "../core/errors.js";
import { RangeMap } from "../core/range-map.js";
import { MAX_GFN } from "../core/types.js";
import { checkBoolean, checkGfn, checkNpages, checkObject, checkOneOf } from "./_check.js";
import { faultConflictError, requestError, smallInt } from "./_core-codes.js";
import { SIDES, TrackerView } from "./_queries.js";
import { RunningTotals } from "./_totals.js";
import { type ConversionOwner, PendingConversion } from "./conversion.js";
import { ConversionError, ConversionSettledError, type GfnRange, LaunchGateError, OutsideGuestMemoryError, RegionError } from "./errors.js";
import type { RequestSource } from "./events.js";
import { decodeMapGpaRange, decodeMemoryFault, type MapGpaRangeArgs, type MemoryFaultArgs } from "./hypercall.js";
import { GuestMemoryMap } from "./regions.js";
import { type Attribute, isStaleEitherSide, type Side } from "./states.js";
import type { ConversionRequest, FaultDecision, PopulateCounts, RemovedRegion, TrackerOptions } from "./tracker-types.js";

export type { ConversionRequest, FaultDecision, PageTotals, PopulateCounts, RemovedRegion, StateRun, TrackerOptions } from "./tracker-types.js";

const ATTRIBUTES: readonly Attribute[] = ["shared", "private"];

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
export class Tracker extends TrackerView implements ConversionOwner {
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
    const memory = new GuestMemoryMap(o.regions as GfnRange[]);
    const initial = o.initial === undefined ? "shared" : checkOneOf(o.initial, "initial", ATTRIBUTES);
    if (!(map instanceof RangeMap)) throw new MemattrTypeError("map must be a RangeMap: the conversion state machine runs in its Wasm core");
    super(map, memory, new RunningTotals((values) => map.pagesOfValues(values)));
    map.clear();
    const initialPrivate = initial === "private" ? 1 : 0;
    memory.forEach((start, end) => {
      const rc = this.core.x.guestAdd(start, end, initialPrivate);
      if (rc !== 0) throw codeToError(rc, "guestAdd");
    });
  }

  private refuse(op: string, err: unknown): never {
    if (err instanceof MemattrError && this.hub.wants("refused")) this.hub.emit({ type: "refused", op, error: err });
    throw err;
  }

  // ---- the guest memory map at runtime ----------------------------------------------------

  /**
   * Adds guest RAM while the guest runs (a DIMM or a virtio-mem block plugged in): `npages`
   * pages from `gfn`, in attribute `initial` (default `"shared"`, as KVM's memory attributes
   * start), both backings empty — the same as memory present from the start, launch gate and
   * preserve rules included. A region touching an existing one merges with it, so a later
   * request may span both. Memory removed earlier and added again starts clean.
   * @param region - `{ gfn, npages }`, not guest memory yet, ending at or below 2^40 pages.
   * @param options - `initial`: the attribute its pages start in.
   * @throws RegionError (EOVERLAP) when a page of it already is guest memory;
   *   MemattrTypeError / MemattrRangeError for a malformed range; nothing changes.
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 1024 }] });
   * t.addRegion({ gfn: 4096, npages: 512 }); // a 2 MiB virtio-mem block
   * t.requestConversion({ gfn: 4096, npages: 512, to: "private" }).commit();
   * t.memory.regions(); // [{ gfn: 0, npages: 1024 }, { gfn: 4096, npages: 512 }]
   * ```
   */
  addRegion(region: GfnRange, options: { initial?: Attribute } = {}): void {
    const [gfn, npages] = this.checkRegion(region, "addRegion");
    let initial: Attribute = "shared";
    try {
      const o = checkObject(options, "options");
      if (o.initial !== undefined) initial = checkOneOf(o.initial, "initial", ATTRIBUTES);
    } catch (err) {
      this.refuse("addRegion", err);
    }
    const rc = this.core.x.guestAdd(gfn, gfn + npages, initial === "private" ? 1 : 0);
    if (rc === E_EXIST) {
      let at = gfn; // the first page that is guest memory already
      this.map.forEachRun(gfn, gfn + npages, (start, _end, v) => {
        at = start;
        return v === 0;
      });
      this.refuse("addRegion", new RegionError("EOVERLAP", gfn, npages, at, undefined, `gfn 0x${at.toString(16)} already is guest memory`));
    }
    if (rc !== 0) this.refuse("addRegion", codeToError(rc, "addRegion"));
    this.memory.add(gfn, npages);
    if (this.hub.wants("region-added")) this.hub.emit({ type: "region-added", gfn, npages, initial });
  }

  /**
   * Removes guest RAM while the guest runs (unplug): every page of the range leaves guest
   * memory and forgets its state, so requests there are refused (EOUTSIDE) and adding it again
   * starts clean. Refused while a page of it is pending a conversion: commit or abort that
   * first (a VMM unplugs memory the guest has given up). The range may be part of a region,
   * which it splits.
   * @param region - `{ gfn, npages }`, wholly inside one guest memory region.
   * @returns what was populated there on each side: the backing the caller now drops — punch
   *   both the memfd and the guest_memfd range, so no private contents survive into memory
   *   plugged there later. The totals already exclude it.
   * @throws RegionError (EBUSY) while a page of it is pending; OutsideGuestMemoryError
   *   (EOUTSIDE) when it is not wholly guest memory; MemattrTypeError / MemattrRangeError for a
   *   malformed range; nothing changes.
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 4096 }] });
   * t.markPopulated("private", 1024, 16);
   * const gone = t.removeRegion({ gfn: 1024, npages: 512 });
   * gone.populated.private; // [{ gfn: 1024, npages: 16 }]: discard them
   * t.memory.regions(); // [{ gfn: 0, npages: 1024 }, { gfn: 1536, npages: 2560 }]
   * ```
   */
  removeRegion(region: GfnRange): RemovedRegion {
    const [gfn, npages] = this.checkRegion(region, "removeRegion");
    if (!this.memory.contains(gfn, npages)) this.refuse("removeRegion", new OutsideGuestMemoryError(gfn, npages, "removeRegion"));
    const populated = { shared: this.populatedRuns("shared", gfn, npages), private: this.populatedRuns("private", gfn, npages) };
    const rc = this.core.x.guestRemove(gfn, gfn + npages);
    if (rc === E_BUSY) {
      const at = smallInt(this.core.out()[OUT_AT_GFN]!);
      const owner = this.open.values().find((c) => c.ownedFlat.some((_x, i, f) => i % 2 === 0 && f[i]! <= at && at < f[i + 1]!));
      const reason = `gfn 0x${at.toString(16)} is pending${owner ? ` in conversion #${owner.id}` : ""}: commit or abort it first`;
      this.refuse("removeRegion", new RegionError("EBUSY", gfn, npages, at, owner?.id, reason));
    }
    if (rc !== 0) this.refuse("removeRegion", codeToError(rc, "removeRegion"));
    this.memory.remove(gfn, npages);
    this.running.invalidate();
    if (this.hub.wants("region-removed")) this.hub.emit({ type: "region-removed", gfn, npages, populated });
    return { gfn, npages, populated };
  }

  // A well-formed region, or a refusal (with its `refused` event).
  private checkRegion(region: GfnRange, what: string): [number, number] {
    try {
      const r = checkObject(region, "region");
      const gfn = checkGfn(r.gfn, "region.gfn");
      const npages = checkNpages(r.npages, "region.npages");
      if (gfn + npages > MAX_GFN) throw new MemattrRangeError(`${what}: the region ends beyond 2^40 pages`);
      return [gfn, npages];
    } catch (err) {
      this.refuse(what, err);
    }
  }

  // ---- launch gate -----------------------------------------------------------------------

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
      const c = this.open.values().find((h) => h.preserve)!;
      const reason = `preserving conversion #${c.id} is still pending; commit or abort it before launch`;
      this.refuse("launch", new LaunchGateError("EPENDING", "pre-launch", "launched", c.gfn, c.npages, reason));
    }
    if (rc !== 0) this.refuse("launch", codeToError(rc, "launch"));
    if (this.hub.wants("launched")) this.hub.emit({ type: "launched" });
  }

  // ---- conversions -----------------------------------------------------------------------

  /**
   * Requests a conversion of `npages` pages from `gfn` to `to`; the owned pages become pending.
   * Maps to the guest's `KVM_HC_MAP_GPA_RANGE` before the VMM's `KVM_SET_MEMORY_ATTRIBUTES`.
   * @param request - `{gfn, npages, to, preserve?}`; `preserve` only with `to: "private"`, before launch.
   * @param reuse - a settled handle of this tracker the caller is done with. When the request
   *   owns at most one range of pages — always for a range over one run (the 1–2 page flip), and
   *   for a mixed range of which one run needed converting — it is reset and returned instead of
   *   a new object, so an exit handler that keeps its last handle allocates nothing per
   *   conversion. When the request owns two ranges or more, a new handle is returned. `reuse` is
   *   unchanged when the request is refused or a new handle is returned.
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
      const gfn = checkGfn(o.gfn);
      const npages = checkNpages(o.npages);
      this.memory.require(gfn, npages, "requestConversion");
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
   * @param reuse - a settled handle to reset and return, under the rule of {@link Tracker.requestConversion}
   *   (reused when the request owns at most one range of pages).
   * @returns the pending handle.
   * @throws MemattrTypeError / MemattrRangeError for malformed values.
   * @throws HypercallError (EINVAL) for unaligned gpa, npages 0, wrap-around, unknown attrs, unaligned 2M/1G.
   * @throws OutsideGuestMemoryError (EOUTSIDE) when the range is not inside one region.
   * @throws ConversionConflictError (ECONFLICT) when a page is pending the other way.
   * @throws ConversionError (EREUSE) when `reuse` is still pending or comes from another tracker.
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
    const outside = gfn >= MAX_GFN || npages > MAX_GFN || !this.memory.contains(gfn, npages);
    const rc = outside ? E_NXIO : this.core.x.convFault(gfn, gfn + npages, to === "private" ? 1 : 0);
    if (rc === FAULT_CONVERT) return { kind: "convert", gfn, npages, to, conversion: this.openFromCore(gfn, npages, to, false, "fault") };
    if (rc >= 0) return { kind: rc === FAULT_IN_FLIGHT ? "in-flight" : "spurious", gfn, npages, to };
    if (rc === E_BUSY) return { kind: "violation", gfn, npages, to, reason: "pending-opposite", error: faultConflictError(this.core.out(), gfn, npages, to) };
    if (rc === E_NXIO) {
      const error = new OutsideGuestMemoryError(gfn, npages, "KVM_EXIT_MEMORY_FAULT");
      return { kind: "violation", gfn, npages, to, reason: "outside-guest-memory", error };
    }
    throw requestError(rc, this.core.out(), gfn, npages, to, false, "onMemoryFault");
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
    if (rc !== 0) throw requestError(rc, this.core.out(), gfn, npages, to, preserve, "requestConversion");
    return this.openFromCore(gfn, npages, to, preserve, source, reuse);
  }

  /**
   * The handle of the conversion the core just opened (its results at core.out()): `reuse`
   * reset when it owns at most one range, else a new one. Numbers read from the Float64Array go
   * through smallInt (or are the caller's own gfn/npages), so handle fields stay small integers.
   */
  private openFromCore(gfn: number, npages: number, to: Attribute, preserve: boolean, source: RequestSource, reuse?: PendingConversion): PendingConversion {
    const o = this.core.out();
    const id = smallInt(o[OUT_ID]!);
    const slot = o[OUT_SLOT]! | 0;
    const ownedRaw = o[OUT_OWNED_PAGES]!;
    const owned = ownedRaw === npages ? npages : smallInt(ownedRaw);
    const nranges = o[OUT_OWNED_RANGES]!;
    if (owned > 0) this.running.edited(o, owned);
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
    this.running.edited(o, npages);
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
    throw new ConversionError(
      "EREUSE",
      "pending",
      "pending",
      reuse.gfn,
      reuse.npages,
      `reuse: conversion #${reuse.id} is still pending; commit or abort it first`,
    );
  }

  private opened(c: PendingConversion): PendingConversion {
    this.open.set(c.id, c);
    return c;
  }

  /** @internal Called by PendingConversion.commit()/abort(). */
  settleConversion(c: PendingConversion, outcome: "committed" | "aborted"): void {
    const committed = outcome === "committed";
    if (c.status !== "pending" || this.open.get(c.id) !== c) {
      const err =
        c.status !== "pending"
          ? new ConversionSettledError(c.status, outcome, c.gfn, c.npages, c.id)
          : new ConversionError("EFOREIGN", "unknown", outcome, c.gfn, c.npages, `conversion #${c.id} is not from this tracker`);
      this.refuse(committed ? "commit" : "abort", err);
    }
    const rc = committed ? this.core.x.convCommit(c.slot, c.id) : this.core.x.convAbort(c.slot, c.id);
    if (rc !== 0) this.refuse(committed ? "commit" : "abort", codeToError(rc, committed ? "commit" : "abort"));
    let leftStale: boolean | undefined = false;
    if (c.npagesOwned > 0) {
      const o = this.core.out();
      this.running.edited(o, c.npagesOwned);
      // the owned pages' one value after the edit, when the core knew it (see OUT_VALUE_AFTER)
      leftStale = o[OUT_VALUE_BEFORE]! >= 0 ? isStaleEitherSide(o[OUT_VALUE_AFTER]! | 0) : undefined;
    }
    c.markSettled(outcome, leftStale);
    this.open.take(c.id);
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
      g = checkGfn(gfn);
      n = checkNpages(npages);
      this.memory.require(g, n, "markPopulated");
      const rc = this.core.x.pagesPopulate(g, g + n, side === "shared" ? SIDE_SHARED : SIDE_PRIVATE);
      if (rc < 0) throw codeToError(rc, "markPopulated");
      const o = this.core.out();
      res.npagesNew = rc;
      res.npagesRefault = smallInt(o[OUT_REFAULT_PAGES]!);
      if (rc + res.npagesRefault > 0) this.running.edited(o, n);
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
      this.memory.require(g, n, "markDiscarded");
      const rc = this.core.x.pagesDiscard(g, g + n, side === "shared" ? SIDE_SHARED : SIDE_PRIVATE);
      if (rc < 0) throw codeToError(rc, "markDiscarded");
      npagesFreed = rc;
      if (rc > 0) this.running.edited(this.core.out(), n);
    } catch (err) {
      this.refuse("markDiscarded", err);
    }
    if (this.hub.wants("discarded")) this.hub.emit({ type: "discarded", side, gfn: g, npages: n, npagesFreed });
    return { npagesFreed };
  }
}
