/**
 * `replayTrace` / `replayTraceSync`: run a whole trace through a {@link Replayer}, and
 * `replayAll`: the same trace through every policy, each on a fresh tracker and backings.
 *
 * ## A corrupted or truncated trace line stops the replay
 * The trace reader throws `TraceParseError` (with its 1-based `line`) when it reaches a bad
 * line. The replay stops there — it does not skip: a skipped commit would leave a conversion
 * pending and every later number would describe a different workload. Everything applied
 * before the bad line stays applied (tracker state, backings, discards) and is reported: the
 * replay throws {@link ReplayStoppedError} (code `ETRACEPARSE`, same `line`) whose `partial`
 * holds the metrics up to the line before, computed without a final policy flush, and whose
 * `cause` is the `TraceParseError`.
 */
import { MemattrError } from "../core/errors.js";
import type { GfnRange } from "../model/errors.js";
import type { Tracker } from "../model/tracker.js";
import { createTracker } from "../model/create.js";
import { createPolicy, POLICY_NAMES, type PolicyOptions } from "../policy/create.js";
import type { DiscardPolicy, PolicyName } from "../policy/types.js";
import { TraceParseError } from "../trace/errors.js";
import type { TraceEvent, TraceHeader } from "../trace/format.js";
import type { Backing } from "../backing/contract.js";
import { Replayer, type ReplayOptions, type ReplayTarget } from "./engine.js";
import type { ReplayResult } from "./metrics.js";
import { SimulatedBacking } from "../backing/simulated.js";

/** Events to replay: a sync or async iterable (a parsed file, a generator's events). */
export type ReplayEvents = Iterable<TraceEvent> | AsyncIterable<TraceEvent>;

/**
 * The replay stopped at a trace line that does not parse. Code `ETRACEPARSE`, like its cause.
 * `partial` reports what was applied before that line (it all stays applied).
 */
export class ReplayStoppedError extends MemattrError {
  constructor(
    /** 1-based line number of the bad line. */
    readonly line: number,
    /** Metrics of everything applied before the line (no final flush). */
    readonly partial: ReplayResult,
    /** The reader's error. */
    override readonly cause: TraceParseError,
  ) {
    super("ETRACEPARSE", `replay stopped at trace line ${line} after ${partial.events} events: ${cause.reason}`);
    this.name = "ReplayStoppedError";
  }
}

function stopped(replayer: Replayer, err: unknown): never {
  if (err instanceof TraceParseError) throw new ReplayStoppedError(err.line, replayer.finish(false), err);
  throw err;
}

/**
 * Replays events from a sync iterable.
 * @param events - validated trace events (e.g. `parseTraceSync(text).events`, `generateTrace(...).events`).
 * @param target - a fresh tracker for the trace's guest memory, a policy, and both backings.
 * @param options - sampling, progress, clock.
 * @returns the metrics.
 * @throws ReplayStoppedError (ETRACEPARSE) at a corrupted or truncated line; what was applied stays applied.
 * @example
 * ```ts
 * import { createTracker, generateTrace, neverPolicy, replayTraceSync, SimulatedBacking } from "memattr";
 * const { header, events } = generateTrace("ovmf-dma", { guestBytes: 2 ** 27, transactions: 100 });
 * const tracker = await createTracker({ regions: header.regions });
 * const m = replayTraceSync(events, { tracker, policy: neverPolicy(), shared: new SimulatedBacking("shared"), private: new SimulatedBacking("private") });
 * console.log(m.conversions, m.discardCalls);
 * ```
 */
export function replayTraceSync(events: Iterable<TraceEvent>, target: ReplayTarget, options: ReplayOptions = {}): ReplayResult {
  const replayer = new Replayer(target, options);
  try {
    if (Array.isArray(events)) replayer.applyAll(events as readonly TraceEvent[]);
    else applyInChunks((chunk) => replayer.applyAll(chunk), events[Symbol.iterator](), SYNC_CHUNK_EVENTS);
  } catch (err) {
    stopped(replayer, err);
  }
  return replayer.finish();
}

/**
 * Events pulled from a stream before each timed `applyAll`: pulling (a generator's work, a
 * parser's) stays outside the timed intervals, and memory stays bounded for traces of any
 * length. An array is replayed whole; callers that can afford it materialize traces up front
 * ({@link materializeEvents}) so no event is even allocated during the replay.
 */
const SYNC_CHUNK_EVENTS = 16_384;
/** Smaller for async sources: the visualiser's source hands the thread back to the page between pulls. */
const ASYNC_CHUNK_EVENTS = 1024;

// Pulls chunks of events and applies each; events read before a failing pull (a bad trace
// line) are applied first, then the error propagates — the same outcome as one at a time.
function applyInChunks(apply: (chunk: readonly TraceEvent[]) => void, it: Iterator<TraceEvent>, chunkEvents: number): void {
  const chunk: TraceEvent[] = [];
  let done = false;
  try {
    while (!done) {
      try {
        while (chunk.length < chunkEvents) {
          const next = it.next();
          if (next.done === true) {
            done = true;
            break;
          }
          chunk.push(next.value);
        }
      } catch (err) {
        done = true; // a throwing iterator is finished
        apply(chunk);
        throw err;
      }
      apply(chunk);
      chunk.length = 0;
    }
  } finally {
    if (!done) it.return?.();
  }
}

/** An async event source that also hands out whole batches (a parsed file: `TraceEventStream`). */
interface BatchedEvents extends AsyncIterator<TraceEvent> {
  nextBatch(): Promise<TraceEvent[] | null>;
}

async function applyInChunksAsync(apply: (chunk: readonly TraceEvent[]) => void, it: AsyncIterator<TraceEvent>, chunkEvents: number): Promise<void> {
  if (typeof (it as Partial<BatchedEvents>).nextBatch === "function") {
    // One await per batch the reader made: the events arrive already in arrays.
    const batched = it as BatchedEvents;
    let done = false;
    try {
      for (let b = await batched.nextBatch(); b !== null; b = await batched.nextBatch()) apply(b);
      done = true;
    } catch (err) {
      done = true; // a throwing reader is finished
      throw err;
    } finally {
      if (!done) await it.return?.();
    }
    return;
  }
  const chunk: TraceEvent[] = [];
  let done = false;
  try {
    while (!done) {
      try {
        while (chunk.length < chunkEvents) {
          const next = await it.next();
          if (next.done === true) {
            done = true;
            break;
          }
          chunk.push(next.value);
        }
      } catch (err) {
        done = true;
        apply(chunk);
        throw err;
      }
      apply(chunk);
      chunk.length = 0;
    }
  } finally {
    if (!done) await it.return?.();
  }
}

/**
 * Reads a sync event source into an array when it holds at most `maxEvents` events, so a
 * replay can run over it with no event allocated inside the timed loop (and several policies
 * can share it). A generator's ~90 000 events for a 1 GiB `ovmf-dma` take a few MiB.
 * @param events - a re-iterable source (a generator's `events`, a parsed file's).
 * @param maxEvents - most events to hold. Default 2 000 000 (≈ 150 MiB of event objects).
 * @returns the events, or null when there are more (stream those instead).
 * @example
 * ```ts
 * import { generateTrace, materializeEvents } from "memattr";
 * const { events } = generateTrace("ovmf-dma", { guestBytes: 2 ** 27, transactions: 100 });
 * console.log(materializeEvents(events)?.length);
 * ```
 */
export function materializeEvents(events: Iterable<TraceEvent>, maxEvents = 2_000_000): TraceEvent[] | null {
  if (Array.isArray(events)) return events.length <= maxEvents ? (events as TraceEvent[]) : null;
  const out: TraceEvent[] = [];
  for (const ev of events) {
    if (out.length >= maxEvents) return null;
    out.push(ev);
  }
  return out;
}

/**
 * Replays events from a sync or async iterable (a sync one runs without awaiting per event).
 * @param events - validated trace events (e.g. `(await parseTrace(stream)).events`).
 * @param target - a fresh tracker, a policy, and both backings.
 * @param options - sampling, progress, clock.
 * @returns the metrics.
 * @throws ReplayStoppedError (ETRACEPARSE) at a corrupted or truncated line; what was applied stays applied.
 * @example
 * ```ts
 * import { adaptivePolicy, createTracker, parseTrace, replayTrace, SimulatedBacking } from "memattr";
 * const text = '{"format":"memattr-trace","version":1,"pageBytes":4096,"regions":[{"gfn":0,"npages":64}]}\n{"type":"request","id":1,"gfn":0,"npages":4,"to":"private"}\n{"type":"commit","id":1}\n';
 * const { header, events } = await parseTrace(text);
 * const tracker = await createTracker({ regions: header.regions });
 * const m = await replayTrace(events, { tracker, policy: adaptivePolicy(), shared: new SimulatedBacking("shared"), private: new SimulatedBacking("private") });
 * console.log(m.conversions); // 1
 * ```
 */
export async function replayTrace(events: ReplayEvents, target: ReplayTarget, options: ReplayOptions = {}): Promise<ReplayResult> {
  if (Symbol.iterator in events) return replayTraceSync(events as Iterable<TraceEvent>, target, options);
  const replayer = new Replayer(target, options);
  try {
    await applyInChunksAsync((chunk) => replayer.applyAll(chunk), events[Symbol.asyncIterator](), ASYNC_CHUNK_EVENTS);
  } catch (err) {
    stopped(replayer, err);
  }
  return replayer.finish();
}

/**
 * The guest memory map to replay a trace on: the header's regions, or — for imported traces,
 * which carry none — one region of `fallbackBytes` from gfn 0.
 * @throws MemattrError (ENOREGIONS) when the header has no regions and no fallback is given.
 */
export function regionsForTrace(header: TraceHeader, fallbackBytes?: number): GfnRange[] {
  if (header.regions.length > 0) return header.regions.map((r) => ({ gfn: r.gfn, npages: r.npages }));
  if (fallbackBytes === undefined) throw new MemattrError("ENOREGIONS", "the trace names no guest regions (imported?): give a guest size");
  return [{ gfn: 0, npages: Math.ceil(fallbackBytes / 4096) }];
}

/** Makes what one policy's replay runs on. */
export type TargetFactory = (policy: DiscardPolicy) => Promise<ReplayTarget> | ReplayTarget;

/**
 * A factory of simulated targets: a fresh Wasm tracker over `regions` and two
 * `SimulatedBacking`s per call.
 * @example
 * ```ts
 * import { eagerPolicy, simulatedTargets } from "memattr";
 * const make = simulatedTargets([{ gfn: 0, npages: 1024 }]);
 * const target = await make(eagerPolicy());
 * ```
 */
export function simulatedTargets(regions: readonly GfnRange[], options: { trackContents?: boolean } = {}): TargetFactory {
  return async (policy) => {
    const tracker: Tracker = await createTracker({ regions });
    const mk = (side: "shared" | "private"): Backing =>
      new SimulatedBacking(side, { trackContents: options.trackContents, populatedSource: () => tracker.populatedRuns(side) });
    return { tracker, policy, shared: mk("shared"), private: mk("private") };
  };
}

/** Options of {@link replayAll}. */
export interface ReplayAllOptions extends ReplayOptions {
  /** Policies to run, in order. Default all four. */
  policies?: readonly PolicyName[];
  /** Budget and per-policy options. */
  policy?: PolicyOptions;
  /** Dispose each tracker and close each backing after its replay. Default true. */
  release?: boolean;
  /**
   * Before each policy's measured replay, replay the first this-many events of the same trace
   * through the same policy on a throwaway target from `makeTarget` (results discarded), so the
   * measured replay runs JIT-compiled code — as a VMM's exit handler does after its first few
   * thousand exits — instead of charging V8's interpreter and compile time to the first
   * conversions. Default 0: measure cold. The CLI (`memattr replay`, `npm start`) warms up.
   */
  warmupEvents?: number;
  /**
   * Timed replays per policy, each on a fresh target, in rounds that time every policy once;
   * the result reported is the one with the median `conversionCostMs`, and
   * `result.repetitions` lists every run's. Evens out a shared machine's noise (a preempted
   * interval, a slow stretch) without hiding a slow policy: all runs replay the same trace.
   * Default 1. The CLI (`memattr replay`, `npm start`) uses 3.
   */
  repetitions?: number;
  /**
   * With `repetitions` 1: replay every policy in one pass over the trace — each chunk of
   * events is applied to every policy's replayer in turn — so `openEvents` is read once, not
   * once per policy (a trace file is parsed once). The results are the same as one policy
   * after another; each policy's time is still its own replayer's. Needs a `makeTarget` whose
   * targets can live at the same time ({@link simulatedTargets}' can). Default false.
   */
  onePass?: boolean;
}

// The first `n` events of a sync or async source, the source closed after. A bad line among
// them ends the warm-up trace there: the measured replay meets it and reports it.
async function firstEvents(events: ReplayEvents, n: number): Promise<TraceEvent[]> {
  const out: TraceEvent[] = [];
  try {
    await readFirst(events, n, out);
  } catch (err) {
    if (!(err instanceof TraceParseError)) throw err;
  }
  return out;
}

async function readFirst(events: ReplayEvents, n: number, out: TraceEvent[]): Promise<void> {
  if (Symbol.iterator in events) {
    for (const ev of events as Iterable<TraceEvent>) {
      out.push(ev);
      if (out.length >= n) break;
    }
  } else {
    for await (const ev of events) {
      out.push(ev);
      if (out.length >= n) break;
    }
  }
}

// The run with the median conversion cost (the lower middle one for an even count), with every
// run's cost attached.
function medianRun(runs: readonly ReplayResult[]): ReplayResult {
  const order = runs.map((_r, i) => i).sort((a, b) => runs[a]!.conversionCostMs - runs[b]!.conversionCostMs);
  const mid = runs[order[(order.length - 1) >> 1]!]!;
  return { ...mid, repetitions: { runs: runs.length, conversionCostMs: runs.map((r) => r.conversionCostMs) } };
}

function releaseTarget(target: ReplayTarget): void {
  if (target.release !== undefined) target.release();
  else {
    target.shared.close();
    target.private.close();
    target.tracker.dispose();
  }
}

// Warms `name` up on a throwaway target (see ReplayAllOptions.warmupEvents).
async function warmUp(name: PolicyName, warmupTrace: readonly TraceEvent[], makeTarget: TargetFactory, options: ReplayAllOptions): Promise<void> {
  const scratch = await makeTarget(createPolicy(name, options.policy));
  try {
    replayTraceSync(warmupTrace, scratch, { sampleEvery: options.sampleEvery, preserveChunkPages: options.preserveChunkPages, fillOf: options.fillOf });
  } finally {
    releaseTarget(scratch);
  }
}

// ReplayAllOptions.onePass: one replayer per policy, every chunk applied to each in turn. A bad
// line stops them all after the same events; the error reports the first policy's partial
// result, as the sequential run (which meets it in the first policy) does.
async function replayInOnePass(
  events: ReplayEvents,
  makeTarget: TargetFactory,
  names: readonly PolicyName[],
  warmupTrace: readonly TraceEvent[],
  options: ReplayAllOptions,
): Promise<ReplayResult[]> {
  if (names.length === 0) return [];
  const targets: ReplayTarget[] = [];
  try {
    for (const name of names) {
      if (warmupTrace.length > 0) await warmUp(name, warmupTrace, makeTarget, options);
      targets.push(await makeTarget(createPolicy(name, options.policy)));
    }
    const replayers = targets.map((t) => new Replayer(t, options));
    const apply = (chunk: readonly TraceEvent[]) => {
      for (const r of replayers) r.applyAll(chunk);
    };
    try {
      if (Array.isArray(events)) apply(events as readonly TraceEvent[]);
      else if (Symbol.iterator in events) applyInChunks(apply, (events as Iterable<TraceEvent>)[Symbol.iterator](), SYNC_CHUNK_EVENTS);
      else await applyInChunksAsync(apply, events[Symbol.asyncIterator](), ASYNC_CHUNK_EVENTS);
    } catch (err) {
      stopped(replayers[0]!, err);
    }
    return replayers.map((r) => r.finish());
  } finally {
    if (options.release !== false) for (const t of targets) releaseTarget(t);
  }
}

/**
 * Replays the same trace through every policy, each on a fresh target from `makeTarget`.
 * @param openEvents - returns the trace's events afresh for each policy (re-open the file, or a generator's re-iterable events).
 * @param makeTarget - fresh tracker + backings for a policy (e.g. {@link simulatedTargets}).
 * @param options - policies, budget, sampling, progress.
 * @returns one result per policy, in order.
 * @throws ReplayStoppedError from the first policy whose replay meets a bad line.
 * @example
 * ```ts
 * import { generateTrace, replayAll, simulatedTargets, formatPolicyTable } from "memattr";
 * const { header, events } = generateTrace("ovmf-dma", { guestBytes: 2 ** 27, transactions: 200 });
 * const results = await replayAll(() => events, simulatedTargets(header.regions));
 * console.log(formatPolicyTable(results));
 * ```
 */
export async function replayAll(openEvents: () => ReplayEvents, makeTarget: TargetFactory, options: ReplayAllOptions = {}): Promise<ReplayResult[]> {
  const warmup = Math.max(0, Math.floor(options.warmupEvents ?? 0));
  const repetitions = Math.max(1, Math.floor(options.repetitions ?? 1));
  const warmupTrace = warmup > 0 ? await firstEvents(openEvents(), warmup) : [];
  const names = options.policies ?? POLICY_NAMES;
  if (options.onePass === true && repetitions === 1) return replayInOnePass(openEvents(), makeTarget, names, warmupTrace, options);
  const runs: ReplayResult[][] = names.map(() => []);
  // Round-robin: every round times each policy once, so a slow stretch of a shared machine
  // falls on all of them alike rather than on whichever policy ran then.
  for (let k = 0; k < repetitions; k++) {
    for (let p = 0; p < names.length; p++) {
      const name = names[p]!;
      if (k === 0 && warmupTrace.length > 0) await warmUp(name, warmupTrace, makeTarget, options);
      const target = await makeTarget(createPolicy(name, options.policy));
      try {
        runs[p]!.push(await replayTrace(openEvents(), target, options));
      } finally {
        if (options.release !== false) releaseTarget(target);
      }
    }
  }
  const out = runs.map((r) => (r.length === 1 ? r[0]! : medianRun(r)));
  return out;
}
