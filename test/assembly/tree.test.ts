// Property tests of the radix tree (assembly/tree.ts) through RangeMap, against the per-run
// ReferenceMap: random and adversarial sequences, every query compared after each sequence.
// MEMATTR_LONG=1 runs ten times as many sequences.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import fc from "fast-check";
import { RangeMap } from "../../src/core/range-map.js";
import { MAX_GFN } from "../../src/core/types.js";
import { ReferenceMap } from "../support/reference-map.js";
import { CHUNK_PAGES, applyOp, expectSameQueries, gfnArb, opArb, rangeArb, type Op } from "./_arbitraries.js";

const LONG = process.env.MEMATTR_LONG === "1";
const SCALE = LONG ? 10 : 1;
const MIN_TOTAL_OPS = 100_000;
/** The long run takes minutes; the default run a few seconds per property. */
const PROPERTY_TIMEOUT_MS = LONG ? 900_000 : 120_000;

let map: RangeMap;
let totalOps = 0;

beforeAll(async () => {
  map = await RangeMap.create();
});
afterAll(() => {
  map.dispose();
});

function runSequence(ops: Op[], probes: Array<[number, number]>, value: number): void {
  map.clear();
  const ref = new ReferenceMap();
  for (const op of ops) totalOps += applyOp(map, ref, op);
  map.checkInvariants();
  expectSameQueries(map, ref, probes, value);
  expect(map.runs(0, MAX_GFN)).toEqual(ref.runs(0, MAX_GFN));
}

const probesArb = fc.array(rangeArb, { minLength: 1, maxLength: 4 });
const valueProbeArb = fc.integer({ min: 0, max: 3 });

describe("radix tree against the reference map", () => {
  test(
    "matches on random operation sequences",
    () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 120 }), probesArb, valueProbeArb, (ops, probes, v) => {
          runSequence(ops, probes, v);
        }),
        { numRuns: 1200 * SCALE },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  test(
    "matches a per-page model on page-alternating patterns inside and across chunks",
    () => {
      // A hostile guest flips every other page of a window of four chunks, then converts slices
      // back and forth. The ReferenceMap is O(runs) per edit, so here a flat per-page array over
      // the window is the model (everything outside the window stays 0).
      const WINDOW = 4 * CHUNK_PAGES;
      const inWindow = fc.integer({ min: 0, max: WINDOW });
      const windowRange = fc
        .tuple(inWindow, inWindow)
        .filter(([a, b]) => a !== b)
        .map(([a, b]) => (a < b ? [a, b] : [b, a]) as [number, number]);
      const hostileOpArb = fc.oneof(
        fc
          .tuple(windowRange, fc.integer({ min: 2, max: 4 }), fc.integer({ min: 0, max: 3 }))
          .map(([[s, e], step, value]) => ({ kind: "alternate" as const, s, e, step, value })),
        fc.tuple(windowRange, fc.integer({ min: 0, max: 3 })).map(([[s, e], value]) => ({ kind: "set" as const, s, e, value })),
        fc
          .tuple(windowRange, fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 }))
          .map(([[s, e], c, v]) => ({ kind: "update" as const, s, e, c, v })),
      );
      fc.assert(
        fc.property(fc.array(hostileOpArb, { minLength: 1, maxLength: 12 }), windowRange, (ops, [ps, pe]) => {
          map.clear();
          const flat = new Uint8Array(WINDOW);
          for (const op of ops) {
            if (op.kind === "alternate") {
              const batch = map.batch();
              for (let g = op.s; g < op.e; g += op.step) {
                batch.set(g, g + 1, op.value);
                flat[g] = op.value;
              }
              batch.run();
              totalOps += Math.ceil((op.e - op.s) / op.step);
            } else if (op.kind === "set") {
              map.set(op.s, op.e, op.value);
              flat.fill(op.value, op.s, op.e);
              totalOps++;
            } else {
              map.update(op.s, op.e, op.c, op.v);
              for (let g = op.s; g < op.e; g++) flat[g] = (flat[g]! & ~op.c) | op.v;
              totalOps++;
            }
          }
          map.checkInvariants();
          const gfns = Float64Array.from({ length: WINDOW }, (_, i) => i);
          expect(map.getMany(gfns)).toEqual(flat);
          let runs = 1;
          for (let g = 1; g < WINDOW; g++) if (flat[g] !== flat[g - 1]) runs++;
          if (flat[WINDOW - 1] !== 0) runs++;
          expect(map.runCount()).toBe(runs);
          const slice = flat.subarray(ps, pe);
          expect(map.uniformValue(ps, pe)).toBe(slice.every((v) => v === slice[0]) ? slice[0] : -1);
          for (let v = 0; v < 8; v++) expect(map.countInRange(ps, pe, v)).toBe(slice.filter((x) => x === v).length);
          expect(map.runs(ps, pe).reduce((n, r) => n + (r.end - r.start), 0)).toBe(pe - ps);
        }),
        { numRuns: 150 * SCALE },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  test(
    "matches on ranges touching page 0 and page 2^40",
    () => {
      const edgeRangeArb = fc.oneof(
        gfnArb.filter((g) => g > 0).map((g): [number, number] => [0, g]),
        gfnArb.filter((g) => g < MAX_GFN).map((g): [number, number] => [g, MAX_GFN]),
        fc.constant<[number, number]>([0, MAX_GFN]),
      );
      const edgeOpArb: fc.Arbitrary<Op> = fc.oneof(
        fc.tuple(edgeRangeArb, fc.integer({ min: 0, max: 5 })).map(([[start, end], value]): Op => ({ kind: "set", start, end, value })),
        fc
          .tuple(edgeRangeArb, fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 }))
          .map(([[start, end], clearMask, setMask]): Op => ({ kind: "update", start, end, clearMask, setMask })),
        opArb,
      );
      fc.assert(
        fc.property(fc.array(edgeOpArb, { maxLength: 60 }), fc.array(edgeRangeArb, { minLength: 1, maxLength: 3 }), valueProbeArb, (ops, probes, v) => {
          runSequence(ops, probes, v);
        }),
        { numRuns: 300 * SCALE },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  test("has run at least 10^5 operations against the reference", () => {
    console.log(`property tests ran ${totalOps} operations against the reference models${LONG ? " (MEMATTR_LONG)" : ""}`);
    expect(totalOps).toBeGreaterThanOrEqual(MIN_TOTAL_OPS);
  });
});

describe("radix tree shape", () => {
  test("grows only with the highest page touched", async () => {
    using m = await RangeMap.create();
    m.set(0, 2 ** 18, 1); // a 1 GiB guest, chunk-aligned
    expect(m.treeHeight()).toBe(1);
    m.set(2 ** 28 - 1, 2 ** 28, 2); // touch the last page of a 1 TiB guest
    expect(m.treeHeight()).toBe(3);
    m.set(2 ** 18, 2 ** 28, 0);
    expect(m.treeHeight()).toBe(1);
    m.checkInvariants();
  });

  test("sets a whole guest from uniform without touching memory per page", async () => {
    using m = await RangeMap.create();
    for (const pages of [2 ** 18, 2 ** 28, 2 ** 34]) {
      m.set(0, pages, 1);
      expect(m.memoryBytes()).toBeLessThanOrEqual(536);
      expect(m.runCount()).toBe(2);
      m.set(0, pages, 0);
      expect(m.memoryBytes()).toBe(0);
    }
    m.checkInvariants();
  });

  test("merges equal neighbours across chunk and node boundaries", async () => {
    using m = await RangeMap.create();
    m.set(4000, 4096, 3);
    m.set(4096, 5000, 3);
    m.set(2 ** 19 - 5, 2 ** 19 + 5, 3);
    expect(m.runs(3000, 6000)).toEqual([
      { start: 3000, end: 4000, value: 0 },
      { start: 4000, end: 5000, value: 3 },
      { start: 5000, end: 6000, value: 0 },
    ]);
    expect(m.runCount()).toBe(5);
    m.set(4000, 5000, 0);
    expect(m.runCount()).toBe(3);
    m.checkInvariants();
  });
});
