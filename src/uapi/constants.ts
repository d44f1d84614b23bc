/**
 * KVM numbers (pure, browser-safe): ioctl requests grouped by the descriptor they are issued
 * on, each with the KVM_CAP_* that announces it; capability numbers; VM types; flags; exit
 * reasons; hypercall numbers. Every value is taken from the Linux uapi headers
 * (include/uapi/linux/kvm.h, include/uapi/linux/kvm_para.h, arch/x86/include/uapi/asm/kvm.h,
 * arch/x86/include/uapi/asm/kvm_para.h); request numbers are computed with `_IO*` from the
 * struct sizes in structs.ts / x86.ts, and the tests pin them to the header values.
 */
import { _IO, _IOR, _IOW, _IOWR } from "./ioctl.js";
import {
  KVM_CLEAR_DIRTY_LOG_SIZE,
  KVM_CREATE_GUEST_MEMFD_SIZE,
  KVM_DIRTY_LOG_SIZE,
  KVM_ENABLE_CAP_SIZE,
  KVM_MEMORY_ATTRIBUTES_SIZE,
  KVM_USERSPACE_MEMORY_REGION2_SIZE,
} from "./structs.js";
import { KVM_REGS_SIZE, KVM_SREGS_SIZE } from "./x86.js";

export const KVMIO = 0xae;
export const KVM_API_VERSION = 12;

/* ------------------------------------------------------------------ capabilities */
/** KVM_CAP_* numbers (include/uapi/linux/kvm.h). Values returned by KVM_CHECK_EXTENSION. */
export const KVM_CAP = {
  IRQCHIP: 0,
  HLT: 1,
  USER_MEMORY: 3,
  SET_TSS_ADDR: 4,
  NR_VCPUS: 9, // recommended max vCPUs per VM
  NR_MEMSLOTS: 10, // max memslots per VM
  SYNC_MMU: 16,
  SET_IDENTITY_MAP_ADDR: 37,
  INTERNAL_ERROR_DATA: 40,
  ENABLE_CAP: 54,
  MAX_VCPUS: 66,
  SYNC_REGS: 74,
  READONLY_MEM: 81,
  ENABLE_CAP_VM: 98,
  CHECK_EXTENSION_VM: 105,
  IMMEDIATE_EXIT: 136,
  MANUAL_DIRTY_LOG_PROTECT2: 168, // returns the mask of KVM_DIRTY_LOG_* flags KVM_ENABLE_CAP takes
  X86_DISABLE_EXITS: 143,
  SREGS2: 200,
  EXIT_HYPERCALL: 201, // returns the mask of hypercalls that may exit to user space
  EXIT_ON_EMULATION_FAILURE: 204,
  USER_MEMORY2: 231,
  MEMORY_FAULT_INFO: 232,
  MEMORY_ATTRIBUTES: 233, // returns the mask of supported KVM_MEMORY_ATTRIBUTE_* bits
  GUEST_MEMFD: 234,
  VM_TYPES: 235, // returns a bit mask of supported KVM_X86_*_VM types
  GUEST_MEMFD_FLAGS: 244, // returns the mask of supported GUEST_MEMFD_FLAG_* bits
} as const;
export type KvmCapName = keyof typeof KVM_CAP;

/** `KVM_CAP_X` name for a capability number, for messages. */
export function capabilityName(cap: number): string {
  for (const [name, value] of Object.entries(KVM_CAP)) if (value === cap) return `KVM_CAP_${name}`;
  return `KVM_CAP(${cap})`;
}

/* ------------------------------------------------------------------ ioctls */
/** One ioctl: its request number, the descriptor it goes to, and the capability announcing it. */
export interface IoctlInfo {
  readonly request: number;
  readonly fd: "system" | "vm" | "vcpu";
  /** `KVM_CAP_*` name, or null for the base API (KVM_API_VERSION 12) */
  readonly cap: string | null;
}
const io = (request: number, fd: IoctlInfo["fd"], cap: string | null): IoctlInfo => ({ request, fd, cap });

/** ioctls on the /dev/kvm descriptor. */
export const SYSTEM_IOCTLS = {
  KVM_GET_API_VERSION: io(_IO(KVMIO, 0x00), "system", null),
  KVM_CREATE_VM: io(_IO(KVMIO, 0x01), "system", null), // arg: VM type (KVM_CAP_VM_TYPES)
  KVM_CHECK_EXTENSION: io(_IO(KVMIO, 0x03), "system", null),
  KVM_GET_VCPU_MMAP_SIZE: io(_IO(KVMIO, 0x04), "system", null),
} as const;

/** ioctls on a VM descriptor. */
export const VM_IOCTLS = {
  KVM_CHECK_EXTENSION: io(_IO(KVMIO, 0x03), "vm", "KVM_CAP_CHECK_EXTENSION_VM"),
  KVM_CREATE_VCPU: io(_IO(KVMIO, 0x41), "vm", null),
  KVM_GET_DIRTY_LOG: io(_IOW(KVMIO, 0x42, KVM_DIRTY_LOG_SIZE), "vm", null),
  KVM_SET_TSS_ADDR: io(_IO(KVMIO, 0x47), "vm", "KVM_CAP_SET_TSS_ADDR"),
  KVM_SET_IDENTITY_MAP_ADDR: io(_IOW(KVMIO, 0x48, 8), "vm", "KVM_CAP_SET_IDENTITY_MAP_ADDR"),
  KVM_SET_USER_MEMORY_REGION2: io(_IOW(KVMIO, 0x49, KVM_USERSPACE_MEMORY_REGION2_SIZE), "vm", "KVM_CAP_USER_MEMORY2"),
  KVM_ENABLE_CAP: io(_IOW(KVMIO, 0xa3, KVM_ENABLE_CAP_SIZE), "vm", "KVM_CAP_ENABLE_CAP_VM"),
  KVM_CLEAR_DIRTY_LOG: io(_IOWR(KVMIO, 0xc0, KVM_CLEAR_DIRTY_LOG_SIZE), "vm", "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"),
  KVM_SET_MEMORY_ATTRIBUTES: io(_IOW(KVMIO, 0xd2, KVM_MEMORY_ATTRIBUTES_SIZE), "vm", "KVM_CAP_MEMORY_ATTRIBUTES"),
} as const;

/** ioctls on a vCPU descriptor (x86-64 register structs). */
export const VCPU_IOCTLS = {
  KVM_RUN: io(_IO(KVMIO, 0x80), "vcpu", null),
  KVM_GET_REGS: io(_IOR(KVMIO, 0x81, KVM_REGS_SIZE), "vcpu", null),
  KVM_SET_REGS: io(_IOW(KVMIO, 0x82, KVM_REGS_SIZE), "vcpu", null),
  KVM_GET_SREGS: io(_IOR(KVMIO, 0x83, KVM_SREGS_SIZE), "vcpu", null),
  KVM_SET_SREGS: io(_IOW(KVMIO, 0x84, KVM_SREGS_SIZE), "vcpu", null),
  KVM_ENABLE_CAP: io(_IOW(KVMIO, 0xa3, KVM_ENABLE_CAP_SIZE), "vcpu", "KVM_CAP_ENABLE_CAP"),
} as const;

/**
 * guest_memfd: the one ioctl that makes it (issued on the VM descriptor). A guest_memfd file
 * itself takes no ioctls: it is driven by fallocate (KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE), mmap
 * (with GUEST_MEMFD_FLAG_MMAP) and close; it has no read/write and no llseek (no SEEK_DATA).
 */
export const GUEST_MEMFD_IOCTLS = {
  KVM_CREATE_GUEST_MEMFD: io(_IOWR(KVMIO, 0xd4, KVM_CREATE_GUEST_MEMFD_SIZE), "vm", "KVM_CAP_GUEST_MEMFD"),
} as const;

/** Every ioctl above, by name → request number (vm/vcpu KVM_ENABLE_CAP share a number). */
export const KVM_GET_API_VERSION = SYSTEM_IOCTLS.KVM_GET_API_VERSION.request;
export const KVM_CREATE_VM = SYSTEM_IOCTLS.KVM_CREATE_VM.request;
export const KVM_CHECK_EXTENSION = SYSTEM_IOCTLS.KVM_CHECK_EXTENSION.request;
export const KVM_GET_VCPU_MMAP_SIZE = SYSTEM_IOCTLS.KVM_GET_VCPU_MMAP_SIZE.request;
export const KVM_CREATE_VCPU = VM_IOCTLS.KVM_CREATE_VCPU.request;
export const KVM_SET_TSS_ADDR = VM_IOCTLS.KVM_SET_TSS_ADDR.request;
export const KVM_SET_IDENTITY_MAP_ADDR = VM_IOCTLS.KVM_SET_IDENTITY_MAP_ADDR.request;
export const KVM_SET_USER_MEMORY_REGION2 = VM_IOCTLS.KVM_SET_USER_MEMORY_REGION2.request;
export const KVM_GET_DIRTY_LOG = VM_IOCTLS.KVM_GET_DIRTY_LOG.request;
export const KVM_CLEAR_DIRTY_LOG = VM_IOCTLS.KVM_CLEAR_DIRTY_LOG.request;
export const KVM_ENABLE_CAP = VM_IOCTLS.KVM_ENABLE_CAP.request;
export const KVM_SET_MEMORY_ATTRIBUTES = VM_IOCTLS.KVM_SET_MEMORY_ATTRIBUTES.request;
export const KVM_CREATE_GUEST_MEMFD = GUEST_MEMFD_IOCTLS.KVM_CREATE_GUEST_MEMFD.request;
export const KVM_RUN = VCPU_IOCTLS.KVM_RUN.request;
export const KVM_GET_REGS = VCPU_IOCTLS.KVM_GET_REGS.request;
export const KVM_SET_REGS = VCPU_IOCTLS.KVM_SET_REGS.request;
export const KVM_GET_SREGS = VCPU_IOCTLS.KVM_GET_SREGS.request;
export const KVM_SET_SREGS = VCPU_IOCTLS.KVM_SET_SREGS.request;

/** Request number → name, for error messages. */
export function ioctlName(request: number): string {
  for (const group of [SYSTEM_IOCTLS, VM_IOCTLS, VCPU_IOCTLS, GUEST_MEMFD_IOCTLS]) {
    for (const [name, info] of Object.entries(group)) if (info.request === request) return name;
  }
  return `ioctl(0x${request.toString(16)})`;
}

/* ------------------------------------------------------------------ VM types (x86) */
/** KVM_CREATE_VM machine types (arch/x86/include/uapi/asm/kvm.h); KVM_CAP_VM_TYPES is a mask of 1 << type. */
export const KVM_X86_DEFAULT_VM = 0;
export const KVM_X86_SW_PROTECTED_VM = 1;
export const KVM_X86_SEV_VM = 2;
export const KVM_X86_SEV_ES_VM = 3;
export const KVM_X86_SNP_VM = 4;
export const KVM_X86_TDX_VM = 5;
export const KVM_X86_VM_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "DEFAULT",
  1: "SW_PROTECTED",
  2: "SEV",
  3: "SEV_ES",
  4: "SNP",
  5: "TDX",
};

/* ------------------------------------------------------------------ flags */
/** kvm_userspace_memory_region2.flags */
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
export const KVM_MEM_READONLY = 1 << 1;
export const KVM_MEM_GUEST_MEMFD = 1 << 2;
/** KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) args[0]: KVM_GET_DIRTY_LOG no longer clears (KVM_CLEAR_DIRTY_LOG does). */
export const KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE = 1 << 0;
/** …and a slot's bitmap starts all set when dirty logging is turned on. */
export const KVM_DIRTY_LOG_INITIALLY_SET = 1 << 1;

/** kvm_memory_attributes.attributes; KVM_CAP_MEMORY_ATTRIBUTES returns the supported mask. */
export const KVM_MEMORY_ATTRIBUTE_PRIVATE = 1n << 3n;

/** kvm_create_guest_memfd.flags; KVM_CAP_GUEST_MEMFD_FLAGS returns the supported mask. */
export const GUEST_MEMFD_FLAG_MMAP = 1 << 0;
/** Memory starts shared (mappable by the host); only on VMs without private memory. */
export const GUEST_MEMFD_FLAG_INIT_SHARED = 1 << 1;
export const GUEST_MEMFD_FLAG_NAMES: Readonly<Record<number, string>> = { 1: "MMAP", 2: "INIT_SHARED" };

// run.memory_fault.flags: KVM_MEMORY_EXIT_FLAG_PRIVATE (1 << 3) is defined once, in the model.
/** run.hypercall.flags (x86): the guest was in long mode. */
export const KVM_EXIT_HYPERCALL_LONG_MODE = 1n << 0n;

/* ------------------------------------------------------------------ exits */
export const KVM_EXIT = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  SET_TPR: 11,
  TPR_ACCESS: 12,
  NMI: 16,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
  X86_RDMSR: 29,
  X86_WRMSR: 30,
  X86_BUS_LOCK: 33,
  NOTIFY: 37,
  MEMORY_FAULT: 39,
} as const;
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;
export const KVM_INTERNAL_ERROR_EMULATION = 1;
export const KVM_INTERNAL_ERROR_SIMUL_EX = 2;
export const KVM_INTERNAL_ERROR_DELIVERY_EV = 3;
export const KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;

/* ------------------------------------------------------------------ hypercalls */
export * from "./kvm-para.js";
