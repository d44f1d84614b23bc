/**
 * The memory map: which pages each canvas cell shows, and how the cells get their colour.
 *
 * Short names: `gfn` a guest frame number (4 KiB page); a `cell` is a square of `cellPx` CSS
 * pixels showing `pagesPerCell` consecutive pages; cells are laid row-major from `startGfn`,
 * `cols` to a row; `level` is the zoom step (see {@link levelGeometry}).
 *
 * Rendering walks the run list of the visible window only (`forEachRawRun` per region, clipped)
 * and adds each run's page count to the cells it covers: O(runs in view + cells) per frame,
 * whatever the guest's size. A run covering a thousand cells costs a thousand additions; a
 * 64 TiB guest is never visited page by page.
 */
import type { GfnRange } from "../model/errors.js";
import { CLASS_COUNT, CLASSES, classOf } from "./palette.js";

/** Anything that can list raw runs of a guest range (the tracker does). */
export interface RunSource {
  forEachRawRun(fn: (gfn: number, npages: number, value: number) => void, gfn?: number, npages?: number): void;
}

/** Cell sizes in CSS pixels when one cell is one page (level 0 … MAX_LEVEL); level < 0 halves the detail per step. */
const PAGE_CELL_PX = [2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 32] as const;
/** Cells this large get a one-pixel gap so single pages read as a grid. */
const GRID_FROM_PX = 8;

/** Zoom level → pages per cell and cell size. Level < 0: 2^-level pages per 2-px cell; level ≥ 0: one page per cell of growing size. */
export function levelGeometry(level: number): { pagesPerCell: number; cellPx: number } {
  if (level < 0) return { pagesPerCell: 2 ** -level, cellPx: PAGE_CELL_PX[0] };
  return { pagesPerCell: 1, cellPx: PAGE_CELL_PX[Math.min(level, PAGE_CELL_PX.length - 1)]! };
}

/** Highest zoom level (one page per 32-px square). */
export const MAX_LEVEL = PAGE_CELL_PX.length - 1;

/** What the map is showing right now. */
export interface MapWindow {
  startGfn: number;
  level: number;
  pagesPerCell: number;
  cellPx: number;
  cols: number;
  rows: number;
}

/** Viewport over guest memory: zoom level and first page, for a canvas of a given CSS size. */
export class MapViewport {
  /** First and one-past-last page of guest memory (regions and the gaps between them). */
  extentStart = 0;
  extentEnd = 1;
  level = 0;
  startGfn = 0;
  widthPx = 1;
  heightPx = 1;

  setExtent(regions: readonly GfnRange[]): void {
    this.extentStart = Math.min(...regions.map((r) => r.gfn));
    this.extentEnd = Math.max(...regions.map((r) => r.gfn + r.npages));
  }

  setSize(widthPx: number, heightPx: number): void {
    this.widthPx = Math.max(1, Math.floor(widthPx));
    this.heightPx = Math.max(1, Math.floor(heightPx));
    this.clamp();
  }

  get window(): MapWindow {
    const { pagesPerCell, cellPx } = levelGeometry(this.level);
    return {
      startGfn: this.startGfn,
      level: this.level,
      pagesPerCell,
      cellPx,
      cols: Math.max(1, Math.floor(this.widthPx / cellPx)),
      rows: Math.max(1, Math.floor(this.heightPx / cellPx)),
    };
  }

  /** The most zoomed-in level at which all guest memory fits. */
  fitLevel(): number {
    const pages = this.extentEnd - this.extentStart;
    for (let level = MAX_LEVEL; level > -60; level--) {
      const { pagesPerCell, cellPx } = levelGeometry(level);
      const cells = Math.floor(this.widthPx / cellPx) * Math.floor(this.heightPx / cellPx);
      if (cells * pagesPerCell >= pages + pagesPerCell) return level; // + one cell of slack for alignment
    }
    return -60;
  }

  /** Shows all guest memory. */
  fit(): void {
    this.level = this.fitLevel();
    this.startGfn = this.alignDown(this.extentStart);
  }

  private alignDown(gfn: number): number {
    const { pagesPerCell } = levelGeometry(this.level);
    return Math.floor(gfn / pagesPerCell) * pagesPerCell;
  }

  /** Keeps the first cell aligned and at least one row of guest memory in view. */
  private clamp(): void {
    const w = this.window;
    const lo = this.alignDown(this.extentStart);
    const visiblePages = w.cols * w.rows * w.pagesPerCell;
    const hi = Math.max(lo, this.alignDown(this.extentEnd - Math.min(visiblePages, w.cols * w.pagesPerCell)));
    this.startGfn = Math.min(hi, Math.max(lo, this.alignDown(this.startGfn)));
  }

  /** Cell index at a CSS pixel, or -1 outside the grid. */
  cellAt(x: number, y: number): number {
    const w = this.window;
    const col = Math.floor(x / w.cellPx);
    const row = Math.floor(y / w.cellPx);
    if (col < 0 || row < 0 || col >= w.cols || row >= w.rows) return -1;
    return row * w.cols + col;
  }

  /** Pages `[gfn, gfn + npages)` of the cell at a CSS pixel, or null. */
  pagesAt(x: number, y: number): { gfn: number; npages: number } | null {
    const cell = this.cellAt(x, y);
    if (cell < 0) return null;
    const w = this.window;
    return { gfn: w.startGfn + cell * w.pagesPerCell, npages: w.pagesPerCell };
  }

  /** Centre of the cell showing `gfn`, in CSS pixels, or null when it is out of view. */
  pageToPixel(gfn: number): { x: number; y: number } | null {
    const w = this.window;
    const cell = Math.floor((gfn - w.startGfn) / w.pagesPerCell);
    if (cell < 0 || cell >= w.cols * w.rows) return null;
    return { x: (cell % w.cols) * w.cellPx + w.cellPx / 2, y: Math.floor(cell / w.cols) * w.cellPx + w.cellPx / 2 };
  }

  /** Zooms by `steps` levels (positive = in) keeping the page under (x, y) under the pointer. */
  zoom(steps: number, x = this.widthPx / 2, y = this.heightPx / 2): void {
    const before = this.window;
    const col = Math.min(before.cols - 1, Math.max(0, Math.floor(x / before.cellPx)));
    const row = Math.min(before.rows - 1, Math.max(0, Math.floor(y / before.cellPx)));
    const anchor = before.startGfn + (row * before.cols + col) * before.pagesPerCell + Math.floor(before.pagesPerCell / 2);
    this.level = Math.min(MAX_LEVEL, Math.max(this.fitLevel() - 1, this.level + steps));
    const after = this.window;
    const col2 = Math.min(after.cols - 1, Math.floor(x / after.cellPx));
    const row2 = Math.min(after.rows - 1, Math.floor(y / after.cellPx));
    this.startGfn = this.alignDown(anchor) - (row2 * after.cols + col2) * after.pagesPerCell;
    this.clamp();
  }

  /** Centres `gfn` at the given level. */
  focus(gfn: number, level: number): void {
    this.level = Math.min(MAX_LEVEL, Math.max(this.fitLevel() - 1, level));
    const w = this.window;
    this.startGfn = this.alignDown(gfn) - (Math.floor(w.rows / 2) * w.cols + Math.floor(w.cols / 2)) * w.pagesPerCell;
    this.clamp();
  }

  /** Pans by a drag of (dx, dy) CSS pixels: the memory moves with the pointer. */
  pan(dxPx: number, dyPx: number): void {
    const w = this.window;
    const cells = Math.round(dxPx / w.cellPx) + Math.round(dyPx / w.cellPx) * w.cols;
    this.startGfn -= cells * w.pagesPerCell;
    this.clamp();
  }
}

/**
 * Per-cell page counts by display class for the window, from the run list.
 * @param counts reused buffer of at least `cols·rows·CLASS_COUNT` entries (zeroed here).
 * @returns the number of runs visited.
 */
export function bucketRuns(source: RunSource, regions: readonly GfnRange[], w: MapWindow, counts: Float64Array): number {
  const cells = w.cols * w.rows;
  counts.fill(0, 0, cells * CLASS_COUNT);
  const viewEnd = w.startGfn + cells * w.pagesPerCell;
  const ppc = w.pagesPerCell;
  let visited = 0;
  const add = (gfn: number, npages: number, value: number) => {
    visited++;
    const cls = classOf(value);
    const end = gfn + npages;
    let cell = Math.floor((gfn - w.startGfn) / ppc);
    const lastCell = Math.floor((end - 1 - w.startGfn) / ppc);
    for (; cell <= lastCell; cell++) {
      const cellStart = w.startGfn + cell * ppc;
      const inCell = Math.min(end, cellStart + ppc) - Math.max(gfn, cellStart);
      counts[cell * CLASS_COUNT + cls]! += inCell;
    }
  };
  for (const r of regions) {
    const from = Math.max(r.gfn, w.startGfn);
    const to = Math.min(r.gfn + r.npages, viewEnd);
    if (from < to) source.forEachRawRun(add, from, to - from);
  }
  return visited;
}

/** The class a cell shows: the rarest class present (ties: lowest index), or -1 for no guest page. */
export function cellClass(counts: Float64Array, cell: number): number {
  let best = -1;
  let bestPages = Infinity;
  const base = cell * CLASS_COUNT;
  for (let c = 0; c < CLASS_COUNT; c++) {
    const n = counts[base + c]!;
    if (n > 0 && n < bestPages) {
      best = c;
      bestPages = n;
    }
  }
  return best;
}

const BACKGROUND: readonly [number, number, number] = [15, 19, 26];

/**
 * Paints the window into `image` (device pixels, `dpr` per CSS pixel). Cells with no guest
 * page inside the extent are drawn as "not guest memory"; beyond the extent, background.
 */
export function paintCells(image: ImageData, w: MapWindow, counts: Float64Array, extentStart: number, extentEnd: number, dpr: number): void {
  const data = new Uint32Array(image.data.buffer, image.data.byteOffset, image.data.byteLength / 4);
  const rgba = (rgb: readonly [number, number, number]) => (255 << 24) | (rgb[2] << 16) | (rgb[1] << 8) | rgb[0]; // little-endian RGBA
  const palette = CLASSES.map((c) => rgba(c.rgb));
  const bg = rgba(BACKGROUND);
  data.fill(bg);
  const cellDev = Math.max(1, Math.round(w.cellPx * dpr));
  const gap = w.cellPx >= GRID_FROM_PX ? Math.max(1, Math.round(dpr)) : 0;
  const outside = palette[palette.length - 1]!;
  for (let row = 0; row < w.rows; row++) {
    for (let col = 0; col < w.cols; col++) {
      const cell = row * w.cols + col;
      const cellStart = w.startGfn + cell * w.pagesPerCell;
      if (cellStart + w.pagesPerCell <= extentStart || cellStart >= extentEnd) continue;
      const cls = cellClass(counts, cell);
      const color = cls < 0 ? outside : palette[cls]!;
      const x0 = col * cellDev;
      const y0 = row * cellDev;
      const x1 = Math.min(image.width, x0 + cellDev - gap);
      const y1 = Math.min(image.height, y0 + cellDev - gap);
      for (let y = y0; y < y1; y++) data.fill(color, y * image.width + x0, y * image.width + x1);
    }
  }
}

const STOP = Symbol("stop");

/** The first run of `[gfn, gfn + npages)`, clipped to it (iteration stops after one run). */
function firstRun(source: RunSource, gfn: number, npages: number): [number, number, number] {
  let found: [number, number, number] = [gfn, gfn + npages, 0];
  try {
    source.forEachRawRun(
      (g, n, v) => {
        found = [g, g + n, v];
        throw STOP;
      },
      gfn,
      npages,
    );
  } catch (err) {
    if (err !== STOP) throw err;
  }
  return found;
}

/**
 * The maximal run `[start, end)` holding page `gfn`, clipped to its region, and its value.
 * O(log(run length)) probes of one run each, so a hover over a 64 TiB run stays instant.
 */
export function runContaining(source: RunSource, region: GfnRange, gfn: number): { start: number; end: number; value: number } {
  const regionEnd = region.gfn + region.npages;
  const [, end, value] = firstRun(source, gfn, regionEnd - gfn);
  // Smallest `lo` with [lo, gfn] one run: binary search, each probe looks at one run.
  let lo = region.gfn;
  let hi = gfn;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const [, e] = firstRun(source, mid, gfn + 1 - mid);
    if (e > gfn) hi = mid;
    else lo = mid + 1;
  }
  return { start: lo, end, value };
}
