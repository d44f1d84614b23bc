/**
 * A small line chart in inline SVG: one line per policy over the trace's event index, a cursor
 * at the event the player is on. No chart library: a few dozen lines of path building.
 *
 * Short names: `x` an event index, `y` the plotted quantity; a `column` is one horizontal
 * plot unit. Long series are reduced to one point per column keeping the column's maximum,
 * so a short peak of double allocation never disappears from the picture.
 */

/** One line. */
export interface ChartSeries {
  name: string;
  color: string;
  /** Ascending event indexes. */
  xs: ArrayLike<number>;
  /** Values at those indexes. */
  ys: ArrayLike<number>;
  /** Dashed line (to tell apart lines that coincide). */
  dashed?: boolean;
}

/** What to draw. */
export interface ChartSpec {
  title: string;
  /** Formats a y value for the axis. */
  formatY: (y: number) => string;
  series: ChartSeries[];
  /** Last event index (the x axis runs 0 … xMax). */
  xMax: number;
  /** Round the axis to powers of two (bytes) rather than of ten. */
  binary?: boolean;
}

const W = 560;
const H = 200;
const PAD = { left: 64, right: 12, top: 26, bottom: 24 };
const COLUMNS = W - PAD.left - PAD.right;
const SVG_NS = "http://www.w3.org/2000/svg";

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Per-column maxima of a step series (the value holds until the next point). */
function columnMaxima(s: ChartSeries, xMax: number): Float64Array {
  const out = new Float64Array(COLUMNS + 1).fill(Number.NaN);
  const colOf = (x: number) => Math.min(COLUMNS, Math.floor((x / Math.max(1, xMax)) * COLUMNS));
  let last = 0;
  let lastCol = 0;
  for (let i = 0; i < s.xs.length; i++) {
    const col = colOf(s.xs[i]!);
    for (let c = lastCol + 1; c < col; c++) out[c] = last; // the value holds between samples
    const y = s.ys[i]!;
    out[col] = Number.isNaN(out[col]!) ? y : Math.max(out[col]!, y);
    last = y;
    lastCol = col;
  }
  for (let c = lastCol + 1; c <= COLUMNS; c++) out[c] = last;
  if (Number.isNaN(out[0]!)) out[0] = 0;
  return out;
}

function niceMax(y: number, binary: boolean): number {
  if (y <= 0) return binary ? 4096 : 1;
  if (binary) return 2 ** Math.ceil(Math.log2(y));
  const p = 10 ** Math.floor(Math.log10(y));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= y) return m * p;
  return 10 * p;
}

/** Builds the chart's SVG; {@link setCursor} moves its cursor afterwards. */
export function renderChart(spec: ChartSpec): SVGSVGElement {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": spec.title });
  svg.append(el("text", { x: PAD.left, y: 15, class: "chart-title" }, spec.title));
  const columns = spec.series.map((s) => columnMaxima(s, spec.xMax));
  let yMax = 0;
  for (const col of columns) for (const y of col) if (y > yMax) yMax = y;
  yMax = niceMax(yMax, spec.binary === true);
  const plotH = H - PAD.top - PAD.bottom;
  const yPx = (y: number) => PAD.top + plotH - (y / yMax) * plotH;
  for (const frac of [0, 0.5, 1]) {
    const y = yPx(frac * yMax);
    svg.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "chart-grid" }));
    svg.append(el("text", { x: PAD.left - 6, y: y + 4, class: "chart-axis", "text-anchor": "end" }, spec.formatY(frac * yMax)));
  }
  svg.append(el("text", { x: PAD.left, y: H - 6, class: "chart-axis" }, "event 0"));
  svg.append(el("text", { x: W - PAD.right, y: H - 6, class: "chart-axis", "text-anchor": "end" }, `${spec.xMax.toLocaleString("en-US")}`));
  spec.series.forEach((s, i) => {
    const col = columns[i]!;
    let d = "";
    for (let c = 0; c <= COLUMNS; c++) d += `${c === 0 ? "M" : "L"}${(PAD.left + c).toFixed(1)},${yPx(col[c]!).toFixed(1)}`;
    const path = el("path", { d, fill: "none", stroke: s.color, "stroke-width": 1.6, class: "chart-line" });
    if (s.dashed) path.setAttribute("stroke-dasharray", "4 3");
    path.append(el("title", {}, s.name));
    svg.append(path);
  });
  svg.append(el("line", { x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: H - PAD.bottom, class: "chart-cursor" }));
  return svg;
}

/** Moves the chart's cursor to event index `x`. */
export function setCursor(svg: SVGSVGElement, x: number, xMax: number): void {
  const line = svg.querySelector(".chart-cursor");
  if (line === null) return;
  const px = PAD.left + Math.min(1, x / Math.max(1, xMax)) * COLUMNS;
  line.setAttribute("x1", px.toFixed(1));
  line.setAttribute("x2", px.toFixed(1));
}
