import { describe, expect, it } from "vitest";
import { MemattrRangeError, MemattrTypeError } from "../../../src/core/errors.js";
import { GuestLayout } from "../../../src/backing/real/_layout.js";
import { OutsideGuestMemoryError } from "../../../src/model/errors.js";
import { TWO_REGIONS, expectCode } from "./_support.js";

const layout = new GuestLayout(TWO_REGIONS);

describe("GuestLayout", () => {
  it("lays regions end to end in ascending gfn order", () => {
    const l = new GuestLayout([
      { gfn: 0x100, npages: 32 },
      { gfn: 0, npages: 32 },
    ]);
    expect(l.regions).toEqual(TWO_REGIONS);
    expect(l.npages).toBe(64);
    expect(l.sizeBytes).toBe(64 * 4096);
    expect(l.offsetBytesOf(0)).toBe(0);
    expect(l.offsetBytesOf(31)).toBe(31 * 4096);
    expect(l.offsetBytesOf(0x100)).toBe(32 * 4096);
    expect(l.offsetBytesOf(0x11f)).toBe(63 * 4096);
  });
  it("merges gfn-adjacent regions into one", () => {
    expect(
      new GuestLayout([
        { gfn: 0, npages: 8 },
        { gfn: 8, npages: 8 },
      ]).regions,
    ).toEqual([{ gfn: 0, npages: 16 }]);
  });
  it("maps file offsets back to gfns", () => {
    expect(layout.gfnAtOffset(0)).toBe(0);
    expect(layout.gfnAtOffset(32 * 4096)).toBe(0x100);
    expect(layout.gfnAtOffset(40 * 4096)).toBe(0x108);
  });
  it("refuses gfns outside guest memory with EOUTSIDE", () => {
    expectCode(() => layout.offsetBytesOf(32), "EOUTSIDE", OutsideGuestMemoryError);
    expectCode(() => layout.offsetBytesOf(0x120), "EOUTSIDE", OutsideGuestMemoryError);
    expectCode(() => layout.filePageOf(30, 4, "discard"), "EOUTSIDE", OutsideGuestMemoryError); // spans the hole
    expectCode(() => layout.filePageOf(0xff, 2, "discard"), "EOUTSIDE", OutsideGuestMemoryError);
  });
  it("refuses non-integers (EINVALTYPE), negative gfns and empty ranges (ERANGE)", () => {
    expectCode(() => layout.filePageOf(1.5, 1, "touch"), "EINVALTYPE", MemattrTypeError);
    expectCode(() => layout.filePageOf(1, Number.NaN, "touch"), "EINVALTYPE", MemattrTypeError);
    expectCode(() => layout.filePageOf(-1, 1, "touch"), "ERANGE", MemattrRangeError);
    expectCode(() => layout.filePageOf(1, 0, "touch"), "ERANGE", MemattrRangeError);
  });
  it("refuses misaligned and out-of-file offsets (ERANGE)", () => {
    expectCode(() => layout.gfnAtOffset(100), "ERANGE", MemattrRangeError);
    expectCode(() => layout.gfnAtOffset(64 * 4096), "ERANGE", MemattrRangeError);
    expectCode(() => layout.gfnAtOffset(-4096), "ERANGE", MemattrRangeError);
  });
  it("splits a file range at the region boundary", () => {
    expect(layout.gfnRangesOfFile(30 * 4096, 4 * 4096)).toEqual([
      { gfn: 30, npages: 2 },
      { gfn: 0x100, npages: 2 },
    ]);
  });
  it("joins file-contiguous ranges of a batch, across the hole too", () => {
    expect(
      layout.coalesceFilePieces(
        [
          { gfn: 1, npages: 2 },
          { gfn: 3, npages: 1 },
          { gfn: 10, npages: 1 },
        ],
        "discard",
      ),
    ).toEqual([1, 3, 10, 1]);
    expect(
      layout.coalesceFilePieces(
        [
          { gfn: 31, npages: 1 },
          { gfn: 0x100, npages: 1 },
        ],
        "discard",
      ),
    ).toEqual([31, 2]);
  });
  it("refuses unsorted or overlapping batches (ERANGE) and checks every range", () => {
    expectCode(
      () =>
        layout.coalesceFilePieces(
          [
            { gfn: 4, npages: 1 },
            { gfn: 2, npages: 1 },
          ],
          "discard",
        ),
      "ERANGE",
      MemattrRangeError,
    );
    expectCode(
      () =>
        layout.coalesceFilePieces(
          [
            { gfn: 4, npages: 2 },
            { gfn: 5, npages: 1 },
          ],
          "discard",
        ),
      "ERANGE",
      MemattrRangeError,
    );
    expectCode(
      () =>
        layout.coalesceFilePieces(
          [
            { gfn: 0, npages: 1 },
            { gfn: 40, npages: 1 },
          ],
          "discard",
        ),
      "EOUTSIDE",
      OutsideGuestMemoryError,
    );
    expectCode(() => layout.coalesceFilePieces([null as never], "discard"), "EINVALTYPE", MemattrTypeError);
  });
  it("compares layouts by their regions", () => {
    expect(layout.sameAs(new GuestLayout([...TWO_REGIONS].reverse()))).toBe(true);
    expect(layout.sameAs(new GuestLayout([{ gfn: 0, npages: 64 }]))).toBe(false);
  });
});
