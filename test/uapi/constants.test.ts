// Every ioctl number, capability and flag against the value in the Linux uapi headers
// (include/uapi/linux/kvm.h, kvm_para.h, arch/x86/include/uapi/asm/kvm.h, kvm_para.h).
import { describe, expect, it } from "vitest";
import * as K from "../../src/uapi/constants.js";

const UAPI_IOCTLS: Record<string, number> = {
  KVM_GET_API_VERSION: 0xae00,
  KVM_CREATE_VM: 0xae01,
  KVM_CHECK_EXTENSION: 0xae03,
  KVM_GET_VCPU_MMAP_SIZE: 0xae04,
  KVM_CREATE_VCPU: 0xae41,
  KVM_GET_DIRTY_LOG: 0x4010ae42,
  KVM_CLEAR_DIRTY_LOG: 0xc018aec0,
  KVM_SET_TSS_ADDR: 0xae47,
  KVM_SET_IDENTITY_MAP_ADDR: 0x4008ae48,
  KVM_SET_USER_MEMORY_REGION2: 0x40a0ae49,
  KVM_ENABLE_CAP: 0x4068aea3,
  KVM_SET_MEMORY_ATTRIBUTES: 0x4020aed2,
  KVM_CREATE_GUEST_MEMFD: 0xc040aed4,
  KVM_RUN: 0xae80,
  KVM_GET_REGS: 0x8090ae81,
  KVM_SET_REGS: 0x4090ae82,
  KVM_GET_SREGS: 0x8138ae83,
  KVM_SET_SREGS: 0x4138ae84,
};

describe("ioctl numbers", () => {
  const groups = { system: K.SYSTEM_IOCTLS, vm: K.VM_IOCTLS, vcpu: K.VCPU_IOCTLS, guest_memfd: K.GUEST_MEMFD_IOCTLS };
  for (const [group, table] of Object.entries(groups)) {
    for (const [name, info] of Object.entries(table)) {
      it(`${group} ${name} = 0x${UAPI_IOCTLS[name]?.toString(16)}`, () => {
        expect(UAPI_IOCTLS[name], `${name} missing from the uapi list`).toBeDefined();
        expect(info.request).toBe(UAPI_IOCTLS[name]);
        expect((K as Record<string, unknown>)[name]).toBe(UAPI_IOCTLS[name]);
      });
    }
  }
  it("names the capability that announces each private-memory ioctl", () => {
    expect(K.VM_IOCTLS.KVM_SET_MEMORY_ATTRIBUTES.cap).toBe("KVM_CAP_MEMORY_ATTRIBUTES");
    expect(K.GUEST_MEMFD_IOCTLS.KVM_CREATE_GUEST_MEMFD.cap).toBe("KVM_CAP_GUEST_MEMFD");
    expect(K.VM_IOCTLS.KVM_SET_USER_MEMORY_REGION2.cap).toBe("KVM_CAP_USER_MEMORY2");
    expect(K.VM_IOCTLS.KVM_CLEAR_DIRTY_LOG.cap).toBe("KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
    expect(K.VM_IOCTLS.KVM_GET_DIRTY_LOG.cap).toBeNull();
  });
  it("maps request numbers back to names", () => {
    expect(K.ioctlName(0x4020aed2)).toBe("KVM_SET_MEMORY_ATTRIBUTES");
    expect(K.ioctlName(0x1234)).toBe("ioctl(0x1234)");
  });
});

describe("capabilities, types and flags", () => {
  it("uses the uapi capability numbers", () => {
    expect(K.KVM_CAP).toMatchObject({
      EXIT_HYPERCALL: 201,
      USER_MEMORY2: 231,
      MEMORY_FAULT_INFO: 232,
      MEMORY_ATTRIBUTES: 233,
      GUEST_MEMFD: 234,
      VM_TYPES: 235,
      GUEST_MEMFD_FLAGS: 244,
      NR_MEMSLOTS: 10,
      MAX_VCPUS: 66,
      CHECK_EXTENSION_VM: 105,
      MANUAL_DIRTY_LOG_PROTECT2: 168,
    });
    expect(K.capabilityName(233)).toBe("KVM_CAP_MEMORY_ATTRIBUTES");
  });
  it("uses the x86 VM types", () => {
    expect([K.KVM_X86_DEFAULT_VM, K.KVM_X86_SW_PROTECTED_VM, K.KVM_X86_SEV_VM, K.KVM_X86_SEV_ES_VM, K.KVM_X86_SNP_VM, K.KVM_X86_TDX_VM]).toEqual([
      0, 1, 2, 3, 4, 5,
    ]);
  });
  it("uses the uapi flag bits", () => {
    expect([K.KVM_MEM_LOG_DIRTY_PAGES, K.KVM_MEM_READONLY, K.KVM_MEM_GUEST_MEMFD]).toEqual([1, 2, 4]);
    expect([K.KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, K.KVM_DIRTY_LOG_INITIALLY_SET]).toEqual([1, 2]);
    expect(K.KVM_MEMORY_ATTRIBUTE_PRIVATE).toBe(8n);
    expect(K.GUEST_MEMFD_FLAG_MMAP).toBe(1);
    expect(K.GUEST_MEMFD_FLAG_INIT_SHARED).toBe(2);
    expect(K.KVM_MEMORY_EXIT_FLAG_PRIVATE).toBe(8);
    expect(K.KVM_EXIT_HYPERCALL_LONG_MODE).toBe(1n);
  });
  it("uses the uapi exit reasons and hypercall numbers", () => {
    expect(K.KVM_EXIT).toMatchObject({ IO: 2, HYPERCALL: 3, HLT: 5, MMIO: 6, SHUTDOWN: 8, FAIL_ENTRY: 9, INTR: 10, INTERNAL_ERROR: 17, MEMORY_FAULT: 39 });
    expect(K.KVM_HC_MAP_GPA_RANGE).toBe(12);
    expect(K.KVM_MAP_GPA_RANGE_ENCRYPTED).toBe(16);
    expect([K.KVM_MAP_GPA_RANGE_PAGE_SZ_4K, K.KVM_MAP_GPA_RANGE_PAGE_SZ_2M, K.KVM_MAP_GPA_RANGE_PAGE_SZ_1G]).toEqual([0, 1, 2]);
  });
});
