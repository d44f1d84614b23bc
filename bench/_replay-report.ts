// The replay bench's results (bench/replay.bench.ts) as JSON and as the "replay" section of
// bench/results/summary.md, which a full `npm run bench` re-renders from replay.json.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const REPLAY_JSON = "replay.json";

export interface ReplayRow {
  trace: string;
  guestBytes: number;
  fileBytes: number;
  events: number;
  /** Reading the JSONL file into events (median ms). */
  parseMs: number;
  /** Per policy: replay of the events already in memory, and parse + replay streamed, median ms; map runs at the end. */
  policies: Record<string, { replayMs: number; parseReplayMs: number; runsAtEnd: number }>;
}

export interface ReplayTarget {
  target: string;
  measured: string;
  pass: boolean;
}

export interface ReplayBench {
  date: string;
  quick: boolean;
  machine: string;
  node: string;
  loadAverage: number[];
  repeats: number;
  rows: ReplayRow[];
  /** `memattr` commands as child processes on the big trace, median wall ms (start-up included). */
  cli: { trace: string; available: boolean; runs: Record<string, number> };
  targets: ReplayTarget[];
  realBackings: string;
}

const bytes = (n: number) => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
};
const meps = (events: number, ms: number) => (events / ms / 1e3).toFixed(2);

export function replayMarkdown(r: ReplayBench): string {
  const policies = Object.keys(r.rows[0]?.policies ?? {});
  const out = [
    "## replay",
    "",
    `Replay at scale (\`npm run bench:replay\`, ${r.quick ? "quick" : "full"} run, ${r.date}; ${r.machine}, Node ${r.node}, load ${r.loadAverage.map((v) => v.toFixed(2)).join(", ")}). Simulated backings; median of ${r.repeats} run(s). M ev/s = million events per second.`,
    "",
    "### targets (issue 14)",
    "",
    "| target | measured | result |",
    "|---|---|---|",
    ...r.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.pass ? "pass" : "**miss**"} |`),
    "",
    "### cost follows events, not guest size",
    "",
    `| trace | guest | file | events | parse ms (M ev/s) | ${policies.map((p) => `${p}: replay ms / parse + replay ms (M ev/s)`).join(" | ")} | runs at end (adaptive) |`,
    `|---|---:|---:|---:|---:|${policies.map(() => "---:").join("|")}|---:|`,
  ];
  for (const row of r.rows) {
    const cells = policies.map((p) => {
      const c = row.policies[p]!;
      return `${c.replayMs.toFixed(0)} / ${c.parseReplayMs.toFixed(0)} (${meps(row.events, c.parseReplayMs)})`;
    });
    out.push(
      `| ${row.trace} | ${bytes(row.guestBytes)} | ${bytes(row.fileBytes)} | ${row.events.toLocaleString("en-US")} | ${row.parseMs.toFixed(0)} (${meps(row.events, row.parseMs)}) | ${cells.join(" | ")} | ${(row.policies.adaptive ?? Object.values(row.policies)[0])?.runsAtEnd.toLocaleString("en-US")} |`,
    );
  }
  out.push("");
  if (r.cli.available) {
    out.push(`### the commands on ${r.cli.trace} (child processes, start-up included)`, "", "| command | wall |", "|---|---:|");
    for (const [cmd, ms] of Object.entries(r.cli.runs)) out.push(`| \`memattr ${cmd}\` | ${(ms / 1000).toFixed(2)} s |`);
    out.push("");
  } else out.push("The commands were not timed: no dist/ build (`npm run build`).", "");
  out.push(`Real backings: ${r.realBackings}.`, "");
  return `${out.join("\n")}\n`;
}

/** The replay section from an earlier `npm run bench:replay`, or "". */
export function replaySectionFrom(dir: string): string {
  const path = join(dir, REPLAY_JSON);
  if (!existsSync(path)) return "";
  return replayMarkdown(JSON.parse(readFileSync(path, "utf8")) as ReplayBench);
}
