// FdOwner through its subclasses: idempotent close, Symbol.dispose, typed use-after-close,
// and no descriptor leak over 10 000 objects.
import { describe, expect, it } from "vitest";
import { GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP } from "../../src/uapi/constants.js";
import { SharedMemfd } from "../../src/kvm/memfd.js";
import { Kvm } from "../../src/kvm/system.js";
import { expectCode, fdCount, kvmMissing } from "./_support.js";

describe.skipIf(kvmMissing)("descriptor ownership", () => {
  it("close() is idempotent and later use throws EDISPOSED", () => {
    const kvm = Kvm.open();
    kvm.close();
    kvm.close();
    expect(kvm.closed).toBe(true);
    expectCode(() => kvm.getApiVersion(), "EDISPOSED");
  });
  it("`using` closes at scope exit", () => {
    let escaped: Kvm;
    {
      using kvm = Kvm.open();
      escaped = kvm;
      expect(kvm.closed).toBe(false);
    }
    expect(escaped.closed).toBe(true);
  });
  it("opens and closes 10 000 objects without leaking a descriptor", () => {
    const before = fdCount();
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    const flags = vm.checkExtension(244) & (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
    let made = 0;
    for (let i = 0; i < 2500; i++, made += 4) {
      Kvm.open().close();
      SharedMemfd.create(4096).close();
      const g = vm.createGuestMemfd(4096, flags);
      if (flags & GUEST_MEMFD_FLAG_MMAP) g.write(0, new Uint8Array([1]));
      g.close();
      using s = SharedMemfd.create(8192);
      s.write(0, new Uint8Array([i & 0xff]));
    }
    for (let i = 0; i < 50; i++) {
      const v = kvm.createVm();
      v.createVcpu(0).close();
      v.close();
    }
    vm.close();
    kvm.close();
    expect(made).toBe(10_000);
    expect(fdCount()).toBe(before);
  });
});
