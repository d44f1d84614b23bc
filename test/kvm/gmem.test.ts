import { describe, expect, it } from "vitest";
import { FALLOC_FL_PUNCH_HOLE, sysFallocate } from "../../src/kvm/_syscall.js";
import { GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_CAP } from "../../src/uapi/constants.js";
import { KvmArgumentError, KvmError } from "../../src/kvm/errors.js";
import { Kvm } from "../../src/kvm/system.js";
import { capMissing, expectCode, page } from "./_support.js";

const missing = capMissing(KVM_CAP.GUEST_MEMFD, "KVM_CAP_GUEST_MEMFD");
const SHARED_MMAP = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
const mmapMissing =
  missing ??
  (Kvm.isAvailable() && (withKvm((k) => k.checkExtension(KVM_CAP.GUEST_MEMFD_FLAGS)) & SHARED_MMAP) !== SHARED_MMAP
    ? "GUEST_MEMFD_FLAG_MMAP|INIT_SHARED not in KVM_CAP_GUEST_MEMFD_FLAGS"
    : undefined);
if (mmapMissing && !missing) console.warn(`[test/kvm] skipping guest_memfd mmap tests: ${mmapMissing}`);

function withKvm<T>(fn: (kvm: Kvm) => T): T {
  const kvm = Kvm.open();
  try {
    return fn(kvm);
  } finally {
    kvm.close();
  }
}

describe.skipIf(missing)("GuestMemfd", () => {
  it.skipIf(mmapMissing)("writes through its mmap and reads back; a punched hole reads as zeros", () => {
    withKvm((kvm) => {
      using vm = kvm.createVm();
      using g = vm.createGuestMemfd(page(8), SHARED_MMAP);
      g.write(page(2), new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
      g.write(page(3), new Uint8Array([1]));
      expect(g.read(page(2), 4)).toEqual(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
      g.punchHole(page(2), page(1));
      expect(g.read(page(2), 4)).toEqual(new Uint8Array(4));
      expect(g.read(page(3), 1)).toEqual(new Uint8Array([1])); // the neighbour survives
    });
  });
  it("allocates with KEEP_SIZE; plain allocation is the kernel's EOPNOTSUPP", () => {
    withKvm((kvm) => {
      using vm = kvm.createVm();
      using g = vm.createGuestMemfd(page(8));
      g.allocate(0, page(8));
      g.punchHole(0, page(8));
      expectCode(() => sysFallocate(g.fd, 0, 0, page(1)), "EOPNOTSUPP", KvmError);
      expectCode(() => sysFallocate(g.fd, FALLOC_FL_PUNCH_HOLE, 0, page(1)), "EOPNOTSUPP", KvmError);
    });
  });
  it("refuses unaligned, zero and overflowing ranges before fallocate", () => {
    withKvm((kvm) => {
      using vm = kvm.createVm();
      using g = vm.createGuestMemfd(page(4));
      expectCode(() => g.punchHole(100, page(1)), "EINVAL", KvmArgumentError);
      expectCode(() => g.punchHole(0, 100), "EINVAL", KvmArgumentError);
      expectCode(() => g.allocate(0, 0), "EINVAL", KvmArgumentError);
      expectCode(() => g.allocate(1n << 62n, 1n << 62n), "EINVAL", KvmArgumentError); // offsets past 2^53 are refused (not safe JS numbers)
      expectCode(() => g.punchHole(-4096, page(1)), "EINVAL", KvmArgumentError);
      expectCode(() => g.allocate(page(4), page(1)), "EINVAL", KvmError); // past the end: the kernel's answer
    });
  });
  it("refuses mmap without GUEST_MEMFD_FLAG_MMAP", () => {
    withKvm((kvm) => {
      using vm = kvm.createVm();
      using g = vm.createGuestMemfd(page(1));
      expectCode(() => g.mmap(), "EINVAL", KvmArgumentError);
    });
  });
  it.skipIf(mmapMissing)("closes idempotently; views go to zeros, calls throw EDISPOSED", () => {
    withKvm((kvm) => {
      using vm = kvm.createVm();
      const g = vm.createGuestMemfd(page(2), SHARED_MMAP);
      const view = g.mmap().bytes();
      view[0] = 7;
      g.close();
      g.close();
      expect(view[0]).toBe(0);
      expectCode(() => g.punchHole(0, page(1)), "EDISPOSED");
      expectCode(() => g.read(0, 1), "EDISPOSED");
    });
  });
});
