// The map's arithmetic, in Node: bucketing runs into cells agrees with a per-page count, the
// viewport's zoom/pan/pageToPixel, the run lookup for hover, and a 64 TiB guest drawn from its
// run list in bounded time.
import { describe, expect, it } from "vitest";
import { createTracker } from "../../src/model/create.js";
import { GUEST, PRIVATE, PRIVATE_POPULATED, SHARED_POPULATED, PENDING } from "../../src/model/states.js";
import { bucketRuns, cellClass, MapViewport, type MapWindow, MAX_LEVEL, runContaining, type RunSource } from "../../src/viz/map-view.js";
import {
  CLASS_COUNT,
  CLASS_DOUBLE,
  CLASS_OUTSIDE,
  CLASS_PENDING_PRIVATE,
  CLASS_PENDING_SHARED,
  CLASS_PRIVATE,
  CLASS_SHARED,
  classOf,
  classOfValue,
} from "../../src/viz/palette.js";

/** A run source over a per-page array (the slow truth). */
function arraySource(values: number[]): RunSource {
  return {
    forEachRawRun(fn, gfn = 0, npages = values.length) {
      let s = gfn;
      for (let g = gfn + 1; g <= gfn + npages; g++) {
        if (g === gfn + npages || values[g] !== values[s]) {
          fn(s, g - s, values[s]!);
          s = g;
        }
      }
    },
  };
}

function windowOf(startGfn: number, pagesPerCell: number, cols: number, rows: number): MapWindow {
  return { startGfn, level: 0, pagesPerCell, cellPx: 2, cols, rows };
}

describe("palette", () => {
  it("classifies every state, double allocation first", () => {
    expect(classOfValue(0)).toBe(CLASS_OUTSIDE);
    expect(classOfValue(GUEST)).toBe(CLASS_SHARED);
    expect(classOfValue(GUEST | PRIVATE)).toBe(CLASS_PRIVATE);
    expect(classOfValue(GUEST | PENDING)).toBe(CLASS_PENDING_PRIVATE);
    expect(classOfValue(GUEST | PENDING | PRIVATE)).toBe(CLASS_PENDING_SHARED);
    expect(classOfValue(GUEST | PRIVATE | SHARED_POPULATED | PRIVATE_POPULATED)).toBe(CLASS_DOUBLE);
    for (let v = 0; v < 256; v++) expect(classOf(v)).toBe(classOfValue(v));
  });
});

describe("bucketRuns", () => {
  it("counts the same pages per cell as a per-page walk, at every cell size", () => {
    let seed = 5;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    const values: number[] = [];
    const palette = [GUEST, GUEST | PRIVATE, GUEST | PENDING, GUEST | PRIVATE | SHARED_POPULATED | PRIVATE_POPULATED];
    while (values.length < 5000) {
      const v = palette[rnd(palette.length)]!;
      for (let k = rnd(40) + 1; k > 0; k--) values.push(v);
    }
    values.length = 5000;
    const regions = [{ gfn: 0, npages: values.length }];
    for (const ppc of [1, 2, 8, 64, 1024]) {
      for (const start of [0, ppc * 3]) {
        const w = windowOf(start, ppc, 17, 11);
        const counts = new Float64Array(w.cols * w.rows * CLASS_COUNT);
        bucketRuns(arraySource(values), regions, w, counts);
        const truth = new Float64Array(counts.length);
        for (let g = start; g < Math.min(values.length, start + w.cols * w.rows * ppc); g++) {
          truth[Math.floor((g - start) / ppc) * CLASS_COUNT + classOf(values[g]!)]! += 1;
        }
        expect(counts).toEqual(truth);
      }
    }
  });

  it("shows the rarest class of a cell, ties to double-allocated then pending", () => {
    const counts = new Float64Array(2 * CLASS_COUNT);
    counts[CLASS_PRIVATE] = 1000;
    counts[CLASS_SHARED] = 1;
    expect(cellClass(counts, 0)).toBe(CLASS_SHARED);
    counts[CLASS_PENDING_PRIVATE] = 1;
    expect(cellClass(counts, 0)).toBe(CLASS_PENDING_PRIVATE);
    counts[CLASS_DOUBLE] = 1;
    expect(cellClass(counts, 0)).toBe(CLASS_DOUBLE);
    expect(cellClass(counts, 1)).toBe(-1);
  });

  it("draws a 64 TiB guest from its run list: work follows runs and cells, not pages", async () => {
    const npages = 2 ** 34; // 64 TiB of 4 KiB pages
    const t = await createTracker({ regions: [{ gfn: 0, npages }] });
    for (let i = 0; i < 2000; i++) t.requestConversion({ gfn: i * 2 ** 23, npages: 2 ** 22, to: "private" }).commit();
    const vp = new MapViewport();
    vp.setExtent([{ gfn: 0, npages }]);
    vp.setSize(1000, 430);
    vp.fit();
    const w = vp.window;
    expect(w.cols * w.rows * w.pagesPerCell).toBeGreaterThanOrEqual(npages);
    const counts = new Float64Array(w.cols * w.rows * CLASS_COUNT);
    const runs = bucketRuns(t, [{ gfn: 0, npages }], w, counts);
    expect(runs).toBe(t.runCount() - 1); // every run but the value-0 tail above guest memory
    let pages = 0;
    for (const n of counts) pages += n;
    expect(pages).toBe(npages);
    t.dispose();
  });
});

describe("MapViewport", () => {
  it("fits the whole guest, zooms around the pointer down to single pages, pans by whole cells", () => {
    const vp = new MapViewport();
    vp.setExtent([{ gfn: 0x1000, npages: 1 << 20 }]);
    vp.setSize(800, 400);
    vp.fit();
    const fit = vp.window;
    expect(fit.startGfn).toBeLessThanOrEqual(0x1000);
    expect(vp.pageToPixel(0x1000)).not.toBeNull();
    expect(vp.pageToPixel(0x1000 + (1 << 20) - 1)).not.toBeNull();

    const gfn = 0x1000 + 300_000;
    const at = vp.pageToPixel(gfn)!;
    const cellBefore = vp.pagesAt(at.x, at.y)!;
    vp.zoom(3, at.x, at.y);
    const w = vp.window;
    expect(w.pagesPerCell).toBe(fit.pagesPerCell / 8);
    // The pointer stays over the cell it was on: now a finer piece of it.
    const under = vp.pagesAt(at.x, at.y)!;
    expect(under.gfn).toBeGreaterThanOrEqual(cellBefore.gfn);
    expect(under.gfn + under.npages).toBeLessThanOrEqual(cellBefore.gfn + cellBefore.npages);

    vp.zoom(100);
    expect(vp.level).toBe(MAX_LEVEL);
    expect(vp.window.pagesPerCell).toBe(1);
    const before = vp.window.startGfn;
    vp.pan(-vp.window.cellPx * 3, -vp.window.cellPx);
    expect(vp.window.startGfn).toBe(before + 3 + vp.window.cols);
    vp.zoom(-100);
    expect(vp.level).toBe(vp.fitLevel() - 1);
  });

  it("never pans past guest memory", () => {
    const vp = new MapViewport();
    vp.setExtent([{ gfn: 0, npages: 4096 }]);
    vp.setSize(400, 300);
    vp.fit();
    vp.pan(10_000, 10_000);
    expect(vp.window.startGfn).toBe(0);
    vp.zoom(5);
    vp.pan(-1e6, -1e6);
    expect(vp.pageToPixel(4095)).not.toBeNull();
  });
});

describe("runContaining", () => {
  it("finds the maximal run of a page with a few one-run probes", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 2 ** 30 }] });
    t.requestConversion({ gfn: 1000, npages: 2 ** 28, to: "private" }).commit();
    const region = { gfn: 0, npages: 2 ** 30 };
    expect(runContaining(t, region, 5000)).toEqual({ start: 1000, end: 1000 + 2 ** 28, value: GUEST | PRIVATE });
    expect(runContaining(t, region, 999)).toEqual({ start: 0, end: 1000, value: GUEST });
    expect(runContaining(t, region, 2 ** 30 - 1)).toEqual({ start: 1000 + 2 ** 28, end: 2 ** 30, value: GUEST });
    t.dispose();
  });
});
