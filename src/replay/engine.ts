/**
 * The replay engine: plays trace events through a tracker, a discard policy and two backings
 * (shared, private), carrying out the policy's discards and measuring what they cost.
 *
 * Short names: `gfn`/`npages` as in the model; an *event* is one trace record after the
 * header; the *conversion path* is what a VMM does on a conversion exit — the model's request
 * (or hypercall / fault decoding), commit or abort, the policy's decision and the discards.
 *
 * Event → calls (in this order):
 * | event       | calls |
 * |-------------|-------|
 * | `launch`    | `tracker.launch()` |
 * | `request`   | `tracker.requestConversion` → handle kept under `id` |
 * | `hypercall` | `tracker.fromHypercall` → handle kept under `id` |
 * | `commit`    | `handle.commit()`; preserve: per chunk of ≤ `preserveChunkPages`, `private.copyFrom(shared)` + `markPopulated`, then `shared.discard` + `markDiscarded` (always, whatever the policy: that copy now holds private contents); `policy.onCommit` → discards |
 * | `abort`     | `handle.abort()`; `policy.onAbort` → discards |
 * | `touch`     | `backing.touch`; `tracker.markPopulated`; if anything changed, `policy.onPopulate` → discards |
 * | `fault`     | `tracker.onMemoryFault`; a `convert` decision is committed at once, then `policy.onCommit` |
 * | `refused`   | none: counted in `refused` and `refusedRecorded` (the call never reached the model) |
 * | `region-add` | `tracker.addRegion`; pages either backing already holds there (pre-populated before the bind) → `tracker.markPopulated` |
 * | `region-remove` | `tracker.removeRegion` → what it held on each side: `backing.discard` (counted in `memory.unpluggedPages`) |
 * | `memslot`   | none: counted in `memory.memslotUpdates` (a memslot changes no page state) |
 * Discards: `backing.discard(ranges)`, then `tracker.markDiscarded` per range.
 *
 * ## When a discard fails
 * A backing's discard can fail part-way (a syscall error: EIO, ENOMEM …). The ranges it did
 * discard are marked discarded — no more, no less, so the tracker keeps saying what the kernel
 * holds — and the rest are kept in `undoneDiscards`; the event's remaining work goes on (a
 * failed discard leaves memory allocated, it loses nothing), and once the event is done (it
 * counts as applied) the first such error is thrown. In-place encryption marks a chunk whose
 * shared copy could not be dropped populated on the shared side: the copy read every page of
 * it. `retryDiscards()` carries the undone ranges out again, limited to pages still stale.
 *
 * A request, hypercall, fault or touch the model refuses (a `MemattrError`: a hostile guest's
 * bad range, a conflict) is counted in `refused` and the replay goes on; a later commit/abort
 * of a refused id does nothing. Other errors propagate. A `refused` event — a call the trace
 * says KVM or memattr turned down — is counted in `refused` too, and in `refusedRecorded`.
 *
 * ## How time is measured
 * Every timed event falls in one category: *conversion* (request, hypercall, commit, abort,
 * fault, and the final flush), *touch* (split into touches that refaulted and the rest), or
 * *other* (launch, untimed). The pre-launch in-place encryption copy inside a preserving
 * commit is timed on its own (`launchCopyMs`) and taken out of the conversion path.
 *
 * Two schemes, same categories:
 * - `apply(ev)`, the stepping form (visualiser, tests): the clock is read before and after
 *   each timed event — four reads per request + commit, which cost about as much as the model
 *   and policy work of a 1-page flip itself (figures in docs/design.md).
 * - `applyAll(events)`, the timed form `replayTrace*` uses: the events are already in an array
 *   (materialized by the caller, or pulled from a stream in chunks outside the timed loop), so
 *   the interval between two clock reads holds nothing but the replay's own work. The clock is
 *   read once per *category boundary*: after every touch (whether it refaulted is known only
 *   then), and after a conversion event only when the next event is not one too — so an
 *   OVMF flip (request + commit) costs one read instead of four, and each interval is charged
 *   whole to the one category its events share. What an interval holds beyond the events'
 *   own calls is the loop step and the dispatch between them (a few ns each), which a VMM's
 *   exit handler pays too. Samples and progress callbacks close the interval first and reopen
 *   it after, so they are never charged.
 * Policies get the time of the last clock read as `nowMs` (at most one conversion run old).
 * What the clock cannot take out: the guest touches between conversions (page faults on real
 * memory) leave caches cold, so a real-backing replay's conversion costs several times what a
 * warm loop does (docs/design.md) — the same for every policy, and what a VMM's exit handler meets after
 * the guest ran. `replayAll`'s `warmupEvents` and `repetitions` keep JIT compilation and a
 * noisy machine out of the comparison.
 * Not chosen: timing every k-th event and scaling up (biased: discards are rare and costly),
 * or CPU time (`process.cpuUsage` is a syscall per read, far dearer than the clock).
 */
import { MemattrError } from "../core/errors.js";
import { OpenTable } from "../model/_open.js";
import type { PendingConversion } from "../model/conversion.js";
import { PAGE_BYTES, type Side } from "../model/states.js";
import type { FaultDecision, PopulateCounts, Tracker } from "../model/tracker.js";
import type { DiscardBatch, DiscardPolicy } from "../policy/types.js";
import type { TraceEvent } from "../trace/format.js";
import { type Backing, discardedRangesOf } from "../backing/contract.js";
import type { GfnRange } from "../model/errors.js";
import type { ReplayResult } from "./metrics.js";

/** What one replay runs on: a fresh tracker, a policy instance and the two backings. */
export interface ReplayTarget {
  tracker: Tracker;
  policy: DiscardPolicy;
  shared: Backing;
  private: Backing;
  /** Frees the target after `replayAll` used it; default: close both backings, dispose the tracker. */
  release?: () => void;
}

/** Progress of a long replay. */
export interface ReplayProgress {
  /** Policy being replayed. */
  policy: string;
  /** Events applied so far. */
  events: number;
  /** Total events when the caller knows it (`ReplayOptions.totalEvents`), else undefined. */
  totalEvents: number | undefined;
}

/** Options of a replay. */
export interface ReplayOptions {
  /** Take a time-series sample every this many events. Default 1000. */
  sampleEvery?: number;
  /** Called every `progressEvery` events and once at the end. */
  onProgress?: (progress: ReplayProgress) => void;
  /** Events between progress calls. Default 10 000. */
  progressEvery?: number;
  /** Total events, when known, passed through to `onProgress`. */
  totalEvents?: number;
  /** Milliseconds, monotonic; times the conversion path and drives time-based flushes. Default `performance.now`. */
  clock?: () => number;
  /** Call `policy.flush` at the end of the trace (counted in the metrics). Default true. */
  flushAtEnd?: boolean;
  /** In-place encryption copies and drops the shared copy in chunks of this many pages. Default 256 (1 MiB). */
  preserveChunkPages?: number;
  /** Content tag written by a guest touch, or undefined for the backing's own pattern. */
  fillOf?: (event: TraceEvent & { type: "touch" }) => number | undefined;
}

// Categories of a timed interval (see "How time is measured" above).
const OTHER = 0;
const CONVERSION = 1;
const TOUCH = 2;
const REFAULT_TOUCH = 3;

// Slots of Replayer.ms: per-category totals, the in-place copy, and the clock reading the
// current interval started at (what policies get as `nowMs`).
const MS_CONVERSION = 0;
const MS_TOUCH = 1;
const MS_REFAULT = 2;
const MS_LAUNCH_COPY = 3;
const MS_COPY_IN_INTERVAL = 4; // in-place copy time inside the interval being timed, taken out of its category
const MS_NOW = 5;
const MS_SLOTS = 6;

// One clock function for every replayer: optimized code that calls it stays valid from one
// replay to the next (a bound function per replayer would be a new call target each time).
const defaultClock: () => number = performance.now.bind(performance);

/** True for the event types charged to the conversion path. */
function isConversionEvent(ev: TraceEvent): boolean {
  const t = ev.type;
  return t === "request" || t === "commit" || t === "abort" || t === "hypercall" || t === "fault";
}

/**
 * Applies events — one at a time (`apply`, the stepping form the visualiser uses) or a whole
 * array (`applyAll`, the timed form `replayTrace` drives).
 * @remarks Single-threaded; one Replayer per target.
 * @example
 * ```ts
 * import { createTracker, adaptivePolicy, SimulatedBacking, Replayer } from "memattr";
 * const tracker = await createTracker({ regions: [{ gfn: 0, npages: 1024 }] });
 * const r = new Replayer({ tracker, policy: adaptivePolicy(), shared: new SimulatedBacking("shared"), private: new SimulatedBacking("private") });
 * r.apply({ type: "request", id: 1, gfn: 0, npages: 16, to: "private" });
 * r.apply({ type: "commit", id: 1 });
 * console.log(r.finish().conversions); // 1
 * ```
 */
export class Replayer {
  private readonly tracker: Tracker;
  private readonly policy: DiscardPolicy;
  private readonly shared: Backing;
  private readonly priv: Backing;
  // Open transactions by trace id (null: the request was refused). A commit nearly always follows
  // its own request: the table keeps the newest apart from its Map (no Map set/delete per flip).
  private readonly open = new OpenTable<number, PendingConversion | null>();
  // The last settled handle, handed back to the tracker for the next request (no allocation
  // per conversion). Never also open: it is set only after its commit or abort.
  private spare: PendingConversion | undefined = undefined;
  private readonly populateCounts: PopulateCounts = { npagesNew: 0, npagesRefault: 0 };
  private readonly clock: () => number;
  private readonly sampleEvery: number;
  private readonly progressEvery: number;
  // Event counts at which the next sample / progress call is due, and the sooner of the two:
  // one compare per event instead of two divisions.
  private nextSampleAt: number;
  private nextProgressAt: number;
  private nextDueAt: number;
  private readonly preserveChunkPages: number;
  private readonly fillOf: ReplayOptions["fillOf"];
  private readonly options: ReplayOptions;
  private readonly startDiscardCalls: number;
  private readonly startDiscardedPages: number;
  private readonly startCopiedPages: number;
  private readonly r: ReplayResult;
  // Time accumulators in one Float64Array: a double written to an object field, or handed to a
  // call that is not inlined, is boxed (a heap number per event); an element of a typed array is not.
  private readonly ms = new Float64Array(MS_SLOTS);
  private finished = false;
  // Discards a failed syscall left undone, per side (see "When a discard fails"), and the first
  // error of the event being applied, thrown once the event is done.
  private undone: DiscardBatch = { shared: [], private: [] };
  private failure: { error: unknown } | null = null;

  /**
   * @param target - tracker, policy and backings (the backings' `side` must match their slot).
   * @param options - sampling, progress, clock.
   * @throws MemattrError (EBACKINGSIDE) when a backing holds the wrong side.
   */
  constructor(target: ReplayTarget, options: ReplayOptions = {}) {
    if (target.shared.side !== "shared" || target.private.side !== "private") {
      throw new MemattrError(
        "EBACKINGSIDE",
        `backings must be {shared: side "shared", private: side "private"}, got ${target.shared.side}/${target.private.side}`,
      );
    }
    this.tracker = target.tracker;
    this.policy = target.policy;
    this.shared = target.shared;
    this.priv = target.private;
    this.options = options;
    this.clock = options.clock ?? defaultClock;
    this.sampleEvery = Math.max(1, Math.floor(options.sampleEvery ?? 1000));
    this.progressEvery = Math.max(1, Math.floor(options.progressEvery ?? 10_000));
    this.nextSampleAt = this.sampleEvery;
    this.nextProgressAt = this.progressEvery;
    this.nextDueAt = Math.min(this.nextSampleAt, this.nextProgressAt);
    this.preserveChunkPages = Math.max(1, Math.floor(options.preserveChunkPages ?? 256));
    this.fillOf = options.fillOf;
    this.startDiscardCalls = this.shared.stats.discardCalls + this.priv.stats.discardCalls;
    this.startDiscardedPages = this.shared.stats.discardedPages + this.priv.stats.discardedPages;
    this.startCopiedPages = this.priv.stats.copiedPages;
    const double = this.tracker.doubleAllocatedBytes();
    this.r = {
      policy: this.policy.name,
      simulated: this.shared.simulated || this.priv.simulated,
      backingKinds: { shared: this.shared.kind, private: this.priv.kind },
      events: 0,
      conversions: 0,
      aborts: 0,
      refused: 0,
      refusedRecorded: 0,
      faults: { convert: 0, inFlight: 0, spurious: 0, violation: 0 },
      memory: { regionsAdded: 0, regionsRemoved: 0, unpluggedPages: 0, memslotUpdates: 0 },
      copiedPages: 0,
      discardCalls: 0,
      discardedPages: 0,
      discardedBytes: 0,
      refaultPages: 0,
      newPages: 0,
      peakDoubleAllocatedBytes: double,
      peakDoubleAllocatedAfterLaunchBytes: this.tracker.launched ? double : null,
      finalDoubleAllocatedBytes: double,
      finalStaleBytes: 0,
      launchCopyMs: 0,
      conversionPathMs: 0,
      touchPathMs: 0,
      refaultTouchMs: 0,
      conversionCostMs: 0,
      totalConversionCostMs: 0,
      pendingAtEnd: 0,
      series: { events: [], doubleAllocatedBytes: [], discardCalls: [] },
    };
  }

  /** Events applied so far. */
  get events(): number {
    return this.r.events;
  }

  /**
   * Applies one event, reading the clock before and after it (two reads per timed event).
   * @throws MemattrDisposedError after `finish()`; errors other than the model's refusals propagate.
   * @throws the backing's error (a KvmError from `memattr/node`) when a discard failed: the
   *   event was applied but for the discards now in `undoneDiscards`.
   */
  apply(ev: TraceEvent): void {
    if (this.finished) throw new MemattrError("EDISPOSED", "Replayer.apply after finish()");
    if (ev.type === "launch") this.run(ev);
    else {
      const ms = this.ms;
      ms[MS_NOW] = this.clock();
      const category = this.run(ev);
      this.charge(category, this.clock() - ms[MS_NOW]!);
    }
    if (++this.r.events === this.nextDueAt) this.sampleOrProgress();
    if (this.failure !== null) this.throwFailure();
  }

  /**
   * Applies `events[start .. end)` in order, reading the clock once per category boundary
   * (see "How time is measured" in this file's header): the timed form for replays.
   * Same metrics as calling `apply` on each, with less timer overhead in the times.
   * @param events - events to apply; not modified and not kept.
   * @param start - first index. Default 0.
   * @param end - index after the last. Default `events.length`.
   * @throws MemattrDisposedError after `finish()`; errors other than the model's refusals propagate.
   * @throws the backing's error when a discard failed, after the event it failed in (counted in
   *   `events`, so `applyAll(events, start + replayer.events - eventsBefore)` goes on after it).
   */
  applyAll(events: readonly TraceEvent[], start = 0, end = events.length): void {
    if (this.finished) throw new MemattrError("EDISPOSED", "Replayer.applyAll after finish()");
    const r = this.r;
    const ms = this.ms;
    ms[MS_NOW] = this.clock();
    for (let i = start; i < end; i++) {
      const ev = events[i]!;
      const category = this.run(ev);
      const due = ++r.events === this.nextDueAt;
      // A run of conversion events shares one interval: no read until it ends.
      if (category === CONVERSION && !due && this.failure === null && i + 1 < end && isConversionEvent(events[i + 1]!)) continue;
      const now = this.clock();
      this.charge(category, now - ms[MS_NOW]!);
      ms[MS_NOW] = now;
      if (due) {
        this.sampleOrProgress();
        ms[MS_NOW] = this.clock();
      }
      if (this.failure !== null) this.throwFailure();
    }
  }

  /** Throws the first error a discard of the event just applied met. */
  private throwFailure(): never {
    const { error } = this.failure!;
    this.failure = null;
    throw error;
  }

  /** Adds an interval to its category, less the in-place copy time it held. */
  private charge(category: number, intervalMs: number): void {
    const ms = this.ms;
    if (ms[MS_COPY_IN_INTERVAL] !== 0) {
      intervalMs -= ms[MS_COPY_IN_INTERVAL]!;
      ms[MS_COPY_IN_INTERVAL] = 0;
    }
    if (category === CONVERSION) ms[MS_CONVERSION] += intervalMs;
    else if (category === TOUCH) ms[MS_TOUCH] += intervalMs;
    else if (category === REFAULT_TOUCH) {
      // A touch that refaulted pays for an earlier discard: part of what a conversion costs.
      ms[MS_TOUCH] += intervalMs;
      ms[MS_REFAULT] += intervalMs;
    }
  }

  /** Carries out one event; policies get `ms[MS_NOW]` as `nowMs`. @returns the event's category. */
  private run(ev: TraceEvent): number {
    switch (ev.type) {
      case "touch":
        return this.touch(ev.side, ev.gfn, ev.npages, ev.write !== false, this.fillOf === undefined ? undefined : this.fillOf(ev));
      case "request":
      case "hypercall": {
        // The validated event is itself the call's argument ({gfn, npages, to, preserve?} or
        // {gpa, npages, attrs}): no copy.
        let c: PendingConversion | null = null;
        try {
          c = ev.type === "request" ? this.tracker.requestConversion(ev, this.spare) : this.tracker.fromHypercall(ev, this.spare);
          if (c === this.spare) this.spare = undefined;
        } catch (err) {
          this.refuse(err);
        }
        this.open.set(ev.id, c); // replaces what the id held
        return CONVERSION;
      }
      case "commit":
      case "abort": {
        const c = this.open.take(ev.id);
        if (c === undefined || c === null) return CONVERSION; // refused (or unknown to a hand-fed stepper)
        if (ev.type === "commit") this.commit(c);
        else {
          c.abort();
          this.r.aborts++;
          this.carryOut(this.policy.onAbort(this.tracker, c, this.ms[MS_NOW]!));
        }
        this.spare = c; // policies read a handle only during their hook
        return CONVERSION;
      }
      case "fault": {
        let d: FaultDecision;
        try {
          d = this.tracker.onMemoryFault(ev); // {gpa, size, private}, as the event holds it
        } catch (err) {
          this.refuse(err);
          return CONVERSION;
        }
        if (d.kind === "convert") {
          this.r.faults.convert++;
          this.commit(d.conversion);
        } else if (d.kind === "in-flight") this.r.faults.inFlight++;
        else if (d.kind === "spurious") this.r.faults.spurious++;
        else this.r.faults.violation++;
        return CONVERSION;
      }
      case "refused":
        this.r.refused++;
        this.r.refusedRecorded++;
        return OTHER;
      case "region-add":
        this.addRegion(ev.gfn, ev.npages, ev.initial ?? "shared");
        return OTHER;
      case "region-remove":
        this.removeRegion(ev.gfn, ev.npages);
        return OTHER;
      case "memslot":
        this.r.memory.memslotUpdates++;
        return OTHER;
      case "launch":
        try {
          this.tracker.launch();
        } catch (err) {
          this.refuse(err);
        }
        if (this.r.peakDoubleAllocatedAfterLaunchBytes === null && this.tracker.launched) {
          this.r.peakDoubleAllocatedAfterLaunchBytes = this.tracker.doubleAllocatedBytes();
        }
        return OTHER;
    }
    return OTHER;
  }

  /**
   * Hot-added memory: the tracker takes the range, then learns what either backing already holds
   * there — pages populated before the bind (pre-allocation), found as at creation time
   * (the backing's `populatedRanges()`: its own record ∪ what the kernel reports resident).
   */
  private addRegion(gfn: number, npages: number, initial: "shared" | "private"): void {
    try {
      this.tracker.addRegion({ gfn, npages }, { initial });
    } catch (err) {
      this.refuse(err);
      return;
    }
    this.r.memory.regionsAdded++;
    const end = gfn + npages;
    for (const side of ["shared", "private"] as const) {
      for (const r of (side === "shared" ? this.shared : this.priv).populatedRanges()) {
        const s = Math.max(r.gfn, gfn);
        const e = Math.min(r.gfn + r.npages, end);
        if (s < e) this.populated(side, s, e - s);
      }
    }
  }

  /**
   * Unplugged memory: the tracker drops the range (refused while a conversion owns a page of
   * it) and says what each side held there; those pages are discarded. They are no longer
   * guest memory, so nothing is marked: a discard that fails is thrown after the event with
   * the memory left allocated (not in `undoneDiscards`, which only holds guest pages).
   */
  private removeRegion(gfn: number, npages: number): void {
    let populated: { shared: GfnRange[]; private: GfnRange[] };
    try {
      populated = this.tracker.removeRegion({ gfn, npages }).populated;
    } catch (err) {
      this.refuse(err);
      return;
    }
    const m = this.r.memory;
    m.regionsRemoved++;
    for (const side of ["shared", "private"] as const) {
      const ranges = populated[side];
      if (ranges.length === 0) continue;
      let done = ranges.length;
      try {
        (side === "shared" ? this.shared : this.priv).discard(ranges);
      } catch (err) {
        done = discardedRangesOf(err, ranges.length);
        this.failure ??= { error: err };
      }
      for (let i = 0; i < done; i++) m.unpluggedPages += ranges[i]!.npages;
    }
  }

  private refuse(err: unknown): void {
    if (!(err instanceof MemattrError)) throw err;
    this.r.refused++;
  }

  private commit(c: PendingConversion): void {
    c.commit();
    if (c.preserve) this.encryptInPlace(c);
    this.r.conversions++;
    this.carryOut(this.policy.onCommit(this.tracker, c, this.ms[MS_NOW]!));
  }

  /**
   * In-place encryption, in the order a VMM does it: the attribute is set (commit), then the
   * shared contents are copied into private memory chunk by chunk and each chunk's shared copy
   * is dropped at once whatever the policy says — it holds what is now private contents.
   * Chunking bounds the transient double allocation to one chunk. Only legal before launch,
   * identical under every policy: timed on its own (`launchCopyMs`), not as conversion path.
   */
  private encryptInPlace(c: PendingConversion): void {
    const t0 = this.clock();
    const flat = c.ownedFlat;
    for (let i = 0; i < flat.length; i += 2) {
      const end = flat[i + 1]!;
      for (let gfn = flat[i]!; gfn < end; gfn += this.preserveChunkPages) {
        const npages = Math.min(this.preserveChunkPages, end - gfn);
        this.priv.copyFrom(this.shared, gfn, npages);
        this.populated("private", gfn, npages);
        // The copy read (so populated) every shared page of the chunk: if they could not be
        // dropped, the tracker must know they are there.
        if (!this.discard("shared", this.shared, [{ gfn, npages }])) this.populated("shared", gfn, npages);
      }
    }
    const copyMs = this.clock() - t0;
    this.ms[MS_LAUNCH_COPY] += copyMs;
    this.ms[MS_COPY_IN_INTERVAL] += copyMs;
  }

  private populated(side: Side, gfn: number, npages: number): boolean {
    const p = this.tracker.markPopulated(side, gfn, npages, this.populateCounts);
    if (p.npagesNew + p.npagesRefault === 0) return false;
    const r = this.r;
    r.newPages += p.npagesNew;
    r.refaultPages += p.npagesRefault;
    const double = this.tracker.doubleAllocatedBytes();
    if (double > r.peakDoubleAllocatedBytes) r.peakDoubleAllocatedBytes = double;
    const afterLaunch = r.peakDoubleAllocatedAfterLaunchBytes;
    if (afterLaunch !== null && double > afterLaunch) r.peakDoubleAllocatedAfterLaunchBytes = double;
    return true;
  }

  /** @returns TOUCH, or REFAULT_TOUCH when the touch refaulted pages. */
  private touch(side: Side, gfn: number, npages: number, write: boolean, fill: number | undefined): number {
    const refaultsBefore = this.r.refaultPages;
    let changed = false;
    try {
      (side === "shared" ? this.shared : this.priv).touch(gfn, npages, write, fill);
      changed = this.populated(side, gfn, npages);
    } catch (err) {
      this.refuse(err); // a touch the backing or the model refuses (a bad range)
    }
    if (changed) this.carryOut(this.policy.onPopulate(this.tracker, side, gfn, npages, this.ms[MS_NOW]!));
    return this.r.refaultPages !== refaultsBefore ? REFAULT_TOUCH : TOUCH;
  }

  private carryOut(batch: DiscardBatch | null): void {
    if (batch === null) return;
    if (batch.shared.length > 0) this.discard("shared", this.shared, batch.shared);
    if (batch.private.length > 0) this.discard("private", this.priv, batch.private);
  }

  /**
   * Discards `ranges` on one side and marks what was discarded (see "When a discard fails").
   * @returns false when the backing failed: the rest of `ranges` is in `undone`, the error kept.
   */
  private discard(side: Side, backing: Backing, ranges: readonly GfnRange[]): boolean {
    let done = ranges.length;
    try {
      backing.discard(ranges);
    } catch (err) {
      done = discardedRangesOf(err, ranges.length);
      for (let i = done; i < ranges.length; i++) this.undone[side].push({ gfn: ranges[i]!.gfn, npages: ranges[i]!.npages });
      this.failure ??= { error: err };
    }
    for (let i = 0; i < done; i++) this.tracker.markDiscarded(side, ranges[i]!.gfn, ranges[i]!.npages);
    return done === ranges.length;
  }

  /** Ranges failed discards left undone, per side (copies). Empty after a successful `retryDiscards()`. */
  get undoneDiscards(): DiscardBatch {
    return { shared: this.undone.shared.map((r) => ({ ...r })), private: this.undone.private.map((r) => ({ ...r })) };
  }

  /**
   * Carries out again the discards failed syscalls left undone, limited to the pages still stale
   * on their side (a page in use again since then keeps its contents). Callable after `finish()`.
   * @throws the backing's error when a discard fails again; what it left undone stays listed
   */
  retryDiscards(): void {
    for (const side of ["shared", "private"] as const) {
      const pending = this.undone[side].sort((a, b) => a.gfn - b.gfn);
      if (pending.length === 0) continue;
      this.undone[side] = [];
      const stale: GfnRange[] = [];
      let start = pending[0]!.gfn;
      let end = start;
      for (const r of pending) {
        if (r.gfn > end) {
          stale.push(...this.tracker.staleRuns(side, start, end - start));
          start = r.gfn;
        }
        end = Math.max(end, r.gfn + r.npages);
      }
      stale.push(...this.tracker.staleRuns(side, start, end - start));
      if (stale.length > 0) this.discard(side, side === "shared" ? this.shared : this.priv, stale);
    }
    if (this.failure !== null) this.throwFailure();
  }

  /** Takes the sample and/or makes the progress call due at this event count. */
  private sampleOrProgress(): void {
    const n = this.r.events;
    if (n === this.nextSampleAt) {
      this.sample();
      this.nextSampleAt += this.sampleEvery;
    }
    if (n === this.nextProgressAt) {
      this.progress();
      this.nextProgressAt += this.progressEvery;
    }
    this.nextDueAt = Math.min(this.nextSampleAt, this.nextProgressAt);
  }

  private sample(): void {
    const s = this.r.series;
    s.events.push(this.r.events);
    s.doubleAllocatedBytes.push(this.tracker.doubleAllocatedBytes());
    s.discardCalls.push(this.shared.stats.discardCalls + this.priv.stats.discardCalls - this.startDiscardCalls);
  }

  private progress(): void {
    this.options.onProgress?.({ policy: this.policy.name, events: this.r.events, totalEvents: this.options.totalEvents });
  }

  /** The metrics so far (a copy; the replay may go on). */
  snapshot(): ReplayResult {
    const r = this.r;
    const ms = this.ms;
    const discardedPages = this.shared.stats.discardedPages + this.priv.stats.discardedPages - this.startDiscardedPages;
    let pending = 0;
    for (const c of this.open.values()) if (c !== null) pending++;
    return {
      ...r,
      faults: { ...r.faults },
      memory: { ...r.memory },
      backingKinds: { ...r.backingKinds },
      copiedPages: this.priv.stats.copiedPages - this.startCopiedPages,
      discardCalls: this.shared.stats.discardCalls + this.priv.stats.discardCalls - this.startDiscardCalls,
      discardedPages,
      discardedBytes: discardedPages * PAGE_BYTES,
      finalDoubleAllocatedBytes: this.tracker.doubleAllocatedBytes(),
      finalStaleBytes: (this.tracker.stalePages("shared") + this.tracker.stalePages("private")) * PAGE_BYTES,
      launchCopyMs: ms[MS_LAUNCH_COPY]!,
      conversionPathMs: ms[MS_CONVERSION]!,
      touchPathMs: ms[MS_TOUCH]!,
      refaultTouchMs: ms[MS_REFAULT]!,
      conversionCostMs: ms[MS_CONVERSION]! + ms[MS_REFAULT]!,
      totalConversionCostMs: ms[MS_CONVERSION]! + ms[MS_REFAULT]! + ms[MS_LAUNCH_COPY]!,
      pendingAtEnd: pending,
      series: { events: [...r.series.events], doubleAllocatedBytes: [...r.series.doubleAllocatedBytes], discardCalls: [...r.series.discardCalls] },
    };
  }

  /**
   * Ends the replay: flushes the policy (unless `flush` is false or `flushAtEnd` was off),
   * takes the last sample and returns the metrics. Later `apply` calls throw.
   * @throws the backing's error when a discard of the flush failed (the replay is finished all
   *   the same; `snapshot()` gives the metrics, `retryDiscards()` the undone discards)
   */
  finish(flush = this.options.flushAtEnd !== false): ReplayResult {
    if (!this.finished) {
      this.finished = true;
      if (flush) {
        const t0 = this.clock();
        this.carryOut(this.policy.flush(this.tracker, t0));
        this.ms[MS_CONVERSION] += this.clock() - t0;
      }
      const s = this.r.series;
      if (s.events.length > 0 && s.events[s.events.length - 1] === this.r.events) {
        s.events.pop();
        s.doubleAllocatedBytes.pop();
        s.discardCalls.pop();
      }
      this.sample();
      this.progress();
      if (this.failure !== null) this.throwFailure(); // the flush's discard failed; snapshot() still answers
    }
    return this.snapshot();
  }
}
