/**
 * The side-by-side Markdown table of policies, for the CLI, README and the visualiser.
 */
import type { ReplayResult } from "./metrics.js";

function bytes(n: number): string {
  if (n === 0) return "0";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

function ms(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** What each time and peak column means; printed under the table. */
export const POLICY_TABLE_FOOTNOTE = [
  "peak double-alloc: most bytes populated on both sides at any point, the pre-launch in-place encryption included (its 1 MiB copy chunk, the same under every policy);",
  "after launch: the same peak from the `launch` event on (— when the trace never launches).",
  "launch copy ms: the in-place encryption before launch (copy into guest_memfd, drop the shared copy), the same work under every policy, kept out of the conversion path.",
  "conversion path ms: request, commit/abort, fault and hypercall decoding, policy, discards, final flush — launch copy excluded;",
  "conversion + refault ms: that plus the guest touches that refaulted (what a discard costs later): the figure the policy targets compare;",
  'total = conversion + refault + launch copy. Clock read once per category boundary (src/replay/engine.ts, "How time is measured").',
].join("\n");

/**
 * Formats results as a Markdown table, one row per policy, with a footnote defining the
 * peak and time columns ({@link POLICY_TABLE_FOOTNOTE}). When any result ran on a simulated
 * backing, the title says "simulated backing".
 * @param results - from `replayAll` (or single replays of the same trace).
 * @param title - a heading line printed above the table (optional).
 * @returns the table text, ending in a newline.
 * @example
 * ```ts
 * import { formatPolicyTable } from "memattr";
 * console.log(formatPolicyTable([], "ovmf-dma, 1 GiB"));
 * ```
 */
export function formatPolicyTable(results: readonly ReplayResult[], title?: string): string {
  const simulated = results.some((r) => r.simulated);
  const kinds = results[0] ? `${results[0].backingKinds.shared} + ${results[0].backingKinds.private}` : "";
  const lines: string[] = [];
  if (title !== undefined || results.length > 0) {
    const label = simulated ? "simulated backing (no real memory: times exclude syscalls)" : `real backings: ${kinds}`;
    lines.push(`**${title ?? "replay"}** — ${label}`, "");
  }
  lines.push(
    "| policy | conversions | discard calls | discarded | refault pages | peak double-alloc | after launch | final double-alloc | launch copy ms | conversion path ms | refault touches ms | conversion + refault ms | total ms | all touches ms |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const r of results) {
    const afterLaunch = r.peakDoubleAllocatedAfterLaunchBytes === null ? "—" : bytes(r.peakDoubleAllocatedAfterLaunchBytes);
    lines.push(
      `| ${r.policy}${r.simulated ? " (simulated)" : ""} | ${r.conversions} | ${r.discardCalls} | ${bytes(r.discardedBytes)} | ${r.refaultPages} | ${bytes(r.peakDoubleAllocatedBytes)} | ${afterLaunch} | ${bytes(r.finalDoubleAllocatedBytes)} | ${ms(r.launchCopyMs)} | ${ms(r.conversionPathMs)} | ${ms(r.refaultTouchMs)} | ${ms(r.conversionCostMs)} | ${ms(r.totalConversionCostMs)} | ${ms(r.touchPathMs)} |`,
    );
  }
  if (results.length > 0) lines.push("", POLICY_TABLE_FOOTNOTE);
  const m = results[0]?.memory;
  if (m !== undefined && m.regionsAdded + m.regionsRemoved + m.memslotUpdates > 0) {
    // The same under every policy but for what the unplugged ranges held.
    lines.push(
      `memory map: ${m.regionsAdded} region(s) added, ${m.regionsRemoved} removed, ${m.memslotUpdates} memslot update(s) (no page state changed by them); unplugged populated pages dropped: ${results.map((r) => `${r.policy} ${r.memory.unpluggedPages}`).join(", ")}.`,
    );
  }
  const runs = results[0]?.repetitions?.runs;
  if (runs !== undefined && results.every((r) => r.repetitions?.runs === runs)) {
    lines.push(
      `Each row: the median of ${runs} timed replays of the trace by conversion + refault ms, each on fresh backings (${results.map((r) => `${r.policy} ${r.repetitions!.conversionCostMs.map(ms).join(" / ")}`).join("; ")}).`,
    );
  }
  return `${lines.join("\n")}\n`;
}
