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
 * Discards: `backing.discard(ranges)`, then `tracker.markDiscarded` per range.
 *
 * A request, hypercall, fault or touch the model refuses (a `MemattrError`: a hostile guest's
 * bad range, a conflict) is counted in `refused` and the replay goes on; a later commit/abort
 * of a refused id does nothing. Other errors propagate.
 */
import { MemattrError } from "../core/errors.js";
import type { PendingConversion } from "../model/conversion.js";
import { PAGE_BYTES, type Side } from "../model/states.js";
import type { Tracker } from "../model/tracker.js";
import type { DiscardBatch, DiscardPolicy } from "../policy/types.js";
import type { TraceEvent } from "../trace/format.js";
import type { Backing } from "./backing.js";
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

/**
 * Applies events one at a time — the stepping form the visualiser uses; `replayTrace` drives it.
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
  private readonly open = new Map<number, PendingConversion | null>();
  private readonly clock: () => number;
  private readonly sampleEvery: number;
  private readonly progressEvery: number;
  private readonly preserveChunkPages: number;
  private readonly options: ReplayOptions;
  private readonly startDiscardCalls: number;
  private readonly startDiscardedPages: number;
  private readonly startCopiedPages: number;
  private readonly r: ReplayResult;
  private conversionMs = 0;
  private touchMs = 0;
  private refaultMs = 0;
  private finished = false;

  /**
   * @param target - tracker, policy and backings (the backings' `side` must match their slot).
   * @param options - sampling, progress, clock.
   * @throws MemattrError (EBACKINGSIDE) when a backing holds the wrong side.
   */
  constructor(target: ReplayTarget, options: ReplayOptions = {}) {
    if (target.shared.side !== "shared" || target.private.side !== "private") {
      throw new MemattrError("EBACKINGSIDE", `backings must be {shared: side "shared", private: side "private"}, got ${target.shared.side}/${target.private.side}`);
    }
    this.tracker = target.tracker;
    this.policy = target.policy;
    this.shared = target.shared;
    this.priv = target.private;
    this.options = options;
    this.clock = options.clock ?? (() => performance.now());
    this.sampleEvery = Math.max(1, Math.floor(options.sampleEvery ?? 1000));
    this.progressEvery = Math.max(1, Math.floor(options.progressEvery ?? 10_000));
    this.preserveChunkPages = Math.max(1, Math.floor(options.preserveChunkPages ?? 256));
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
      faults: { convert: 0, inFlight: 0, spurious: 0, violation: 0 },
      copiedPages: 0,
      discardCalls: 0,
      discardedPages: 0,
      discardedBytes: 0,
      refaultPages: 0,
      newPages: 0,
      peakDoubleAllocatedBytes: double,
      finalDoubleAllocatedBytes: double,
      finalStaleBytes: 0,
      conversionPathMs: 0,
      touchPathMs: 0,
      refaultTouchMs: 0,
      conversionCostMs: 0,
      pendingAtEnd: 0,
      series: { events: [], doubleAllocatedBytes: [], discardCalls: [] },
    };
  }

  /** Events applied so far. */
  get events(): number {
    return this.r.events;
  }

  /**
   * Applies one event.
   * @throws MemattrDisposedError after `finish()`; errors other than the model's refusals propagate.
   */
  apply(ev: TraceEvent): void {
    if (this.finished) throw new MemattrError("EDISPOSED", "Replayer.apply after finish()");
    switch (ev.type) {
      case "touch":
        this.touch(ev.side, ev.gfn, ev.npages, ev.write !== false, this.options.fillOf?.(ev));
        break;
      case "request": {
        const t0 = this.clock();
        let c: PendingConversion | null = null;
        try {
          c = this.tracker.requestConversion({ gfn: ev.gfn, npages: ev.npages, to: ev.to, preserve: ev.preserve === true });
        } catch (err) {
          this.refuse(err);
        }
        this.open.set(ev.id, c);
        this.conversionMs += this.clock() - t0;
        break;
      }
      case "hypercall": {
        const t0 = this.clock();
        let c: PendingConversion | null = null;
        try {
          c = this.tracker.fromHypercall({ gpa: ev.gpa, npages: ev.npages, attrs: ev.attrs });
        } catch (err) {
          this.refuse(err);
        }
        this.open.set(ev.id, c);
        this.conversionMs += this.clock() - t0;
        break;
      }
      case "commit":
      case "abort": {
        const c = this.open.get(ev.id);
        this.open.delete(ev.id);
        if (c === undefined || c === null) break; // refused (or unknown to a hand-fed stepper)
        const t0 = this.clock();
        if (ev.type === "commit") this.commit(c, t0);
        else {
          c.abort();
          this.r.aborts++;
          this.carryOut(this.policy.onAbort(this.tracker, c, t0));
        }
        this.conversionMs += this.clock() - t0;
        break;
      }
      case "fault": {
        const t0 = this.clock();
        try {
          const d = this.tracker.onMemoryFault({ gpa: ev.gpa, size: ev.size, private: ev.private });
          if (d.kind === "convert") {
            this.r.faults.convert++;
            this.commit(d.conversion, t0);
          } else if (d.kind === "in-flight") this.r.faults.inFlight++;
          else if (d.kind === "spurious") this.r.faults.spurious++;
          else this.r.faults.violation++;
        } catch (err) {
          this.refuse(err);
        }
        this.conversionMs += this.clock() - t0;
        break;
      }
      case "launch":
        try {
          this.tracker.launch();
        } catch (err) {
          this.refuse(err);
        }
        break;
    }
    const n = ++this.r.events;
    if (n % this.sampleEvery === 0) this.sample();
    if (n % this.progressEvery === 0) this.progress();
  }

  private refuse(err: unknown): void {
    if (!(err instanceof MemattrError)) throw err;
    this.r.refused++;
  }

  private commit(c: PendingConversion, t0: number): void {
    c.commit();
    if (c.preserve) {
      // In-place encryption, in the order a VMM does it: the attribute is set (commit), then
      // the shared contents are copied into private memory chunk by chunk and each chunk's
      // shared copy is dropped at once whatever the policy says — it holds what is now private
      // contents. Chunking bounds the transient double allocation to one chunk.
      const flat = c.ownedFlat;
      for (let i = 0; i < flat.length; i += 2) {
        const end = flat[i + 1]!;
        for (let gfn = flat[i]!; gfn < end; gfn += this.preserveChunkPages) {
          const npages = Math.min(this.preserveChunkPages, end - gfn);
          this.priv.copyFrom(this.shared, gfn, npages);
          this.populated("private", gfn, npages);
          this.discard("shared", this.shared, [{ gfn, npages }]);
        }
      }
    }
    this.r.conversions++;
    this.carryOut(this.policy.onCommit(this.tracker, c, t0));
  }

  private populated(side: Side, gfn: number, npages: number): boolean {
    const p = this.tracker.markPopulated(side, gfn, npages);
    if (p.npagesNew + p.npagesRefault === 0) return false;
    this.r.newPages += p.npagesNew;
    this.r.refaultPages += p.npagesRefault;
    const double = this.tracker.doubleAllocatedBytes();
    if (double > this.r.peakDoubleAllocatedBytes) this.r.peakDoubleAllocatedBytes = double;
    return true;
  }

  private touch(side: Side, gfn: number, npages: number, write: boolean, fill: number | undefined): void {
    const t0 = this.clock();
    const refaultsBefore = this.r.refaultPages;
    try {
      (side === "shared" ? this.shared : this.priv).touch(gfn, npages, write, fill);
      if (this.populated(side, gfn, npages)) this.carryOut(this.policy.onPopulate(this.tracker, side, gfn, npages, t0));
    } catch (err) {
      this.refuse(err);
    }
    const dt = this.clock() - t0;
    this.touchMs += dt;
    // A touch that refaulted pays for an earlier discard: part of what a conversion costs.
    if (this.r.refaultPages !== refaultsBefore) this.refaultMs += dt;
  }

  private carryOut(batch: DiscardBatch | null): void {
    if (batch === null) return;
    if (batch.shared.length > 0) this.discard("shared", this.shared, batch.shared);
    if (batch.private.length > 0) this.discard("private", this.priv, batch.private);
  }

  private discard(side: Side, backing: Backing, ranges: DiscardBatch["shared"]): void {
    backing.discard(ranges);
    for (const r of ranges) this.tracker.markDiscarded(side, r.gfn, r.npages);
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
    const discardedPages = this.shared.stats.discardedPages + this.priv.stats.discardedPages - this.startDiscardedPages;
    let pending = 0;
    for (const c of this.open.values()) if (c !== null) pending++;
    return {
      ...r,
      faults: { ...r.faults },
      backingKinds: { ...r.backingKinds },
      copiedPages: this.priv.stats.copiedPages - this.startCopiedPages,
      discardCalls: this.shared.stats.discardCalls + this.priv.stats.discardCalls - this.startDiscardCalls,
      discardedPages,
      discardedBytes: discardedPages * PAGE_BYTES,
      finalDoubleAllocatedBytes: this.tracker.doubleAllocatedBytes(),
      finalStaleBytes: (this.tracker.stalePages("shared") + this.tracker.stalePages("private")) * PAGE_BYTES,
      conversionPathMs: this.conversionMs,
      touchPathMs: this.touchMs,
      refaultTouchMs: this.refaultMs,
      conversionCostMs: this.conversionMs + this.refaultMs,
      pendingAtEnd: pending,
      series: { events: [...r.series.events], doubleAllocatedBytes: [...r.series.doubleAllocatedBytes], discardCalls: [...r.series.discardCalls] },
    };
  }

  /**
   * Ends the replay: flushes the policy (unless `flush` is false or `flushAtEnd` was off),
   * takes the last sample and returns the metrics. Later `apply` calls throw.
   */
  finish(flush = this.options.flushAtEnd !== false): ReplayResult {
    if (!this.finished) {
      this.finished = true;
      if (flush) {
        const t0 = this.clock();
        this.carryOut(this.policy.flush(this.tracker, t0));
        this.conversionMs += this.clock() - t0;
      }
      const s = this.r.series;
      if (s.events.length > 0 && s.events[s.events.length - 1] === this.r.events) {
        s.events.pop();
        s.doubleAllocatedBytes.pop();
        s.discardCalls.pop();
      }
      this.sample();
      this.progress();
    }
    return this.snapshot();
  }
}
