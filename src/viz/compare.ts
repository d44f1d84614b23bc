/**
 * The comparison panel: every policy replayed on the same trace, as two charts (double-allocated
 * bytes and discard calls over the event index) and a table of the final numbers.
 *
 * Short names: a `row` is one policy's totals; `series` its values over the event index.
 */
import { formatBytes } from "../trace/units.js";
import { type ChartSeries, renderChart, setCursor } from "./chart.js";

/** One policy's result on the trace. */
export interface ComparisonRow {
  policy: string;
  conversions: number;
  discardCalls: number;
  discardedBytes: number;
  refaultPages: number;
  peakDoubleBytes: number;
  finalDoubleBytes: number;
  /** Simulated: the replay ran on SimulatedBacking. */
  simulated: boolean;
}

/** One policy's time series, sampled at ascending event indexes. */
export interface ComparisonSeries {
  policy: string;
  xs: ArrayLike<number>;
  doubleBytes: ArrayLike<number>;
  discardCalls: ArrayLike<number>;
}

/** Line colours per policy (distinct from the map's state colours). */
export const POLICY_COLORS: Record<string, string> = {
  eager: "#ff6b6b",
  never: "#a0aec0",
  batched: "#ffd166",
  adaptive: "#4c9aff",
};

function colorOf(policy: string): string {
  return POLICY_COLORS[policy] ?? "#c084fc";
}

const COLUMNS: { key: keyof ComparisonRow; label: string; format: (v: number) => string }[] = [
  { key: "conversions", label: "conversions", format: (v) => v.toLocaleString("en-US") },
  { key: "discardCalls", label: "discard calls", format: (v) => v.toLocaleString("en-US") },
  { key: "discardedBytes", label: "discarded", format: formatBytes },
  { key: "refaultPages", label: "refaults (pages)", format: (v) => v.toLocaleString("en-US") },
  { key: "peakDoubleBytes", label: "peak double-allocated", format: formatBytes },
  { key: "finalDoubleBytes", label: "final double-allocated", format: formatBytes },
];

/** Fills the charts and the table; returns the charts so the caller can move their cursors. */
export function renderComparison(
  chartsEl: HTMLElement,
  legendEl: HTMLElement,
  tableEl: HTMLTableElement,
  rows: ComparisonRow[],
  series: ComparisonSeries[],
  eventCount: number,
  selected: string,
): SVGSVGElement[] {
  const lines = (pick: (s: ComparisonSeries) => ArrayLike<number>): ChartSeries[] =>
    series.map((s) => ({ name: s.policy, color: colorOf(s.policy), xs: s.xs, ys: pick(s), dashed: s.policy === "never" }));
  const charts = [
    renderChart({
      title: "Double-allocated bytes (held on both sides)",
      formatY: formatBytes,
      series: lines((s) => s.doubleBytes),
      xMax: eventCount,
      binary: true,
    }),
    renderChart({
      title: "Discard calls (cumulative fallocate PUNCH_HOLE)",
      formatY: (v) => compact(v),
      series: lines((s) => s.discardCalls),
      xMax: eventCount,
    }),
  ];
  const legend: HTMLElement[] = [];
  for (const s of series) {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = colorOf(s.policy);
    item.append(swatch, s.policy);
    legend.push(item);
  }
  chartsEl.replaceChildren(...charts);
  legendEl.replaceChildren(...legend);

  const head = document.createElement("tr");
  for (const label of ["policy", ...COLUMNS.map((c) => c.label)]) {
    const th = document.createElement("th");
    th.textContent = label;
    head.append(th);
  }
  const body = rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.policy = row.policy;
    if (row.policy === selected) tr.className = "selected";
    const name = document.createElement("td");
    const swatch = document.createElement("i");
    swatch.style.background = colorOf(row.policy);
    name.append(swatch, row.policy + (row.simulated ? " (simulated)" : ""));
    tr.append(name);
    for (const c of COLUMNS) {
      const td = document.createElement("td");
      td.textContent = c.format(row[c.key] as number);
      td.dataset.key = c.key;
      td.dataset.value = String(row[c.key]);
      tr.append(td);
    }
    return tr;
  });
  tableEl.replaceChildren(head, ...body);
  return charts;
}

/** Moves every chart's cursor to event `index`. */
export function moveCursors(charts: SVGSVGElement[], index: number, eventCount: number): void {
  for (const c of charts) setCursor(c, index, eventCount);
}

/** Marks the selected policy's row. */
export function selectRow(tableEl: HTMLTableElement, policy: string): void {
  for (const tr of tableEl.querySelectorAll("tr[data-policy]")) tr.classList.toggle("selected", (tr as HTMLElement).dataset.policy === policy);
}

function compact(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(v >= 1e7 ? 0 : 1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(v));
}
