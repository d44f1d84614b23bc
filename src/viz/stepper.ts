/**
 * The page's use of src/replay: a stepper (one `Replayer` over a fresh tracker, the chosen
 * policy and two `SimulatedBacking`s) for the map, and every policy replayed on the same trace
 * for the comparison panel. Everything here runs on the simulated backing: no memory is
 * allocated or punched, and every output says so.
 *
 * The core's `.wasm` is the one fetched next to the bundle, handed to each tracker as a
 * compiled module (the loader's own default path points into the npm package layout).
 */
import type { GfnRange } from "../model/errors.js";
import { createTracker } from "../model/create.js";
import { createPolicy, POLICY_NAMES } from "../policy/create.js";
import type { DiscardPolicy, PolicyName } from "../policy/types.js";
import type { Backing } from "../backing/contract.js";
import { Replayer, type ReplayTarget } from "../replay/engine.js";
import { replayAll } from "../replay/replay.js";
import { SimulatedBacking } from "../backing/simulated.js";
import type { TraceEvent } from "../trace/format.js";
import type { ComparisonRow, ComparisonSeries } from "./compare.js";
import type { ReplayStepper, StepperFactory } from "./session.js";
import type { LoadedTrace } from "./sources.js";

/** One line on each policy, for the page. */
export const POLICY_HINTS: Record<string, string> = {
  eager: "Discards the side a page left on every conversion (what QEMU does today): no double allocation, one discard and a refault per flip.",
  never: "Never discards: no discard calls, but a page that ever flipped is held twice — up to all guest memory.",
  batched: "Queues stale pages and discards them in coalesced batches (byte budget, count or time).",
  adaptive: "Keeps recently flipped pages populated, discards cold ones, never above the double-allocation budget (2 MiB).",
};

/** A tracker over `regions` on the given core module, with both simulated backings. */
async function simulatedTarget(wasm: WebAssembly.Module, regions: readonly GfnRange[], policy: DiscardPolicy): Promise<ReplayTarget> {
  const tracker = await createTracker({ regions, rangeMap: { wasm } });
  const backing = (side: "shared" | "private"): Backing => new SimulatedBacking(side, { populatedSource: () => tracker.populatedRuns(side) });
  return { tracker, policy, shared: backing("shared"), private: backing("private") };
}

function release(target: ReplayTarget): void {
  target.shared.close();
  target.private.close();
  target.tracker.dispose();
}

/** Steppers over the core module `wasm`: each a `Replayer` with the named policy on simulated backings. */
export function stepperFactory(wasm: WebAssembly.Module): StepperFactory {
  return async (trace, policy) => {
    const target = await simulatedTarget(wasm, trace.header.regions, createPolicy(policy as PolicyName));
    const replayer = new Replayer(target, { sampleEvery: Number.MAX_SAFE_INTEGER });
    let finished = false;
    const stepper: ReplayStepper = {
      tracker: target.tracker,
      get refused() {
        return replayer.snapshot().refused;
      },
      apply(ev: TraceEvent) {
        replayer.apply(ev);
      },
      finish() {
        // The end of the trace flushes the policy, as the comparison's replays do.
        if (!finished) replayer.finish();
        finished = true;
      },
      dispose() {
        release(target);
      },
    };
    return stepper;
  };
}

/** Yields the events, handing the thread back to the browser every few milliseconds. */
async function* breathing(events: Iterable<TraceEvent>, cancelled: () => boolean): AsyncGenerator<TraceEvent> {
  let t0 = performance.now();
  let i = 0;
  for (const ev of events) {
    yield ev;
    if ((++i & 1023) === 0 && performance.now() - t0 > 12) {
      await new Promise((done) => setTimeout(done, 0));
      if (cancelled()) return;
      t0 = performance.now();
    }
  }
}

/** Events handed to a replay per batch, at most (between two looks at the clock). */
const BATCH_EVENTS = 8192;

/**
 * The events of an array, a batch at a time (`nextBatch`, which the replay takes whole), giving
 * the thread back to the browser whenever a stretch of work passed 12 ms, and reporting how
 * far it got.
 */
function breathingBatches(events: readonly TraceEvent[], cancelled: () => boolean, onProgress: (done: number) => void): AsyncIterable<TraceEvent> {
  return {
    [Symbol.asyncIterator]() {
      let at = 0;
      let t0 = performance.now();
      const nextBatch = async (): Promise<TraceEvent[] | null> => {
        if (performance.now() - t0 > 12) {
          onProgress(at);
          await new Promise((done) => setTimeout(done, 0));
          t0 = performance.now();
        }
        if (at >= events.length || cancelled()) return null;
        const batch = events.slice(at, at + BATCH_EVENTS);
        at += batch.length;
        return batch;
      };
      return {
        nextBatch,
        async next(): Promise<IteratorResult<TraceEvent>> {
          if (at >= events.length || cancelled()) return { value: undefined, done: true };
          return { value: events[at++]!, done: false };
        },
        async return(): Promise<IteratorResult<TraceEvent>> {
          at = events.length;
          return { value: undefined, done: true };
        },
      };
    },
  };
}

/** Progress of the comparison: which policy (index into POLICY_NAMES) and how many of its events are done. */
export type CompareProgress = (policyIndex: number, eventsDone: number) => void;

/** The comparison: rows and series per policy, and a note for the page. */
export interface Comparison {
  rows: ComparisonRow[];
  series: ComparisonSeries[];
  note: string;
}

/**
 * Replays the trace through every policy (`replayAll`) on simulated backings.
 * @param cancelled polled between chunks; when it turns true the result is null.
 */
export async function compareAllPolicies(
  wasm: WebAssembly.Module,
  trace: LoadedTrace,
  cancelled: () => boolean,
  onProgress: CompareProgress = () => {},
): Promise<Comparison | null> {
  const sampleEvery = Math.max(1, Math.ceil(trace.eventCount / 1500));
  let policyIndex = -1;
  const events = trace.events;
  const results = await replayAll(
    () => {
      policyIndex++;
      const report = (done: number) => onProgress(policyIndex, done);
      return Array.isArray(events) ? breathingBatches(events as TraceEvent[], cancelled, report) : breathing(events, cancelled);
    },
    (policy) => simulatedTarget(wasm, trace.header.regions, policy),
    {
      policies: POLICY_NAMES,
      sampleEvery,
      progressEvery: Number.MAX_SAFE_INTEGER,
    },
  );
  if (cancelled()) return null;
  const rows: ComparisonRow[] = results.map((r) => ({
    policy: r.policy,
    conversions: r.conversions,
    discardCalls: r.discardCalls,
    discardedBytes: r.discardedBytes,
    refaultPages: r.refaultPages,
    peakDoubleBytes: r.peakDoubleAllocatedBytes,
    finalDoubleBytes: r.finalDoubleAllocatedBytes,
    simulated: r.simulated,
  }));
  const series: ComparisonSeries[] = results.map((r) => ({
    policy: r.policy,
    xs: [0, ...r.series.events],
    doubleBytes: [0, ...r.series.doubleAllocatedBytes],
    discardCalls: [0, ...r.series.discardCalls],
  }));
  const simulated = results.some((r) => r.simulated);
  const note = simulated
    ? `simulated backing: discard calls and pages are counted, no memory is allocated or punched · sampled every ${sampleEvery} events`
    : `sampled every ${sampleEvery} events`;
  return { rows, series, note };
}
