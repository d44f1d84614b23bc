/* The VMM loop and the two discard policies: every page of guest RAM tracked in memattr.
 *
 * Short names: gfn page number (gpa >> 12); npages pages; side MEMATTR_SIDE_SHARED (memfd) or
 * MEMATTR_SIDE_PRIVATE (guest_memfd); stale a page populated on the side its attribute no
 * longer uses and not pending back to it; sync reading the kernel's residency of both sides
 * (mincore) into memattr's populated bits.
 *
 * Per conversion request (all its values come from the guest and are checked first):
 *   memattr_conv_request (pages pending) → sync the range → [KVM_SET_MEMORY_ATTRIBUTES, on a
 *   host that has it] → memattr_conv_commit, or memattr_conv_abort when a step failed → the
 *   policy punches (fallocate PUNCH_HOLE | KEEP_SIZE) and memattr_discard records it → status.
 * Refaults come out of memattr_populate: a page populated again after a discard.
 */
#define _GNU_SOURCE
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm_para.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"

_Static_assert(MAP_GPA_RANGE_ENCRYPTED == KVM_MAP_GPA_RANGE_ENCRYPTED, "layout.h's to-private bit");

#define QWORDS_PER_PAGE (PAGE_BYTES / 8)
/* POLICY_LAZY remembers at most this many stale ranges; the oldest is punched to make room. */
#define LAZY_MAX_RANGES 1024
/* memattr_runs reads runs in chunks of this many. */
#define RUNS_CHUNK 64

#define SP MEMATTR_PAGE_SHARED_POPULATED
#define PP MEMATTR_PAGE_PRIVATE_POPULATED
#define PRIV MEMATTR_PAGE_PRIVATE
#define PEND MEMATTR_PAGE_PENDING

static const int sides[2] = { MEMATTR_SIDE_SHARED, MEMATTR_SIDE_PRIVATE };

/* A memattr call that cannot fail unless the VMM has a bug: exits with its error. */
static int64_t ma(int64_t rc, const char *call)
{
	if (rc < 0) {
		fprintf(stderr, "vmm: %s failed: %s (%lld)\n", call, memattr_strerror((int)rc), (long long)rc);
		exit(1);
	}
	return rc;
}

/* A VMM-side failure the run survives: printed now, counted, and the run reports FAILED. */
static void vmm_error(struct vmm *v, const char *fmt, ...)
{
	char msg[sizeof(v->st.error)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmm: %s\n", msg);
	if (v->st.errors++ == 0)
		snprintf(v->st.error, sizeof(v->st.error), "%s", msg);
}

static uint64_t mailbox_get(struct vmm *v, unsigned offset)
{
	uint64_t x;
	memcpy(&x, v->mem->mailbox + offset, sizeof(x));
	return x;
}

static void mailbox_put(struct vmm *v, unsigned offset, uint64_t x)
{
	memcpy(v->mem->mailbox + offset, &x, sizeof(x));
}

static int fd_of(struct vmm *v, int side)
{
	return side == MEMATTR_SIDE_SHARED ? v->mem->shared_fd : v->mem->private_fd;
}

static int is_stale(unsigned value, int side)
{
	if (side == MEMATTR_SIDE_SHARED)
		return (value & (SP | PEND | PRIV)) == (SP | PRIV);
	return (value & (PP | PEND | PRIV)) == PP;
}

/* Stale pages of both sides, from memattr's per-value totals (O(1) in the guest's size). */
static uint64_t stale_pages(struct vmm *v)
{
	return (uint64_t)ma(memattr_pages_matching(v->map, SP | PEND | PRIV, SP | PRIV), "memattr_pages_matching") +
	       (uint64_t)ma(memattr_pages_matching(v->map, PP | PEND | PRIV, PP), "memattr_pages_matching");
}

static void note_peak(struct vmm *v)
{
	uint64_t bytes = (uint64_t)ma(memattr_pages_matching(v->map, SP | PP, SP | PP), "memattr_pages_matching") * PAGE_BYTES;
	if (bytes > v->st.peak_double_bytes)
		v->st.peak_double_bytes = bytes;
}

/* Punches side's pages gfn + npages and records it in memattr. */
static void punch(struct vmm *v, int side, uint64_t gfn, uint64_t npages)
{
	if (fallocate(fd_of(v, side), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(gfn * PAGE_BYTES),
		      (off_t)(npages * PAGE_BYTES)) < 0) {
		vmm_error(v, "fallocate(%s, PUNCH_HOLE | KEEP_SIZE, gfn %#llx, %llu pages) failed: %s (errno %d)",
			  side == MEMATTR_SIDE_SHARED ? "memfd" : "guest_memfd", (unsigned long long)gfn,
			  (unsigned long long)npages, strerror(errno), errno);
		return; /* the pages stay populated, and memattr says so */
	}
	v->st.discard_calls++;
	v->st.discarded_pages += (uint64_t)ma(memattr_discard(v->map, side, gfn, npages), "memattr_discard");
}

/* Punches, side by side, the pages of gfn + npages that are stale now (runs coalesced). */
static void punch_stale_in(struct vmm *v, uint64_t gfn, uint64_t npages)
{
	struct memattr_run runs[RUNS_CHUNK];
	for (int s = 0; s < 2; s++) {
		uint64_t at = gfn, end = gfn + npages, first = 0, last = 0; /* [first, last): stale, not punched yet */
		while (at < end) {
			int64_t n = ma(memattr_runs(v->map, at, end, runs, RUNS_CHUNK), "memattr_runs");
			for (int64_t k = 0; k < n; k++) {
				if (!is_stale(runs[k].value, sides[s]))
					continue;
				if (last != runs[k].start) {
					if (last > first)
						punch(v, sides[s], first, last - first);
					first = runs[k].start;
				}
				last = runs[k].end;
			}
			at = runs[n - 1].end;
		}
		if (last > first)
			punch(v, sides[s], first, last - first);
	}
}

/* ---- POLICY_LAZY: a list of stale ranges, oldest first, one entry per first gfn ---------- */

static void lazy_remove(struct vmm *v, size_t i)
{
	memmove(&v->stale[i], &v->stale[i + 1], (v->nstale - i - 1) * sizeof(v->stale[0]));
	v->nstale--;
}

static void lazy_punch_oldest(struct vmm *v)
{
	struct range r = v->stale[0];
	lazy_remove(v, 0);
	punch_stale_in(v, r.gfn, r.npages); /* pages flipped back since are in use: skipped */
}

/* A range just went stale: it becomes the newest entry (a bounce page flipped out and back
 * moves to the end instead of appearing twice). O(entries): fine for a few hundred. */
static void lazy_remember(struct vmm *v, uint64_t gfn, uint64_t npages)
{
	for (size_t i = 0; i < v->nstale; i++) {
		if (v->stale[i].gfn == gfn) {
			if (v->stale[i].npages > npages)
				npages = v->stale[i].npages;
			lazy_remove(v, i);
			break;
		}
	}
	if (v->nstale == LAZY_MAX_RANGES)
		lazy_punch_oldest(v);
	v->stale[v->nstale++] = (struct range){ gfn, npages };
}

/* Over budget: punch the oldest stale ranges until the stale pages fit again. */
static void lazy_enforce(struct vmm *v)
{
	while (stale_pages(v) > v->budget_pages) {
		if (v->nstale == 0) {
			/* Stale pages no conversion left behind (the guest wrote a side it does not use):
			 * sweep all of RAM. */
			punch_stale_in(v, 0, RAM_PAGES);
			break;
		}
		lazy_punch_oldest(v);
	}
}

/* ---- the two sides' residency ---------------------------------------------------------- */

/*
 * Reads which pages of gfn + npages each side holds (mincore over the VMM's mapping sees the
 * file's pages whoever populated them: the guest through KVM, the device, the boot image) and
 * records them with memattr_populate, counting refaults. 0, or -errno of mincore.
 */
static int sync_residency(struct vmm *v, uint64_t gfn, uint64_t npages)
{
	for (int s = 0; s < 2; s++) {
		uint8_t *base = sides[s] == MEMATTR_SIDE_SHARED ? v->mem->shared_map : v->mem->private_map;
		if (mincore(base + gfn * PAGE_BYTES, npages * PAGE_BYTES, v->residency) < 0)
			return -errno;
		for (uint64_t i = 0; i < npages;) {
			uint64_t j = i;
			while (j < npages && (v->residency[j] & 1))
				j++;
			if (j > i) {
				uint64_t refaults = 0;
				ma(memattr_populate(v->map, sides[s], gfn + i, j - i, &refaults), "memattr_populate");
				v->st.refault_pages += refaults;
			}
			i = j + 1;
		}
	}
	if (v->policy == POLICY_LAZY)
		lazy_enforce(v);
	note_peak(v);
	return 0;
}

/* Counts SECRET_TAG qwords on the shared side of gfn + npages. pread, not the mapping: reading
 * a hole of a shared memfd mapping would allocate a page. */
static void scan_shared(struct vmm *v, uint64_t gfn, uint64_t npages)
{
	uint64_t page[QWORDS_PER_PAGE];
	for (uint64_t p = gfn; p < gfn + npages; p++) {
		if (pread(v->mem->shared_fd, page, PAGE_BYTES, (off_t)(p * PAGE_BYTES)) != PAGE_BYTES) {
			vmm_error(v, "pread(memfd, gfn %#llx) failed: %s", (unsigned long long)p, strerror(errno));
			return;
		}
		for (int i = 0; i < QWORDS_PER_PAGE; i++)
			v->st.leaked_words += (page[i] >> 32) == SECRET_TAG;
	}
}

/* ---- the doorbell ---------------------------------------------------------------------- */

/* The owned ranges of conv into v->owned (before the commit: a settled conversion has none). */
static size_t collect_owned(struct vmm *v, const struct memattr_conv *conv)
{
	if (conv->nranges_owned > v->owned_capacity) {
		v->owned_capacity = conv->nranges_owned;
		v->owned = realloc(v->owned, v->owned_capacity * sizeof(v->owned[0]));
		if (!v->owned)
			fail_syscall("realloc");
	}
	struct memattr_range chunk[RUNS_CHUNK];
	size_t n = 0;
	while (n < conv->nranges_owned) {
		int64_t got = ma(memattr_conv_owned_ranges(v->map, conv, n, chunk, RUNS_CHUNK), "memattr_conv_owned_ranges");
		for (int64_t k = 0; k < got; k++)
			v->owned[n++] = (struct range){ chunk[k].gfn, chunk[k].npages };
		if (got == 0)
			break;
	}
	return n;
}

/* OP_MAP_GPA_RANGE: what KVM_HC_MAP_GPA_RANGE would ask. Returns the status for the guest. */
static int64_t on_map_gpa_range(struct vmm *v)
{
	uint64_t gpa = mailbox_get(v, MB_GPA), npages = mailbox_get(v, MB_NPAGES), attrs = mailbox_get(v, MB_ATTRS);
	struct memattr_conv conv;

	v->st.requests++;
	/* KVM's checks of the hypercall (aligned gpa, npages > 0, no wrap), then the guest's RAM. */
	if ((gpa & (PAGE_BYTES - 1)) || npages == 0 || (attrs & ~(uint64_t)MAP_GPA_RANGE_ENCRYPTED))
		return -EINVAL;
	uint64_t gfn = gpa / PAGE_BYTES;
	if (gfn >= RAM_PAGES || npages > RAM_PAGES - gfn)
		return -EFAULT;
	int to_private = (attrs & MAP_GPA_RANGE_ENCRYPTED) != 0;
	int rc = memattr_conv_request(v->map, gfn, npages, to_private ? MEMATTR_CONV_TO_PRIVATE : 0, &conv);
	if (rc < 0) {
		v->st.refused++;
		return rc == -EBUSY ? -EPERM : -EINVAL; /* pending the other way / anything else */
	}
	size_t nowned = collect_owned(v, &conv);

	/* On a host with KVM_CAP_MEMORY_ATTRIBUTES, KVM_SET_MEMORY_ATTRIBUTES(gfn, npages) goes here,
	 * with the same rule: if it fails, abort. This host has none (the two sides sit at two gpas). */
	int err = sync_residency(v, gfn, npages);
	if (err < 0) {
		ma(memattr_conv_abort(v->map, &conv), "memattr_conv_abort"); /* exactly the state before */
		vmm_error(v, "mincore failed: %s; conversion aborted", strerror(-err));
		return -EIO;
	}
	ma(memattr_conv_commit(v->map, &conv), "memattr_conv_commit");
	v->st.conversions++;

	int left_behind = to_private ? MEMATTR_SIDE_SHARED : MEMATTR_SIDE_PRIVATE;
	for (size_t i = 0; i < nowned; i++) {
		if (v->policy == POLICY_EAGER)
			punch(v, left_behind, v->owned[i].gfn, v->owned[i].npages);
		else
			lazy_remember(v, v->owned[i].gfn, v->owned[i].npages);
		if (!to_private)
			scan_shared(v, v->owned[i].gfn, v->owned[i].npages); /* what the device may read now */
	}
	if (v->policy == POLICY_LAZY)
		lazy_enforce(v);
	note_peak(v);
	return 0;
}

/* 1 when every page of gfn + npages is guest memory, shared, and not pending. */
static int all_shared(struct vmm *v, uint64_t gfn, uint64_t npages)
{
	struct memattr_run runs[RUNS_CHUNK];
	uint64_t at = gfn, end = gfn + npages;
	while (at < end) {
		int64_t n = ma(memattr_runs(v->map, at, end, runs, RUNS_CHUNK), "memattr_runs");
		for (int64_t k = 0; k < n; k++)
			if ((runs[k].value & (MEMATTR_PAGE_GUEST | PRIV | PEND)) != MEMATTR_PAGE_GUEST)
				return 0;
		at = runs[n - 1].end;
	}
	return 1;
}

/* OP_DMA_WRITE: the device writes transaction txn's payload, only into shared pages. */
static int64_t on_dma_write(struct vmm *v)
{
	uint64_t gpa = mailbox_get(v, MB_GPA), npages = mailbox_get(v, MB_NPAGES), txn = mailbox_get(v, MB_TXN);
	if ((gpa & (PAGE_BYTES - 1)) || npages == 0 || npages > BOUNCE_PAGES)
		return -EINVAL;
	uint64_t gfn = gpa / PAGE_BYTES;
	if (gfn >= RAM_PAGES || npages > RAM_PAGES - gfn)
		return -EFAULT;
	if (!all_shared(v, gfn, npages))
		return -EPERM; /* never DMA into a page the guest holds private */
	uint64_t word = (uint64_t)PAYLOAD_TAG << 32 | (uint32_t)txn;
	uint64_t *dst = (uint64_t *)(v->mem->shared_map + gfn * PAGE_BYTES);
	for (uint64_t i = 0; i < npages * QWORDS_PER_PAGE; i++)
		dst[i] = word;
	v->st.dma_writes++;
	return 0;
}

void vmm_on_doorbell(struct vmm *v, uint8_t op)
{
	int64_t status = 0;
	switch (op) {
	case OP_MAP_GPA_RANGE:
		status = on_map_gpa_range(v);
		break;
	case OP_DMA_WRITE:
		status = on_dma_write(v);
		break;
	case OP_DONE:
		v->done = 1;
		break;
	case OP_FAIL:
		v->st.end = END_FAIL;
		v->st.failed_txn = mailbox_get(v, MB_TXN);
		break;
	default:
		status = -EINVAL;
	}
	mailbox_put(v, MB_STATUS, (uint64_t)status);
}

void vmm_on_stop(struct vmm *v, const struct vcpu_exit *exit)
{
	if (exit->kind == VCPU_EXIT_FATAL) {
		v->st.end = END_FATAL;
		vmm_error(v, "the vCPU stopped: %s", exit->detail);
	} else if (v->st.end != END_FAIL) {
		v->st.end = v->done ? END_DONE : END_HALTED;
	}
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void vmm_run(struct vmm *v, struct machine *m)
{
	struct vcpu_exit exit;
	double start = now_ms();
	for (;;) {
		machine_run(m, &exit);
		if (exit.kind != VCPU_EXIT_DOORBELL)
			break;
		vmm_on_doorbell(v, exit.op);
	}
	v->st.wall_ms = now_ms() - start;
	vmm_on_stop(v, &exit);
}

void vmm_init(struct vmm *v, const struct guest_memory *mem, enum policy policy, uint64_t budget_bytes,
	      uint64_t transactions)
{
	memset(v, 0, sizeof(*v));
	v->mem = mem;
	v->policy = policy;
	v->budget_pages = budget_bytes / PAGE_BYTES;
	v->st.transactions = transactions;
	v->st.end = END_RUNNING;
	v->residency = malloc(RAM_PAGES);
	v->stale = malloc(LAZY_MAX_RANGES * sizeof(v->stale[0]));
	if (!v->residency || !v->stale)
		fail_syscall("malloc");
	ma(memattr_map_new(&v->map), "memattr_map_new");
	/* All RAM starts private, as after the firmware accepted it. */
	ma(memattr_guest_add(v->map, 0, RAM_PAGES, 1), "memattr_guest_add");
	/* The boot image is in guest_memfd already: record it, then close the in-place gate. */
	int err = sync_residency(v, 0, RAM_PAGES);
	if (err < 0) {
		errno = -err;
		fail_syscall("mincore");
	}
	ma(memattr_launch(v->map), "memattr_launch");
	mailbox_put(v, MB_TRANSACTIONS, transactions);
}

void vmm_finish(struct vmm *v)
{
	int err = sync_residency(v, 0, RAM_PAGES);
	if (err < 0)
		vmm_error(v, "mincore failed: %s", strerror(-err));
	v->st.final_double_bytes =
		(uint64_t)ma(memattr_pages_matching(v->map, SP | PP, SP | PP), "memattr_pages_matching") * PAGE_BYTES;
	scan_shared(v, 0, RAM_PAGES);
	v->st.verified = mailbox_get(v, MB_VERIFIED);
	ma(memattr_check_invariants(v->map), "memattr_check_invariants");
}

int vmm_ok(const struct vmm_stats *st)
{
	return st->end == END_DONE && st->errors == 0 && st->verified == st->transactions &&
	       st->dma_writes == st->transactions && st->leaked_words == 0;
}

void vmm_free(struct vmm *v)
{
	memattr_map_free(v->map);
	free(v->residency);
	free(v->owned);
	free(v->stale);
}
