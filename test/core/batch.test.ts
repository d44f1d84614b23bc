// RangeMapBatch (src/core/batch.ts): staged commands, one result each, validated when added.
import { describe, expect, test } from "vitest";
import { RangeMap } from "../../src/core/range-map.js";
import { MemattrRangeError, MemattrTypeError } from "../../src/core/errors.js";

describe("RangeMapBatch", () => {
  test("runs sets, updates, gets and uniform checks in order", async () => {
    using map = await RangeMap.create();
    const b = map.batch();
    b.set(0, 512, 1);
    const g = b.get(100);
    b.update(0, 10, 0, 2);
    const g2 = b.get(5);
    const u = b.isUniform(0, 512, 1);
    const uv = b.uniformValue(10, 512);
    const c = b.countInRange(0, 512, 3);
    const r = b.run();
    expect([r[g], r[g2], r[u], r[uv], r[c]]).toEqual([1, 3, 0, 1, 10]);
    expect(b.size).toBe(0);
  });

  test("runs more commands than one Wasm buffer holds", async () => {
    using map = await RangeMap.create();
    const b = map.batch();
    for (let i = 0; i < 5000; i += 2) b.set(i, i + 1, 1);
    const gets = Array.from({ length: 5000 }, (_, i) => b.get(i));
    const results = b.run();
    expect(results.length).toBe(7500);
    expect(gets.map((i) => results[i])).toEqual(Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? 1 : 0)));
    expect(map.runCount()).toBe(5000);
  });

  test("refuses a bad command when it is added", async () => {
    using map = await RangeMap.create();
    const b = map.batch();
    expect(() => b.set(5, 5, 1)).toThrow(MemattrRangeError);
    expect(() => b.get(-0.5)).toThrow(MemattrTypeError);
    expect(() => b.update(0, 1, 0, 256)).toThrow(MemattrRangeError);
    expect(b.size).toBe(0);
  });

  test("stops at the command that cannot get memory, earlier ones applied", async () => {
    using map = await RangeMap.create();
    map.set(1, 2, 1);
    map.setMemoryLimit(map.linearMemoryBytes());
    const b = map.batch();
    expect(() => {
      // adds past 1024 commands run the full buffer, so the error may come from an add
      for (let g = 4096; g < 2 ** 24; g += 4096) b.set(g + 1, g + 2, 1);
      b.run();
    }).toThrow(/batch command \d+.*commands before it stay applied/);
    map.checkInvariants();
    expect(map.get(4097)).toBe(1);
    expect(map.get(2 ** 24 - 4095)).toBe(0);
  });
});
