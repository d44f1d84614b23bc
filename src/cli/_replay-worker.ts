// Worker-thread entry of `replayInWorkers` (./_replay-pool.ts): opens the workload it is
// handed (generating it, or reading the trace file, itself), picks the backings as the parent
// did, replays its share of the policies through `replayWorkload` — the function the
// sequential run uses, so warm-up and repetitions mean the same — and posts progress, then its
// results or its error.
import { parentPort, workerData } from "node:worker_threads";
import type { ReplayEvents } from "../replay/index.js";
import type { TraceEvent } from "../trace/index.js";
import { TraceParseError } from "../trace/index.js";
import { serializeError, type WorkerMessage, type WorkerTask } from "./_replay-pool.js";
import { chooseBackings, DEFAULT_REPETITIONS, openWorkload, replayWorkload, type Workload } from "./replay.js";

/** Most events a worker holds in memory to replay a streamed file more than once without reading it again. */
const MAX_HELD_EVENTS = 2_000_000;
/** Events read between two progress messages while a file is read into memory. */
const READ_PROGRESS_EVERY = 50_000;

// A streamed trace file read into memory once, when it holds at most MAX_HELD_EVENTS events
// and reads without error; else null (the replays stream it, and meet any bad line themselves).
async function holdEvents(events: ReplayEvents, onRead: ((events: number) => void) | undefined): Promise<TraceEvent[] | null> {
  const out: TraceEvent[] = [];
  const push = (ev: TraceEvent): boolean => {
    const n = out.push(ev);
    if (n % READ_PROGRESS_EVERY === 0) onRead?.(n);
    return n <= MAX_HELD_EVENTS;
  };
  try {
    if (Symbol.iterator in events) {
      for (const ev of events as Iterable<TraceEvent>) if (!push(ev)) return null;
    } else {
      for await (const ev of events) if (!push(ev)) return null;
    }
  } catch (err) {
    if (err instanceof TraceParseError) return null;
    throw err;
  }
  onRead?.(out.length);
  return out;
}

async function main(task: WorkerTask): Promise<WorkerMessage> {
  const post = (m: WorkerMessage) => parentPort!.postMessage(m);
  const w = task.workload;
  let workload: Workload =
    w.kind === "events"
      ? { name: w.name, header: w.header, open: () => w.events, totalEvents: w.events.length }
      : await openWorkload(w.spec, { guestBytes: w.guestBytes, seed: w.seed, transactions: w.transactions, countEvents: false });
  const backings = await chooseBackings(task.simulated);
  let repetitions = task.repetitions ?? DEFAULT_REPETITIONS;
  if (workload.totalEvents === undefined && task.policies.length > 1 && !backings.simulated) {
    // A streamed file replayed for several policies on real backings (which replay one policy
    // at a time: no ReplayAllOptions.onePass): parse it once, not once per policy. It stays
    // timed once, as a streamed file is in the sequential run.
    const held = await holdEvents(workload.open(), task.progress ? (events) => post({ type: "read", events }) : undefined);
    if (held !== null) {
      workload = { ...workload, open: () => held, totalEvents: held.length };
      repetitions = 1;
    }
  }
  const results = await replayWorkload(workload, task.policies, task.budgetBytes, backings, task.guestBytes, {
    warmupEvents: task.warmupEvents,
    repetitions,
    onProgress: task.progress ? (progress) => post({ type: "progress", progress }) : undefined,
  });
  return { type: "done", name: workload.name, backingsLabel: backings.label, results };
}

main(workerData as WorkerTask).then(
  (m) => parentPort!.postMessage(m),
  (err: unknown) => parentPort!.postMessage({ type: "error", error: serializeError(err) } satisfies WorkerMessage),
);
