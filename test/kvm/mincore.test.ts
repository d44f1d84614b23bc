import { describe, expect, it } from "vitest";
import { MemattrDisposedError } from "../../src/core/errors.js";
import { Mapping } from "../../src/kvm/_mapping.js";
import { MFD_CLOEXEC, syscallsAvailable, sysClose, sysFtruncate, sysMemfdCreate, sysMincore } from "../../src/kvm/_syscall.js";
import { GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_CAP } from "../../src/uapi/constants.js";
import { KvmArgumentError, KvmError } from "../../src/kvm/errors.js";
import { SharedMemfd } from "../../src/kvm/memfd.js";
import { Kvm } from "../../src/kvm/system.js";
import { capMissing, expectCode, page } from "./_support.js";

function withMapping(npages: number, fn: (m: Mapping, fd: number) => void): void {
  const fd = sysMemfdCreate("mincore-test", MFD_CLOEXEC);
  try {
    sysFtruncate(fd, page(npages));
    const m = Mapping.mapShared(fd, page(npages), 0, "test mapping");
    try {
      fn(m, fd);
    } finally {
      m.unmap();
    }
  } finally {
    sysClose(fd);
  }
}

describe.skipIf(!syscallsAvailable())("sysMincore", () => {
  it("refuses a vector too small for the range before calling (the kernel would write past it)", () => {
    withMapping(4, (m) => {
      const e = expectCode(() => sysMincore(m.address, page(4), new Uint8Array(3)), "EINVAL", KvmArgumentError);
      expect(e.argument).toBe("vec");
      // A partial last page still needs its byte.
      expectCode(() => sysMincore(m.address, page(3) + 1, new Uint8Array(3)), "EINVAL", KvmArgumentError);
    });
  });
  it("refuses negative or fractional lengths", () => {
    withMapping(1, (m) => {
      expect(expectCode(() => sysMincore(m.address, -4096, new Uint8Array(1)), "EINVAL", KvmArgumentError).argument).toBe("lengthBytes");
      expectCode(() => sysMincore(m.address, 1.5, new Uint8Array(1)), "EINVAL", KvmArgumentError);
    });
  });
  it("passes the kernel's EINVAL (unaligned address) and ENOMEM (unmapped range) through with hints", () => {
    withMapping(2, (m) => {
      const unaligned = expectCode(() => sysMincore(m.address + 8n, 4096, new Uint8Array(2)), "EINVAL", KvmError);
      expect(unaligned).not.toBeInstanceOf(KvmArgumentError);
      expect(unaligned.op).toBe("mincore");
      expect(unaligned.message).toContain("page aligned");
      // One page past the end of a 2-page mapping is (almost surely) not mapped: see the hint.
      const past = expectCode(() => sysMincore(m.address, page(1 << 20), new Uint8Array(1 << 20)), "ENOMEM", KvmError);
      expect(past.message).toContain("not mapped");
    });
  });
  it("writes one byte per page, bit 0 = resident", () => {
    withMapping(4, (m) => {
      const vec = new Uint8Array(4).fill(0xfe);
      m.write(page(1), new Uint8Array([1]));
      sysMincore(m.address, page(4), vec);
      expect([...vec].map((b) => b & 1)).toEqual([0, 1, 0, 0]);
    });
  });
});

describe.skipIf(!syscallsAvailable())("Mapping.residentPages", () => {
  it("reports pages written through another mapping of the same file, and reuses the vector", () => {
    withMapping(8, (m, fd) => {
      const other = Mapping.mapShared(fd, page(8), 0, "other");
      other.write(page(5), new Uint8Array([9]));
      other.unmap();
      const vec = new Uint8Array(8);
      const got = m.residentPages(page(4), 4, vec);
      expect(got).toBe(vec);
      expect([...got].map((b) => b & 1)).toEqual([0, 1, 0, 0, 0, 0, 0, 0]);
      expect(m.residentPages(0, 8, new Uint8Array(2)).byteLength).toBe(8); // too small: a new one
    });
  });
  it("validates offset, count and range with KvmArgumentError (EINVAL)", () => {
    withMapping(4, (m) => {
      expect(expectCode(() => m.residentPages(100, 1), "EINVAL", KvmArgumentError).argument).toBe("offsetBytes");
      expectCode(() => m.residentPages(-4096, 1), "EINVAL", KvmArgumentError);
      expect(expectCode(() => m.residentPages(0, 0), "EINVAL", KvmArgumentError).argument).toBe("npages");
      expectCode(() => m.residentPages(0, 2.5), "EINVAL", KvmArgumentError);
      expectCode(() => m.residentPages(page(3), 2), "EINVAL", KvmArgumentError);
      expect(m.residentPages(page(3), 1).byteLength).toBe(1);
    });
  });
  it("throws MemattrDisposedError after unmap", () => {
    withMapping(1, (m) => {
      m.unmap();
      expectCode(() => m.residentPages(0, 1), "EDISPOSED", MemattrDisposedError);
    });
  });
  it("SharedMemfd.residentPages sees pwrite'd pages and refuses after close", () => {
    const mem = SharedMemfd.create(page(4));
    mem.write(page(2), new Uint8Array([1]));
    expect([...mem.residentPages(0, 4)].map((b) => b & 1)).toEqual([0, 0, 1, 0]);
    mem.close();
    expectCode(() => mem.residentPages(0, 1), "EDISPOSED", MemattrDisposedError);
  });
});

const gmemMissing = capMissing(KVM_CAP.GUEST_MEMFD, "KVM_CAP_GUEST_MEMFD");

describe.skipIf(gmemMissing)("GuestMemfd.residentPages", () => {
  it("refuses a guest_memfd without GUEST_MEMFD_FLAG_MMAP (no mapping to ask) and a closed one", () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    const plain = vm.createGuestMemfd(page(2), 0);
    expectCode(() => plain.residentPages(0, 1), "EINVAL", KvmArgumentError);
    plain.close();
    const flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
    if ((kvm.checkExtension(KVM_CAP.GUEST_MEMFD_FLAGS) & flags) !== flags) {
      console.warn("[test/kvm] skipping the mapped half: KVM_CAP_GUEST_MEMFD_FLAGS lacks MMAP | INIT_SHARED");
      return;
    }
    const g = vm.createGuestMemfd(page(4), flags);
    expectCode(() => g.residentPages(page(1), 4), "EINVAL", KvmArgumentError);
    g.write(page(3), new Uint8Array([1]));
    expect([...g.residentPages(0, 4)].map((b) => b & 1)).toEqual([0, 0, 0, 1]);
    g.close();
    expectCode(() => g.residentPages(0, 1), "EDISPOSED", MemattrDisposedError);
  });
});
