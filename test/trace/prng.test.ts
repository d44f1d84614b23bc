import { describe, expect, it } from "vitest";
import { createPrng } from "../../src/trace/index.js";

const draw = (seed: number, n: number) => {
  const r = createPrng(seed);
  return Array.from({ length: n }, () => r.nextU32());
};

describe("createPrng", () => {
  it("gives the same stream for the same seed and different ones for nearby seeds", () => {
    expect(draw(42, 100)).toEqual(draw(42, 100));
    expect(draw(42, 10)).not.toEqual(draw(43, 10));
  });

  it("keeps int() inside inclusive bounds, including spans up to 2^40", () => {
    const r = createPrng(1);
    for (let i = 0; i < 10_000; i++) {
      const v = r.int(3, 5);
      expect(v >= 3 && v <= 5 && Number.isInteger(v)).toBe(true);
      const big = r.int(0, 2 ** 40 - 1);
      expect(big >= 0 && big < 2 ** 40 && Number.isInteger(big)).toBe(true);
    }
  });

  it("covers a small range roughly uniformly and floats stay in [0, 1)", () => {
    const r = createPrng(7);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[r.int(0, 3)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
    for (let i = 0; i < 1000; i++) {
      const f = r.float();
      expect(f >= 0 && f < 1).toBe(true);
    }
  });
});
