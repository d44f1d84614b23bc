// The closing report of a bench run: the targets of issue 6 checked against this run's figures
// (ratios from the same process), and bench/results/summary.md with the machine, every table
// of the run and the targets table, then the native section re-rendered from native.json when
// one is there (npm run bench:native writes it; this rewrite must not drop it).
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { ALL_RESULTS, QUICK, resultsDir, toMarkdown, type CaseResult, type GroupResult } from "./_harness.js";
import { nativeSectionFrom } from "./native/_markdown.js";
import { replaySectionFrom } from "./_replay-report.js";

const PER_CALL = "memattr, per call";
const BATCHED = "memattr, batched";
const MEMATTR = [PER_CALL, BATCHED];

interface Target {
  target: string;
  measured: string;
  pass: boolean | undefined;
}

function group(suite: string, titleStart: string): GroupResult | undefined {
  return ALL_RESULTS.find((s) => s.suite === suite)?.groups.find((g) => g.title.startsWith(titleStart));
}

function ran(g: GroupResult | undefined, name: string): CaseResult | undefined {
  const r = g?.results.find((c) => c.name === name);
  return r && r.skip === undefined ? r : undefined;
}

/** The faster memattr case of a group. */
function memattr(g: GroupResult | undefined): CaseResult | undefined {
  const rs = MEMATTR.map((n) => ran(g, n)).filter((r): r is CaseResult => r !== undefined);
  return rs.sort((a, b) => a.nsPerOp - b.nsPerOp)[0];
}

/** The fastest contender other than memattr that ran. */
function bestOther(g: GroupResult | undefined): CaseResult | undefined {
  const rs = (g?.results ?? []).filter((r) => !MEMATTR.includes(r.name) && r.skip === undefined);
  return rs.sort((a, b) => a.nsPerOp - b.nsPerOp)[0];
}

const x = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));

/** "memattr is `want`× faster than `other`": ratio other/memattr. */
function faster(what: string, g: GroupResult | undefined, m: CaseResult | undefined, other: CaseResult | undefined, want: number): Target {
  if (!g || !m || !other) return { target: what, measured: "not run", pass: undefined };
  const ratio = other.nsPerOp / m.nsPerOp;
  return { target: what, measured: `${x(ratio)}× (${m.name} ${x(m.nsPerOp)} ns vs ${other.name} ${x(other.nsPerOp)} ns)`, pass: ratio >= want };
}

export function checkTargets(): Target[] {
  const t: Target[] = [];
  const get1G = group("peers", "random point lookups, 1 GiB");
  const get1T = group("sweep", "sweep: setup, memory and random point lookups, 1 TiB");
  {
    const b = ran(get1G, BATCHED);
    const f = ran(get1G, "flat Uint8Array");
    t.push(
      b && f
        ? {
            target: "point lookup, batched ≤ 2× flat Uint8Array, 1 GiB",
            measured: `${x(b.nsPerOp / f.nsPerOp)}× flat (${x(b.nsPerOp)} vs ${x(f.nsPerOp)} ns)`,
            pass: b.nsPerOp <= 2 * f.nsPerOp,
          }
        : { target: "point lookup, batched ≤ 2× flat Uint8Array, 1 GiB", measured: "not run", pass: undefined },
    );
  }
  {
    const b = ran(get1T, BATCHED);
    const f = ran(get1T, "flat Uint8Array");
    t.push(
      b && f
        ? {
            target: "point lookup, batched faster than flat Uint8Array, 1 TiB",
            measured: `${x(b.nsPerOp / f.nsPerOp)}× flat (${x(b.nsPerOp)} vs ${x(f.nsPerOp)} ns)`,
            pass: b.nsPerOp < f.nsPerOp,
          }
        : { target: "point lookup, batched faster than flat Uint8Array, 1 TiB", measured: "not run", pass: undefined },
    );
  }
  t.push(faster("point lookup, per call ≥ 3× faster than roaring", get1G, ran(get1G, PER_CALL), ran(get1G, "roaring (private bit)"), 3));
  const flips = group("peers", "1-page flips");
  t.push(faster("1-page flips ≥ 3× faster than roaring", flips, memattr(flips), ran(flips, "roaring (private bit)"), 3));
  t.push(faster("1-page flips ≥ 10× faster than sorted-btree", flips, memattr(flips), ran(flips, "sorted-btree run map"), 10));
  const conv = group("peers", "random conversions of 1–512");
  t.push(faster("random 1–512-page conversions ≥ 2× faster than roaring", conv, memattr(conv), ran(conv, "roaring (private bit)"), 2));
  for (const kind of ["fragmented", "mostly uniform"]) {
    const g = group("peers", `isUniform over aligned 2 MiB (512 pages), ${kind}`);
    t.push(faster(`isUniform 2 MiB, ${kind} map, ≥ 5× faster than the best contender`, g, memattr(g), bestOther(g), 5));
  }
  {
    const sizes = ALL_RESULTS.find((s) => s.suite === "sweep")?.groups.filter((g) => g.title.startsWith("sweep: convert the whole guest from uniform")) ?? [];
    const per = sizes.map((g) => ({ g, m: ran(g, PER_CALL) })).filter((p) => p.m !== undefined);
    if (per.length < 2)
      t.push({ target: "whole-guest conversion from uniform constant in size (within 2×, 1 GiB → 64 TiB)", measured: "not run", pass: undefined });
    else {
      const ns = per.map((p) => p.m!.nsPerOp);
      const spread = Math.max(...ns) / Math.min(...ns);
      const label = (g: GroupResult) => /, (\d+ [GT]iB) guest/.exec(g.title)?.[1] ?? g.title;
      t.push({
        target: "whole-guest conversion from uniform constant in size (within 2×, 1 GiB → 64 TiB)",
        measured: `max/min ${x(spread)} (${per.map((p) => `${label(p.g)} ${x(p.m!.nsPerOp)} ns`).join(", ")})`,
        pass: spread <= 2,
      });
      let worst: Target | undefined;
      let worstRatio = Infinity;
      for (const p of per) {
        const m = memattr(p.g)!;
        const o = bestOther(p.g);
        if (!o) continue;
        const ratio = o.nsPerOp / m.nsPerOp;
        if (ratio < worstRatio) {
          worstRatio = ratio;
          worst = faster("whole-guest conversion from uniform ≥ 5× faster than the best contender (worst size)", p.g, m, o, 5);
          worst.measured += `, at ${label(p.g)}`;
        }
      }
      if (worst) t.push(worst);
    }
  }
  const runs = group("peers", "convert the whole guest from 10 000 runs");
  t.push(faster("whole-guest conversion from 10 000 runs ≥ 5× faster than roaring", runs, memattr(runs), ran(runs, "roaring (private bit)"), 5));
  {
    const g = group("adversarial", "adversarial fragmentation, two values");
    const m = ran(g, PER_CALL);
    const r = ran(g, "roaring (private bit)");
    if (!g || !m || !r || g.pages === undefined) {
      t.push({ target: "adversarial two values: ≤ 1.1 bits/page", measured: "not run", pass: undefined });
      t.push({ target: "adversarial two values: ≤ 1.1× roaring's memory", measured: "not run", pass: undefined });
    } else {
      const bits = (m.memoryBytes! * 8) / g.pages;
      const rbits = (r.memoryBytes! * 8) / g.pages;
      t.push({ target: "adversarial two values: ≤ 1.1 bits/page", measured: `${bits.toFixed(3)} bits/page over ${g.pages} pages`, pass: bits <= 1.1 });
      t.push({
        target: "adversarial two values: ≤ 1.1× roaring's memory",
        measured: `${(bits / rbits).toFixed(3)}× (roaring ${rbits.toFixed(3)} bits/page)`,
        pass: bits <= 1.1 * rbits,
      });
    }
  }
  return t;
}

export function targetsMarkdown(t: Target[]): string {
  const lines = ["### targets (issue 6; ratios from this run)", "", "| target | measured | result |", "|---|---|---|"];
  for (const r of t) lines.push(`| ${r.target} | ${r.measured} | ${r.pass === undefined ? "not run" : r.pass ? "pass" : "**miss**"} |`);
  return `${lines.join("\n")}\n`;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown";
}

const loadAtStart = os.loadavg();

/** Prints the targets table (when the peer suites ran) and writes bench/results/summary.md. */
export async function writeSummary(): Promise<void> {
  if (ALL_RESULTS.length === 0) return;
  const peers = ALL_RESULTS.some((s) => ["peers", "sweep", "adversarial"].includes(s.suite));
  const targets = peers ? targetsMarkdown(checkTargets()) : "";
  if (targets) console.log(targets);
  const la = (l: number[]) => l.map((v) => v.toFixed(2)).join(", ");
  const head = [
    `# memattr bench results (${QUICK ? "quick" : "full"} run)`,
    "",
    `- machine: ${cpuModel()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
    `- Node ${process.version} (${process.platform}-${process.arch})`,
    `- date: ${new Date().toISOString()}; load average at start ${la(loadAtStart)}, at end ${la(os.loadavg())} (the box is shared: figures are noisy while other work runs)`,
    `- suites: ${ALL_RESULTS.map((s) => s.suite).join(", ")}; ns/op = median sample / ops per sample; "× memattr" = ns/op divided by memattr's (above 1: memattr is faster)`,
    "",
  ];
  const body = ALL_RESULTS.map((s) => `## ${s.suite}\n\n${toMarkdown(s.groups)}`);
  const dir = resultsDir();
  await mkdir(dir, { recursive: true });
  const native = nativeSectionFrom(fileURLToPath(dir)); // from an earlier npm run bench:native
  const replay = replaySectionFrom(fileURLToPath(dir)); // from an earlier npm run bench:replay
  await writeFile(new URL("summary.md", dir), [...head, targets, ...body, native, replay].join("\n"));
}
