// A small reusable harness over tinybench: cases are grouped (one group = one question, e.g.
// "get, 1 GiB guest"), each case runs `opsPerSample` operations per sample so tinybench's
// per-sample overhead (~50 ns) disappears, and each group names a baseline the others are
// compared with. Prints Markdown, writes JSON. Later bench files add groups; nothing here
// knows about memattr.
import { mkdir, writeFile } from "node:fs/promises";
import { Bench } from "tinybench";

/** One contender in a group: `run()` performs `opsPerSample` operations. */
export interface BenchCase {
  name: string;
  run: () => unknown;
  opsPerSample: number;
}

/** Cases answering one question, measured side by side; ratios are to `baseline`. */
export interface BenchGroup {
  title: string;
  baseline: string;
  cases: BenchCase[];
  /** Optional note printed under the group (what the data looks like). */
  note?: string;
}

export interface CaseResult {
  name: string;
  nsPerOp: number;
  /** nsPerOp divided by the baseline's nsPerOp (1 for the baseline itself). */
  ratio: number;
  rmePercent: number;
  samples: number;
}

export interface GroupResult {
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

/** Sinks results so the JIT cannot drop the measured work. */
export let sink = 0;
export function consume(x: number): void {
  sink = (sink + x) | 0;
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
}

export async function runGroup(group: BenchGroup, opts: HarnessOptions = {}): Promise<GroupResult> {
  const time = opts.timeMs ?? (QUICK ? 150 : 1000);
  const warmupTime = opts.warmupMs ?? (QUICK ? 50 : 300);
  const results: CaseResult[] = [];
  for (const c of group.cases) {
    collectGarbage();
    const bench = new Bench({ time, warmupTime, iterations: 16, throws: true });
    bench.add(c.name, c.run);
    await bench.run();
    const task = bench.tasks[0]!;
    const r = task.result as unknown as { latency: { p50: number; rme: number; samplesCount?: number }; runtime?: string };
    const samples = (r.latency as { samples?: number[] }).samples?.length ?? r.latency.samplesCount ?? 0;
    results.push({ name: c.name, nsPerOp: (r.latency.p50 * 1e6) / c.opsPerSample, ratio: 1, rmePercent: r.latency.rme, samples });
  }
  const base = results.find((r) => r.name === group.baseline);
  for (const r of results) r.ratio = base ? r.nsPerOp / base.nsPerOp : Number.NaN;
  return { title: group.title, baseline: group.baseline, note: group.note, results };
}

function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return "–";
  return x >= 100 ? x.toFixed(0) : x.toFixed(digits);
}

export function toMarkdown(groups: GroupResult[]): string {
  const lines: string[] = [];
  for (const g of groups) {
    lines.push(`### ${g.title}`, "");
    if (g.note) lines.push(g.note, "");
    lines.push(`| case | ns/op | × ${g.baseline} | ±% |`, "|---|---:|---:|---:|");
    for (const r of g.results) lines.push(`| ${r.name} | ${fmt(r.nsPerOp)} | ${fmt(r.ratio)} | ${fmt(r.rmePercent, 1)} |`);
    lines.push("");
  }
  return lines.join("\n");
}

/** Runs the groups in order, prints the Markdown table, writes `bench/results/<name>.json`. */
export async function runSuite(name: string, groups: BenchGroup[], opts: HarnessOptions = {}): Promise<GroupResult[]> {
  const out: GroupResult[] = [];
  for (const g of groups) {
    const r = await runGroup(g, opts);
    out.push(r);
    console.log(toMarkdown([r]));
  }
  const dir = new URL("./results/", import.meta.url);
  await mkdir(dir, { recursive: true });
  const meta = { suite: name, node: process.version, quick: QUICK, date: new Date().toISOString(), sink };
  await writeFile(new URL(`${name}.json`, dir), JSON.stringify({ ...meta, groups: out }, null, 2) + "\n");
  return out;
}
