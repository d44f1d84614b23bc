/* `vmm --dry-run` (dryrun.c): the guest and the VMM without KVM, for tests on hosts with no /dev/kvm. */
#ifndef VMM_DRYRUN_H
#define VMM_DRYRUN_H

#include <stddef.h>
#include <stdint.h>

#include "vmm.h"

struct dryrun {
	struct guest_memory mem; /* memfds where the real run has guest_memfd and memfds */
	int mailbox_fd;
	void *guest_ram;         /* the guest's views, at virtual address = gpa */
	void *guest_alias;
	void *guest_mailbox;
	uint8_t *code;           /* the guest code, executable */
	size_t code_bytes;
};

/* 0; EXIT_SKIPPED with why when the guest's addresses cannot be mapped here; -1 with why on another failure. */
int dryrun_create(struct dryrun *d, const uint8_t *guest_code, size_t guest_code_bytes, char *why, size_t why_bytes);

/* Runs the guest until it halts or faults, handing its doorbell to v. */
void dryrun_run(struct vmm *v, struct dryrun *d);

void dryrun_destroy(struct dryrun *d);

#endif /* VMM_DRYRUN_H */
