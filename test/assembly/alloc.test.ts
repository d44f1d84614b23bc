// The allocator (assembly/alloc.ts): reservations make a failing memory.grow leave the map
// unchanged, and freed blocks are reused before memory grows.
import { describe, expect, test } from "vitest";
import { RangeMap } from "../../src/core/range-map.js";
import { MemattrMemoryError } from "../../src/core/errors.js";

function snapshot(map: RangeMap) {
  return { runs: map.runs(0, 2 ** 40), runCount: map.runCount(), p0: map.pages(0), p1: map.pages(1), bytes: map.memoryBytes() };
}

describe("allocator", () => {
  test("a failing grow throws MemattrMemoryError and leaves the map unchanged", async () => {
    using map = await RangeMap.create();
    map.set(1, 2, 1);
    map.setMemoryLimit(map.linearMemoryBytes()); // no growth from here on
    let failures = 0;
    for (let g = 4096; g < 2 ** 22 && failures === 0; g += 4096) {
      const before = snapshot(map);
      try {
        map.set(g + 1, g + 2, 1); // a new leaf per chunk until memory runs out
      } catch (err) {
        expect(err).toBeInstanceOf(MemattrMemoryError);
        expect((err as MemattrMemoryError).code).toBe("ENOMEM");
        expect(snapshot(map)).toEqual(before);
        failures++;
      }
    }
    expect(failures).toBe(1);
    map.checkInvariants();
    const before = snapshot(map);
    expect(() => map.update(0, 2 ** 40, 0, 2)).toThrow(MemattrMemoryError);
    expect(snapshot(map)).toEqual(before);
    map.setMemoryLimit(2 ** 32);
    map.update(0, 2 ** 40, 0, 2);
    expect(map.get(1)).toBe(3);
    map.checkInvariants();
  });

  test("a map created with maxMemoryBytes refuses to grow past it", async () => {
    using map = await RangeMap.create({ maxMemoryBytes: 4 * 65536 });
    expect(() => {
      for (let g = 0; g < 2 ** 24; g += 4096) map.set(g, g + 1, 1);
    }).toThrow(MemattrMemoryError);
    expect(map.linearMemoryBytes()).toBeLessThanOrEqual(4 * 65536);
    map.checkInvariants();
  });

  test("reuses freed blocks before growing memory", async () => {
    using map = await RangeMap.create();
    for (let round = 0; round < 5; round++) {
      for (let g = 0; g < 2 ** 20; g += 4096) map.set(g + 7, g + 9, 1 + round);
      map.set(0, 2 ** 20, 0);
    }
    const heap = map.heapBytes();
    for (let g = 0; g < 2 ** 20; g += 4096) map.set(g + 7, g + 9, 1);
    expect(map.heapBytes()).toBe(heap);
    map.checkInvariants();
  });

  test("clear() returns every block", async () => {
    using map = await RangeMap.create();
    for (let g = 0; g < 2 ** 20; g += 4096) map.set(g + 7, g + 9, 1);
    expect(map.memoryBytes()).toBeGreaterThan(0);
    map.clear();
    expect(map.memoryBytes()).toBe(0);
    expect(map.heapBytes()).toBe(0);
    expect(map.runCount()).toBe(1);
    expect(map.pages(0)).toBe(2 ** 40);
    map.checkInvariants();
  });
});
