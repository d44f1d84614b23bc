// The word-parallel paths of the core against a flat per-page model: in-place range sets inside a
// leaf (all widths 1/2/4/8, word edges, leaf edges, the two ends of the page space), whole-slot
// sets after fragmentation, and the batched isUniform/getMany forms. Every step compares the
// map-wide totals (pages per value, run count) and, often, every page and the invariants.
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { RangeMap } from "../../src/core/range-map.js";

const LONG = process.env.MEMATTR_LONG === "1";
const RUNS = LONG ? 200 : 25;
const SPAN = 3 * 4096; // three chunks: ranges cross leaf edges
const TOP = 2 ** 40;

/** A flat model of [base, base + SPAN); every page outside holds 0. */
class Flat {
  readonly pages = new Uint8Array(SPAN);
  constructor(readonly base: number) {}
  set(s: number, e: number, v: number): void {
    this.pages.fill(v, s - this.base, e - this.base);
  }
  count(v: number): number {
    let n = v === 0 ? TOP - SPAN : 0;
    for (const p of this.pages) if (p === v) n++;
    return n;
  }
  runCount(): number {
    let n = 1;
    let prev = this.base > 0 ? 0 : this.pages[0]!;
    for (const p of this.pages) {
      if (p !== prev) n++;
      prev = p;
    }
    if (this.base + SPAN < TOP && prev !== 0) n++;
    return n;
  }
}

function expectSame(map: RangeMap, flat: Flat, values: number[], full: boolean): void {
  for (const v of values) expect(map.pages(v)).toBe(flat.count(v));
  expect(map.runCount()).toBe(flat.runCount());
  if (!full) return;
  const got = map.getMany(Float64Array.from({ length: SPAN }, (_, i) => flat.base + i));
  expect(Buffer.from(got).equals(Buffer.from(flat.pages))).toBe(true);
  map.checkInvariants();
}

const baseArb = fc.constantFrom(0, 4096 * 1000, TOP - SPAN);
/** How many distinct values the leaves start with: 2 → 1-bit, 4 → 2-bit, 16 → 4-bit, 40 → 8-bit. */
const distinctArb = fc.constantFrom(2, 3, 4, 9, 16, 40);
const lenArb = fc.oneof(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 60, max: 700 }), fc.constantFrom(63, 64, 65, 127, 128, 129, 4095, 4096));

describe("in-place range sets inside a leaf", () => {
  test("agree with a flat model at every width, word edge and leaf edge", async () => {
    await fc.assert(
      fc.asyncProperty(
        baseArb,
        distinctArb,
        fc.array(fc.tuple(fc.nat(SPAN - 1), lenArb, fc.nat(255)), { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 1, max: 40 }),
        async (base, distinct, edits, valueMod) => {
          using map = await RangeMap.create();
          const flat = new Flat(base);
          // seed: page-by-page pattern over `distinct` values so every chunk is a leaf of that width
          for (let i = 0; i < SPAN; i += 7) {
            const v = (i * 31) % distinct;
            map.set(base + i, base + i + 3, v);
            flat.set(base + i, base + i + 3, v);
          }
          const values = Array.from({ length: 256 }, (_, v) => v);
          expectSame(map, flat, values, true);
          let step = 0;
          for (const [off, len, raw] of edits) {
            const s = base + off;
            const e = Math.min(base + SPAN, s + len);
            const v = raw % Math.max(distinct, valueMod);
            map.set(s, e, v);
            flat.set(s, e, v);
            expectSame(map, flat, [0, v, 1, 2, 3], ++step % 10 === 0);
          }
          expectSame(map, flat, values, true);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("batched reads", () => {
  test("isUniformMany, uniformValueMany and getMany (f64 and u32) agree with per-call answers", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(SPAN - 1), lenArb, fc.nat(3)), { minLength: 1, maxLength: 60 }),
        fc.array(fc.tuple(fc.nat(SPAN + 4096), lenArb, fc.nat(3)), { minLength: 1, maxLength: 1500 }),
        async (edits, queries) => {
          using map = await RangeMap.create();
          for (const [s, len, v] of edits) map.set(s, Math.min(s + len, SPAN), v);
          const triples = new Float64Array(3 * queries.length);
          const pairs = new Float64Array(2 * queries.length);
          queries.forEach(([s, len, v], i) => {
            triples.set([s, s + len, v], 3 * i);
            pairs.set([s, s + len], 2 * i);
          });
          const many = map.isUniformMany(triples);
          const values = map.uniformValueMany(pairs);
          queries.forEach(([s, len, v], i) => {
            expect(many[i]).toBe(map.isUniform(s, s + len, v) ? 1 : 0);
            expect(values[i]).toBe(map.uniformValue(s, s + len));
          });
          const gfns = Uint32Array.from(queries, ([s]) => s);
          expect([...map.getMany(gfns)]).toEqual([...map.getMany(Float64Array.from(gfns))]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test("isUniformMany names the first bad query and rejects a ragged array", async () => {
    using map = await RangeMap.create();
    expect(() => map.isUniformMany(Float64Array.of(0, 10, 0, 5, 5, 0))).toThrow(/start must be below end/);
    expect(() => map.isUniformMany(Float64Array.of(0, 10, 256))).toThrow(/queries\[0\]\.value/);
    expect(() => map.isUniformMany(Float64Array.of(0, 10))).toThrow(/multiple of 3/);
    expect(() => map.isUniformMany(Float64Array.of(0, 2 ** 40 + 1, 0))).toThrow(/end must be/);
    expect([...map.isUniformMany(Float64Array.of(0, 2 ** 40, 0))]).toEqual([1]);
  });
});

describe("large sets after fragmentation", () => {
  test("a set covering most of the fragmented map recounts the totals from what stays outside, exactly", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(64 * 4096), fc.integer({ min: 1, max: 300 }), fc.nat(3)), { minLength: 50, maxLength: 300 }),
        fc.nat(4096 * 4),
        fc.integer({ min: 0, max: 4096 * 8 }),
        fc.nat(3),
        async (edits, from, cut, v) => {
          using map = await RangeMap.create();
          for (const [s, len, x] of edits) map.set(s, s + len, x);
          map.set(2 ** 40 - 5, 2 ** 40, 2); // something beyond the guest too
          const end = 64 * 4096 + 4096 - cut;
          map.set(from, end, v);
          map.checkInvariants(); // COUNTS and the run count against a full recount
          expect(map.uniformValue(from, end)).toBe(v);
          map.set(0, 2 ** 40, 1);
          map.checkInvariants();
          expect(map.runCount()).toBe(1);
          expect(map.memoryBytes()).toBe(0);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
