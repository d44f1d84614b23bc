/* The example's VM on /dev/kvm (machine.c): one VM, three memslots (layout.h), one vCPU
 * started in 64-bit long mode; and the interface the VMM (vmm.c) sees of any guest. */
#ifndef VMM_MACHINE_H
#define VMM_MACHINE_H

#include <stddef.h>
#include <stdint.h>

/* Exit code of a run that could not happen here (no /dev/kvm, a capability missing). */
#define EXIT_SKIPPED 77

/* The two sides of guest RAM and the mailbox, as the VMM sees them. */
struct guest_memory {
	int private_fd;       /* guest_memfd: the private side (punched with fallocate) */
	uint8_t *private_map; /* its mapping, RAM_BYTES: the boot image is written through it, mincore reads it */
	int shared_fd;        /* memfd: the shared side */
	uint8_t *shared_map;  /* its mapping, RAM_BYTES: the device writes DMA data through it */
	uint8_t *mailbox;     /* the mailbox page */
};

/* Why the vCPU stopped, as far as the VMM cares. */
enum vcpu_exit_kind {
	VCPU_EXIT_DOORBELL, /* `out DOORBELL_PORT, al`: op = al */
	VCPU_EXIT_HLT,
	VCPU_EXIT_FATAL, /* shutdown, failed entry, internal error, …: detail says which */
};

struct vcpu_exit {
	enum vcpu_exit_kind kind;
	uint8_t op;
	char detail[160];
};

struct machine {
	int kvm_fd;
	int vm_fd;
	int vcpu_fd;
	int mailbox_fd;
	struct kvm_run *run; /* the vCPU's mapping, run_bytes long (KVM_GET_VCPU_MMAP_SIZE) */
	size_t run_bytes;
	struct guest_memory mem;
};

/* Prints "vmm: <call> failed: <strerror> (errno N)" to stderr and exits 1. */
_Noreturn void fail_syscall(const char *call);

/*
 * Whether this host can run the example: kvm_path opens, the API version is 12,
 * KVM_CAP_USER_MEMORY2 and KVM_CAP_GUEST_MEMFD are there and KVM_CAP_GUEST_MEMFD_FLAGS has
 * MMAP | INIT_SHARED (on /dev/kvm and on a VM). 0, or EXIT_SKIPPED with one line in why.
 */
int machine_probe(const char *kvm_path, char *why, size_t why_bytes);

/* Creates the VM, its memory, memslots and vCPU, and loads the boot image and code. Exits on failure. */
void machine_create(struct machine *m, const char *kvm_path, const uint8_t *code, size_t code_bytes);

/* Writes the GDT, the page tables and the code into guest RAM (ram = gpa 0). */
void machine_write_boot_image(uint8_t *ram, const uint8_t *code, size_t code_bytes);

/* KVM_RUN until the guest rings the doorbell, halts or stops for good; answers the rest itself. */
void machine_run(struct machine *m, struct vcpu_exit *exit);

void machine_destroy(struct machine *m);

#endif /* VMM_MACHINE_H */
