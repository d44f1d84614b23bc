/* What Debian 12's <linux/kvm.h> (Linux 6.1 uapi) lacks and the example needs, each guarded so
 * that a newer header wins. Values from include/uapi/linux/kvm.h of Linux 6.8 (guest_memfd,
 * KVM_SET_USER_MEMORY_REGION2, their capabilities) and 6.18 (GUEST_MEMFD_FLAG_*,
 * KVM_CAP_GUEST_MEMFD_FLAGS); the same numbers as src/uapi/constants.ts and structs.ts, whose
 * tests pin them, and the ioctl values of /work/shared/DESIGN.md (checked below). */
#ifndef VMM_KVM_COMPAT_H
#define VMM_KVM_COMPAT_H

#include <stddef.h>

#include <linux/kvm.h>
#include <linux/types.h>

#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2 231 /* Linux 6.8 */
#endif
#ifndef KVM_CAP_MEMORY_ATTRIBUTES
#define KVM_CAP_MEMORY_ATTRIBUTES 233 /* Linux 6.8: mask of KVM_MEMORY_ATTRIBUTE_* (0 on the build hosts) */
#endif
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234 /* Linux 6.8 */
#endif
#ifndef KVM_CAP_GUEST_MEMFD_FLAGS
#define KVM_CAP_GUEST_MEMFD_FLAGS 244 /* Linux 6.18: mask of GUEST_MEMFD_FLAG_* */
#endif

/* kvm_userspace_memory_region2.flags: the slot's private memory is a guest_memfd (Linux 6.8). */
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD (1u << 2)
#endif

/* kvm_create_guest_memfd.flags (Linux 6.18): host mmap of the file; every page starts shared
 * (only on VMs without private memory, such as the default VM type used here). */
#ifndef GUEST_MEMFD_FLAG_MMAP
#define GUEST_MEMFD_FLAG_MMAP (1ull << 0)
#endif
#ifndef GUEST_MEMFD_FLAG_INIT_SHARED
#define GUEST_MEMFD_FLAG_INIT_SHARED (1ull << 1)
#endif

#ifndef KVM_SET_USER_MEMORY_REGION2
/* Linux 6.8. 160 bytes; the pads must be zero. */
struct kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;    /* bytes */
	__u64 userspace_addr; /* start of the userspace allocated memory */
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#endif

#ifndef KVM_CREATE_GUEST_MEMFD
/* Linux 6.8. 64 bytes; reserved must be zero. The ioctl returns the new file descriptor. */
struct kvm_create_guest_memfd {
	__u64 size;
	__u64 flags;
	__u64 reserved[6];
};
#define KVM_CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
#endif

#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT 39 /* Linux 6.8 */
#endif

/* The layouts and request numbers as DESIGN.md lists them (computed there with _IOW on x86-64). */
_Static_assert(sizeof(struct kvm_userspace_memory_region2) == 160, "kvm_userspace_memory_region2 is 160 bytes");
_Static_assert(offsetof(struct kvm_userspace_memory_region2, guest_memfd_offset) == 32, "guest_memfd_offset at +32");
_Static_assert(offsetof(struct kvm_userspace_memory_region2, guest_memfd) == 40, "guest_memfd at +40");
_Static_assert(sizeof(struct kvm_create_guest_memfd) == 64, "kvm_create_guest_memfd is 64 bytes");
_Static_assert(KVM_SET_USER_MEMORY_REGION2 == 0x40a0ae49, "KVM_SET_USER_MEMORY_REGION2 is 0x40a0ae49");
_Static_assert(KVM_CREATE_GUEST_MEMFD == 0xc040aed4, "KVM_CREATE_GUEST_MEMFD is 0xc040aed4");

#endif /* VMM_KVM_COMPAT_H */
