import { describe, expect, it } from "vitest";
import { KVM_CAP } from "../../src/uapi/constants.js";
import { KvmError } from "../../src/kvm/errors.js";
import { Kvm } from "../../src/kvm/system.js";
import { expectCode, kvmMissing } from "./_support.js";

describe.skipIf(kvmMissing)("Kvm", () => {
  it("reports API version 12 and a vCPU mmap size of at least two pages", () => {
    using kvm = Kvm.open();
    expect(kvm.getApiVersion()).toBe(12);
    expect(kvm.getVcpuMmapSize()).toBeGreaterThanOrEqual(8192);
  });
  it("answers KVM_CHECK_EXTENSION, 0 for an unknown capability", () => {
    using kvm = Kvm.open();
    expect(kvm.checkExtension(KVM_CAP.USER_MEMORY)).toBe(1);
    expect(kvm.checkExtension(100_000)).toBe(0);
  });
  it("builds a capability report that agrees with checkExtension", () => {
    using kvm = Kvm.open();
    const r = kvm.capabilities();
    expect(r.apiVersion).toBe(12);
    expect(r.guestMemfd).toBe(kvm.checkExtension(KVM_CAP.GUEST_MEMFD) > 0);
    expect(r.guestMemfdFlags).toBe(kvm.checkExtension(KVM_CAP.GUEST_MEMFD_FLAGS));
    expect(r.memoryAttributes).toBe(kvm.checkExtension(KVM_CAP.MEMORY_ATTRIBUTES));
    expect(r.exitHypercall).toBe(kvm.checkExtension(KVM_CAP.EXIT_HYPERCALL));
    expect(r.vmTypeNames).toContain("DEFAULT");
  });
  it("fails to open a missing device with ENOENT", () => {
    expectCode(() => Kvm.open("/nonexistent/kvm"), "ENOENT", KvmError);
    expect(Kvm.isAvailable("/nonexistent/kvm")).toBe(false);
  });
  it("refuses an unknown VM type with the kernel's EINVAL", () => {
    using kvm = Kvm.open();
    expectCode(() => kvm.createVm(0x7f), "EINVAL", KvmError);
  });
});
