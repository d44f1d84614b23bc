/* memattr: the shared/private/pending state of every page of a confidential VM, for C and Rust VMMs.
 *
 * The same WebAssembly core that memattr's JavaScript loads (wasm/memattr.wasm), compiled to C by
 * wasm2c and linked as a static library (libmemattr.a). One map per VM: each map is its own
 * instance with its own linear memory, so maps never share state.
 *
 * Short names used throughout:
 *   gfn     guest frame number: a 4 KiB page index in [0, 2^40) (gpa >> 12)
 *   range   a map range is half-open [start, end) in gfns; a conversion range is gfn + npages
 *   value   the byte a page holds, 0-255; the conversion operations read it as the page-state
 *           encoding MEMATTR_PAGE_* (memattr_abi.h)
 *   side    a page's two backings: MEMATTR_SIDE_SHARED (memfd) and MEMATTR_SIDE_PRIVATE (guest_memfd)
 *
 * Errors: every function that can fail returns 0 (or a non-negative result) on success and a
 * negative errno on failure, the same codes the Wasm exports return (MEMATTR_E_* in
 * memattr_abi.h; memattr_strerror() names them). A failed call leaves the map exactly as it was.
 * A gfn or end above 2^40 is -ERANGE, never rounded.
 *
 * Traps: if the core ever traps (an out-of-bounds access or `unreachable`, which only a bug or
 * corrupted memory can cause), the call returns -ENOTRECOVERABLE instead of killing the
 * process; the map then refuses every call with -ENOTRECOVERABLE and can only be freed.
 *
 * Threads: a map is not thread-safe. Calls on one map must not overlap: use one map per thread,
 * or hold your own lock around each call. Different maps may be used from different threads at
 * the same time, and a trap in one thread's map leaves the others working.
 */
#ifndef MEMATTR_H
#define MEMATTR_H

#include <stddef.h>
#include <stdint.h>

#include "memattr_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One map: a value 0-255 for every page of [0, 2^40), all 0 at creation. */
typedef struct memattr_map memattr_map;

/** A maximal run of equal values, [start, end). */
struct memattr_run {
  uint64_t start;
  uint64_t end;
  uint8_t value;
};

/** A range of pages, npages from gfn. */
struct memattr_range {
  uint64_t gfn;
  uint64_t npages;
};

/* ---- the map ------------------------------------------------------------------------- */

/** Creates a map in a new instance of the core. 0, or -ENOMEM. */
int memattr_map_new(memattr_map **out);

/** Frees a map and its linear memory; NULL is ignored. Works on a map that trapped. */
void memattr_map_free(memattr_map *map);

/** Sets every page of [start, end) to value. 0, -EINVAL (start >= end, value > 255), -ERANGE, -ENOMEM. */
int memattr_set(memattr_map *map, uint64_t start, uint64_t end, unsigned value);

/** v = (v & ~clear_mask) | set_mask on every page of [start, end). Codes as memattr_set. */
int memattr_update(memattr_map *map, uint64_t start, uint64_t end, unsigned clear_mask, unsigned set_mask);

/** The value of page gfn (0-255), or -ERANGE. */
int memattr_get(memattr_map *map, uint64_t gfn);

/** values[i] = the value of page gfns[i] for i < n. 0, or -ERANGE (values before the bad gfn are written). */
int memattr_get_many(memattr_map *map, const uint64_t *gfns, uint8_t *values, size_t n);

/** 1 when every page of [start, end) holds value, 0 when not, or -EINVAL / -ERANGE. */
int memattr_is_uniform(memattr_map *map, uint64_t start, uint64_t end, unsigned value);

/** 1 and *value when all of [start, end) holds one value, 0 when it holds several, or -EINVAL / -ERANGE. */
int memattr_uniform_value(memattr_map *map, uint64_t start, uint64_t end, uint8_t *value);

/** Pages of [start, end) that hold value, or -EINVAL / -ERANGE. */
int64_t memattr_count_in_range(memattr_map *map, uint64_t start, uint64_t end, unsigned value);

/** Pages of the whole map that hold value (O(1)), or -EINVAL for a value above 255. */
int64_t memattr_pages(memattr_map *map, unsigned value);

/** Maximal runs in the whole map (O(1); an empty map is one run). */
int64_t memattr_run_count(memattr_map *map);

/**
 * Writes up to max_runs maximal runs of [start, end), clipped to it, into out; returns how many,
 * or -EINVAL / -ERANGE. When it returns max_runs there may be more: call again from
 * out[max_runs - 1].end.
 */
int64_t memattr_runs(memattr_map *map, uint64_t start, uint64_t end, struct memattr_run *out, size_t max_runs);

/** Sets every page to 0 and forgets every open conversion and the launch flag. 0. */
int memattr_clear(memattr_map *map);

/** Bytes of live tree nodes and leaves: what the map's content costs. */
int64_t memattr_memory_bytes(memattr_map *map);

/** Bytes of linear memory the instance holds now (static data, heap, free blocks). */
int64_t memattr_linear_memory_bytes(memattr_map *map);

/**
 * Caps the instance's linear memory at bytes (rounded down to 64 KiB); an operation that would
 * need more fails with -ENOMEM and changes nothing. 0, or -EINVAL when bytes is below what the
 * instance already holds.
 */
int memattr_set_memory_limit(memattr_map *map, uint64_t bytes);

/** The cap set by memattr_set_memory_limit (4 GiB when none was set). */
uint64_t memattr_memory_limit(memattr_map *map);

/** 0 when every structural invariant holds, else -EFAULT. O(size of the map). */
int memattr_check_invariants(memattr_map *map);

/** A short text for an error code of memattr (or "unknown error"). */
const char *memattr_strerror(int code);

/* ---- the conversion model -------------------------------------------------------------
 * The page-state encoding and the state table of src/model/states.ts, implemented once in
 * the core: a guest request marks the pages it owns pending, the VMM commits it after
 * KVM_SET_MEMORY_ATTRIBUTES succeeded or aborts it (exact rollback) when that failed.
 */

/** An open conversion. slot and id identify it to memattr_conv_commit/abort; the rest describes it. */
struct memattr_conv {
  uint64_t id;           /* unique per map, from 1 */
  uint32_t slot;         /* where the core keeps it */
  uint32_t flags;        /* MEMATTR_CONV_* as requested */
  uint64_t gfn;          /* the requested range */
  uint64_t npages;
  uint64_t npages_owned; /* pages marked pending by this request; the rest needed no change or were joined */
  uint64_t nranges_owned;/* maximal owned ranges (memattr_conv_owned_ranges lists them) */
};

/**
 * Makes npages pages from gfn guest memory, in the shared attribute (or private when
 * initial_private), both backings empty. 0, -EEXIST when a page of it already is guest
 * memory, -EINVAL / -ERANGE, -ENOMEM.
 */
int memattr_guest_add(memattr_map *map, uint64_t gfn, uint64_t npages, int initial_private);

/**
 * Makes npages pages from gfn no longer guest memory (RAM unplugged): every page forgets its
 * attribute and backing state, so a later memattr_guest_add of it starts clean. Read what was
 * populated there first (memattr_runs): that backing is the caller's to drop. 0, or -ENXIO (a
 * page is not guest memory), -EBUSY (a page is pending a conversion: commit or abort it first),
 * -EINVAL / -ERANGE, -ENOMEM; the map unchanged on every error.
 */
int memattr_guest_remove(memattr_map *map, uint64_t gfn, uint64_t npages);

/**
 * A conversion request (the guest's KVM_HC_MAP_GPA_RANGE, or the VMM's own): marks pending the
 * pages of gfn + npages that are settled in the other attribute, joins pages already pending the
 * same way, skips pages already there. flags: MEMATTR_CONV_TO_PRIVATE, MEMATTR_CONV_PRESERVE
 * (in-place encryption, to private, before launch), MEMATTR_CONV_JOIN_ANY_PRESERVE.
 * 0 and *out, or: -ENXIO (a page is not guest memory), -EBUSY (a page is pending the other way,
 * or with another PRESERVE), -EOPNOTSUPP (PRESERVE to shared), -EPERM (PRESERVE after launch),
 * -ENOSPC (MEMATTR_CONV_MAX_OPEN conversions open), -EINVAL, -ERANGE, -ENOMEM.
 */
int memattr_conv_request(memattr_map *map, uint64_t gfn, uint64_t npages, unsigned flags, struct memattr_conv *out);

/** Applies the target attribute to the owned pages. 0, or -ENOENT (not open: settled or unknown), -ENOMEM. */
int memattr_conv_commit(memattr_map *map, const struct memattr_conv *conv);

/** Restores the owned pages to exactly their state before the request. Codes as memattr_conv_commit. */
int memattr_conv_abort(memattr_map *map, const struct memattr_conv *conv);

/** Writes owned ranges from index first, up to max, into out; returns how many, or -ENOENT. */
int64_t memattr_conv_owned_ranges(memattr_map *map, const struct memattr_conv *conv, uint64_t first, struct memattr_range *out, size_t max);

/** Conversions open now. */
int64_t memattr_conv_open_count(memattr_map *map);

/**
 * Decides a KVM_EXIT_MEMORY_FAULT on gfn + npages for an access that needs private (to_private)
 * or shared memory: MEMATTR_FAULT_SPURIOUS (already so: re-enter), MEMATTR_FAULT_IN_FLIGHT (a
 * conversion towards the access is pending), or MEMATTR_FAULT_CONVERT (an implicit request is
 * now open in *out); -ENXIO (outside guest memory) and -EBUSY (pending away from the access)
 * are violations. Nothing changes except for MEMATTR_FAULT_CONVERT.
 */
int memattr_fault(memattr_map *map, uint64_t gfn, uint64_t npages, int to_private, struct memattr_conv *out);

/** Closes the in-place-encryption gate. 0, -EALREADY (launched before), -EINPROGRESS (a preserving conversion is open). */
int memattr_launch(memattr_map *map);

/** 1 after memattr_launch, else 0. */
int memattr_launched(memattr_map *map);

/**
 * Records that side's backing now holds gfn + npages. Returns the pages that were empty (new),
 * and the pages discarded before (refaults) in *refault_pages; or -ENXIO, -EINVAL, -ERANGE, -ENOMEM.
 */
int64_t memattr_populate(memattr_map *map, int side, uint64_t gfn, uint64_t npages, uint64_t *refault_pages);

/** Records that side's backing dropped gfn + npages (hole-punched). Returns the pages freed, or as memattr_populate. */
int64_t memattr_discard(memattr_map *map, int side, uint64_t gfn, uint64_t npages);

/** Pages whose value v has (v & mask) == match, over the whole map (a sum of per-value totals). */
int64_t memattr_pages_matching(memattr_map *map, unsigned mask, unsigned match);

#ifdef __cplusplus
}
#endif

#endif /* MEMATTR_H */
