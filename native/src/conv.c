/* The conversion-model part of memattr.h over the core's conv.ts exports.
 *
 * The state machine itself (what a request owns, conflicts, join, commit, exact abort, the
 * launch gate, a memory fault's decision, the backing bits) runs inside the core, the same code
 * JavaScript calls; this file only checks integers before they become doubles, enters the guard
 * (internal.h), and copies the core's result slots (MEMATTR_OUT_*, f64 at convOut()) into the
 * caller's structs.
 *
 * Short names: conv = an open conversion (struct memattr_conv), named to the core by its slot and
 * id; out = the core's result slots.
 */
#include "internal.h"

/** Result slot i of the last conversion call. */
static inline double conv_out(memattr_map *map, uint32_t out_at, int i)
{
	return memattr_load_f64(map, out_at + 8 * (uint32_t)i);
}

/** Fills *conv from the result slots of a request the core just opened. */
static void conv_opened(memattr_map *map, uint32_t out_at, uint64_t gfn, uint64_t npages, unsigned flags,
			struct memattr_conv *conv)
{
	conv->id = (uint64_t)conv_out(map, out_at, MEMATTR_OUT_ID);
	conv->slot = (uint32_t)conv_out(map, out_at, MEMATTR_OUT_SLOT);
	conv->flags = flags;
	conv->gfn = gfn;
	conv->npages = npages;
	conv->npages_owned = (uint64_t)conv_out(map, out_at, MEMATTR_OUT_OWNED_PAGES);
	conv->nranges_owned = (uint64_t)conv_out(map, out_at, MEMATTR_OUT_OWNED_RANGES);
}

/** The core's id of a conversion (ids are exact doubles up to 2^53; the core makes them one by one). */
static inline double conv_id_f64(const struct memattr_conv *conv)
{
	return (double)(int64_t)conv->id;
}

int memattr_guest_add(memattr_map *map, uint64_t gfn, uint64_t npages, int initial_private)
{
	struct memattr_guard guard;
	uint64_t end;
	int rc;

	rc = memattr_check_pages(gfn, npages, &end);
	if (rc)
		return rc;
	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_guestAdd(&map->core, memattr_gfn_f64(gfn), memattr_gfn_f64(end),
					  initial_private ? 1 : 0);
	memattr_leave(&guard);
	return rc;
}

int memattr_guest_remove(memattr_map *map, uint64_t gfn, uint64_t npages)
{
	struct memattr_guard guard;
	uint64_t end;
	int rc;

	rc = memattr_check_pages(gfn, npages, &end);
	if (rc)
		return rc;
	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_guestRemove(&map->core, memattr_gfn_f64(gfn), memattr_gfn_f64(end));
	memattr_leave(&guard);
	return rc;
}

int memattr_conv_request(memattr_map *map, uint64_t gfn, uint64_t npages, unsigned flags, struct memattr_conv *out)
{
	struct memattr_guard guard;
	uint64_t end;
	uint32_t out_at;
	int rc;

	if (!out)
		return MEMATTR_E_INVAL;
	rc = memattr_check_pages(gfn, npages, &end);
	if (rc)
		return rc;
	if (flags > (unsigned)INT32_MAX)
		return MEMATTR_E_INVAL; /* the core refuses unknown bits; this keeps the cast exact */
	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_convRequest(&map->core, memattr_gfn_f64(gfn), memattr_gfn_f64(end), flags);
	if (rc == 0) {
		out_at = Z_memattrZ_convOut(&map->core);
		conv_opened(map, out_at, gfn, npages, flags, out);
	}
	memattr_leave(&guard);
	return rc;
}

/* commit and abort: the core finds the record by slot, checks the id, and edits the owned pages. */
static inline int conv_settle_checked(const struct memattr_conv *conv)
{
	if (!conv)
		return MEMATTR_E_INVAL;
	if (conv->id == 0 || conv->id > ((uint64_t)1 << 53) || conv->slot > (uint32_t)INT32_MAX)
		return MEMATTR_E_NOENT; /* never an id or slot the core handed out */
	return 0;
}

int memattr_conv_commit(memattr_map *map, const struct memattr_conv *conv)
{
	struct memattr_guard guard;
	int rc;

	rc = conv_settle_checked(conv);
	if (rc)
		return rc;
	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_convCommit(&map->core, conv->slot, conv_id_f64(conv));
	memattr_leave(&guard);
	return rc;
}

int memattr_conv_abort(memattr_map *map, const struct memattr_conv *conv)
{
	struct memattr_guard guard;
	int rc;

	rc = conv_settle_checked(conv);
	if (rc)
		return rc;
	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_convAbort(&map->core, conv->slot, conv_id_f64(conv));
	memattr_leave(&guard);
	return rc;
}

/* Through convOwnedRanges(): f64 pairs (start, end) at batch_in, half a run buffer per call. */
int64_t memattr_conv_owned_ranges(memattr_map *map, const struct memattr_conv *conv, uint64_t first,
				  struct memattr_range *out, size_t max)
{
	struct memattr_guard guard;
	uint32_t per_call;
	size_t total = 0;
	int rc;

	rc = conv_settle_checked(conv);
	if (rc)
		return rc;
	if (max && !out)
		return MEMATTR_E_INVAL;
	if (first > ((uint64_t)1 << 53))
		return 0; /* past every range a conversion can own */
	per_call = 3 * map->runs_capacity / 2; /* batch_in holds runs_capacity triples of f64 */
	MEMATTR_ENTER(map, &guard);
	while (total < max) {
		size_t want = max - total < per_call ? max - total : per_call;
		int n = (int32_t)Z_memattrZ_convOwnedRanges(&map->core, conv->slot, conv_id_f64(conv),
							    (double)(first + total), (int32_t)want);

		if (n < 0) {
			memattr_leave(&guard);
			return n;
		}
		for (int i = 0; i < n; i++) {
			uint64_t start = (uint64_t)memattr_load_f64(map, map->batch_in + 16 * (uint32_t)i);
			uint64_t end = (uint64_t)memattr_load_f64(map, map->batch_in + 16 * (uint32_t)i + 8);

			out[total + (size_t)i].gfn = start;
			out[total + (size_t)i].npages = end - start;
		}
		total += (size_t)n;
		if ((size_t)n < want)
			break;
	}
	memattr_leave(&guard);
	return (int64_t)total;
}

int64_t memattr_conv_open_count(memattr_map *map)
{
	struct memattr_guard guard;
	int64_t n;

	MEMATTR_ENTER(map, &guard);
	n = (int32_t)Z_memattrZ_convOpenCount(&map->core);
	memattr_leave(&guard);
	return n;
}

int memattr_fault(memattr_map *map, uint64_t gfn, uint64_t npages, int to_private, struct memattr_conv *out)
{
	struct memattr_guard guard;
	uint64_t end;
	int rc;

	if (!out)
		return MEMATTR_E_INVAL;
	rc = memattr_check_pages(gfn, npages, &end);
	if (rc)
		return rc;
	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_convFault(&map->core, memattr_gfn_f64(gfn), memattr_gfn_f64(end), to_private ? 1 : 0);
	if (rc == MEMATTR_FAULT_CONVERT) {
		unsigned flags = (to_private ? MEMATTR_CONV_TO_PRIVATE : 0) | MEMATTR_CONV_JOIN_ANY_PRESERVE;

		conv_opened(map, Z_memattrZ_convOut(&map->core), gfn, npages, flags, out);
	}
	memattr_leave(&guard);
	return rc;
}

int memattr_launch(memattr_map *map)
{
	struct memattr_guard guard;
	int rc;

	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_convLaunch(&map->core);
	memattr_leave(&guard);
	return rc;
}

int memattr_launched(memattr_map *map)
{
	struct memattr_guard guard;
	int rc;

	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_convLaunched(&map->core);
	memattr_leave(&guard);
	return rc;
}

int64_t memattr_populate(memattr_map *map, int side, uint64_t gfn, uint64_t npages, uint64_t *refault_pages)
{
	struct memattr_guard guard;
	uint64_t end;
	double fresh, refaults = 0;
	int rc;

	rc = memattr_check_pages(gfn, npages, &end);
	if (rc)
		return rc;
	MEMATTR_ENTER(map, &guard);
	fresh = Z_memattrZ_pagesPopulate(&map->core, memattr_gfn_f64(gfn), memattr_gfn_f64(end), side);
	if (fresh >= 0)
		refaults = conv_out(map, Z_memattrZ_convOut(&map->core), MEMATTR_OUT_REFAULT_PAGES);
	memattr_leave(&guard);
	if (fresh >= 0 && refault_pages)
		*refault_pages = (uint64_t)refaults;
	return (int64_t)fresh;
}

int64_t memattr_discard(memattr_map *map, int side, uint64_t gfn, uint64_t npages)
{
	struct memattr_guard guard;
	uint64_t end;
	double freed;
	int rc;

	rc = memattr_check_pages(gfn, npages, &end);
	if (rc)
		return rc;
	MEMATTR_ENTER(map, &guard);
	freed = Z_memattrZ_pagesDiscard(&map->core, memattr_gfn_f64(gfn), memattr_gfn_f64(end), side);
	memattr_leave(&guard);
	return (int64_t)freed;
}

int64_t memattr_pages_matching(memattr_map *map, unsigned mask, unsigned match)
{
	struct memattr_guard guard;
	double n;

	if (memattr_check_byte(mask) || memattr_check_byte(match))
		return MEMATTR_E_INVAL;
	MEMATTR_ENTER(map, &guard);
	n = Z_memattrZ_pagesMatching(&map->core, (int32_t)mask, (int32_t)match);
	memattr_leave(&guard);
	return (int64_t)n;
}
