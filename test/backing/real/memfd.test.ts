import { describe, expect, it } from "vitest";
import { MemattrDisposedError, MemattrRangeError, MemattrTypeError } from "../../../src/core/errors.js";
import { SharedMemfd } from "../../../src/kvm/memfd.js";
import { SharedMemfdBacking } from "../../../src/backing/real/memfd.js";
import { pagePattern } from "../../../src/backing/real/_mapped.js";
import { OutsideGuestMemoryError } from "../../../src/model/errors.js";
import { TWO_REGIONS, expectCode, fdCount, isZero, pageOf, realMissing } from "./_support.js";

describe.skipIf(realMissing)("SharedMemfdBacking (real memfd)", () => {
  it("writes one byte per page on touch and reads it back", () => {
    using b = SharedMemfdBacking.create(TWO_REGIONS);
    b.touch(2, 3, true);
    b.touch(0x100, 1, true, 0x5a);
    for (const g of [2, 3, 4]) expect(b.readPage(g)[0]).toBe(pagePattern(g));
    expect(b.readPage(0x100)[0]).toBe(0x5a);
    expect(b.readPage(5)[0]).toBe(0);
    expect(b.populatedRanges()).toEqual([
      { gfn: 2, npages: 3 },
      { gfn: 0x100, npages: 1 },
    ]);
    expect(b.stats).toMatchObject({ touchCalls: 2, touchedPages: 4, discardCalls: 0 });
  });
  it("populates pages on a read touch too (shmem allocates on a read fault)", () => {
    using b = SharedMemfdBacking.create(TWO_REGIONS);
    b.touch(7, 2, false);
    expect(b.populatedRanges()).toEqual([{ gfn: 7, npages: 2 }]);
    expect(isZero(b.readPage(7))).toBe(true);
  });
  it("discards to zeros and really frees: SEEK_DATA no longer finds the page, st_blocks drop", () => {
    using b = SharedMemfdBacking.create(TWO_REGIONS);
    b.touch(0, 16, true, 0xee);
    const before = b.allocatedBytes();
    expect(before).toBeGreaterThanOrEqual(16 * 4096);
    b.discard([{ gfn: 4, npages: 8 }]);
    expect(b.populatedRanges()).toEqual([
      { gfn: 0, npages: 4 },
      { gfn: 12, npages: 4 },
    ]);
    expect(before - b.allocatedBytes()).toBe(8 * 4096);
    expect(isZero(b.readPage(4))).toBe(true);
    expect(b.readPage(3)[0]).toBe(0xee);
    expect(b.stats).toMatchObject({ discardCalls: 1, discardedPages: 8 });
    expect(b.stats.discardNs).toBeGreaterThan(0);
  });
  it("refaults a discarded page on the next touch", () => {
    using b = SharedMemfdBacking.create(TWO_REGIONS);
    b.touch(9, 1, true, 1);
    b.discard([{ gfn: 9, npages: 1 }]);
    b.touch(9, 1, true, 2);
    expect(b.readPage(9)[0]).toBe(2);
    expect(b.populatedRanges()).toEqual([{ gfn: 9, npages: 1 }]);
  });
  it("discards across two regions: file-contiguous neighbours in one call, others at their own offsets", () => {
    using b = SharedMemfdBacking.create(TWO_REGIONS);
    b.touch(0, 32, true, 0x11);
    b.touch(0x100, 32, true, 0x22);
    b.discard([
      { gfn: 31, npages: 1 },
      { gfn: 0x100, npages: 1 },
    ]); // last of region 0, first of region 1
    expect(b.stats.discardCalls).toBe(1);
    b.discard([
      { gfn: 5, npages: 1 },
      { gfn: 0x105, npages: 2 },
    ]);
    expect(b.stats.discardCalls).toBe(3);
    expect(b.populatedRanges()).toEqual([
      { gfn: 0, npages: 5 },
      { gfn: 6, npages: 25 },
      { gfn: 0x101, npages: 4 },
      { gfn: 0x107, npages: 25 },
    ]);
    expect(b.readPage(30)[0]).toBe(0x11);
    expect(b.readPage(0x101)[0]).toBe(0x22);
    // gfn 0x100 + k sits at file page 32 + k: 0x105..0x106 punched at file pages 37..38
    expect([36, 37, 38, 39].map((p) => b.memfd.read(p * 4096, 1)[0])).toEqual([0x22, 0, 0, 0x22]);
  });
  it("refuses an out-of-guest range with EOUTSIDE and punches nothing of the batch", () => {
    using b = SharedMemfdBacking.create(TWO_REGIONS);
    b.touch(0, 4, true);
    expectCode(
      () =>
        b.discard([
          { gfn: 0, npages: 1 },
          { gfn: 40, npages: 1 },
        ]),
      "EOUTSIDE",
      OutsideGuestMemoryError,
    );
    expectCode(() => b.touch(30, 4, true), "EOUTSIDE", OutsideGuestMemoryError);
    expectCode(() => b.readPage(0x200), "EOUTSIDE", OutsideGuestMemoryError);
    expect(b.populatedRanges()).toEqual([{ gfn: 0, npages: 4 }]);
    expect(b.stats.discardCalls).toBe(0);
  });
  it("refuses misaligned or malformed input with typed errors", () => {
    using b = SharedMemfdBacking.create(TWO_REGIONS);
    expectCode(() => b.touch(0.5, 1, true), "EINVALTYPE", MemattrTypeError);
    expectCode(() => b.discard([{ gfn: 0, npages: 0 }]), "ERANGE", MemattrRangeError);
    expectCode(
      () =>
        b.discard([
          { gfn: 3, npages: 1 },
          { gfn: 1, npages: 1 },
        ]),
      "ERANGE",
      MemattrRangeError,
    );
    expectCode(() => b.touch(0, 1, true, 256), "ERANGE", MemattrRangeError);
    expectCode(() => b.layout.gfnAtOffset(4097), "ERANGE", MemattrRangeError);
    expectCode(() => b.writePage(0, new Uint8Array(4097)), "ERANGE", MemattrRangeError);
  });
  it("finds pages written before attach through SEEK_DATA, without notifications", () => {
    using memfd = SharedMemfd.create(64 * 4096);
    memfd.write(3 * 4096, pageOf(0xab));
    memfd.write(33 * 4096, pageOf(0xcd)); // file page 33 = gfn 0x101
    memfd.write(31 * 4096, pageOf(0xef)); // gfn 31, file-adjacent to gfn 0x100 but not gfn-adjacent
    memfd.write(32 * 4096, pageOf(0x01));
    using b = SharedMemfdBacking.attach(memfd, TWO_REGIONS);
    expect(b.populatedRanges()).toEqual([
      { gfn: 3, npages: 1 },
      { gfn: 31, npages: 1 },
      { gfn: 0x100, npages: 2 },
    ]);
    expect(b.readPage(0x101)[0]).toBe(0xcd);
    b.close();
    expect(memfd.closed).toBe(false); // attach does not take ownership unless asked
  });
  it("closes idempotently; use after close is EDISPOSED", () => {
    const b = SharedMemfdBacking.create(TWO_REGIONS);
    b.close();
    b.close();
    b[Symbol.dispose]();
    expect(b.memfd.closed).toBe(true);
    expectCode(() => b.touch(0, 1, true), "EDISPOSED", MemattrDisposedError);
    expectCode(() => b.discard([]), "EDISPOSED", MemattrDisposedError);
    expectCode(() => b.populatedRanges(), "EDISPOSED", MemattrDisposedError);
    expectCode(() => b.readPage(0), "EDISPOSED", MemattrDisposedError);
  });
  it("leaks no descriptor over 500 create/close cycles", () => {
    const before = fdCount();
    for (let i = 0; i < 500; i++) {
      using b = SharedMemfdBacking.create(TWO_REGIONS);
      b.touch(i % 32, 1, true);
    }
    expect(fdCount()).toBe(before);
  });
});
