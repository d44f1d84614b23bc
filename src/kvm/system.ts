/**
 * `Kvm`: the /dev/kvm descriptor (Node only). One method per system ioctl, plus a report of
 * the capabilities that matter for private memory.
 */
import { existsSync } from "node:fs";
import { FdOwner } from "./_fd.js";
import { ioctlValue, O_CLOEXEC, O_RDWR, syscallsAvailable, sysOpen } from "./_syscall.js";
import { toU32 } from "./_validate.js";
import {
  GUEST_MEMFD_FLAG_NAMES,
  KVM_CAP,
  KVM_CHECK_EXTENSION,
  KVM_GET_API_VERSION,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  KVM_HC_MAP_GPA_RANGE,
  KVM_X86_DEFAULT_VM,
  KVM_X86_VM_TYPE_NAMES,
} from "../uapi/constants.js";
import { Vm } from "./vm.js";

/** What this host's KVM offers for private memory (all from KVM_CHECK_EXTENSION on /dev/kvm). */
export interface KvmCapabilityReport {
  apiVersion: number;
  vcpuMmapSizeBytes: number;
  /** KVM_CAP_GUEST_MEMFD */
  guestMemfd: boolean;
  /** KVM_CAP_GUEST_MEMFD_FLAGS: mask of GUEST_MEMFD_FLAG_* (0 when the cap is unknown) */
  guestMemfdFlags: number;
  guestMemfdFlagNames: string[];
  /** KVM_CAP_USER_MEMORY2 */
  userMemory2: boolean;
  /** KVM_CAP_MEMORY_ATTRIBUTES: mask of KVM_MEMORY_ATTRIBUTE_* (0: KVM_SET_MEMORY_ATTRIBUTES refused) */
  memoryAttributes: number;
  memoryAttributeNames: string[];
  /** KVM_CAP_EXIT_HYPERCALL: mask of hypercall numbers (1 << nr) that may exit to user space */
  exitHypercall: number;
  exitHypercallNames: string[];
  /** KVM_CAP_MEMORY_FAULT_INFO */
  memoryFaultInfo: boolean;
  /** KVM_CAP_VM_TYPES: mask of 1 << KVM_X86_*_VM (0 → only the default type is known) */
  vmTypes: number;
  vmTypeNames: string[];
  /** KVM_CAP_NR_MEMSLOTS */
  nrMemslots: number;
  /** KVM_CAP_MAX_VCPUS */
  maxVcpus: number;
}

/**
 * The KVM system descriptor.
 * @remarks Methods are synchronous syscalls; one object may be used from one thread at a time.
 * @example
 * ```ts
 * import { Kvm } from "memattr/node";
 * if (Kvm.isAvailable()) {
 *   using kvm = Kvm.open();
 *   console.log(kvm.getApiVersion()); // 12
 * }
 * ```
 */
export class Kvm extends FdOwner {
  private constructor(fd: number) {
    super(fd, "Kvm");
  }

  /** True when `path` exists and the FFI (koffi) loads. Never throws. */
  static isAvailable(path = "/dev/kvm"): boolean {
    return existsSync(path) && syscallsAvailable();
  }

  /**
   * Opens /dev/kvm: `open(path, O_RDWR | O_CLOEXEC)`.
   * @param path - the KVM device, default "/dev/kvm"
   * @throws KvmError ENOENT/EACCES when the device is missing or not permitted
   * @throws MemattrUnsupportedError when koffi is not installed
   */
  static open(path = "/dev/kvm"): Kvm {
    return new Kvm(sysOpen(path, O_RDWR | O_CLOEXEC));
  }

  /**
   * KVM_GET_API_VERSION.
   * @returns 12 on every kernel since 2.6.22
   * @throws MemattrDisposedError after close()
   */
  getApiVersion(): number {
    return ioctlValue(this.fd, KVM_GET_API_VERSION);
  }

  /**
   * KVM_CHECK_EXTENSION on /dev/kvm.
   * @param cap - a KVM_CAP_* number (see `KVM_CAP`)
   * @returns 0 when absent; otherwise 1 or a cap-specific value (a mask, a count)
   * @throws MemattrDisposedError after close()
   */
  checkExtension(cap: number): number {
    return ioctlValue(this.fd, KVM_CHECK_EXTENSION, toU32("KVM_CHECK_EXTENSION", "cap", cap));
  }

  /**
   * KVM_GET_VCPU_MMAP_SIZE.
   * @returns bytes to mmap from a vCPU descriptor (kvm_run plus the PIO page …)
   */
  getVcpuMmapSize(): number {
    return ioctlValue(this.fd, KVM_GET_VCPU_MMAP_SIZE);
  }

  /**
   * KVM_CREATE_VM.
   * @param type - a KVM_X86_*_VM type; default KVM_X86_DEFAULT_VM
   * @returns the new VM (its own descriptor; closing this Kvm does not close it)
   * @throws KvmError EINVAL when the type is not in KVM_CAP_VM_TYPES
   */
  createVm(type: number = KVM_X86_DEFAULT_VM): Vm {
    return Vm._create(this.fd, toU32("KVM_CREATE_VM", "type", type), this.getVcpuMmapSize());
  }

  /** Capabilities relevant to private memory, from KVM_CHECK_EXTENSION on /dev/kvm. */
  capabilities(): KvmCapabilityReport {
    const c = (cap: number): number => this.checkExtension(cap);
    const guestMemfdFlags = c(KVM_CAP.GUEST_MEMFD_FLAGS);
    const memoryAttributes = c(KVM_CAP.MEMORY_ATTRIBUTES);
    const exitHypercall = c(KVM_CAP.EXIT_HYPERCALL);
    const vmTypes = c(KVM_CAP.VM_TYPES);
    return {
      apiVersion: this.getApiVersion(),
      vcpuMmapSizeBytes: this.getVcpuMmapSize(),
      guestMemfd: c(KVM_CAP.GUEST_MEMFD) > 0,
      guestMemfdFlags,
      guestMemfdFlagNames: bitNames(guestMemfdFlags, (b) => GUEST_MEMFD_FLAG_NAMES[1 << b]),
      userMemory2: c(KVM_CAP.USER_MEMORY2) > 0,
      memoryAttributes,
      memoryAttributeNames: bitNames(memoryAttributes, (b) => (1n << BigInt(b) === KVM_MEMORY_ATTRIBUTE_PRIVATE ? "PRIVATE" : undefined)),
      exitHypercall,
      exitHypercallNames: bitNames(exitHypercall, (b) => (b === KVM_HC_MAP_GPA_RANGE ? "MAP_GPA_RANGE" : undefined)),
      memoryFaultInfo: c(KVM_CAP.MEMORY_FAULT_INFO) > 0,
      vmTypes,
      vmTypeNames: vmTypes === 0 ? ["DEFAULT"] : bitNames(vmTypes, (b) => KVM_X86_VM_TYPE_NAMES[b]),
      nrMemslots: c(KVM_CAP.NR_MEMSLOTS),
      maxVcpus: c(KVM_CAP.MAX_VCPUS),
    };
  }
}

/** Names of the set bits of `mask`; unknown bits appear as "bit N". */
export function bitNames(mask: number, name: (bit: number) => string | undefined): string[] {
  const out: string[] = [];
  for (let b = 0; b < 32; b++) if ((mask >>> b) & 1) out.push(name(b) ?? `bit ${b}`);
  return out;
}
