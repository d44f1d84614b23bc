import { describe, expect, it } from "vitest";
import { GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_CAP, KVM_HC_MAP_GPA_RANGE, KVM_MEMORY_ATTRIBUTE_PRIVATE } from "../../src/uapi/constants.js";
import { KvmArgumentError, KvmCapabilityError, KvmError } from "../../src/kvm/errors.js";
import { SharedMemfd } from "../../src/kvm/memfd.js";
import { Kvm } from "../../src/kvm/system.js";
import type { Vm } from "../../src/kvm/vm.js";
import { capMissing, expectCode, kvmMissing, page } from "./_support.js";

function withVm(fn: (vm: Vm) => void): void {
  using kvm = Kvm.open();
  using vm = kvm.createVm();
  fn(vm);
}

const gmemMissing = capMissing(KVM_CAP.GUEST_MEMFD, "KVM_CAP_GUEST_MEMFD") ?? capMissing(KVM_CAP.USER_MEMORY2, "KVM_CAP_USER_MEMORY2");

describe.skipIf(kvmMissing)("Vm", () => {
  it("creates a default VM and answers VM-scoped KVM_CHECK_EXTENSION", () => {
    withVm((vm) => {
      expect(vm.type).toBe(0);
      expect(vm.checkExtension(KVM_CAP.USER_MEMORY)).toBe(1);
    });
  });

  it.skipIf(capMissing(KVM_CAP.EXIT_HYPERCALL, "KVM_CAP_EXIT_HYPERCALL"))("enables MAP_GPA_RANGE hypercall exits, refuses bits outside the mask", () => {
    withVm((vm) => {
      vm.enableCap(KVM_CAP.EXIT_HYPERCALL, [1n << BigInt(KVM_HC_MAP_GPA_RANGE)]);
      expectCode(() => vm.enableCap(KVM_CAP.EXIT_HYPERCALL, [1n << 40n]), "EINVAL", KvmError);
      expectCode(() => vm.enableCap(KVM_CAP.EXIT_HYPERCALL, [1, 2, 3, 4, 5]), "EINVAL", KvmArgumentError);
    });
  });

  describe.skipIf(gmemMissing)("memslots backed by guest_memfd", () => {
    it("adds, replaces and removes a memslot2 backed by guest_memfd and a shared memfd", () => {
      withVm((vm) => {
        using shared = SharedMemfd.create(page(16));
        using gmem = vm.createGuestMemfd(page(16));
        vm.setUserMemoryRegion2({ slot: 1, guestPhysAddr: 0x100000, memorySizeBytes: page(16), userspaceAddr: shared.address, guestMemfd: gmem });
        expectCode(
          () => vm.setUserMemoryRegion2({ slot: 2, guestPhysAddr: 0x100000, memorySizeBytes: page(16), userspaceAddr: shared.address }),
          "EEXIST",
          KvmError,
        );
        vm.removeUserMemoryRegion2(1);
        vm.setUserMemoryRegion2({ slot: 2, guestPhysAddr: 0x100000, memorySizeBytes: page(16), userspaceAddr: shared.address });
      });
    });
    it("refuses unaligned, overflowing and bad-fd regions", () => {
      withVm((vm) => {
        using shared = SharedMemfd.create(page(4));
        const base = { slot: 0, guestPhysAddr: 0, memorySizeBytes: page(4), userspaceAddr: shared.address };
        expectCode(() => vm.setUserMemoryRegion2({ ...base, guestPhysAddr: 0x123 }), "EINVAL", KvmArgumentError);
        expectCode(() => vm.setUserMemoryRegion2({ ...base, memorySizeBytes: 4095 }), "EINVAL", KvmArgumentError);
        expectCode(() => vm.setUserMemoryRegion2({ ...base, userspaceAddr: shared.address + 1n }), "EINVAL", KvmArgumentError);
        expectCode(() => vm.setUserMemoryRegion2({ ...base, guestPhysAddr: (1n << 64n) - 4096n }), "EINVAL", KvmArgumentError);
        expectCode(() => vm.setUserMemoryRegion2({ ...base, guestMemfd: 987654 }), "EBADF", KvmError);
      });
    });
    it("creates guest_memfd files with each supported flag set", () => {
      withVm((vm) => {
        const supported = vm.checkExtension(KVM_CAP.GUEST_MEMFD_FLAGS);
        const sets = [0, GUEST_MEMFD_FLAG_MMAP, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED].filter((f) => (f & ~supported) === 0);
        if (sets.length === 1) console.warn("[test/kvm] KVM_CAP_GUEST_MEMFD_FLAGS is 0: only flags 0 tested");
        for (const flags of sets) {
          using g = vm.createGuestMemfd(page(4), flags);
          expect(g.flags).toBe(flags);
          expect(g.fd).toBeGreaterThan(2);
        }
      });
    });
    it("refuses zero, unaligned sizes and unknown or unsupported flags before the ioctl", () => {
      withVm((vm) => {
        expectCode(() => vm.createGuestMemfd(0), "EINVAL", KvmArgumentError);
        expectCode(() => vm.createGuestMemfd(page(1) + 1), "EINVAL", KvmArgumentError);
        expectCode(() => vm.createGuestMemfd(page(1), 1 << 8), "EINVAL", KvmArgumentError);
        const missing = (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED) & ~vm.checkExtension(KVM_CAP.GUEST_MEMFD_FLAGS);
        if (missing) expectCode(() => vm.createGuestMemfd(page(1), missing), "ENOCAP", KvmCapabilityError);
      });
    });
  });

  describe("setMemoryAttributes", () => {
    it("sets PRIVATE where KVM_CAP_MEMORY_ATTRIBUTES lists it, else throws ENOCAP naming the capability", () => {
      withVm((vm) => {
        const supported = BigInt(vm.checkExtension(KVM_CAP.MEMORY_ATTRIBUTES));
        const call = () => vm.setMemoryAttributes({ gfn: 0x100, npages: 16 }, KVM_MEMORY_ATTRIBUTE_PRIVATE);
        if (supported & KVM_MEMORY_ATTRIBUTE_PRIVATE) {
          call();
          vm.setMemoryAttributes({ gpa: 0x100000, sizeBytes: page(16) }, 0);
        } else {
          console.warn("[test/kvm] KVM_CAP_MEMORY_ATTRIBUTES lacks PRIVATE here: checking the typed refusal");
          const e = expectCode(call, "ENOCAP", KvmCapabilityError);
          expect(e.capability).toBe("KVM_CAP_MEMORY_ATTRIBUTES");
          expect(e.errno).toBeGreaterThan(0); // the ioctl was really made
        }
      });
    });
    it("refuses empty, unaligned and overflowing ranges with EINVAL", () => {
      withVm((vm) => {
        expectCode(() => vm.setMemoryAttributes({ gpa: 0, sizeBytes: 0 }, 0), "EINVAL", KvmArgumentError);
        expectCode(() => vm.setMemoryAttributes({ gpa: 0x800, sizeBytes: page(1) }, 0), "EINVAL", KvmArgumentError);
        expectCode(() => vm.setMemoryAttributes({ gpa: 0, sizeBytes: 100 }, 0), "EINVAL", KvmArgumentError);
        expectCode(() => vm.setMemoryAttributes({ gpa: (1n << 64n) - 4096n, sizeBytes: page(2) }, 0), "EINVAL", KvmArgumentError);
        expectCode(() => vm.setMemoryAttributes({ gfn: 1n << 52n, npages: 1 }, 0), "EINVAL", KvmArgumentError);
        expectCode(() => vm.setMemoryAttributes({ gfn: -1, npages: 1 }, 0), "EINVAL", KvmArgumentError);
      });
    });
  });

  it("throws EDISPOSED after close", () => {
    using kvm = Kvm.open();
    const vm = kvm.createVm();
    vm.close();
    expectCode(() => vm.createVcpu(0), "EDISPOSED");
    expectCode(() => vm.setMemoryAttributes({ gfn: 0, npages: 1 }, 0), "EDISPOSED");
  });
});
