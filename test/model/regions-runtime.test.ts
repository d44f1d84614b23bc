// addRegion / removeRegion on a live tracker: memory hotplug and unplug (issue 16).
import { describe, expect, it } from "vitest";
import { MemattrRangeError, MemattrTypeError } from "../../src/core/errors.js";
import { createTracker, OutsideGuestMemoryError, RegionError, type TrackerEvent } from "../../src/model/index.js";

function refusedUnchanged(t: Awaited<ReturnType<typeof createTracker>>, fn: () => unknown, cls: new (...a: never[]) => Error, code: string): void {
  const before = t.snapshot();
  const regions = t.memory.regions();
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(cls);
  expect((caught as { code: string }).code).toBe(code);
  expect(t.snapshot()).toBe(before);
  expect(t.memory.regions()).toEqual(regions);
}

describe("the guest memory map at runtime", () => {
  it("adds a region shared (or private), both backings empty, merged with a neighbour it touches", async () => {
    using t = await createTracker({ regions: [{ gfn: 0, npages: 1024 }] });
    const events: TrackerEvent[] = [];
    t.subscribe((e) => events.push(e));
    t.addRegion({ gfn: 4096, npages: 512 });
    expect(t.memory.regions()).toEqual([
      { gfn: 0, npages: 1024 },
      { gfn: 4096, npages: 512 },
    ]);
    expect(t.memory.npages).toBe(1536);
    expect(t.state(4096)).toMatchObject({ conversion: "shared", shared: "empty", private: "empty" });
    expect(t.pagesIn("shared")).toBe(1536);
    t.addRegion({ gfn: 1024, npages: 1024 }, { initial: "private" }); // touches the first: one region
    expect(t.memory.regions()).toEqual([
      { gfn: 0, npages: 2048 },
      { gfn: 4096, npages: 512 },
    ]);
    expect(t.pagesIn("private")).toBe(1024);
    // a request may now span the old and the added memory
    t.requestConversion({ gfn: 1000, npages: 48, to: "private" }).commit();
    expect(t.isUniform(1000, 1048, "private")).toBe(true);
    t.addRegion({ gfn: 2048, npages: 2048 }); // fills the hole: all one region
    expect(t.memory.regions()).toEqual([{ gfn: 0, npages: 4608 }]);
    expect(events.filter((e) => e.type === "region-added")).toEqual([
      { type: "region-added", gfn: 4096, npages: 512, initial: "shared" },
      { type: "region-added", gfn: 1024, npages: 1024, initial: "private" },
      { type: "region-added", gfn: 2048, npages: 2048, initial: "shared" },
    ]);
  });

  it("refuses an add that overlaps guest memory or is malformed, changing nothing", async () => {
    using t = await createTracker({ regions: [{ gfn: 100, npages: 100 }] });
    refusedUnchanged(t, () => t.addRegion({ gfn: 150, npages: 100 }), RegionError, "EOVERLAP");
    refusedUnchanged(t, () => t.addRegion({ gfn: 0, npages: 101 }), RegionError, "EOVERLAP");
    try {
      t.addRegion({ gfn: 0, npages: 300 });
    } catch (err) {
      expect((err as RegionError).atGfn).toBe(100);
    }
    refusedUnchanged(t, () => t.addRegion({ gfn: -1, npages: 1 }), MemattrRangeError, "ERANGE");
    refusedUnchanged(t, () => t.addRegion({ gfn: 0, npages: 0 }), MemattrRangeError, "ERANGE");
    refusedUnchanged(t, () => t.addRegion({ gfn: 2 ** 40 - 1, npages: 2 }), MemattrRangeError, "ERANGE");
    refusedUnchanged(t, () => t.addRegion({ gfn: "1" as never, npages: 1 }), MemattrTypeError, "EINVALTYPE");
    refusedUnchanged(t, () => t.addRegion(null as never), MemattrTypeError, "EINVALTYPE");
    refusedUnchanged(t, () => t.addRegion({ gfn: 0, npages: 1 }, { initial: "both" as never }), MemattrTypeError, "EINVALTYPE");
  });

  it("removes a range: its state is gone, what was populated is returned, totals exact, re-adding starts clean", async () => {
    using t = await createTracker({ regions: [{ gfn: 0, npages: 4096 }] });
    t.markPopulated("shared", 1000, 100);
    t.requestConversion({ gfn: 1024, npages: 64, to: "private" }).commit();
    t.markPopulated("private", 1024, 32);
    t.markDiscarded("shared", 1024, 16);
    const events: TrackerEvent[] = [];
    t.subscribe((e) => events.push(e));
    expect(t.stalePages("shared")).toBe(48);
    const gone = t.removeRegion({ gfn: 1024, npages: 512 });
    expect(gone).toEqual({
      gfn: 1024,
      npages: 512,
      populated: { shared: [{ gfn: 1040, npages: 60 }], private: [{ gfn: 1024, npages: 32 }] },
    });
    expect(events).toEqual([{ type: "region-removed", ...gone }]);
    expect(t.memory.regions()).toEqual([
      { gfn: 0, npages: 1024 },
      { gfn: 1536, npages: 2560 },
    ]);
    expect(t.pagesIn("private")).toBe(0);
    expect(t.populatedPages("shared")).toBe(24);
    expect(t.populatedPages("private")).toBe(0);
    expect(t.stalePages("shared")).toBe(0);
    expect(t.totalStalePages()).toBe(0);
    expect(t.memory.npages).toBe(3584);
    expect(() => t.requestConversion({ gfn: 1024, npages: 1, to: "private" })).toThrow(OutsideGuestMemoryError);
    expect(() => t.requestConversion({ gfn: 1000, npages: 100, to: "private" })).toThrow(OutsideGuestMemoryError); // straddles the hole
    t.addRegion({ gfn: 1024, npages: 512 });
    expect(t.state(1030)).toMatchObject({ conversion: "shared", shared: "empty", private: "empty" });
    expect(t.memory.regions()).toEqual([{ gfn: 0, npages: 4096 }]);
  });

  it("refuses to remove memory with a pending conversion in it, naming the conversion; or memory that is not guest memory", async () => {
    using t = await createTracker({ regions: [{ gfn: 0, npages: 1024 }] });
    t.requestConversion({ gfn: 10, npages: 4, to: "private" }).commit();
    const c = t.requestConversion({ gfn: 600, npages: 8, to: "private" });
    refusedUnchanged(t, () => t.removeRegion({ gfn: 512, npages: 512 }), RegionError, "EBUSY");
    try {
      t.removeRegion({ gfn: 512, npages: 512 });
    } catch (err) {
      expect(err).toMatchObject({ atGfn: 600, conversionId: c.id });
      expect((err as Error).message).toContain(`#${c.id}`);
    }
    refusedUnchanged(t, () => t.removeRegion({ gfn: 1000, npages: 100 }), OutsideGuestMemoryError, "EOUTSIDE");
    refusedUnchanged(t, () => t.removeRegion({ gfn: 0, npages: 0 }), MemattrRangeError, "ERANGE");
    c.abort();
    t.removeRegion({ gfn: 512, npages: 512 });
    expect(t.memory.regions()).toEqual([{ gfn: 0, npages: 512 }]);
    expect(t.pendingConversions()).toEqual([]);
  });
});
