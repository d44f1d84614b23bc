// RangeMap.updateWhere (assembly/index.ts → mask.ts): the conditional masked update — only the
// pages whose value passes the test change. Unit cases for the paths (one page, a short range
// across a chunk edge, a long range over leaves and uniform subtrees), ENOMEM leaving the map
// unchanged, and a property test against a byte-per-page model.
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { MemattrMemoryError, MemattrRangeError } from "../../src/core/errors.js";
import { RangeMap } from "../../src/core/range-map.js";
import { MAX_GFN } from "../../src/core/types.js";

let map: RangeMap;
beforeEach(async () => {
  map = await RangeMap.create();
});
afterEach(() => map.dispose());

/** What the update gives one value. */
function where(v: number, testMask: number, testValue: number, clearMask: number, setMask: number): number {
  return (v & testMask) === testValue ? ((v & ~clearMask) | setMask) & 0xff : v;
}

describe("updateWhere", () => {
  test("changes only the pages that pass, on every path", () => {
    map.set(0, 10_000, 1);
    map.set(3, 4, 2); // one page apart in the first leaf
    map.set(4095, 4097, 2); // across a chunk edge
    map.updateWhere(0, 10_000, 0xff, 1, 0, 4);
    expect(map.runs(0, 10_000)).toEqual([
      { start: 0, end: 3, value: 5 },
      { start: 3, end: 4, value: 2 },
      { start: 4, end: 4095, value: 5 },
      { start: 4095, end: 4097, value: 2 },
      { start: 4097, end: 10_000, value: 5 },
    ]);
    map.updateWhere(4094, 4098, 2, 2, 0xff, 7); // short, across the edge
    expect(map.runs(4094, 4098).map((r) => r.value)).toEqual([5, 7, 5]);
    map.updateWhere(3, 4, 0, 0, 2, 0); // test mask 0: every value passes
    expect(map.get(3)).toBe(0);
    map.checkInvariants();
  });

  test("a test no value passes changes nothing, not even the footprint", () => {
    map.set(0, 1 << 20, 3);
    map.set(100, 200, 9);
    const before = { runs: map.runs(0, MAX_GFN), bytes: map.memoryBytes() };
    map.updateWhere(0, 1 << 20, 0xff, 4, 0xff, 0);
    expect({ runs: map.runs(0, MAX_GFN), bytes: map.memoryBytes() }).toEqual(before);
  });

  test("refuses bad arguments and a failed grow, leaving the map unchanged", () => {
    map.set(0, 100, 1);
    const before = map.runs(0, MAX_GFN);
    expect(() => map.updateWhere(5, 5, 1, 1, 0, 2)).toThrow(MemattrRangeError);
    expect(() => map.updateWhere(0, 5, 256, 1, 0, 2)).toThrow(MemattrRangeError);
    expect(() => map.updateWhere(0, 5, 1, 1, 0, -1)).toThrow(MemattrRangeError);
    map.setMemoryLimit(map.linearMemoryBytes());
    let refused = 0;
    for (let k = 0; k < 200 && refused === 0; k++) {
      const g = 1_000_000 + k * 4096 * 3 + 5;
      try {
        map.updateWhere(g, g + 3, 0, 0, 0, 1 + (k % 200)); // fresh chunks: each needs a leaf
      } catch (err) {
        expect(err).toBeInstanceOf(MemattrMemoryError);
        refused++;
      }
    }
    expect(refused).toBe(1);
    map.checkInvariants();
    expect(map.runs(0, 1000)).toEqual(before.filter((r) => r.start < 1000).map((r) => ({ ...r, end: Math.min(r.end, 1000) })));
  });

  test("agrees with a byte-per-page model under random sets and conditional updates", () => {
    const N = 9000; // over two chunk edges
    const op = fc.record({
      start: fc.integer({ min: 0, max: N - 1 }),
      len: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: N })),
      testMask: fc.constantFrom(0, 1, 3, 0x80, 0xff),
      testValue: fc.integer({ min: 0, max: 3 }),
      clearMask: fc.integer({ min: 0, max: 255 }),
      setMask: fc.integer({ min: 0, max: 7 }),
      set: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        map.clear();
        const model = new Uint8Array(N);
        for (const o of ops) {
          const end = Math.min(N, o.start + o.len);
          if (o.set) {
            map.set(o.start, end, o.setMask);
            model.fill(o.setMask, o.start, end);
          } else {
            const tv = o.testValue & o.testMask;
            map.updateWhere(o.start, end, o.testMask, tv, o.clearMask, o.setMask);
            for (let g = o.start; g < end; g++) model[g] = where(model[g]!, o.testMask, tv, o.clearMask, o.setMask);
          }
        }
        const got = new Uint8Array(N);
        for (const r of map.runs(0, N)) got.fill(r.value, r.start, r.end);
        expect(got).toEqual(model);
        map.checkInvariants();
      }),
      { numRuns: 150 },
    );
  });
});
