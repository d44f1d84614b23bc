import { describe, expect, it } from "vitest";
import { MemattrDisposedError, MemattrRangeError } from "../../../src/core/errors.js";
import { GUEST_MEMFD_FLAG_MMAP } from "../../../src/uapi/constants.js";
import { KvmArgumentError } from "../../../src/kvm/errors.js";
import { GUEST_MEMFD_BACKING_FLAGS, GuestMemfdBacking } from "../../../src/backing/real/gmem.js";
import { pagePattern } from "../../../src/backing/real/_mapped.js";
import { OutsideGuestMemoryError } from "../../../src/model/errors.js";
import { TWO_REGIONS, expectCode, fdCount, isZero, pageOf, realMissing, withVm } from "./_support.js";

describe.skipIf(realMissing)("GuestMemfdBacking (real guest_memfd, MMAP|INIT_SHARED)", () => {
  it("writes one byte per page on touch, reads it back, and records the pages", () =>
    withVm(async (vm) => {
      using b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
      b.touch(2, 3, true);
      b.touch(0x100, 1, true, 0x5a);
      for (const g of [2, 3, 4]) expect(b.readPage(g)[0]).toBe(pagePattern(g));
      expect(b.readPage(0x100)[0]).toBe(0x5a);
      expect(b.populatedRanges()).toEqual([
        { gfn: 2, npages: 3 },
        { gfn: 0x100, npages: 1 },
      ]);
      expect(b.stats).toMatchObject({ touchCalls: 2, touchedPages: 4 });
    }));
  it("discards to zeros (the kernel really dropped the page) and drops it from the record", () =>
    withVm(async (vm) => {
      using b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
      b.writePage(6, pageOf(undefined, 6));
      b.touch(7, 1, true, 0x77);
      b.discard([{ gfn: 6, npages: 1 }]);
      expect(b.populatedRanges()).toEqual([{ gfn: 7, npages: 1 }]);
      expect(b.gmem.read(6 * 4096, 4096)).toEqual(new Uint8Array(4096)); // read straight from the kernel's file
      expect(b.readPage(7)[0]).toBe(0x77);
      expect(b.stats).toMatchObject({ discardCalls: 1, discardedPages: 1 });
      expect(b.stats.discardNs).toBeGreaterThan(0);
    }));
  it("refaults a discarded page on the next touch", () =>
    withVm(async (vm) => {
      using b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
      b.touch(9, 1, true, 1);
      b.discard([{ gfn: 9, npages: 1 }]);
      b.touch(9, 1, true, 2);
      expect(b.readPage(9)[0]).toBe(2);
      expect(b.populatedRanges()).toEqual([{ gfn: 9, npages: 1 }]);
    }));
  it("discards a batch across two regions at the right offsets", () =>
    withVm(async (vm) => {
      using b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
      b.touch(0, 32, true, 0x11);
      b.touch(0x100, 32, true, 0x22);
      b.discard([
        { gfn: 31, npages: 1 },
        { gfn: 0x100, npages: 1 },
        { gfn: 0x110, npages: 2 },
      ]);
      expect(b.stats.discardCalls).toBe(2); // 31 and 0x100 are file pages 31 and 32: one call
      expect(b.populatedRanges()).toEqual([
        { gfn: 0, npages: 31 },
        { gfn: 0x101, npages: 15 },
        { gfn: 0x112, npages: 14 },
      ]);
      expect([30, 31, 32, 33, 47, 48, 49, 50].map((p) => b.gmem.read(p * 4096, 1)[0])).toEqual([0x11, 0, 0, 0x22, 0x22, 0, 0, 0x22]);
    }));
  it("refuses out-of-guest and malformed input with typed errors, punching nothing", () =>
    withVm(async (vm) => {
      using b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
      b.touch(0, 2, true);
      expectCode(
        () =>
          b.discard([
            { gfn: 0, npages: 1 },
            { gfn: 0x120, npages: 1 },
          ]),
        "EOUTSIDE",
        OutsideGuestMemoryError,
      );
      expectCode(() => b.touch(31, 2, true), "EOUTSIDE", OutsideGuestMemoryError);
      expectCode(() => b.discard([{ gfn: 1, npages: -1 }]), "ERANGE", MemattrRangeError);
      expect(b.populatedRanges()).toEqual([{ gfn: 0, npages: 2 }]);
      expect(b.gmem.read(0, 1)[0]).toBe(pagePattern(0));
    }));
  it("knows pages populated before attach from the seed it is given (guest_memfd has no SEEK_DATA)", () =>
    withVm(async (vm) => {
      using gmem = vm.createGuestMemfd(64 * 4096, GUEST_MEMFD_BACKING_FLAGS);
      gmem.write(3 * 4096, pageOf(0xab));
      gmem.write(33 * 4096, pageOf(0xcd)); // file page 33 = gfn 0x101
      // what a tracker would pass: tracker.populatedRuns("private")
      using b = await GuestMemfdBacking.attach(gmem, TWO_REGIONS, {
        populated: [
          { gfn: 3, npages: 1 },
          { gfn: 0x101, npages: 1 },
        ],
      });
      expect(b.populatedRanges()).toEqual([
        { gfn: 3, npages: 1 },
        { gfn: 0x101, npages: 1 },
      ]);
      expect(b.readPage(0x101)[0]).toBe(0xcd);
      b.discard([{ gfn: 3, npages: 1 }]);
      expect(b.populatedRanges()).toEqual([{ gfn: 0x101, npages: 1 }]);
      expect(isZero(gmem.read(3 * 4096, 4096))).toBe(true);
      b.close();
      expect(gmem.closed).toBe(false);
    }));
  it("refuses a guest_memfd without MMAP|INIT_SHARED (no host data path) and a seed outside guest memory", () =>
    withVm(async (vm) => {
      using plain = vm.createGuestMemfd(64 * 4096, 0);
      using mmapOnly = vm.createGuestMemfd(64 * 4096, GUEST_MEMFD_FLAG_MMAP); // pages start private: a host access would fault
      await expect(GuestMemfdBacking.attach(mmapOnly, TWO_REGIONS)).rejects.toBeInstanceOf(KvmArgumentError);
      await expect(GuestMemfdBacking.attach(plain, TWO_REGIONS)).rejects.toBeInstanceOf(KvmArgumentError);
      using good = vm.createGuestMemfd(64 * 4096, GUEST_MEMFD_BACKING_FLAGS);
      await expect(GuestMemfdBacking.attach(good, TWO_REGIONS, { populated: [{ gfn: 40, npages: 1 }] })).rejects.toBeInstanceOf(OutsideGuestMemoryError);
      using small = vm.createGuestMemfd(8 * 4096, GUEST_MEMFD_BACKING_FLAGS);
      await expect(GuestMemfdBacking.attach(small, TWO_REGIONS)).rejects.toBeInstanceOf(MemattrRangeError);
    }));
  it("closes idempotently; use after close is EDISPOSED", () =>
    withVm(async (vm) => {
      const b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
      b.close();
      b.close();
      expect(b.gmem.closed).toBe(true);
      expectCode(() => b.touch(0, 1, true), "EDISPOSED", MemattrDisposedError);
      expectCode(() => b.populatedRanges(), "EDISPOSED", MemattrDisposedError);
      expectCode(() => b.discard([{ gfn: 0, npages: 1 }]), "EDISPOSED", MemattrDisposedError);
    }));
  it("leaks no descriptor over 300 create/close cycles", () =>
    withVm(async (vm) => {
      const before = fdCount();
      for (let i = 0; i < 300; i++) {
        using b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
        b.touch(i % 32, 1, true);
        b.discard([{ gfn: i % 32, npages: 1 }]);
      }
      expect(fdCount()).toBe(before);
    }));
});
