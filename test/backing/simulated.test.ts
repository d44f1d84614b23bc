import { describe, expect, it } from "vitest";
import { SimulatedBacking } from "../../src/backing/index.js";

describe("SimulatedBacking", () => {
  it("counts one discard call per range and says it is simulated", () => {
    const b = new SimulatedBacking("shared");
    b.touch(0, 4, true);
    b.discard([
      { gfn: 0, npages: 2 },
      { gfn: 3, npages: 1 },
    ]);
    expect(b.simulated).toBe(true);
    expect(b.kind).toBe("simulated");
    expect(b.stats).toMatchObject({ discardCalls: 2, discardedPages: 3, touchCalls: 1, touchedPages: 4 });
    expect(b.readPage(0)).toBeNull();
  });

  it("refuses unordered or overlapping discard ranges", () => {
    const b = new SimulatedBacking("private");
    expect(() =>
      b.discard([
        { gfn: 4, npages: 2 },
        { gfn: 5, npages: 1 },
      ]),
    ).toThrow(expect.objectContaining({ code: "ERANGE" }));
  });

  it("tracks contents as tags: writes, holes, copies, discards", () => {
    const shared = new SimulatedBacking("shared", { trackContents: true });
    const priv = new SimulatedBacking("private", { trackContents: true });
    shared.touch(2, 2, true, 7);
    priv.copyFrom(shared, 2, 3);
    expect(priv.tagAt(3)).toBe(7);
    expect(priv.tagAt(4)).toBe(0);
    shared.discard([{ gfn: 2, npages: 2 }]);
    expect(shared.readPage(2)![100]).toBe(0);
    expect(shared.populatedRanges()).toEqual([]);
    expect(priv.populatedRanges()).toEqual([{ gfn: 2, npages: 3 }]);
  });

  it("throws EDISPOSED after close", () => {
    const b = new SimulatedBacking("shared");
    b.close();
    b.close();
    expect(() => b.touch(0, 1, true)).toThrow(expect.objectContaining({ code: "EDISPOSED" }));
  });
});
