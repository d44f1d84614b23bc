// Short edits (assembly/short.ts): set, update and updateIfUniform of 1–4 pages inside one chunk
// find the chunk's leaf once (or reuse the leaf the previous short edit found) and write its
// pages in place, or fall back to the general path. Unit cases for each fallback — a uniform
// slot to split, the tail, a full palette (relabel or widen), a leaf that becomes uniform, a
// range holding several values — and for the edges where the boundary count reads another
// chunk; the cached leaf after edits that move or free it; all-or-nothing under a memory cap;
// then properties against ReferenceMap.
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { RangeMap } from "../../src/core/range-map.js";
import { MemattrMemoryError } from "../../src/core/errors.js";
import { MAX_GFN } from "../../src/core/types.js";
import { ReferenceMap } from "../support/reference-map.js";
import { applyOp, type MapOp, opArb, rangeArb } from "../support/map-ops.js";

const LEAF_PAGES = 4096;
const SHARED = 0;
const PRIVATE = 1;

let map: RangeMap;
let ref: ReferenceMap;
beforeEach(async () => {
  map = await RangeMap.create();
  ref = new ReferenceMap();
});
afterEach(() => {
  map.dispose();
});

/** Everything observable about a map's contents and footprint. */
function snapshot(m: RangeMap) {
  return { runs: m.runs(0, MAX_GFN), runCount: m.runCount(), pages: [0, 1, 2, 3, 7].map((v) => m.pages(v)), bytes: m.memoryBytes(), heap: m.heapBytes() };
}

/** Same runs, run count and per-value totals as the reference, and every invariant. */
function expectSame(m: RangeMap, r: ReferenceMap): void {
  expect(m.runs(0, MAX_GFN)).toEqual(r.runs(0, MAX_GFN));
  expect(m.runCount()).toBe(r.runCount());
  for (const v of [0, 1, 2, 3, 7, 255]) expect(m.pages(v)).toBe(r.pages(v));
  m.checkInvariants();
}

const set = (s: number, e: number, v: number): void => {
  map.set(s, e, v);
  ref.set(s, e, v);
};
const update = (s: number, e: number, clearMask: number, setMask: number): void => {
  map.update(s, e, clearMask, setMask);
  ref.update(s, e, clearMask, setMask);
};
const updateIfUniform = (s: number, e: number, tm: number, tv: number, cm: number, sm: number): number => {
  const got = map.updateIfUniform(s, e, tm, tv, cm, sm);
  expect(got).toBe(ref.updateIfUniform(s, e, tm, tv, cm, sm));
  return got;
};

/** The model's conversion: request (updateIfUniform) then commit (update); returns the request's answer. */
function convert(g: number, n: number, toPrivate: boolean): number {
  const u = updateIfUniform(g, g + n, 3, toPrivate ? SHARED : PRIVATE, 0, 2);
  if (u === (toPrivate ? SHARED : PRIVATE)) update(g, g + n, toPrivate ? 2 : 3, toPrivate ? 1 : 0);
  return u;
}

describe("short edits at leaf edges", () => {
  // offsets inside a chunk: at its first pages, in the middle, at its last pages
  const OFFSETS = [0, 1, 2, 3, 100, LEAF_PAGES - 5, LEAF_PAGES - 4, LEAF_PAGES - 3, LEAF_PAGES - 2, LEAF_PAGES - 1];

  test.each([1, 2, 3, 4])("%i pages: every offset, neighbours in a leaf, a uniform slot or nothing", (n) => {
    for (const base of [0, LEAF_PAGES, 5 * LEAF_PAGES, MAX_GFN - 2 * LEAF_PAGES]) {
      map.clear();
      ref = new ReferenceMap();
      // chunk base is a leaf (2 at its 10th page); the chunk before it a leaf, the one after uniform 3
      set(base + 9, base + 10, 2);
      if (base > 0) set(base - 7, base - 6, 2);
      if (base + LEAF_PAGES < MAX_GFN) set(base + LEAF_PAGES, base + 2 * LEAF_PAGES, 3);
      for (const off of OFFSETS) {
        const g = base + off;
        if (g + n > MAX_GFN || off + n > LEAF_PAGES) continue;
        expect(convert(g, n, false)).toBe(0); // already shared: the request's test fails, nothing changes
        expectSame(map, ref);
        expect(convert(g, n, true)).toBe(0); // shared → pending 2 → private 1
        expectSame(map, ref);
        expect(convert(g, n, false)).toBe(1); // private → pending 3 → shared 0
        expectSame(map, ref);
        set(g, g + n, 3); // the same value as the next chunk: merges at the last offsets
        expectSame(map, ref);
        update(g, g + n, 1, 4); // 3 → 6
        expectSame(map, ref);
        set(g, g + n, 0);
        expectSame(map, ref);
      }
    }
  });

  test("the first and last chunk of the page space: neighbours outside it count as none", () => {
    set(5, 6, 1);
    set(MAX_GFN - 6, MAX_GFN - 5, 1);
    for (const g of [0, MAX_GFN - 4]) {
      for (const n of [1, 2, 3, 4]) {
        expect(convert(g, n, true)).toBe(0);
        expectSame(map, ref);
        expect(convert(g, n, false)).toBe(1);
        expectSame(map, ref);
      }
    }
    expect(map.runCount()).toBe(5);
  });
});

describe("short edits: each fallback", () => {
  test("a uniform slot splits (no leaf yet), and the tail above the tree grows it", () => {
    expect(convert(1000, 2, true)).toBe(0);
    expectSame(map, ref);
    expect(map.get(1001)).toBe(PRIVATE);
    expect(convert(2 ** 39 + 5, 3, true)).toBe(0); // above the tree's span
    expectSame(map, ref);
    expect(convert(MAX_GFN - 2, 2, true)).toBe(0); // the top chunk
    expectSame(map, ref);
  });

  test("a leaf that becomes uniform turns back into a uniform slot (parked, not live)", () => {
    set(1000, 1002, 3);
    expect(map.memoryBytes()).toBeGreaterThan(0);
    update(1000, 1002, 3, 0);
    expectSame(map, ref);
    expect(map.runCount()).toBe(1);
    expect(map.memoryBytes()).toBe(0);
    // and comes back on the next short edit of that chunk
    expect(updateIfUniform(1000, 1001, 0xff, 0, 0, 2)).toBe(0);
    expectSame(map, ref);
  });

  test("a full 1-bit palette relabels the entry when the range holds all its pages: no allocation", () => {
    set(0, 4096, PRIVATE);
    set(7, 9, SHARED); // a 1-bit leaf: entries 1 and 0, the 0s only at 7 and 8
    const heap = map.heapBytes();
    const bytes = map.memoryBytes();
    expect(updateIfUniform(7, 9, 3, SHARED, 0, 2)).toBe(SHARED); // 0 → 2 on both: relabel
    expectSame(map, ref);
    expect(map.memoryBytes()).toBe(bytes);
    expect(map.heapBytes()).toBe(heap);
    update(7, 9, 2, 1); // 2 → 1: the leaf becomes uniform
    expectSame(map, ref);
    expect(map.runs(0, 4096)).toEqual([{ start: 0, end: 4096, value: PRIVATE }]);
  });

  test("a full palette that must widen goes the general way (1 → 2 → 4 → 8 bits)", () => {
    set(0, 2048, 1); // chunk 0: 1 then 0
    for (let v = 2; v < 40; v++) {
      // a new value on 1–4 pages each time: 3, 5, 17 values need 2, 4, 8 bits
      const g = 100 * v;
      const n = 1 + (v % 4);
      const before = map.memoryBytes();
      set(g, g + n, v);
      expectSame(map, ref);
      if (v === 2 || v === 4 || v === 16) expect(map.memoryBytes()).toBeGreaterThan(before);
    }
    for (let v = 2; v < 40; v++) update(100 * v, 100 * v + 1, 0, 0x80); // all in place at 8 bits
    expectSame(map, ref);
  });

  test("a short update over several values goes run by run (in place, widening, collapsing)", () => {
    set(0, 4096, 1);
    set(10, 12, 0);
    set(12, 13, 2); // pages 9..13: 1 0 0 2 1
    update(9, 13, 0, 4); // 1→5, 0→4, 2→6: three new values in a 2-bit leaf, widens mid-way
    expectSame(map, ref);
    update(9, 13, 0xff, 1); // every run back to 1: the leaf becomes uniform
    expectSame(map, ref);
    expect(map.runs(0, 4096)).toEqual([{ start: 0, end: 4096, value: 1 }]);
    set(20, 21, 3);
    set(21, 22, 0);
    update(20, 23, 2, 0); // 3→1, 0→0, 1→1: only the first run changes
    expectSame(map, ref);
    set(20, 24, 7); // a set over several values: the word-wise in-place set
    expectSame(map, ref);
  });

  test("uniformValue of 1–4 pages and of longer ranges inside one leaf", () => {
    set(100, 103, 2);
    set(300, 600, 5);
    for (const [s, e] of [
      [99, 100],
      [100, 103],
      [99, 101],
      [102, 104],
      [300, 600],
      [299, 600],
      [300, 601],
      [300, 304],
      [4092, 4096],
      [4095, 4097],
    ]) {
      expect(map.uniformValue(s, e)).toBe(ref.uniformValue(s, e));
    }
  });
});

describe("the leaf a short edit found last", () => {
  test("is forgotten when a general edit moves, frees or replaces it", async () => {
    set(0, 4096, PRIVATE);
    set(7, 8, SHARED);
    const steps: Array<() => void> = [
      () => set(200, 3000, 5), // long in-place set: the leaf stays
      () => set(3000, 3001, 9), // widens: a new block
      () => set(0, 4096, 1), // the chunk uniform: the leaf is parked
      () => set(10, 12, 2), // revived
      () => update(0, 8192, 1, 0), // a long update over two chunks
      () => {
        map.clear();
        ref = new ReferenceMap();
      },
      () => {
        const b = map.batch();
        b.set(30, 31, 3);
        b.set(50, 60, 2);
        b.update(0, 100, 0, 4);
        b.run();
        ref.set(30, 31, 3);
        ref.set(50, 60, 2);
        ref.update(0, 100, 0, 4);
      },
    ];
    for (const step of steps) {
      convert(1000, 2, map.get(1000) === SHARED); // finds (and remembers) chunk 0's slot
      step();
      expectSame(map, ref);
      for (let i = 0; i < 4; i++) convert(1000 + (i & 1), 1, map.get(1000 + (i & 1)) === SHARED);
      expectSame(map, ref);
    }
  });
});

describe("short edits under a memory cap", () => {
  /** A map whose linear memory cannot grow, with chunk 0 a 2-bit leaf of a full palette (1, 0, 2, 3). */
  async function cappedMap(): Promise<{ m: RangeMap; r: ReferenceMap }> {
    const m = await RangeMap.create();
    const r = new ReferenceMap();
    for (const [s, e, v] of [
      [0, 4096, 1],
      [7, 8, 0],
      [9, 10, 2],
      [11, 12, 3],
    ] as const) {
      m.set(s, e, v);
      r.set(s, e, v);
    }
    // fill the heap until an edit fails: no room is left for the general path
    m.setMemoryLimit(m.linearMemoryBytes());
    for (let k = 1; ; k++) {
      try {
        m.set(k * LEAF_PAGES + 5, k * LEAF_PAGES + 6, 2);
      } catch (err) {
        expect(err).toBeInstanceOf(MemattrMemoryError);
        break;
      }
      r.set(k * LEAF_PAGES + 5, k * LEAF_PAGES + 6, 2);
    }
    expectSame(m, r);
    return { m, r };
  }

  test("in-place conversions of 1–4 pages need no memory and still succeed", async () => {
    const { m, r } = await cappedMap();
    using _ = m;
    for (let round = 0; round < 3; round++) {
      for (const n of [1, 2, 3, 4]) {
        const g = 1000 + 10 * n;
        for (const toPrivate of [false, true]) {
          const u = m.updateIfUniform(g, g + n, 3, toPrivate ? 0 : 1, 0, 2);
          expect(u).toBe(r.updateIfUniform(g, g + n, 3, toPrivate ? 0 : 1, 0, 2));
          m.update(g, g + n, toPrivate ? 2 : 3, toPrivate ? 1 : 0);
          r.update(g, g + n, toPrivate ? 2 : 3, toPrivate ? 1 : 0);
          expectSame(m, r);
        }
      }
    }
  });

  test("an edit that needs memory throws ENOMEM and changes nothing: split, widen, mixed update", async () => {
    const { m, r } = await cappedMap();
    using _ = m;
    const attempts: Array<() => unknown> = [
      () => m.updateIfUniform(2 ** 31 + 1, 2 ** 31 + 3, 0xff, 0, 0, 1), // a uniform chunk to split
      () => m.set(2 ** 39 + 1, 2 ** 39 + 2, 1), // the tail: the tree must grow
      () => m.updateIfUniform(500, 502, 0xff, 1, 0, 0x40), // a fourth and fifth value: 2 → 4 bits
      () => m.set(600, 604, 0x41),
      () => m.update(6, 10, 0, 0x20), // 1 0 1 2: several runs, so it reserves first
    ];
    for (const attempt of attempts) {
      const before = snapshot(m);
      expect(attempt).toThrow(MemattrMemoryError);
      expect(snapshot(m)).toEqual(before);
      expectSame(m, r);
    }
    // room again: the same edits succeed
    m.setMemoryLimit(2 ** 32);
    expect(m.updateIfUniform(500, 502, 0xff, 1, 0, 0x40)).toBe(1);
    r.updateIfUniform(500, 502, 0xff, 1, 0, 0x40);
    m.update(6, 10, 0, 0x20);
    r.update(6, 10, 0, 0x20);
    expectSame(m, r);
  });
});

// ---- properties -------------------------------------------------------------------------

// Three chunks at the bottom, three around 2^32, the top three; 1–4 pages, mostly at chunk edges.
const BASES = [0, 2 ** 32 - LEAF_PAGES, MAX_GFN - 3 * LEAF_PAGES];
const shortRanges = rangeArb(
  BASES,
  fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 5 })).map(([k, d]) => k * LEAF_PAGES + d) },
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 })).map(([k, d]) => k * LEAF_PAGES - d) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 40 }).map((d) => LEAF_PAGES + 2000 + d) },
  ),
  fc.integer({ min: 1, max: 4 }),
);
// a long set now and then: leaves widen, collapse and move under the short edits
const longSets = opArb(rangeArb(BASES, fc.integer({ min: 0, max: 3 * LEAF_PAGES - 1 }), fc.integer({ min: 5, max: 2 * LEAF_PAGES })), {
  set: 1,
  update: 0,
  uiu: 0,
  where: 0,
  convert: 0,
});
const anyOpArb = fc.oneof(
  { weight: 8, arbitrary: opArb(shortRanges, { set: 2, update: 1, uiu: 2, where: 1, convert: 3 }) },
  { weight: 1, arbitrary: longSets },
);

describe("short edits: properties against ReferenceMap", () => {
  test("random 1–4 page edits at leaf edges: same answers, runs, totals; invariants hold", async () => {
    using m = await RangeMap.create();
    await fc.assert(
      fc.asyncProperty(fc.array(anyOpArb, { minLength: 1, maxLength: 60, size: "max" }), async (ops) => {
        m.clear();
        const r = new ReferenceMap();
        for (const op of ops) {
          expect(applyOp(m, op)).toBe(applyOp(r, op));
          expect(m.uniformValue(op.start, op.end)).toBe(r.uniformValue(op.start, op.end));
          expectSame(m, r);
        }
      }),
      { numRuns: 200 },
    );
  });

  test("under a memory cap: an edit either matches the reference or throws ENOMEM and changes nothing", async () => {
    let enomem = 0;
    let applied = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(anyOpArb, { minLength: 1, maxLength: 60, size: "max" }), fc.integer({ min: 0, max: 40 }), async (ops, prefill) => {
        using m = await RangeMap.create({ maxMemoryBytes: 2 * 65536 });
        const r = new ReferenceMap();
        // bring the heap near its cap with leaves far from the ops
        for (let k = 0; k < prefill; k++) {
          const g = 2 ** 30 + k * LEAF_PAGES + 7;
          try {
            m.set(g, g + 1, 2);
          } catch (err) {
            expect(err).toBeInstanceOf(MemattrMemoryError);
            break;
          }
          r.set(g, g + 1, 2);
        }
        // a conversion is two edits (request, then commit when it passed), each all or nothing
        const steps = ops.flatMap(
          (op): Array<MapOp | { kind: "commit"; start: number; end: number; toPrivate: boolean }> =>
            op.kind === "convert"
              ? [
                  { ...op, kind: "uiu", testMask: 3, testValue: op.toPrivate ? 0 : 1, clearMask: 0, setMask: 2 },
                  { ...op, kind: "commit" },
                ]
              : [op],
        );
        let passed = false;
        for (const step of steps) {
          if (step.kind === "commit" && !passed) continue;
          const op: MapOp =
            step.kind === "commit"
              ? { kind: "update", start: step.start, end: step.end, clearMask: step.toPrivate ? 2 : 3, setMask: step.toPrivate ? 1 : 0 }
              : step;
          const before = snapshot(m);
          let got: number;
          try {
            got = applyOp(m, op);
          } catch (err) {
            expect(err).toBeInstanceOf(MemattrMemoryError);
            enomem++;
            passed = false;
            expect(snapshot(m)).toEqual(before);
            expectSame(m, r);
            continue;
          }
          applied++;
          expect(got).toBe(applyOp(r, op));
          passed = op.kind === "uiu" && got >= 0 && (got & op.testMask) === op.testValue;
          expectSame(m, r);
        }
      }),
      { numRuns: 60 },
    );
    expect(enomem).toBeGreaterThan(5);
    expect(applied).toBeGreaterThan(100);
  });
});
