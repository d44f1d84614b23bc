import { describe, expect, it } from "vitest";
import { ConversionSettledError, Tracker } from "../../src/model/index.js";
import { RangeMap } from "../../src/core/range-map.js";

const guest = async () => new Tracker(await RangeMap.create(), { regions: [{ gfn: 0, npages: 128 }] });

describe("PendingConversion", () => {
  it("carries its request, owned runs and status", async () => {
    const t = await guest();
    t.requestConversion({ gfn: 4, npages: 2, to: "private" }).commit();
    const c = t.requestConversion({ gfn: 0, npages: 10, to: "private", preserve: true });
    expect([c.id, c.gfn, c.npages, c.to, c.preserve, c.source, c.status]).toEqual([2, 0, 10, "private", true, "api", "pending"]);
    expect(c.runs).toEqual([
      { gfn: 0, npages: 4 },
      { gfn: 6, npages: 4 },
    ]);
    expect(c.npagesOwned).toBe(8);
  });

  it("numbers handles from 1 and does not consume ids on refused requests", async () => {
    const t = await guest();
    expect(() => t.requestConversion({ gfn: 200, npages: 1, to: "private" })).toThrow();
    expect(t.requestConversion({ gfn: 0, npages: 1, to: "private" }).id).toBe(1);
  });

  it("settles exactly once", async () => {
    const t = await guest();
    const c = t.requestConversion({ gfn: 0, npages: 1, to: "private" });
    c.abort();
    expect(c.status).toBe("aborted");
    expect(() => c.abort()).toThrow(ConversionSettledError);
    expect(c.status).toBe("aborted");
  });

  it("lists open conversions by id until they settle", async () => {
    const t = await guest();
    const a = t.requestConversion({ gfn: 0, npages: 1, to: "private" });
    const b = t.requestConversion({ gfn: 1, npages: 1, to: "private" });
    expect(t.pendingConversions()).toEqual([a, b]);
    a.commit();
    expect(t.pendingConversions()).toEqual([b]);
  });
});
