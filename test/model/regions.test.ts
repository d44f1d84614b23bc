import { describe, expect, it } from "vitest";
import { MemattrRangeError, MemattrTypeError } from "../../src/core/errors.js";
import { GuestMemoryMap, ramRegions } from "../../src/model/index.js";

describe("guest memory map", () => {
  it("splits RAM below 3 GiB and above 4 GiB", () => {
    expect(ramRegions(2 ** 30)).toEqual([{ gfn: 0, npages: 262144 }]);
    expect(ramRegions(3 * 2 ** 30)).toEqual([{ gfn: 0, npages: 786432 }]);
    expect(ramRegions(8 * 2 ** 30)).toEqual([
      { gfn: 0, npages: 786432 },
      { gfn: 1048576, npages: 1310720 },
    ]);
    expect(ramRegions(4 * 2 ** 30, 2 * 2 ** 30)).toEqual([
      { gfn: 0, npages: 524288 },
      { gfn: 1048576, npages: 524288 },
    ]);
  });

  it("refuses unaligned or non-integer RAM sizes", () => {
    expect(() => ramRegions(4097)).toThrow(MemattrRangeError);
    expect(() => ramRegions(NaN)).toThrow(MemattrTypeError);
    expect(() => ramRegions(0)).toThrow(MemattrRangeError);
  });

  it("sorts regions, merges adjacent ones and counts pages", () => {
    const m = new GuestMemoryMap([
      { gfn: 100, npages: 10 },
      { gfn: 0, npages: 50 },
      { gfn: 50, npages: 10 },
    ]);
    expect(m.regions()).toEqual([
      { gfn: 0, npages: 60 },
      { gfn: 100, npages: 10 },
    ]);
    expect(m.npages).toBe(70);
    expect(m.contains(40, 20)).toBe(true); // spans the merged boundary
    expect(m.contains(55, 10)).toBe(false); // runs into the hole
    expect(m.contains(109, 1)).toBe(true);
    expect(m.contains(110, 1)).toBe(false);
    expect(m.regionOf(60)).toBe(-1);
  });

  it("refuses an empty, overlapping or out-of-range map", () => {
    expect(() => new GuestMemoryMap([])).toThrow(MemattrRangeError);
    expect(
      () =>
        new GuestMemoryMap([
          { gfn: 0, npages: 10 },
          { gfn: 5, npages: 10 },
        ]),
    ).toThrow(/overlap/);
    expect(() => new GuestMemoryMap([{ gfn: 2 ** 40 - 1, npages: 2 }])).toThrow(MemattrRangeError);
    expect(() => new GuestMemoryMap([{ gfn: 0, npages: 0 }])).toThrow(MemattrRangeError);
    expect(() => new GuestMemoryMap([{ gfn: -1, npages: 1 }])).toThrow(MemattrRangeError);
    expect(() => new GuestMemoryMap([null as never])).toThrow(MemattrTypeError);
  });
});
