// The conversion hot path of the core (assembly/leaf.ts hysteresis and run-by-run partial
// updates, assembly/index.ts page-by-page short edits): a page cycling through three or more values keeps its leaf (parked while its chunk
// is uniform, revived on the next edit), short updates touch only their pages, and both agree
// page for page with a flat per-page model, keep every invariant, and stay all-or-nothing when
// memory cannot grow.
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { RangeMap } from "../../src/core/range-map.js";
import { MemattrMemoryError } from "../../src/core/errors.js";
import { CHUNK_PAGES } from "./_arbitraries.js";

const LONG = process.env.MEMATTR_LONG === "1";
const SCALE = LONG ? 10 : 1;

function snapshot(map: RangeMap) {
  return { runs: map.runs(0, 2 ** 40), runCount: map.runCount(), bytes: map.memoryBytes() };
}

describe("a page cycling through three values", () => {
  test("keeps its leaf: no allocation per cycle, the chunk uniform and 0 bytes live between cycles", async () => {
    using map = await RangeMap.create();
    map.set(100, 102, 1);
    map.set(100, 102, 2);
    map.set(100, 102, 0);
    const heap = map.heapBytes();
    for (let i = 0; i < 1000; i++) {
      map.set(100, 102, 1);
      expect(map.get(101)).toBe(1);
      map.set(100, 102, 2);
      expect(map.runs(99, 103)).toEqual([
        { start: 99, end: 100, value: 0 },
        { start: 100, end: 102, value: 2 },
        { start: 102, end: 103, value: 0 },
      ]);
      map.set(100, 102, 0);
      expect(map.runCount()).toBe(1);
      expect(map.memoryBytes()).toBe(0); // parked, not live
    }
    expect(map.heapBytes()).toBe(heap);
    map.checkInvariants();
  });

  test("a revived leaf takes the chunk's current value, whatever it collapsed to", async () => {
    using map = await RangeMap.create();
    map.set(10, 11, 5);
    map.set(10, 11, 0); // parked: every page idx of 0
    map.set(0, 2 * CHUNK_PAGES, 7); // the whole chunk rewritten while parked
    map.set(20, 22, 3); // revive
    expect(map.get(19)).toBe(7);
    expect(map.get(21)).toBe(3);
    expect(map.pages(7)).toBe(2 * CHUNK_PAGES - 2);
    expect(map.countInRange(0, CHUNK_PAGES, 3)).toBe(2);
    map.checkInvariants();
  });

  test("parked 8-bit leaves revive with the right value and are reused by other chunks", async () => {
    using map = await RangeMap.create();
    for (let v = 1; v < 40; v++) map.set(v, v + 1, v); // 40 values: an 8-bit leaf in chunk 0
    expect(map.memoryBytes()).toBe(4632);
    for (let g = 1; g < 40; g++) map.set(g, g + 1, 0); // 1-page edits keep the width; the last one parks it
    expect(map.runCount()).toBe(1);
    expect(map.memoryBytes()).toBe(0);
    map.set(0, CHUNK_PAGES, 7); // rewritten while parked: the revived leaf must refill its pages
    map.set(4000, 4001, 200);
    expect(map.memoryBytes()).toBe(4632); // revived at 8 bits
    expect(map.get(4000)).toBe(200);
    expect(map.get(0)).toBe(7);
    expect(map.get(4095)).toBe(7);
    expect(map.pages(7)).toBe(CHUNK_PAGES - 1);
    map.checkInvariants();
    // many chunks each made and emptied: parked blocks are handed to new leaves first
    const heap = map.heapBytes();
    for (let round = 0; round < 3; round++) {
      for (let c = 0; c < 64; c++) {
        const g = c * CHUNK_PAGES + 7;
        map.set(g, g + 1, 1);
        map.set(g, g + 1, 0);
      }
      map.checkInvariants();
    }
    expect(map.heapBytes()).toBeLessThanOrEqual(heap + 8 * 4632);
  });
});

describe("short updates", () => {
  test("a 1-page update on a fresh map makes a leaf, and undoing it makes the chunk uniform", async () => {
    using map = await RangeMap.create();
    map.set(0, 2 ** 18, 0x91);
    map.update(5, 6, 0, 2);
    expect(map.get(5)).toBe(0x93);
    expect(map.runCount()).toBe(4);
    map.update(5, 6, 2, 0);
    expect(map.runCount()).toBe(2);
    expect(map.memoryBytes()).toBe(536); // the node; the leaf is parked
    map.checkInvariants();
  });

  test("agree page for page with a flat model (sets of 1–70 pages, updates of 1–5000, many values, across chunk edges)", async () => {
    // Short sets and updates over two chunks with up to 24 values, so leaves widen to 8 bits,
    // collapse, are parked and revived; the window straddles a chunk boundary.
    const WINDOW = 2 * CHUNK_PAGES;
    const BASE = 3 * CHUNK_PAGES;
    const hotGfn = fc.oneof(
      fc.integer({ min: CHUNK_PAGES - 80, max: CHUNK_PAGES + 80 }),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: WINDOW - 1 }),
    );
    // short updates, and long partial ones (run by run, or decoded when they hold > 64 runs)
    const updatePages = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 70 }) }, { weight: 1, arbitrary: fc.integer({ min: 64, max: 5000 }) });
    const opArb = fc.oneof(
      fc.tuple(hotGfn, fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 23 })).map(([g, n, value]) => ({ kind: "set" as const, g, n, value })),
      fc
        .tuple(hotGfn, updatePages, fc.constantFrom(0, 1, 2, 3, 6, 0x18, 0xff), fc.constantFrom(0, 1, 2, 4, 8, 16))
        .map(([g, n, c, v]) => ({ kind: "update" as const, g, n, c, v })),
    );
    let totalOps = 0;
    using m = await RangeMap.create();
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 60, maxLength: 200, size: "max" }), (ops) => {
        m.clear();
        const flat = new Uint8Array(WINDOW);
        for (const op of ops) {
          const s = Math.min(op.g, WINDOW - op.n);
          const e = s + op.n;
          if (op.kind === "set") {
            m.set(BASE + s, BASE + e, op.value);
            flat.fill(op.value, s, e);
          } else {
            m.update(BASE + s, BASE + e, op.c, op.v);
            for (let g = s; g < e; g++) flat[g] = (flat[g]! & ~op.c) | op.v;
          }
          totalOps++;
        }
        m.checkInvariants();
        const gfns = Float64Array.from({ length: WINDOW }, (_, i) => BASE + i);
        expect(m.getMany(gfns)).toEqual(flat);
        let runs = 1;
        if (flat[0] !== 0) runs++;
        for (let g = 1; g < WINDOW; g++) if (flat[g] !== flat[g - 1]) runs++;
        if (flat[WINDOW - 1] !== 0) runs++;
        expect(m.runCount()).toBe(runs);
        for (let v = 0; v < 32; v++) expect(m.countInRange(BASE, BASE + WINDOW, v)).toBe(flat.filter((x) => x === v).length);
      }),
      { numRuns: 150 * SCALE },
    );
    console.log(`short-edit property ran ${totalOps} operations against the flat model`);
    expect(totalOps).toBeGreaterThanOrEqual(10_000);
  }, 120_000);

  test("a long partial update that adds a value, then takes it back, widens once and stays", async () => {
    using map = await RangeMap.create();
    map.set(0, 2 ** 18, 0x91);
    map.set(5, 8, 0x99); // chunk 0: a 1-bit leaf
    expect(map.memoryBytes()).toBe(536 + 536);
    map.update(100, 612, 0, 2); // a third value: 2 bits
    const bytes = map.memoryBytes();
    const heap = map.heapBytes();
    for (let i = 0; i < 100; i++) {
      map.update(100, 612, 2, 0);
      expect(map.get(611)).toBe(0x91);
      map.update(100, 612, 0, 2);
      expect(map.countInRange(0, 4096, 0x93)).toBe(512);
    }
    expect(map.memoryBytes()).toBe(bytes);
    expect(map.heapBytes()).toBe(heap);
    map.checkInvariants();
  });

  test("a short update that cannot get memory throws ENOMEM and leaves the map unchanged", async () => {
    using map = await RangeMap.create();
    map.set(1, 2, 1);
    map.setMemoryLimit(map.linearMemoryBytes());
    let failures = 0;
    for (let g = 4096; g < 2 ** 22 && failures === 0; g += 4096) {
      const before = snapshot(map);
      try {
        map.update(g + 1, g + 3, 0, 2); // two pages: a new leaf per chunk until memory runs out
      } catch (err) {
        expect(err).toBeInstanceOf(MemattrMemoryError);
        expect(snapshot(map)).toEqual(before);
        failures++;
      }
    }
    expect(failures).toBe(1);
    // in place still works at the limit: the leaf of chunk 0 has room
    map.update(1, 2, 0, 2);
    expect(map.get(1)).toBe(3);
    map.checkInvariants();
  });
});
