/**
 * The paravirtual KVM ABI a confidential guest uses to ask for conversions (pure, browser-safe):
 * `KVM_HC_MAP_GPA_RANGE` (include/uapi/linux/kvm_para.h) and its attribute bits
 * (arch/x86/include/uapi/asm/kvm_para.h), and the private flag of a memory-fault exit
 * (include/uapi/linux/kvm.h). src/model/hypercall.ts decodes them.
 */

/** KVM_HC_MAP_GPA_RANGE, the hypercall number. */
export const KVM_HC_MAP_GPA_RANGE = 12;
/** attrs: page size field mask. */
export const KVM_MAP_GPA_RANGE_PAGE_SZ_MASK = 0xf;
/** attrs: 4 KiB page size. */
export const KVM_MAP_GPA_RANGE_PAGE_SZ_4K = 0;
/** attrs: 2 MiB page size. */
export const KVM_MAP_GPA_RANGE_PAGE_SZ_2M = 1 << 0;
/** attrs: 1 GiB page size. */
export const KVM_MAP_GPA_RANGE_PAGE_SZ_1G = 1 << 1;
/** attrs: the range becomes encrypted (private); clear means decrypted (shared). */
export const KVM_MAP_GPA_RANGE_ENCRYPTED = 1 << 4;
/** Not a bit: the absence of ENCRYPTED means "to shared". */
export const KVM_MAP_GPA_RANGE_DECRYPTED = 0;
/** run.memory_fault.flags: the faulting access was private. */
export const KVM_MEMORY_EXIT_FLAG_PRIVATE = 1 << 3;
