// A small reusable harness over tinybench: cases are grouped (one group = one question, e.g.
// "get, 1 GiB guest"), each case runs `opsPerSample` operations per sample so tinybench's
// per-sample overhead (~50 ns) disappears, and each group names a baseline the others are
// compared with. Prints Markdown, writes JSON. Later bench files add groups; nothing here
// knows about memattr.
import { mkdir, writeFile } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import { Bench } from "tinybench";

/** One contender in a group: `run()` performs `opsPerSample` operations. */
export interface BenchCase {
  name: string;
  run: () => unknown;
  opsPerSample: number;
  /**
   * Untimed work before every sample (e.g. restoring the state a destructive op starts from).
   * Such a case is timed here rather than by tinybench (whose time budget counts only the
   * timed part, so a 300 ns op after a 1 ms restore would run for minutes): `manualSamples`
   * samples of restore + one timed `run()`, after two warm-up rounds.
   */
  beforeEach?: () => void;
  manualSamples?: number;
  /** Bytes the contender held after setup, when measured. */
  memoryBytes?: number;
  /** Wall time of the setup, when measured. */
  setupMs?: number;
  /** When set the case is not run and the table shows this reason (e.g. "cannot hold: …"). */
  skip?: string;
}

/** Cases answering one question, measured side by side; ratios are to `baseline`. */
export interface BenchGroup {
  title: string;
  baseline: string;
  cases: BenchCase[];
  /** Optional note printed under the group (what the data looks like). */
  note?: string;
  /**
   * Builds the real group right before it runs (its data is then dropped before the next
   * group), so a suite never holds every group's maps at once. See {@link lazyGroup}.
   */
  build?: () => Promise<BenchGroup>;
  /** When set, the table adds a bits-per-page column: memory held × 8 / pages. */
  pages?: number;
  /** Per-group time per case / warm-up, overriding the suite's (ms), and the fewest samples per case. */
  timeMs?: number;
  warmupMs?: number;
  minSamples?: number;
}

/** A group whose inputs and contenders are built only when it runs. */
export function lazyGroup(
  title: string,
  baseline: string,
  build: () => Promise<BenchGroup>,
  timing: { timeMs?: number; warmupMs?: number; minSamples?: number; pages?: number } = {},
): BenchGroup {
  return { title, baseline, cases: [], build, ...timing };
}

export interface CaseResult {
  name: string;
  nsPerOp: number;
  opsPerSec: number;
  memoryBytes?: number;
  setupMs?: number;
  skip?: string;
  /** nsPerOp divided by the baseline's nsPerOp (1 for the baseline itself). */
  ratio: number;
  rmePercent: number;
  samples: number;
}

export interface GroupResult {
  /** Wall time of the whole group: building, checking and timing every contender. */
  wallMs?: number;
  pages?: number;
  title: string;
  baseline: string;
  note?: string;
  results: CaseResult[];
}

export interface HarnessOptions {
  /** Milliseconds per case; MEMATTR_BENCH_QUICK=1 shortens it. */
  timeMs?: number;
  warmupMs?: number;
}

export const QUICK = process.env.MEMATTR_BENCH_QUICK === "1";

/**
 * Where results go: MEMATTR_BENCH_OUT when set (CI sends a quick run to a temporary folder:
 * it never rewrites the committed results), else bench/results/.
 */
export function resultsDir(): URL {
  const out = process.env.MEMATTR_BENCH_OUT;
  return out ? pathToFileURL(`${resolvePath(out)}/`) : new URL("./results/", import.meta.url);
}

/** Sinks results so the JIT cannot drop the measured work. */
export let sink = 0;
export function consume(x: number): void {
  sink = (sink + x) | 0;
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
}

function timeManually(c: BenchCase, before: () => void, samples: number): { nsPerOp: number; rmePercent: number; samples: number } {
  const ns: number[] = [];
  for (let i = -2; i < samples; i++) {
    before();
    const t0 = process.hrtime.bigint();
    c.run();
    const dt = Number(process.hrtime.bigint() - t0);
    if (i >= 0) ns.push(dt / c.opsPerSample);
  }
  ns.sort((a, b) => a - b);
  const mean = ns.reduce((a, b) => a + b, 0) / ns.length;
  const sd = Math.sqrt(ns.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, ns.length - 1));
  return { nsPerOp: ns[ns.length >> 1]!, rmePercent: (100 * 1.96 * sd) / Math.sqrt(ns.length) / mean, samples: ns.length };
}

export async function runGroup(group: BenchGroup, opts: HarnessOptions = {}): Promise<GroupResult> {
  const t0 = performance.now();
  if (group.build) group = { timeMs: group.timeMs, warmupMs: group.warmupMs, minSamples: group.minSamples, pages: group.pages, ...(await group.build()) };
  const time = group.timeMs ?? opts.timeMs ?? (QUICK ? 150 : 1000);
  const warmupTime = group.warmupMs ?? opts.warmupMs ?? (QUICK ? 50 : 300);
  const results: CaseResult[] = [];
  for (const c of group.cases) {
    const extra = { memoryBytes: c.memoryBytes, setupMs: c.setupMs };
    if (c.skip !== undefined) {
      results.push({ name: c.name, nsPerOp: Number.NaN, opsPerSec: Number.NaN, ratio: Number.NaN, rmePercent: Number.NaN, samples: 0, ...extra, skip: c.skip });
      continue;
    }
    collectGarbage();
    if (c.beforeEach) {
      const m = timeManually(c, c.beforeEach, c.manualSamples ?? (QUICK ? 7 : 31));
      results.push({ name: c.name, ...m, opsPerSec: 1e9 / m.nsPerOp, ratio: 1, ...extra });
      continue;
    }
    const bench = new Bench({ time, warmupTime, iterations: group.minSamples ?? 16, warmupIterations: group.minSamples ?? 16, throws: true });
    bench.add(c.name, c.run);
    await bench.run();
    const task = bench.tasks[0]!;
    const r = task.result as unknown as { latency: { p50: number; rme: number; samplesCount?: number }; runtime?: string };
    const samples = (r.latency as { samples?: number[] }).samples?.length ?? r.latency.samplesCount ?? 0;
    const nsPerOp = (r.latency.p50 * 1e6) / c.opsPerSample;
    results.push({ name: c.name, nsPerOp, opsPerSec: 1e9 / nsPerOp, ratio: 1, rmePercent: r.latency.rme, samples, ...extra });
  }
  const base = results.find((r) => r.name === group.baseline);
  for (const r of results) r.ratio = base ? r.nsPerOp / base.nsPerOp : Number.NaN;
  return { title: group.title, baseline: group.baseline, note: group.note, pages: group.pages, results, wallMs: performance.now() - t0 };
}

/** Every group run in this process, by suite, for the closing summary and the targets table. */
export const ALL_RESULTS: { suite: string; groups: GroupResult[] }[] = [];

function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return "–";
  return x >= 100 ? x.toFixed(0) : x.toFixed(digits);
}

function fmtOps(x: number): string {
  if (!Number.isFinite(x)) return "–";
  if (x >= 1e6) return `${(x / 1e6).toFixed(x >= 1e8 ? 0 : 1)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(x >= 1e5 ? 0 : 1)} k`;
  return x.toFixed(x >= 100 ? 0 : 1);
}

export function fmtBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let u = 0;
  let x = bytes;
  while (Math.abs(x) >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${u === 0 || Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1)} ${units[u]}`;
}

export function toMarkdown(groups: GroupResult[]): string {
  const lines: string[] = [];
  for (const g of groups) {
    lines.push(`### ${g.title}`, "");
    if (g.note) lines.push(g.note, "");
    const withMem = g.results.some((r) => r.memoryBytes !== undefined || r.setupMs !== undefined);
    const bits = g.pages !== undefined;
    const cols = ["case", "ns/op", "ops/s", `× ${g.baseline}`];
    if (withMem) cols.push("memory held", ...(bits ? ["bits/page"] : []), "setup ms");
    cols.push("±%");
    lines.push(`| ${cols.join(" | ")} |`, `|---|${"---:|".repeat(cols.length - 1)}`);
    for (const r of g.results) {
      if (r.skip !== undefined) {
        lines.push(`| ${r.name} | ${r.skip} |${" |".repeat(cols.length - 2)}`);
        continue;
      }
      const row = [r.name, fmt(r.nsPerOp), fmtOps(r.opsPerSec), fmt(r.ratio)];
      if (withMem) {
        row.push(fmtBytes(r.memoryBytes));
        if (bits) row.push(r.memoryBytes === undefined ? "–" : ((r.memoryBytes * 8) / g.pages!).toFixed(3));
        row.push(r.setupMs === undefined ? "–" : fmt(r.setupMs, 1));
      }
      row.push(fmt(r.rmePercent, 1));
      lines.push(`| ${row.join(" | ")} |`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

/** Runs the groups in order, prints the Markdown table, writes `bench/results/<name>.json`. */
export async function runSuite(name: string, groups: BenchGroup[], opts: HarnessOptions = {}): Promise<GroupResult[]> {
  const out: GroupResult[] = [];
  ALL_RESULTS.push({ suite: name, groups: out });
  for (const g of groups) {
    const r = await runGroup(g, opts);
    out.push(r);
    console.log(toMarkdown([r]));
    if (r.wallMs !== undefined) console.error(`(${name}: "${r.title}" took ${(r.wallMs / 1000).toFixed(1)} s)`);
  }
  const dir = resultsDir();
  await mkdir(dir, { recursive: true });
  const meta = { suite: name, node: process.version, quick: QUICK, date: new Date().toISOString(), sink };
  await writeFile(new URL(`${name}.json`, dir), `${JSON.stringify({ ...meta, groups: out }, null, 2)}\n`);
  return out;
}
