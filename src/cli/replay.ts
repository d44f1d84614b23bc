/**
 * `memattr replay`: replay a trace file or a generator through the discard policies and print
 * the side-by-side Markdown table.
 *
 *   memattr replay <trace.jsonl|ftrace.txt|qemu.log|ovmf-dma|linux-boot|adversarial> [--guest 1GiB] [--seed N]
 *                  [--transactions N] [--policy eager|never|batched|adaptive|all] [--budget 2MiB]
 *                  [--jobs N] [--simulated] [--json]
 *
 * Backings: real memfd + guest_memfd when /dev/kvm and koffi work here (through the Node-only
 * `../backing/real/index.js`, imported lazily); otherwise, or with `--simulated`, SimulatedBacking,
 * and every output says "simulated backing". Several policies run side by side on worker threads
 * (`--jobs`, default the cores: ./_replay-pool.ts); `--jobs 1` runs them all in this thread. A
 * trace timed once (big, or streamed from a file) is read once per thread: every policy's
 * replayer takes each chunk in turn (`ReplayAllOptions.onePass`, simulated backings). Progress, one line per policy, goes to stderr on a TTY (./_progress.ts). Exit
 * codes: 0 done, 1 an error (a file that cannot be read; a bad trace line names its line and
 * the partial table is printed), 2 usage (also a generator option the generator refuses).
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { MemattrError } from "../core/errors.js";
import { RangeMap } from "../core/range-map.js";
import type { GfnRange } from "../model/errors.js";
import { Tracker } from "../model/tracker.js";
import { POLICY_NAMES } from "../policy/create.js";
import type { DiscardPolicy, PolicyName } from "../policy/types.js";
import type { ReplayEvents, ReplayProgress, ReplayResult, ReplayTarget, TargetFactory } from "../replay/index.js";
import { formatPolicyTable, materializeEvents, regionsForTrace, replayAll, ReplayStoppedError, simulatedTargets } from "../replay/index.js";
import {
  detectTraceFormat,
  formatBytes,
  formatImportSummary,
  GENERATORS,
  generateTrace,
  importTraceAsync,
  parseTrace,
  type TraceEvent,
  type TraceEventStream,
} from "../trace/index.js";
import type { GeneratorName, TraceHeader } from "../trace/index.js";
import { bytesOption, fileErrorMessage, intOption, jobsOption, MAX_JOBS, parseOptions, UsageError } from "./_args.js";
import { createProgress, type Progress, type ProgressTask, policyProgress, progressEnabled } from "./_progress.js";
import { replayInWorkers, type WorkerWorkload, workerCount } from "./_replay-pool.js";

/** Most warm-up events `--warmup` takes: the warm-up trace is held in memory. */
export const MAX_WARMUP_EVENTS = 10_000_000;
/** Most timed replays `--repeat` takes. */
export const MAX_REPETITIONS = 1000;

const USAGE = `usage: memattr replay <trace.jsonl|ftrace.txt|qemu.log|${Object.keys(GENERATORS).join("|")}> [--guest 1GiB] [--seed N]
                      [--transactions N] [--policy ${POLICY_NAMES.join("|")}|all] [--budget 2MiB]
                      [--warmup 30000] [--repeat 3] [--jobs N] [--simulated] [--json]
  --warmup N   events each policy replays on throwaway backings before it is timed (JIT warm-up;
               at most ${MAX_WARMUP_EVENTS})
  --repeat N   timed replays per policy, each on fresh backings; the table shows the median
               (1 to ${MAX_REPETITIONS}; traces over 500 000 events, or streamed from a file, are timed once)
  --jobs N     worker threads the policies run on (default: the cores, at most one per policy;
               1 runs them all in this thread; at most ${MAX_JOBS}). A trace timed once
               is read once per thread, whatever the policies it runs
`;

/** A trace to replay, opened afresh for each policy. */
export interface Workload {
  /** Name for titles: the generator or the file. */
  name: string;
  header: TraceHeader;
  open(): ReplayEvents;
  /** Events in the trace, when cheap to know (generators), for the progress bar. */
  totalEvents?: number;
}

/** Where the backings come from, and the label every output carries. */
export interface BackingChoice {
  label: string;
  simulated: boolean;
  factory(regions: readonly GfnRange[]): TargetFactory;
}

/**
 * Real backings when /dev/kvm, koffi and guest_memfd MMAP work here and `forceSimulated` is
 * false; otherwise SimulatedBacking, labelled with the reason.
 */
export async function chooseBackings(forceSimulated: boolean): Promise<BackingChoice> {
  const simulated = (reason: string): BackingChoice => ({
    label: `simulated backing (no real memory) — ${reason}`,
    simulated: true,
    factory: (regions) => simulatedTargets(regions),
  });
  if (forceSimulated) return simulated("--simulated");
  let mod: typeof import("../backing/real/index.js");
  try {
    mod = await import("../backing/real/index.js");
  } catch (err) {
    return simulated(`real backings unavailable: ${(err as Error).message}`);
  }
  if (typeof mod.probeRealBackings !== "function" || typeof mod.createRealBackings !== "function") {
    return simulated("src/backing does not provide createRealBackings yet");
  }
  const probe = mod.probeRealBackings();
  if (!probe.available) return { ...simulated(probe.reason ?? "real backings unavailable"), label: probe.label };
  return {
    label: probe.label,
    simulated: false,
    factory: (regions) => {
      // One Wasm map for every tracker of the run, cleared by each new Tracker: replays use it
      // one after another, and optimized code that calls its exports stays valid from one
      // replay to the next (a new Wasm instance per replay would be a new call target each
      // time — unlike a VMM, which keeps one tracker for the guest's life).
      let map: Promise<RangeMap> | undefined;
      return async (policy: DiscardPolicy): Promise<ReplayTarget> => {
        map ??= RangeMap.create();
        const tracker = new Tracker(await map, { regions });
        const b = await mod.createRealBackings({ regions });
        return { tracker, policy, shared: b.shared, private: b.private, release: () => b.close() };
      };
    },
  };
}

/** The first `bytes` of a file, as text (enough to recognise its format). */
async function readHead(path: string, bytes: number): Promise<string> {
  const file = await open(path, "r");
  try {
    const buf = new Uint8Array(bytes);
    const { bytesRead } = await file.read(buf, 0, bytes, 0);
    return new TextDecoder().decode(buf.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

/**
 * The workload named on the command line: a generator; a memattr JSONL file, read afresh per
 * policy; or a kernel ftrace / QEMU trace log, imported once.
 */
export async function openWorkload(spec: string, o: { guestBytes: number; seed: number; transactions?: number; countEvents: boolean }): Promise<Workload> {
  if (Object.hasOwn(GENERATORS, spec)) {
    const name = spec as GeneratorName;
    const main = name === "ovmf-dma" ? "transactions" : name === "linux-boot" ? "conversions" : "floodRequests";
    const options: Record<string, number> = { guestBytes: o.guestBytes, seed: o.seed };
    if (o.transactions !== undefined) options[main] = o.transactions;
    const g = generateTrace(name, options);
    const title = `${name}, ${formatBytes(o.guestBytes)} guest, seed ${o.seed}`;
    // Generated once, before any timed replay, and shared by every policy: no event object is
    // allocated (and no generator runs) inside the timed loop. Huge traces stream instead.
    const events = materializeEvents(g.events);
    if (events !== null) return { name: title, header: g.header, open: () => events, totalEvents: events.length };
    let totalEvents: number | undefined;
    if (o.countEvents) {
      totalEvents = 0;
      for (const _ of g.events) totalEvents++;
    }
    return { name: title, header: g.header, open: () => g.events, totalEvents };
  }
  const format = detectTraceFormat(await readHead(spec, 64 * 1024));
  if (format === "ftrace" || format === "qemu") {
    // A real kernel or QEMU trace: import it once (unknown lines are counted, not dropped).
    const imported = await importTraceAsync(createReadStream(spec), { format });
    process.stderr.write(`${formatImportSummary(imported.summary)}\n`);
    return { name: `${spec} (imported ${format})`, header: imported.header, open: () => imported.events, totalEvents: imported.events.length };
  }
  const first = await parseTrace(createReadStream(spec, READ_OPTIONS));
  let used = false;
  return {
    name: spec,
    header: first.header,
    open: () => {
      if (!used) {
        used = true;
        return first.events;
      }
      // Each policy reads the file again: a trace may not fit in memory.
      return { [Symbol.asyncIterator]: () => reopened(spec) };
    },
  };
}

/** Big reads: fewer chunks, fewer awaits (the reader splits lines itself). */
const READ_OPTIONS = { highWaterMark: 1 << 20 };

/**
 * The events of `spec` read again, as an iterator that also hands out batches (`nextBatch`, as
 * `TraceEventStream` does), so the replay takes one await per batch.
 */
function reopened(spec: string): AsyncIterator<TraceEvent> & { nextBatch(): Promise<TraceEvent[] | null> } {
  let stream: Promise<TraceEventStream> | undefined;
  const open = () => (stream ??= parseTrace(createReadStream(spec, READ_OPTIONS)).then((t) => t.events));
  return {
    nextBatch: async () => (await open()).nextBatch(),
    next: async () => (await open()).next(),
    return: async () => (stream === undefined ? { value: undefined, done: true } : (await stream).return()),
  };
}

/** Default events each policy replays on a throwaway target before its timed runs (see `ReplayAllOptions.warmupEvents`). */
export const DEFAULT_WARMUP_EVENTS = 30_000;
/** Default timed replays per policy; the table reports the median one (see `ReplayAllOptions.repetitions`). */
export const DEFAULT_REPETITIONS = 3;
/** Above this many events (or when the count is unknown: a streamed file) a trace is timed once. */
const REPEAT_MAX_EVENTS = 500_000;

/** How `replayWorkload` times each policy. */
export interface TimingOptions {
  /** Warm-up events per policy. Default {@link DEFAULT_WARMUP_EVENTS}. */
  warmupEvents?: number;
  /** Timed replays per policy (traces over 500 000 events, or streamed, run once). Default {@link DEFAULT_REPETITIONS}. */
  repetitions?: number;
  /** Progress of each policy's timed replays (e.g. `policyProgress(createProgress())`). Default none. */
  onProgress?: (progress: ReplayProgress) => void;
}

/**
 * Replays `workload` through `policies` on the chosen backings.
 * @returns one result per policy; throws ReplayStoppedError at a bad trace line.
 */
export async function replayWorkload(
  workload: Workload,
  policies: readonly PolicyName[],
  budgetBytes: number,
  backings: BackingChoice,
  guestBytes: number,
  timing: TimingOptions = {},
): Promise<ReplayResult[]> {
  const regions = regionsForTrace(workload.header, guestBytes);
  const small = workload.totalEvents !== undefined && workload.totalEvents <= REPEAT_MAX_EVENTS;
  return replayAll(() => workload.open(), backings.factory(regions), {
    policies,
    policy: { budgetBytes },
    totalEvents: workload.totalEvents,
    onProgress: timing.onProgress,
    progressEvery: 20_000,
    warmupEvents: timing.warmupEvents ?? DEFAULT_WARMUP_EVENTS,
    repetitions: small ? (timing.repetitions ?? DEFAULT_REPETITIONS) : 1,
    // A trace timed once is read once for all policies (a file parsed once). The real backings'
    // factory shares one Wasm map between its trackers, one replay at a time: not for them.
    onePass: !small && backings.simulated,
  });
}

/** A checked `memattr replay` command line. */
export interface ReplayCommand {
  /** The trace file or generator name. */
  spec: string;
  guestBytes: number;
  seed: number;
  transactions?: number;
  policies: PolicyName[];
  budgetBytes: number;
  simulated: boolean;
  json: boolean;
  warmupEvents: number;
  repetitions: number;
  /** `--jobs`: worker threads; undefined for the default (the cores). */
  jobs?: number;
}

/**
 * Reads a `memattr replay` command line.
 * @returns the command, or `"help"` for -h/--help.
 * @throws UsageError for anything the command cannot run.
 */
export function parseReplayArgs(args: string[]): ReplayCommand | "help" {
  const { values, positionals } = parseOptions({
    args,
    allowPositionals: true,
    options: {
      guest: { type: "string", default: "1GiB" },
      policy: { type: "string", default: "all" },
      budget: { type: "string", default: "2MiB" },
      seed: { type: "string", default: "1" },
      transactions: { type: "string" },
      warmup: { type: "string", default: String(DEFAULT_WARMUP_EVENTS) },
      repeat: { type: "string", default: String(DEFAULT_REPETITIONS) },
      jobs: { type: "string" },
      simulated: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (positionals.length !== 1) throw new UsageError("give one trace file or generator name");
  const policy = values.policy!;
  if (policy !== "all" && !(POLICY_NAMES as readonly string[]).includes(policy)) throw new UsageError(`unknown policy '${policy}'`);
  return {
    spec: positionals[0]!,
    guestBytes: bytesOption("guest", values.guest)!,
    budgetBytes: bytesOption("budget", values.budget)!,
    seed: intOption("seed", values.seed, 0, 2 ** 32 - 1)!,
    transactions: intOption("transactions", values.transactions),
    policies: policy === "all" ? [...POLICY_NAMES] : [policy as PolicyName],
    simulated: values.simulated!,
    json: values.json!,
    warmupEvents: intOption("warmup", values.warmup, 0, MAX_WARMUP_EVENTS)!,
    repetitions: intOption("repeat", values.repeat, 1, MAX_REPETITIONS)!,
    jobs: jobsOption(values.jobs),
  };
}

/**
 * Lines of a file after the first (a JSONL trace's header): its events, for a progress total
 * only — a scan for newlines, ≈ 50 ms for 1 M lines, no parse.
 */
async function countEventLines(path: string): Promise<number> {
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    if (chunk.length > 0) last = chunk[chunk.length - 1]!;
  }
  return Math.max(0, lines - (last === 10 ? 1 : 0));
}

/** `onProgress` for `o.policies` on `progress`; a trace file's events counted for the total when the replay does not know it. */
async function replayProgress(o: ReplayCommand, progress: Progress, knownTotal: number | undefined): Promise<((p: ReplayProgress) => void) | undefined> {
  const draw = policyProgress(progress, o.policies);
  if (draw === undefined || knownTotal !== undefined || Object.hasOwn(GENERATORS, o.spec)) return draw;
  const total = await countEventLines(o.spec);
  return (p) => draw(p.totalEvents === undefined ? { ...p, totalEvents: total } : p);
}

/** Prints the table, or the JSON with `--json`. */
function printResults(o: ReplayCommand, name: string, label: string, results: readonly ReplayResult[]): void {
  if (o.json) process.stdout.write(`${JSON.stringify({ workload: name, backings: label, budgetBytes: o.budgetBytes, results }, null, 2)}\n`);
  else process.stdout.write(`${formatPolicyTable(results, `${name}, budget ${formatBytes(o.budgetBytes)}`)}\n${label}\n`);
}

/** A replay that stopped: the partial table at a bad line (exit 1), a file error (exit 1); anything else is thrown. */
function replayFailed(err: unknown, name: string, label: string): number {
  if (err instanceof ReplayStoppedError) {
    process.stderr.write(`\nmemattr replay: ${err.message}\n`);
    process.stdout.write(`${formatPolicyTable([err.partial], `${name} — STOPPED at line ${err.line}, partial`)}\n${label}\n`);
    return 1;
  }
  const message = fileErrorMessage(err);
  if (message === undefined) throw err;
  process.stderr.write(`\nmemattr replay: ${message}\n`);
  return 1;
}

/**
 * `memattr replay` with the policies on `jobs` worker threads. Each worker generates the
 * trace or reads the file itself; a kernel ftrace / QEMU log is imported once here (its
 * summary printed once) and its events copied to the workers.
 */
async function runInWorkers(o: ReplayCommand, backings: BackingChoice, jobs: number): Promise<number> {
  let workload: WorkerWorkload = { kind: "spec", spec: o.spec, guestBytes: o.guestBytes, seed: o.seed, transactions: o.transactions };
  if (!Object.hasOwn(GENERATORS, o.spec)) {
    try {
      const format = detectTraceFormat(await readHead(o.spec, 64 * 1024));
      if (format === "ftrace" || format === "qemu") {
        const imported = await openWorkload(o.spec, { ...o, countEvents: false });
        const events = imported.open();
        if (!Array.isArray(events)) return runInThread(o, backings, imported);
        workload = { kind: "events", name: imported.name, header: imported.header, events };
      }
    } catch (err) {
      const message = fileErrorMessage(err);
      if (message === undefined) throw err;
      process.stderr.write(`memattr replay: ${message}\n`);
      return 1;
    }
  }
  process.stderr.write(`${backings.label}\n`);
  const progress = createProgress({ quiet: o.json });
  try {
    const onProgress = await replayProgress(o, progress, workload.kind === "events" ? workload.events.length : undefined);
    const reading = new Map<number, ProgressTask>();
    const onRead = (w: number, events: number) => {
      let task = reading.get(w);
      if (task === undefined) reading.set(w, (task = progress.task(`read w${w + 1}`)));
      task.update(events);
    };
    const out = await replayInWorkers(workload, { ...o, jobs, onProgress, onRead: progress.enabled ? onRead : undefined });
    progress.stop();
    printResults(o, out.name, out.backingsLabel, out.results);
    return 0;
  } catch (err) {
    progress.stop();
    if (err instanceof MemattrError && !(err instanceof ReplayStoppedError) && Object.hasOwn(GENERATORS, o.spec)) {
      // the generator refused an option (a guest too small for it, …), in each worker
      process.stderr.write(`memattr replay: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    return replayFailed(err, workload.kind === "events" ? workload.name : o.spec, backings.label);
  }
}

/** `memattr replay` in this thread, one policy after another. */
async function runInThread(o: ReplayCommand, backings: BackingChoice, opened?: Workload): Promise<number> {
  let workload: Workload;
  try {
    workload = opened ?? (await openWorkload(o.spec, { ...o, countEvents: progressEnabled({ quiet: o.json }) }));
  } catch (err) {
    const message = fileErrorMessage(err);
    if (message !== undefined) {
      process.stderr.write(`memattr replay: ${message}\n`);
      return 1;
    }
    if (err instanceof MemattrError && Object.hasOwn(GENERATORS, o.spec)) {
      // the generator refused an option (a guest too small for it, …)
      process.stderr.write(`memattr replay: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  process.stderr.write(`${backings.label}\n`);
  const progress = createProgress({ quiet: o.json });
  try {
    const results = await replayWorkload(workload, o.policies, o.budgetBytes, backings, o.guestBytes, {
      ...o,
      onProgress: await replayProgress(o, progress, workload.totalEvents),
    });
    progress.stop();
    printResults(o, workload.name, backings.label, results);
    return 0;
  } catch (err) {
    progress.stop();
    return replayFailed(err, workload.name, backings.label);
  }
}

/** Entry of `memattr replay`. @returns the exit code. */
export async function run(args: string[]): Promise<number> {
  let o: ReplayCommand | "help";
  try {
    o = parseReplayArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`memattr replay: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (o === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const backings = await chooseBackings(o.simulated);
  const jobs = workerCount(o.policies.length, o.jobs);
  return jobs > 1 ? runInWorkers(o, backings, jobs) : runInThread(o, backings);
}
