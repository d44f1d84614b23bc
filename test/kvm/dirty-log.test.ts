// KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG on real VMs: a slot's log toggled through its flags,
// manual protection with an initially-set log cleared page by page. (Guest writes showing up
// in the log are tested through the mini-VMM's DMA loop, test/vmm.)
import { describe, expect, it } from "vitest";
import { KvmArgumentError, KvmError } from "../../src/kvm/errors.js";
import { SharedMemfd } from "../../src/kvm/memfd.js";
import { Kvm } from "../../src/kvm/system.js";
import { dirtyPagesOf, type Vm } from "../../src/kvm/vm.js";
import { KVM_CAP, KVM_DIRTY_LOG_INITIALLY_SET, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, KVM_MEM_LOG_DIRTY_PAGES } from "../../src/uapi/constants.js";
import { capMissing, capValue, expectCode, kvmMissing, page } from "./_support.js";

function withVm(fn: (vm: Vm) => void): void {
  using kvm = Kvm.open();
  using vm = kvm.createVm();
  fn(vm);
}

const PAGES = 200; // not a multiple of 64: the last word is partial

describe("dirtyPagesOf", () => {
  it("lists the set bits of little-endian 64-bit words, from firstPage", () => {
    const bitmap = new Uint8Array(16);
    bitmap[0] = 0b1001;
    bitmap[8] = 0x80;
    expect(dirtyPagesOf(bitmap)).toEqual([0, 3, 71]);
    expect(dirtyPagesOf(bitmap, 128)).toEqual([128, 131, 199]);
    expect(dirtyPagesOf(new Uint8Array(8))).toEqual([]);
  });
});

describe.skipIf(kvmMissing)("dirty logging", () => {
  it("reads an empty log of a slot with KVM_MEM_LOG_DIRTY_PAGES; ENOENT once logging is off", () => {
    withVm((vm) => {
      using mem = SharedMemfd.create(page(PAGES));
      const region = { slot: 3, guestPhysAddr: 0x100000, memorySizeBytes: page(PAGES), userspaceAddr: mem.address };
      vm.setUserMemoryRegion2({ ...region, flags: KVM_MEM_LOG_DIRTY_PAGES });
      const log = vm.getDirtyLog(3, PAGES);
      expect(log.byteLength).toBe(Math.ceil(PAGES / 64) * 8);
      expect(dirtyPagesOf(log)).toEqual([]); // no guest ran: nothing written through KVM
      vm.setUserMemoryRegion2({ ...region, flags: 0 }); // logging off: a flags-only update
      expectCode(() => vm.getDirtyLog(3, PAGES), "ENOENT", KvmError);
      vm.setUserMemoryRegion2({ ...region, flags: KVM_MEM_LOG_DIRTY_PAGES }); // and on again
      expect(dirtyPagesOf(vm.getDirtyLog(3, PAGES))).toEqual([]);
    });
  });

  it("refuses bad arguments before any ioctl", () => {
    withVm((vm) => {
      expectCode(() => vm.getDirtyLog(3, 0), "EINVAL", KvmArgumentError);
      expectCode(() => vm.getDirtyLog(-1, 8), "EINVAL", KvmArgumentError);
      expectCode(() => vm.clearDirtyLog(3, 1, 64), "EINVAL", KvmArgumentError);
      expectCode(() => vm.clearDirtyLog(3, 0, 128, new Uint8Array(8)), "EINVAL", KvmArgumentError);
    });
  });

  it.skipIf(capMissing(KVM_CAP.MANUAL_DIRTY_LOG_PROTECT2, "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"))(
    "with manual protection and an initially-set log: every page dirty until cleared, cleared pages stay clear",
    () => {
      const flags = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET;
      if ((capValue(KVM_CAP.MANUAL_DIRTY_LOG_PROTECT2) & flags) !== flags) {
        console.warn("[test/kvm] skipping: KVM_DIRTY_LOG_INITIALLY_SET not offered");
        return;
      }
      withVm((vm) => {
        vm.enableCap(KVM_CAP.MANUAL_DIRTY_LOG_PROTECT2, [flags]);
        using mem = SharedMemfd.create(page(PAGES));
        vm.setUserMemoryRegion2({ slot: 1, flags: KVM_MEM_LOG_DIRTY_PAGES, guestPhysAddr: 0x100000, memorySizeBytes: page(PAGES), userspaceAddr: mem.address });
        expect(dirtyPagesOf(vm.getDirtyLog(1, PAGES))).toHaveLength(PAGES);
        // clear pages 64..127 only, then the tail 128..199 (ends at the slot's end: not a multiple of 64)
        vm.clearDirtyLog(1, 64, 64);
        const after = dirtyPagesOf(vm.getDirtyLog(1, PAGES));
        expect(after).toHaveLength(PAGES - 64);
        expect(after.some((p) => p >= 64 && p < 128)).toBe(false);
        vm.clearDirtyLog(1, 128, PAGES - 128);
        expect(dirtyPagesOf(vm.getDirtyLog(1, PAGES))).toEqual(Array.from({ length: 64 }, (_v, i) => i));
        expectCode(() => vm.clearDirtyLog(1, 0, 100), "EINVAL", KvmError); // not a multiple of 64, not the slot's end
      });
    },
  );
});
