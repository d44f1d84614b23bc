// GuestMemfdBacking.populatedRanges() as the union of its record and mincore over the host
// mapping: pages populated behind the backing's back (another mapping, another backing of the
// same file) show up; punched pages disappear; the seed still counts.
import { describe, expect, it } from "vitest";
import { MemattrDisposedError } from "../../../src/core/errors.js";
import { GUEST_MEMFD_BACKING_FLAGS, GuestMemfdBacking } from "../../../src/backing/real/gmem.js";
import { Mapping } from "../../../src/kvm/_mapping.js";
import { TWO_REGIONS, expectCode, pageOf, realMissing, withVm } from "./_support.js";

const PAGE = 4096;
/** TWO_REGIONS lay out 64 file pages: gfn 0..31 → file pages 0..31, gfn 0x100..0x11f → 32..63. */
const FILE_BYTES = 64 * PAGE;

describe.skipIf(realMissing)("GuestMemfdBacking.populatedRanges: record ∪ mincore (real guest_memfd)", () => {
  it("reports nothing for a fresh file", () =>
    withVm(async (vm) => {
      using b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
      expect(b.populatedRanges()).toEqual([]);
    }));

  it("sees pages written through a second mapping of the same guest_memfd", () =>
    withVm(async (vm) => {
      using b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
      const second = Mapping.mapShared(b.gmem.fd, FILE_BYTES, 0, "second mapping");
      try {
        second.write(5 * PAGE, pageOf(0x11));
        second.write(6 * PAGE, pageOf(0x12));
        second.write(34 * PAGE, pageOf(0x13)); // file page 34 = gfn 0x102
      } finally {
        second.unmap();
      }
      expect(b.stats.touchCalls).toBe(0); // the backing itself did nothing
      expect(b.populatedRanges()).toEqual([
        { gfn: 5, npages: 2 },
        { gfn: 0x102, npages: 1 },
      ]);
      expect(b.readPage(0x102)[0]).toBe(0x13);
    }));

  it("sees pages a second backing (owned: false) on the same file populated, and merges them with its own", () =>
    withVm(async (vm) => {
      using gmem = vm.createGuestMemfd(FILE_BYTES, GUEST_MEMFD_BACKING_FLAGS);
      using first = await GuestMemfdBacking.attach(gmem, TWO_REGIONS);
      using other = await GuestMemfdBacking.attach(gmem, TWO_REGIONS);
      first.touch(10, 2, true);
      other.touch(12, 3, true); // adjacent: one run in the union
      other.touch(0x11f, 1, true);
      expect(first.populatedRanges()).toEqual([
        { gfn: 10, npages: 5 },
        { gfn: 0x11f, npages: 1 },
      ]);
    }));

  it("drops pages punched behind its back, whether by the file's owner or another backing", () =>
    withVm(async (vm) => {
      using gmem = vm.createGuestMemfd(FILE_BYTES, GUEST_MEMFD_BACKING_FLAGS);
      using b = await GuestMemfdBacking.attach(gmem, TWO_REGIONS);
      using other = await GuestMemfdBacking.attach(gmem, TWO_REGIONS);
      other.touch(0, 8, true);
      other.touch(0x100, 4, true);
      expect(b.populatedRanges()).toEqual([
        { gfn: 0, npages: 8 },
        { gfn: 0x100, npages: 4 },
      ]);
      gmem.punchHole(2 * PAGE, 2 * PAGE);
      other.discard([{ gfn: 0x101, npages: 2 }]);
      expect(b.populatedRanges()).toEqual([
        { gfn: 0, npages: 2 },
        { gfn: 4, npages: 4 },
        { gfn: 0x100, npages: 1 },
        { gfn: 0x103, npages: 1 },
      ]);
      // A page this backing recorded itself stays reported after someone else punched it: the
      // union never loses what the record knows.
      b.touch(20, 1, true);
      gmem.punchHole(20 * PAGE, PAGE);
      expect(b.populatedRanges()).toContainEqual({ gfn: 20, npages: 1 });
      // … until this backing discards it.
      b.discard([{ gfn: 20, npages: 1 }]);
      expect(b.populatedRanges()).not.toContainEqual({ gfn: 20, npages: 1 });
    }));

  it("still reports the seed, which mincore cannot see (pages never faulted in)", () =>
    withVm(async (vm) => {
      using gmem = vm.createGuestMemfd(FILE_BYTES, GUEST_MEMFD_BACKING_FLAGS);
      gmem.write(7 * PAGE, pageOf(1)); // resident, not seeded
      using b = await GuestMemfdBacking.attach(gmem, TWO_REGIONS, {
        populated: [
          { gfn: 3, npages: 2 },
          { gfn: 0x110, npages: 1 },
        ],
      });
      expect(b.populatedRanges()).toEqual([
        { gfn: 3, npages: 2 },
        { gfn: 7, npages: 1 },
        { gfn: 0x110, npages: 1 },
      ]);
      // The seeded pages were not resident: the record alone keeps them.
      expect([...gmem.residentPages(3 * PAGE, 2)].map((v) => v & 1)).toEqual([0, 0]);
    }));

  it("may miss pages fallocate'd but never faulted in (mincore counts up-to-date pages only); prints which", () =>
    withVm(async (vm) => {
      using gmem = vm.createGuestMemfd(FILE_BYTES, GUEST_MEMFD_BACKING_FLAGS);
      using b = await GuestMemfdBacking.attach(gmem, TWO_REGIONS);
      gmem.allocate(9 * PAGE, PAGE);
      const seen = b.populatedRanges();
      // Linux 6.18: allocated guest_memfd folios are not up to date until faulted, and mincore
      // counts only up-to-date ones. Either answer is sound; print which this host gives.
      console.info(`[test/backing] mincore ${seen.length ? "sees" : "does not see"} fallocate'd guest_memfd pages on this kernel`);
      expect(seen.length === 0 || (seen.length === 1 && seen[0]!.gfn === 9)).toBe(true);
    }));

  it("throws EDISPOSED once closed, and once a borrowed guest_memfd is closed", () =>
    withVm(async (vm) => {
      const b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
      b.close();
      expectCode(() => b.populatedRanges(), "EDISPOSED", MemattrDisposedError);
      const gmem = vm.createGuestMemfd(FILE_BYTES, GUEST_MEMFD_BACKING_FLAGS);
      using borrowed = await GuestMemfdBacking.attach(gmem, TWO_REGIONS);
      gmem.close();
      expectCode(() => borrowed.populatedRanges(), "EDISPOSED", MemattrDisposedError);
    }));
});
