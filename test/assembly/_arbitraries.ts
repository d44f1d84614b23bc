// Random and adversarial operation sequences for the property tests, and one check that
// compares every query of a RangeMap with the ReferenceMap.
import fc from "fast-check";
import { expect } from "vitest";
import { MAX_GFN } from "../../src/core/types.js";
import type { RangeMap } from "../../src/core/range-map.js";
import type { ReferenceMap } from "../support/reference-map.js";

export const CHUNK_PAGES = 4096;

/** Gfns where the structure has edges: 0, 2^40, chunk and node boundaries, and a small dense area. */
export const gfnArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 3 * CHUNK_PAGES }) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom(12, 19, 26, 33, 40), fc.integer({ min: 0, max: 3 }), fc.integer({ min: -3, max: 3 }))
      .map(([shift, k, d]) => Math.min(MAX_GFN, Math.max(0, k * 2 ** shift + d))),
  },
  { weight: 1, arbitrary: fc.integer({ min: MAX_GFN - 3 * CHUNK_PAGES, max: MAX_GFN }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: MAX_GFN }) },
);

export const rangeArb: fc.Arbitrary<[number, number]> = fc
  .tuple(gfnArb, gfnArb)
  .filter(([a, b]) => a !== b)
  .map(([a, b]) => (a < b ? [a, b] : [b, a]));

/** Mostly a few values (the model's states), sometimes any byte (wide leaves). */
export const valueArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);

export type Op =
  | { kind: "set"; start: number; end: number; value: number }
  | { kind: "update"; start: number; end: number; clearMask: number; setMask: number }
  | { kind: "alternate"; start: number; pages: number; step: number; value: number }
  | { kind: "clear" };

const maskArb = fc.oneof(fc.constantFrom(0, 1, 2, 3, 8, 0xff), fc.integer({ min: 0, max: 255 }));

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(rangeArb, valueArb).map(([[start, end], value]) => ({ kind: "set" as const, start, end, value })) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(gfnArb, fc.integer({ min: 1, max: 40 }), valueArb)
      .map(([g, n, value]) => ({ kind: "set" as const, start: Math.min(g, MAX_GFN - n), end: Math.min(g, MAX_GFN - n) + n, value })),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(rangeArb, maskArb, maskArb).map(([[start, end], clearMask, setMask]) => ({ kind: "update" as const, start, end, clearMask, setMask })),
  },
  {
    // the hostile guest: every `step`-th page flipped
    weight: 2,
    arbitrary: fc
      .tuple(gfnArb, fc.integer({ min: 1, max: 300 }), fc.integer({ min: 2, max: 3 }), valueArb)
      .map(([start, pages, step, value]) => ({ kind: "alternate" as const, start: Math.min(start, MAX_GFN - pages * step), pages, step, value })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "clear" as const }) },
);

/** Applies `op` to both maps; returns how many primitive operations it made. */
export function applyOp(map: RangeMap, ref: ReferenceMap, op: Op): number {
  switch (op.kind) {
    case "set":
      map.set(op.start, op.end, op.value);
      ref.set(op.start, op.end, op.value);
      return 1;
    case "update":
      map.update(op.start, op.end, op.clearMask, op.setMask);
      ref.update(op.start, op.end, op.clearMask, op.setMask);
      return 1;
    case "alternate":
      for (let i = 0; i < op.pages; i++) {
        const g = op.start + i * op.step;
        map.set(g, g + 1, op.value);
        ref.set(g, g + 1, op.value);
      }
      return op.pages;
    case "clear":
      map.clear();
      ref.clear();
      return 1;
  }
}

/** Compares the queries a RangeMap answers with the reference, around `probe` ranges. */
export function expectSameQueries(map: RangeMap, ref: ReferenceMap, probes: Array<[number, number]>, value: number): void {
  expect(map.runCount()).toBe(ref.runCount());
  expect(map.pages(value)).toBe(ref.pages(value));
  for (const [start, end] of probes) {
    expect(map.get(start)).toBe(ref.get(start));
    expect(map.get(end - 1)).toBe(ref.get(end - 1));
    expect(map.uniformValue(start, end)).toBe(ref.uniformValue(start, end));
    expect(map.isUniform(start, end, value)).toBe(ref.isUniform(start, end, value));
    expect(map.countInRange(start, end, value)).toBe(ref.countInRange(start, end, value));
    expect(map.runs(start, end)).toEqual(ref.runs(start, end));
  }
}
