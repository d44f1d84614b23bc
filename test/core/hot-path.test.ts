// The facade's hot-path reads (src/core/range-map.ts): pagesOfValues reads the core's per-value
// totals without a call each, and forEachRun reuses one scratch array except when nested.
import { describe, expect, test } from "vitest";
import { RangeMap } from "../../src/core/range-map.js";
import { MemattrDisposedError } from "../../src/core/errors.js";

describe("pagesOfValues", () => {
  test("equals the sum of pages() per value, also after memory grew", async () => {
    using map = await RangeMap.create();
    const values = Int32Array.from([0, 1, 2, 7, 200, 255]);
    const sum = () => Array.from(values).reduce((n, v) => n + map.pages(v), 0);
    map.set(0, 2 ** 40, 200);
    map.set(5, 2 ** 39, 7);
    expect(map.pagesOfValues(values)).toBe(sum());
    expect(map.pagesOfValues(Int32Array.from([200]))).toBe(2 ** 40 - 2 ** 39 + 5);
    const linear = map.linearMemoryBytes();
    for (let g = 0; g < 2 ** 24; g += 4096) map.set(g + 1, g + 2, 1 + ((g >> 12) % 3)); // grows memory
    expect(map.linearMemoryBytes()).toBeGreaterThan(linear);
    expect(map.pagesOfValues(values)).toBe(sum());
    map.dispose();
    expect(() => map.pagesOfValues(values)).toThrow(MemattrDisposedError);
  });
});

describe("forEachRun", () => {
  test("a callback that iterates the map itself sees its own runs, and the outer ones stay intact", async () => {
    using map = await RangeMap.create();
    for (let g = 0; g < 40; g += 2) map.set(g, g + 1, 1 + (g % 3));
    const outer: Array<[number, number, number]> = [];
    map.forEachRun(0, 40, (s, e, v) => {
      outer.push([s, e, v]);
      const inner = map.runs(0, 40); // nested: must not clobber the outer copy
      expect(inner.length).toBe(40);
    });
    expect(outer).toEqual(map.runs(0, 40).map((r) => [r.start, r.end, r.value]));
  });

  test("walks more runs than one batch holds, and a single run without copying", async () => {
    using map = await RangeMap.create();
    for (let g = 0; g < 10_000; g += 2) map.set(g, g + 1, 1);
    let n = 0;
    let last = 0;
    map.forEachRun(0, 10_000, (s, e) => {
      expect(s).toBe(last);
      last = e;
      n++;
    });
    expect(n).toBe(10_000);
    const one: number[] = [];
    map.forEachRun(1, 2, (s, e, v) => void one.push(s, e, v));
    expect(one).toEqual([1, 2, 0]);
  });
});
