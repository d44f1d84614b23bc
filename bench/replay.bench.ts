// Replay at scale (standalone: `npm run bench:replay`; results to bench/results/replay.json and
// the "replay" section of bench/results/summary.md, or MEMATTR_BENCH_OUT).
//
// For linux-boot at 1 GiB, 1 TiB and 64 TiB, the adversarial trace and the hotplug trace: the
// JSONL file's parse alone, the replay of its events already in memory, and parse + replay
// together (the file streamed through the batched reader into the replayer), for each policy
// on simulated backings — so the table shows that cost follows events and runs, not guest
// size. Then the command a user runs, as a child process with its start-up: `memattr replay
// <64 TiB> --policy adaptive` and `--policy all`, and `memattr trace stats`. Each figure is the
// median of REPEATS runs. Traces are generated into a temporary folder (not the repo).
// Real backings (memfd + guest_memfd) keep their syscall cost: they need /dev/kvm, and the
// section says when they were not measured.
import { spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { probeRealBackings } from "../src/backing/real/index.js";
import { createPolicy, POLICY_NAMES, type PolicyName } from "../src/policy/index.js";
import { Replayer, replayTrace, simulatedTargets } from "../src/replay/index.js";
import { formatTrace, generateTrace, parseTrace, type GeneratorName, type TraceEvent } from "../src/trace/index.js";
import { QUICK, resultsDir } from "./_harness.js";
import { REPLAY_JSON, replayMarkdown, type ReplayBench, type ReplayRow, type ReplayTarget } from "./_replay-report.js";

const REPEATS = QUICK ? 1 : 3;
const TRACES: { name: string; generator: GeneratorName; guestBytes: number }[] = QUICK
  ? [
      { name: "linux-boot 1 GiB", generator: "linux-boot", guestBytes: 2 ** 30 },
      { name: "linux-boot 1 TiB", generator: "linux-boot", guestBytes: 2 ** 40 },
    ]
  : [
      { name: "linux-boot 1 GiB", generator: "linux-boot", guestBytes: 2 ** 30 },
      { name: "linux-boot 1 TiB", generator: "linux-boot", guestBytes: 2 ** 40 },
      { name: "linux-boot 64 TiB", generator: "linux-boot", guestBytes: 2 ** 46 },
      { name: "adversarial 1 GiB", generator: "adversarial", guestBytes: 2 ** 30 },
      { name: "hotplug 1 GiB", generator: "hotplug", guestBytes: 2 ** 30 },
    ];
const BIG = TRACES[TRACES.length > 2 ? 2 : 1]!; // the one the command-line targets are about

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}
async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const dir = join(os.tmpdir(), "memattr-replay-bench");
mkdirSync(dir, { recursive: true });

/** The trace's JSONL file (generated once, kept in the temporary folder). */
async function traceFile(t: (typeof TRACES)[number]): Promise<string> {
  const file = join(dir, `${t.generator}-${t.guestBytes}.jsonl`);
  if (existsSync(file) && statSync(file).size > 0) return file;
  const g = generateTrace(t.generator, { guestBytes: t.guestBytes });
  const out = createWriteStream(`${file}.part`);
  let pending = "";
  for (const line of formatTrace(g.header, g.events)) {
    pending += line;
    if (pending.length >= 1 << 20) {
      if (!out.write(pending)) await new Promise<void>((r) => out.once("drain", () => r()));
      pending = "";
    }
  }
  out.write(pending);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  const { rename } = await import("node:fs/promises");
  await rename(`${file}.part`, file);
  return file;
}

async function readAll(file: string): Promise<{ regions: { gfn: number; npages: number }[]; events: TraceEvent[] }> {
  const t = await parseTrace(createReadStream(file, { highWaterMark: 1 << 20 }));
  const events: TraceEvent[] = [];
  for (let b = await t.events.nextBatch(); b !== null; b = await t.events.nextBatch()) for (const ev of b) events.push(ev);
  return { regions: t.header.regions, events };
}

async function replayInMemory(regions: { gfn: number; npages: number }[], events: TraceEvent[], policy: PolicyName): Promise<{ ms: number; runs: number }> {
  const target = await simulatedTargets(regions)(createPolicy(policy));
  const r = new Replayer(target);
  const ms = timed(() => {
    r.applyAll(events);
    r.finish();
  });
  const runs = target.tracker.runCount();
  target.tracker.dispose();
  return { ms, runs };
}

async function parseAndReplay(file: string, regions: { gfn: number; npages: number }[], policy: PolicyName): Promise<number> {
  const target = await simulatedTargets(regions)(createPolicy(policy));
  const ms = await timedAsync(async () => {
    const t = await parseTrace(createReadStream(file, { highWaterMark: 1 << 20 }));
    await replayTrace(t.events, target);
  });
  target.tracker.dispose();
  return ms;
}

const rows: ReplayRow[] = [];
for (const t of TRACES) {
  const file = await traceFile(t);
  const bytes = statSync(file).size;
  const parseMs: number[] = [];
  let loaded: Awaited<ReturnType<typeof readAll>> | undefined;
  for (let i = 0; i < REPEATS; i++) parseMs.push(await timedAsync(async () => (loaded = await readAll(file))));
  const { regions, events } = loaded!;
  const row: ReplayRow = { trace: t.name, guestBytes: t.guestBytes, fileBytes: bytes, events: events.length, parseMs: median(parseMs), policies: {} };
  for (const policy of POLICY_NAMES) {
    const mem: number[] = [];
    let runs = 0;
    for (let i = 0; i < REPEATS; i++) {
      const r = await replayInMemory(regions, events, policy);
      mem.push(r.ms);
      runs = r.runs;
    }
    const both: number[] = [];
    for (let i = 0; i < REPEATS; i++) both.push(await parseAndReplay(file, regions, policy));
    row.policies[policy] = { replayMs: median(mem), parseReplayMs: median(both), runsAtEnd: runs };
  }
  rows.push(row);
  loaded = undefined;
  console.log(
    `${t.name}: ${events.length} events, parse ${row.parseMs.toFixed(0)} ms, ${POLICY_NAMES.map((p) => `${p} ${row.policies[p]!.replayMs.toFixed(0)}/${row.policies[p]!.parseReplayMs.toFixed(0)} ms`).join(", ")}`,
  );
}

// The commands, as a user runs them (a child process each, start-up included).
const main = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const cli: ReplayBench["cli"] = { trace: BIG.name, available: existsSync(main), runs: {} };
if (cli.available) {
  const file = await traceFile(BIG);
  const run = (label: string, args: string[]) => {
    const ms: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const t = performance.now();
      const r = spawnSync(process.execPath, [main, ...args], { encoding: "utf8", env: { ...process.env, MEMATTR_PROGRESS: "0" } });
      if (r.status !== 0) throw new Error(`memattr ${args.join(" ")} failed: ${r.stderr}`);
      ms.push(performance.now() - t);
    }
    cli.runs[label] = median(ms);
  };
  run("replay --policy adaptive", ["replay", file, "--policy", "adaptive", "--simulated"]);
  run("replay --policy all", ["replay", file, "--policy", "all", "--simulated"]);
  run("replay --policy all --jobs 1", ["replay", file, "--policy", "all", "--simulated", "--jobs", "1"]);
  run("trace stats", ["trace", "stats", file]);
}

const big = rows.find((r) => r.trace === BIG.name);
const lines = big?.events ?? 0;
const targets: ReplayTarget[] = [];
if (big) {
  const inProc = big.policies.adaptive!.parseReplayMs;
  targets.push({
    target: `parse + replay, one policy (adaptive), ${BIG.name}, in process: ≥ 1 M events/s (≤ ${(lines / 1e3).toFixed(0)} ms)`,
    measured: `${inProc.toFixed(0)} ms, ${(lines / inProc / 1e3).toFixed(2)} M events/s`,
    pass: lines / inProc >= 1e3,
  });
}
if (cli.available && big) {
  const one = cli.runs["replay --policy adaptive"]!;
  const all = cli.runs["replay --policy all"]!;
  const stats = cli.runs["trace stats"]!;
  targets.push({
    target: `\`memattr replay\` one policy, ${BIG.name}, wall with start-up: ≤ 1.1 s`,
    measured: `${(one / 1000).toFixed(2)} s (${(lines / one / 1e3).toFixed(2)} M events/s)`,
    pass: one <= 1100,
  });
  targets.push({
    target: `\`memattr replay --policy all\`, ${BIG.name}, wall on ${os.cpus().length} cores: ≤ 4 s`,
    measured: `${(all / 1000).toFixed(2)} s`,
    pass: all <= 4000,
  });
  targets.push({
    target: `\`memattr trace stats\`, ${BIG.name}: ≥ 3 M lines/s`,
    measured: `${(stats / 1000).toFixed(2)} s, ${(lines / stats / 1e3).toFixed(2)} M lines/s`,
    pass: lines / stats >= 3e3,
  });
}
const probe = probeRealBackings();
const result: ReplayBench = {
  date: new Date().toISOString(),
  quick: QUICK,
  machine: `${os.cpus()[0]?.model.trim() ?? "unknown CPU"}, ${os.cpus().length} cores`,
  node: process.version,
  loadAverage: os.loadavg(),
  repeats: REPEATS,
  rows,
  cli,
  targets,
  realBackings: probe.available ? "not measured by this bench (run `memattr replay <trace> --policy all` on this host)" : `not measured: ${probe.reason}`,
};
const out = resultsDir();
await mkdir(out, { recursive: true });
await writeFile(new URL(REPLAY_JSON, out), `${JSON.stringify(result, null, 2)}\n`);
// The summary's replay section, replaced in place (a full `npm run bench` re-renders it from replay.json).
const summaryPath = new URL("summary.md", out);
const md = replayMarkdown(result);
let summary = existsSync(summaryPath) ? readFileSync(summaryPath, "utf8") : "# memattr bench results\n";
const at = summary.indexOf("\n## replay\n");
if (at >= 0) {
  const next = summary.indexOf("\n## ", at + 1);
  summary = summary.slice(0, at) + (next >= 0 ? summary.slice(next) : "\n");
}
await writeFile(summaryPath, `${summary.trimEnd()}\n\n${md}`);
console.log(`\n${md}`);
