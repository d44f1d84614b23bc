/* The example VMM (vmm.c): memattr tracks every page; the guest's doorbell requests become
 * memattr conversions; a discard policy punches stale backing pages. */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#include <stddef.h>
#include <stdint.h>

#include <memattr.h>

#include "machine.h"

enum policy {
	POLICY_EAGER, /* punch the side a conversion leaves behind at once (what QEMU does) */
	POLICY_LAZY,  /* keep stale pages until they pass a byte budget, then punch the oldest */
};

enum run_end {
	END_RUNNING,
	END_DONE,    /* the guest said done and halted */
	END_FAIL,    /* the guest reported a bad status or payload (stats.failed_txn) */
	END_HALTED,  /* a hlt without done or fail */
	END_FATAL,   /* the vCPU stopped for good (stats.error) */
};

/* What one run measured. Pages are 4 KiB. */
struct vmm_stats {
	uint64_t transactions;     /* asked of the guest */
	uint64_t requests;         /* OP_MAP_GPA_RANGE doorbells */
	uint64_t conversions;      /* requests committed */
	uint64_t refused;          /* requests answered with an error */
	uint64_t dma_writes;       /* payloads the device wrote */
	uint64_t verified;         /* payloads the guest read back correctly (its mailbox counter) */
	uint64_t discard_calls;    /* fallocate(PUNCH_HOLE | KEEP_SIZE) calls, both sides */
	uint64_t discarded_pages;  /* populated pages those calls freed (memattr_discard) */
	uint64_t refault_pages;    /* pages populated again after a discard (memattr_populate) */
	uint64_t peak_double_bytes;  /* most bytes populated on both sides at once */
	uint64_t final_double_bytes;
	uint64_t leaked_words;     /* SECRET_TAG qwords seen on the shared side (must be 0) */
	double wall_ms;            /* first KVM_RUN to the final hlt, VMM work included */
	enum run_end end;
	uint64_t failed_txn;
	unsigned errors;           /* VMM-side failures (each printed when it happened) */
	char error[200];           /* the first of them, or why the vCPU stopped */
};

struct range {
	uint64_t gfn;
	uint64_t npages;
};

struct vmm {
	const struct guest_memory *mem;
	memattr_map *map;
	enum policy policy;
	uint64_t budget_pages; /* POLICY_LAZY: most stale pages kept */
	struct vmm_stats st;
	int done;              /* OP_DONE seen */
	unsigned char *residency;      /* mincore output, RAM_PAGES bytes */
	struct range *owned;           /* owned ranges of the conversion being handled */
	size_t owned_capacity;
	struct range *stale;           /* POLICY_LAZY: ranges in the order they went stale, oldest first */
	size_t nstale;
};

/* Sets up tracking of guest RAM (all private, boot image populated), launches, tells the guest
 * how many transactions to run. Exits on failure. */
void vmm_init(struct vmm *v, const struct guest_memory *mem, enum policy policy, uint64_t budget_bytes,
	      uint64_t transactions);

/* The guest rang the doorbell with op: carries it out and answers in the mailbox's status. */
void vmm_on_doorbell(struct vmm *v, uint8_t op);

/* Records how the run ended (a hlt, or a fatal exit with its detail). */
void vmm_on_stop(struct vmm *v, const struct vcpu_exit *exit);

/* Runs the vCPU of m until the guest halts or stops for good. */
void vmm_run(struct vmm *v, struct machine *m);

/* After the run: residency of all RAM, a last scan of the shared side, the guest's counter. */
void vmm_finish(struct vmm *v);

/* 1 when the run did what it should: done, every payload verified, nothing leaked, no errors. */
int vmm_ok(const struct vmm_stats *st);

void vmm_free(struct vmm *v);

#endif /* VMM_VMM_H */
