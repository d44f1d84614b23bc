// The property tests of the core's edits share one vocabulary: an operation type, generators
// for it (ranges placed by each test), one interpreter that applies an operation to the Wasm
// RangeMap or to ReferenceMap, and one comparison of the two maps.
import fc from "fast-check";
import { expect } from "vitest";
import type { RangeMap } from "../../src/core/range-map.js";
import { MAX_GFN } from "../../src/core/types.js";
import type { ReferenceMap } from "./reference-map.js";

/** One edit of a map (a `convert` is a request — updateIfUniform — and, when it passed, its commit). */
export type MapOp =
  | { kind: "set"; start: number; end: number; value: number }
  | { kind: "update"; start: number; end: number; clearMask: number; setMask: number }
  | { kind: "uiu"; start: number; end: number; testMask: number; testValue: number; clearMask: number; setMask: number }
  | { kind: "where"; start: number; end: number; testMask: number; testValue: number; clearMask: number; setMask: number }
  | { kind: "convert"; start: number; end: number; toPrivate: boolean };

/** Few values, so uniform ranges and passing tests are common; sometimes any byte (wide leaves). */
export const valueArb = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) });
/** Masks: the bits the model uses, all of them, or any byte. */
export const maskArb = fc.oneof(fc.constantFrom(0, 1, 2, 3, 0xff), fc.integer({ min: 0, max: 255 }));

/** Ranges `[base + offset, base + offset + n)` clipped at 2^40. */
export function rangeArb(bases: readonly number[], offset: fc.Arbitrary<number>, length: fc.Arbitrary<number>): fc.Arbitrary<[number, number]> {
  return fc.tuple(fc.constantFrom(...bases), offset, length).map(([base, off, n]) => [base + off, Math.min(MAX_GFN, base + off + n)]);
}

/** How often each kind of operation comes up (0: never). */
export interface OpWeights {
  set: number;
  update: number;
  uiu: number;
  where: number;
  convert: number;
}

/**
 * Operations over `ranges`. A test value is mostly inside its mask (it can pass); with
 * `anyTestValue` sometimes outside (it never passes).
 */
export function opArb(ranges: fc.Arbitrary<[number, number]>, weights: OpWeights, anyTestValue = false): fc.Arbitrary<MapOp> {
  const testValue = (tv: number, mask: number, inside: boolean) => (inside || !anyTestValue ? tv & mask : tv);
  const tested = <K extends "uiu" | "where">(kind: K) =>
    fc.tuple(ranges, maskArb, valueArb, fc.boolean(), maskArb, maskArb).map(([[start, end], testMask, tv, inside, clearMask, setMask]) => ({
      kind,
      start,
      end,
      testMask,
      testValue: testValue(tv, testMask, inside),
      clearMask,
      setMask,
    }));
  const all = [
    { weight: weights.set, arbitrary: fc.tuple(ranges, valueArb).map(([[start, end], value]): MapOp => ({ kind: "set", start, end, value })) },
    {
      weight: weights.update,
      arbitrary: fc.tuple(ranges, maskArb, maskArb).map(([[start, end], clearMask, setMask]): MapOp => ({ kind: "update", start, end, clearMask, setMask })),
    },
    { weight: weights.uiu, arbitrary: tested("uiu") as fc.Arbitrary<MapOp> },
    { weight: weights.where, arbitrary: tested("where") as fc.Arbitrary<MapOp> },
    {
      weight: weights.convert,
      arbitrary: fc.tuple(ranges, fc.boolean()).map(([[start, end], toPrivate]): MapOp => ({ kind: "convert", start, end, toPrivate })),
    },
  ];
  return fc.oneof(...all.filter((a) => a.weight > 0));
}

/** Applies `op`; returns what updateIfUniform returned (uiu, convert) or 0. */
export function applyOp(m: RangeMap | ReferenceMap, op: MapOp): number {
  switch (op.kind) {
    case "set":
      m.set(op.start, op.end, op.value);
      return 0;
    case "update":
      m.update(op.start, op.end, op.clearMask, op.setMask);
      return 0;
    case "uiu":
      return m.updateIfUniform(op.start, op.end, op.testMask, op.testValue, op.clearMask, op.setMask);
    case "where":
      m.updateWhere(op.start, op.end, op.testMask, op.testValue, op.clearMask, op.setMask);
      return 0;
    case "convert": {
      const u = m.updateIfUniform(op.start, op.end, 3, op.toPrivate ? 0 : 1, 0, 2);
      if (u === (op.toPrivate ? 0 : 1)) m.update(op.start, op.end, op.toPrivate ? 2 : 3, op.toPrivate ? 1 : 0);
      return u;
    }
  }
}

/** The two maps hold the same runs and totals, and the Wasm map's invariants hold. */
export function expectSameMaps(m: RangeMap, ref: ReferenceMap): void {
  expect(m.runs(0, MAX_GFN)).toEqual(ref.runs(0, MAX_GFN));
  expect(m.runCount()).toBe(ref.runCount());
  for (const v of [0, 1, 2, 3, 7, 255]) expect(m.pages(v)).toBe(ref.pages(v));
  m.checkInvariants();
}
