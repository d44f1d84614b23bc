// Policies on worker threads (node:worker_threads): `replayInWorkers` spreads the policies of
// one replay over `jobs` workers; each worker opens (or is handed) the trace itself, replays
// its policies with the same warm-up and repetitions as `replayWorkload` in this thread, and
// posts back progress and its results. The results are the sequential run's, policy by policy
// (test/replay/parallel.test.ts compares every counter); only the times differ.
//
// Worker entry: dist/cli/_replay-worker.js when this runs from dist/; when it runs from the
// TypeScript sources (vitest, tsx) the worker registers tsx's loader first, since a worker
// given a .ts file is not transpiled by the parent's loader.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { MemattrError } from "../core/errors.js";
import type { PolicyName } from "../policy/types.js";
import type { ReplayProgress, ReplayResult } from "../replay/index.js";
import { ReplayStoppedError } from "../replay/index.js";
import type { TraceEvent, TraceHeader } from "../trace/index.js";
import { TraceParseError } from "../trace/index.js";

/**
 * What each worker replays: a generator or trace file named as on the `memattr replay` command
 * line (the worker generates or reads it itself), or events already in memory (an imported
 * kernel trace; copied to each worker).
 */
export type WorkerWorkload =
  | { kind: "spec"; spec: string; guestBytes: number; seed: number; transactions?: number }
  | { kind: "events"; name: string; header: TraceHeader; events: TraceEvent[] };

/** Options of {@link replayInWorkers}. */
export interface WorkerReplayOptions {
  /** Policies, in the order of the results. */
  policies: readonly PolicyName[];
  /** The adaptive policy's budget. */
  budgetBytes: number;
  /** Guest size for a trace whose header names no regions. */
  guestBytes: number;
  /** Simulated backings even where real ones work (`--simulated`). */
  simulated: boolean;
  /** Warm-up events per policy (`TimingOptions.warmupEvents`). */
  warmupEvents?: number;
  /** Timed replays per policy (`TimingOptions.repetitions`). */
  repetitions?: number;
  /** Workers; default the cores (`os.availableParallelism()`), at most one per policy. */
  jobs?: number;
  /** Progress of each policy, as a replay's `onProgress` reports it. */
  onProgress?: (progress: ReplayProgress) => void;
  /** Events a worker has read so far of a trace file it reads once for several policies (`worker` from 0). */
  onRead?: (worker: number, events: number) => void;
}

/** What {@link replayInWorkers} returns. */
export interface WorkerReplayOutcome {
  /** The workload's title (generator and guest, or file). */
  name: string;
  /** The backings' label, as every output carries it. */
  backingsLabel: string;
  /** One result per policy, in `policies` order. */
  results: ReplayResult[];
}

/** What a worker is handed. */
export interface WorkerTask {
  workload: WorkerWorkload;
  policies: PolicyName[];
  budgetBytes: number;
  guestBytes: number;
  simulated: boolean;
  warmupEvents?: number;
  repetitions?: number;
  progress: boolean;
}

/** An error as it crosses to the parent thread (a structured clone keeps no class). */
export type SerializedError =
  | { kind: "stopped"; line: number; reason: string; partial: ReplayResult }
  | { kind: "memattr"; name: string; code: string; message: string }
  | { kind: "system"; code: string; syscall: string; path?: string; message: string }
  | { kind: "other"; name: string; message: string; stack?: string };

/** What a worker posts. */
export type WorkerMessage =
  | { type: "progress"; progress: ReplayProgress }
  | { type: "read"; events: number }
  | { type: "done"; name: string; backingsLabel: string; results: ReplayResult[] }
  | { type: "error"; error: SerializedError };

/** The worker side of {@link SerializedError}. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof ReplayStoppedError) return { kind: "stopped", line: err.line, reason: err.cause.reason, partial: err.partial };
  if (err instanceof MemattrError) return { kind: "memattr", name: err.name, code: err.code, message: err.message };
  const e = err as { code?: unknown; syscall?: unknown; path?: unknown; message?: unknown; name?: unknown; stack?: unknown };
  if (typeof e === "object" && e !== null && typeof e.code === "string" && typeof e.syscall === "string")
    return { kind: "system", code: e.code, syscall: e.syscall, path: typeof e.path === "string" ? e.path : undefined, message: String(e.message) };
  return { kind: "other", name: String(e?.name ?? "Error"), message: String(e?.message ?? err), stack: typeof e?.stack === "string" ? e.stack : undefined };
}

function deserializeError(s: SerializedError): Error {
  switch (s.kind) {
    case "stopped":
      return new ReplayStoppedError(s.line, s.partial, new TraceParseError(s.line, s.reason));
    case "memattr":
      return Object.assign(new MemattrError(s.code, s.message), { name: s.name });
    case "system":
      return Object.assign(new Error(s.message), { code: s.code, syscall: s.syscall, path: s.path });
    default: {
      const err = new Error(`replay worker: ${s.message}`);
      if (s.stack !== undefined) err.stack = s.stack;
      return err;
    }
  }
}

// tsx's ESM API as a file URL, read from its package.json exports (its CommonJS build cannot
// register the loader from a worker started with `eval`).
function tsxApiUrl(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(pkgPath), pkg.exports["./esm/api"]!.import.default)).href;
}

function startWorker(task: WorkerTask): Worker {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return new Worker(new URL("./_replay-worker.js", here), { workerData: task });
  const entry = new URL("./_replay-worker.ts", here).href;
  const boot = `import(${JSON.stringify(tsxApiUrl())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: task });
}

/** Workers for `policies`: `jobs` (default the cores), at least 1, at most one per policy. */
export function workerCount(policies: number, jobs?: number): number {
  return Math.max(1, Math.min(policies, jobs ?? availableParallelism()));
}

function runWorker(
  task: WorkerTask,
  onProgress: ((p: ReplayProgress) => void) | undefined,
  onRead: ((events: number) => void) | undefined,
): { done: Promise<WorkerReplayOutcome>; stop(): void } {
  const worker = startWorker(task);
  const done = new Promise<WorkerReplayOutcome>((resolve, reject) => {
    let settled = false;
    worker.on("message", (m: WorkerMessage) => {
      if (m.type === "progress") onProgress?.(m.progress);
      else if (m.type === "read") onRead?.(m.events);
      else if (m.type === "done") {
        settled = true;
        resolve({ name: m.name, backingsLabel: m.backingsLabel, results: m.results });
      } else {
        settled = true;
        reject(deserializeError(m.error));
      }
    });
    worker.on("error", (err) => {
      settled = true;
      reject(err);
    });
    worker.on("exit", (code) => {
      if (!settled) reject(new MemattrError("EWORKER", `replay worker for ${task.policies.join(", ")} exited with code ${code} before its results`));
    });
  });
  return { done, stop: () => void worker.terminate() };
}

/**
 * Replays a workload through `policies` on worker threads, policy `i` on worker `i mod jobs`.
 * @param workload - a generator or trace file each worker opens, or events copied to each.
 * @param options - policies, budget, backings, timing, workers, progress.
 * @returns the workload's title, the backings' label and one result per policy, as
 *   `replayWorkload` gives them in one thread (times aside).
 * @throws ReplayStoppedError (ETRACEPARSE) at a bad trace line — the first policy's, as a
 *   sequential run would; a MemattrError or a Node system error (ENOENT, …) a worker met.
 * @remarks Each worker parses or generates the trace itself and holds what it replays; the
 *   real backings (memfd, guest_memfd through koffi) are opened in the worker.
 */
export async function replayInWorkers(workload: WorkerWorkload, options: WorkerReplayOptions): Promise<WorkerReplayOutcome> {
  const jobs = workerCount(options.policies.length, options.jobs);
  const groups: PolicyName[][] = Array.from({ length: jobs }, () => []);
  options.policies.forEach((p, i) => groups[i % jobs]!.push(p));
  const runs = groups.map((policies, w) =>
    runWorker(
      {
        workload,
        policies,
        budgetBytes: options.budgetBytes,
        guestBytes: options.guestBytes,
        simulated: options.simulated,
        warmupEvents: options.warmupEvents,
        repetitions: options.repetitions,
        progress: options.onProgress !== undefined || options.onRead !== undefined,
      },
      options.onProgress,
      options.onRead && ((events) => options.onRead!(w, events)),
    ),
  );
  const settled = await Promise.allSettled(runs.map((r) => r.done));
  for (const r of runs) r.stop();
  // The error of the worker holding the earliest policy: the one a sequential run meets first.
  const failed = settled.find((s) => s.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  const outcomes = settled.map((s) => (s as PromiseFulfilledResult<WorkerReplayOutcome>).value);
  const results = options.policies.map((_p, i) => outcomes[i % jobs]!.results[Math.floor(i / jobs)]!);
  return { name: outcomes[0]!.name, backingsLabel: outcomes[0]!.backingsLabel, results };
}
