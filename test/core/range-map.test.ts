// RangeMap (src/core/range-map.ts): one behaviour per case, every argument error, dispose.
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { RangeMap } from "../../src/core/range-map.js";
import { MemattrDisposedError, MemattrRangeError, MemattrTypeError } from "../../src/core/errors.js";
import { MAX_GFN } from "../../src/core/types.js";

let map: RangeMap;
beforeEach(async () => {
  map = await RangeMap.create();
});
afterEach(() => {
  map.dispose();
});

describe("queries on a new map", () => {
  test("holds 0 on every page as one run", () => {
    expect(map.get(0)).toBe(0);
    expect(map.get(MAX_GFN - 1)).toBe(0);
    expect(map.runCount()).toBe(1);
    expect(map.pages(0)).toBe(MAX_GFN);
    expect(map.runs(0, MAX_GFN)).toEqual([{ start: 0, end: MAX_GFN, value: 0 }]);
    expect(map.memoryBytes()).toBe(0);
  });
});

describe("set", () => {
  test("sets a range and leaves its neighbours", () => {
    map.set(10, 20, 3);
    expect([map.get(9), map.get(10), map.get(19), map.get(20)]).toEqual([0, 3, 3, 0]);
    expect(map.runCount()).toBe(3);
  });

  test("merges equal neighbours", () => {
    map.set(10, 20, 3);
    map.set(20, 30, 3);
    expect(map.runs(0, 40)).toEqual([
      { start: 0, end: 10, value: 0 },
      { start: 10, end: 30, value: 3 },
      { start: 30, end: 40, value: 0 },
    ]);
  });

  test("sets the last page of the page space", () => {
    map.set(MAX_GFN - 1, MAX_GFN, 255);
    expect(map.get(MAX_GFN - 1)).toBe(255);
    expect(map.pages(255)).toBe(1);
    map.checkInvariants();
  });

  test("keeps per-value totals and the run count in step", () => {
    map.set(0, 100, 1);
    map.set(50, 150, 2);
    expect([map.pages(0), map.pages(1), map.pages(2)]).toEqual([MAX_GFN - 150, 50, 100]);
    expect(map.runCount()).toBe(3);
  });
});

describe("update", () => {
  test("changes the masked bits and keeps the others page by page", () => {
    map.set(0, 10, 0b01);
    map.set(10, 20, 0b11);
    map.update(5, 15, 0b01, 0b100);
    expect([map.get(4), map.get(5), map.get(12), map.get(15)]).toEqual([0b01, 0b100, 0b110, 0b11]);
    map.checkInvariants();
  });
});

describe("isUniform and uniformValue", () => {
  test("say whether a range holds one value", () => {
    map.set(100, 612, 2);
    expect(map.isUniform(100, 612, 2)).toBe(true);
    expect(map.isUniform(99, 612, 2)).toBe(false);
    expect(map.uniformValue(100, 612)).toBe(2);
    expect(map.uniformValue(100, 613)).toBe(-1);
  });
});

describe("runs, forEachRun and countInRange", () => {
  test("clip runs to the asked range", () => {
    map.set(10, 20, 1);
    expect(map.runs(15, 25)).toEqual([
      { start: 15, end: 20, value: 1 },
      { start: 20, end: 25, value: 0 },
    ]);
  });

  test("forEachRun stops when the callback returns false", () => {
    for (let g = 0; g < 10_000; g += 2) map.set(g, g + 1, 1);
    let seen = 0;
    map.forEachRun(0, MAX_GFN, () => ++seen < 3000);
    expect(seen).toBe(3000);
  });

  test("runs returns more runs than one Wasm buffer holds", () => {
    for (let g = 0; g < 10_000; g += 2) map.set(g, g + 1, 1);
    const runs = map.runs(0, MAX_GFN);
    expect(runs.length).toBe(10_000); // 5 000 ones, 4 999 zeros between, and the zero tail
    expect(runs[9_999]).toEqual({ start: 9_999, end: MAX_GFN, value: 0 });
  });

  test("countInRange counts the pages of one value", () => {
    for (let g = 0; g < 100; g += 2) map.set(g, g + 1, 1);
    expect(map.countInRange(0, 100, 1)).toBe(50);
    expect(map.countInRange(0, MAX_GFN, 0)).toBe(MAX_GFN - 50);
  });
});

describe("getMany", () => {
  test("reads many pages, across more than one Wasm call", () => {
    map.set(5000, 6000, 4);
    const gfns = Float64Array.from({ length: 10_000 }, (_, i) => i);
    const values = map.getMany(gfns);
    expect(values[4999]).toBe(0);
    expect(values[5000]).toBe(4);
    expect(values[5999]).toBe(4);
    expect(map.getMany([5500, 7000])).toEqual(Uint8Array.from([4, 0]));
  });

  test("throws naming the bad gfn", () => {
    expect(() => map.getMany([1, 2, -3])).toThrow(/gfns\[2\].*-3/);
  });
});

describe("argument errors leave the map unchanged", () => {
  const badRanges: Array<[unknown, unknown, typeof MemattrTypeError | typeof MemattrRangeError]> = [
    [1.5, 10, MemattrTypeError],
    [Number.NaN, 10, MemattrTypeError],
    ["1", 10, MemattrTypeError],
    [0, Infinity, MemattrTypeError],
    [-1, 10, MemattrRangeError],
    [10, 10, MemattrRangeError],
    [11, 10, MemattrRangeError],
    [0, MAX_GFN + 1, MemattrRangeError],
    [MAX_GFN, MAX_GFN + 1, MemattrRangeError],
  ];
  test.each(badRanges)("set(%s, %s) throws its error class", (start, end, kind) => {
    map.set(3, 4, 1);
    expect(() => map.set(start as number, end as number, 2)).toThrow(kind);
    expect(() => map.update(start as number, end as number, 0, 2)).toThrow(kind);
    expect(() => map.isUniform(start as number, end as number, 2)).toThrow(kind);
    expect(() => map.runs(start as number, end as number)).toThrow(kind);
    expect(map.runs(0, MAX_GFN)).toEqual([
      { start: 0, end: 3, value: 0 },
      { start: 3, end: 4, value: 1 },
      { start: 4, end: MAX_GFN, value: 0 },
    ]);
  });

  test("a value outside 0–255 throws MemattrRangeError quoting it", () => {
    expect(() => map.set(0, 1, 256)).toThrow(MemattrRangeError);
    expect(() => map.set(0, 1, -1)).toThrow(/-1/);
    expect(() => map.pages(300)).toThrow(MemattrRangeError);
    expect(() => map.update(0, 1, 0, 999)).toThrow(/setMask.*999/);
  });

  test("a non-integer value throws MemattrTypeError", () => {
    expect(() => map.set(0, 1, 1.5)).toThrow(MemattrTypeError);
    expect(() => map.set(0, 1, "1" as unknown as number)).toThrow(MemattrTypeError);
  });

  test("a bad gfn throws with a stable code", () => {
    try {
      map.get(MAX_GFN);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MemattrRangeError);
      expect((err as MemattrRangeError).code).toBe("ERANGE");
      expect((err as Error).message).toContain("1099511627776");
    }
    expect(() => map.get(0.5)).toThrow(MemattrTypeError);
  });
});

describe("lifecycle", () => {
  test("several maps live at once without sharing state", async () => {
    using other = await RangeMap.create();
    map.set(0, 10, 1);
    other.set(5, 15, 2);
    expect(map.get(7)).toBe(1);
    expect(other.get(7)).toBe(2);
    expect(other.pages(1)).toBe(0);
  });

  test("any call after dispose throws MemattrDisposedError", async () => {
    const m = await RangeMap.create();
    m.dispose();
    expect(() => m.get(0)).toThrow(MemattrDisposedError);
    expect(() => m.set(0, 1, 1)).toThrow(MemattrDisposedError);
    expect(() => m.runs(0, 1)).toThrow(MemattrDisposedError);
    expect(() => m.linearMemoryBytes()).toThrow(MemattrDisposedError);
    m.dispose(); // idempotent
  });

  test("`using` disposes at the end of the block", async () => {
    let escaped: RangeMap;
    {
      using m = await RangeMap.create();
      escaped = m;
    }
    expect(() => escaped.get(0)).toThrow(MemattrDisposedError);
  });

  test("views survive memory growth", () => {
    const before = map.linearMemoryBytes();
    for (let g = 0; g < 2 ** 22; g += 4096) map.set(g + 1, g + 2, 1);
    expect(map.linearMemoryBytes()).toBeGreaterThan(before);
    expect(map.runs(0, 4096 * 3).length).toBe(7);
  });
});
