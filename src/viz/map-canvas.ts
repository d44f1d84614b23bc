/**
 * The map on the page: a canvas drawing a {@link MapViewport} of the tracker's runs, with wheel
 * and button zoom, drag to pan, and a hover line naming the page (or cell), its run and state.
 *
 * Short names as in map-view.ts. Drawing happens at most once per animation frame, however
 * often `invalidate()` is called.
 */
import type { GfnRange } from "../model/errors.js";
import { decodePageValue, PAGE_BYTES } from "../model/states.js";
import { formatBytes } from "../trace/units.js";
import { bucketRuns, cellClass, MapViewport, type MapWindow, paintCells, runContaining, type RunSource } from "./map-view.js";
import { CLASS_COUNT, CLASSES } from "./palette.js";

function hex(gfn: number): string {
  return `0x${gfn.toString(16)}`;
}

export class MapCanvas {
  readonly viewport = new MapViewport();
  private regions: GfnRange[] = [];
  private source: RunSource | undefined;
  private counts = new Float64Array(0);
  private image: ImageData | undefined;
  private frame = 0;
  private hoverAt: { x: number; y: number } | undefined;
  private drag: { x: number; y: number; moved: boolean } | undefined;
  /** Runs visited by the last draw (shown in the zoom label's tooltip; a smoothness measure). */
  lastRunsVisited = 0;
  lastDrawMs = 0;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly hover: HTMLElement,
    private readonly zoomLabel: HTMLElement,
  ) {
    new ResizeObserver(() => this.resize()).observe(canvas);
    canvas.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    canvas.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    canvas.addEventListener("pointermove", (e) => this.onPointerMove(e));
    canvas.addEventListener("pointerup", (e) => this.onPointerUp(e));
    canvas.addEventListener("pointerleave", () => {
      this.hoverAt = undefined;
      this.updateHover();
    });
    this.resize();
  }

  /** Shows a new guest: its regions, the whole guest in view. */
  setGuest(regions: GfnRange[]): void {
    this.regions = regions;
    this.viewport.setExtent(regions);
    this.viewport.fit();
    this.invalidate();
  }

  /** The runs to draw (the session's tracker), or undefined for an empty map. */
  setSource(source: RunSource | undefined): void {
    this.source = source;
    this.invalidate();
  }

  get window(): MapWindow {
    return this.viewport.window;
  }

  zoom(steps: number, x?: number, y?: number): void {
    this.viewport.zoom(steps, x, y);
    this.invalidate();
  }

  fit(): void {
    this.viewport.fit();
    this.invalidate();
  }

  focus(gfn: number, level: number): void {
    this.viewport.focus(gfn, level);
    this.invalidate();
  }

  /** Schedules a redraw on the next animation frame. */
  invalidate(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Draws now (tests and the player call this after state changes within a frame). */
  draw(): void {
    const t0 = performance.now();
    const w = this.viewport.window;
    const dpr = window.devicePixelRatio || 1;
    const ctx = this.canvas.getContext("2d");
    if (ctx === null) return;
    if (this.image === undefined || this.image.width !== this.canvas.width || this.image.height !== this.canvas.height) {
      this.image = ctx.createImageData(this.canvas.width, this.canvas.height);
    }
    const need = w.cols * w.rows * CLASS_COUNT;
    if (this.counts.length < need) this.counts = new Float64Array(need);
    this.lastRunsVisited = this.source === undefined ? 0 : bucketRuns(this.source, this.regions, w, this.counts);
    if (this.source === undefined) this.counts.fill(0, 0, need);
    paintCells(
      this.image,
      w,
      this.counts,
      this.source === undefined ? 0 : this.viewport.extentStart,
      this.source === undefined ? 0 : this.viewport.extentEnd,
      dpr,
    );
    ctx.putImageData(this.image, 0, 0);
    this.lastDrawMs = performance.now() - t0;
    const pages = w.pagesPerCell;
    this.zoomLabel.textContent = pages > 1 ? `${formatBytes(pages * PAGE_BYTES)} / cell` : `1 page / ${w.cellPx} px`;
    this.zoomLabel.title = `${w.cols}×${w.rows} cells from gfn ${hex(w.startGfn)}; ${this.lastRunsVisited} runs drawn in ${this.lastDrawMs.toFixed(1)} ms`;
    this.updateHover();
  }

  private resize(): void {
    const rect = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(rect.width * dpr));
    this.canvas.height = Math.max(1, Math.round(rect.height * dpr));
    this.viewport.setSize(rect.width, rect.height);
    this.invalidate();
  }

  private local(e: MouseEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    const { x, y } = this.local(e);
    this.zoom(e.deltaY < 0 ? 1 : -1, x, y);
  }

  private onPointerDown(e: PointerEvent): void {
    this.drag = { ...this.local(e), moved: false };
    this.canvas.setPointerCapture(e.pointerId);
  }

  private onPointerMove(e: PointerEvent): void {
    const p = this.local(e);
    this.hoverAt = p;
    const d = this.drag;
    if (d !== undefined) {
      const cellPx = this.viewport.window.cellPx;
      const dx = p.x - d.x;
      const dy = p.y - d.y;
      // Move in whole cells; keep the remainder for the next event.
      if (Math.abs(dx) >= cellPx || Math.abs(dy) >= cellPx) {
        const sx = Math.trunc(dx / cellPx) * cellPx;
        const sy = Math.trunc(dy / cellPx) * cellPx;
        this.viewport.pan(sx, sy);
        d.x += sx;
        d.y += sy;
        d.moved = true;
        this.canvas.classList.add("dragging");
        this.invalidate();
      }
    }
    this.updateHover();
  }

  private onPointerUp(e: PointerEvent): void {
    this.drag = undefined;
    this.canvas.classList.remove("dragging");
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
  }

  /** The hover line: a page with its run and decoded state, or a cell's pages by class. */
  private updateHover(): void {
    const at = this.hoverAt;
    const cell = at === undefined ? null : this.viewport.pagesAt(at.x, at.y);
    if (cell === null || this.source === undefined) {
      this.hover.textContent = "Hover the map to inspect a page · drag to pan · wheel or +/− to zoom";
      return;
    }
    const region = this.regions.find((r) => cell.gfn < r.gfn + r.npages && r.gfn < cell.gfn + cell.npages);
    if (region === undefined) {
      this.hover.innerHTML = `<b>gfn ${hex(cell.gfn)}</b> · not guest memory`;
      return;
    }
    if (cell.npages === 1) {
      const run = runContaining(this.source, region, cell.gfn);
      const s = decodePageValue(run.value);
      const pending = s.pending === null ? "" : ` (pending → ${s.pending}${s.preserve ? ", preserving contents" : ""})`;
      this.hover.innerHTML =
        `<b>gfn ${hex(cell.gfn)}</b> · <b>${s.conversion}</b>${pending} · backing shared ${s.shared}, private ${s.private}` +
        ` · run ${hex(run.start)}–${hex(run.end - 1)} (${(run.end - run.start).toLocaleString("en-US")} pages)`;
      return;
    }
    const w = this.viewport.window;
    const index = this.viewport.cellAt(at!.x, at!.y);
    const parts: string[] = [];
    for (let c = 0; c < CLASS_COUNT; c++) {
      const n = this.counts[index * CLASS_COUNT + c]!;
      if (n > 0) parts.push(`${CLASSES[c]!.label} ${n.toLocaleString("en-US")}`);
    }
    const shown = cellClass(this.counts, index);
    this.hover.innerHTML =
      `<b>gfn ${hex(cell.gfn)}–${hex(cell.gfn + w.pagesPerCell - 1)}</b> (${formatBytes(w.pagesPerCell * PAGE_BYTES)}) · ` +
      `${parts.join(", ") || "no guest pages"}${shown >= 0 ? ` · shown as ${CLASSES[shown]!.label}` : ""}`;
  }
}
