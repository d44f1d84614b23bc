/* What the native tests share: a seeded generator, a byte-per-page reference map, and whole-map
 * snapshots taken through the C API.
 *
 * The reference covers the page space [0, 2^40) as windows (a byte per page) with gaps between
 * them that hold one value each. A write must cover every gap it touches whole (its start and
 * end lie in a window or at a window's end), so gaps stay uniform and a set across the whole
 * map costs O(window pages), not O(2^40). Reads work on any range.
 */
#ifndef MEMATTR_TEST_SUPPORT_H
#define MEMATTR_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "memattr.h"

#define GFN_LIMIT ((uint64_t)1 << MEMATTR_GFN_BITS)
#define GFN_2POW53_PLUS_1 (((uint64_t)1 << 53) + 1)

/* ---- seeded generator (splitmix64) -------------------------------------------------------- */

struct rng {
	uint64_t state;
};

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/** Uniform in [0, n), n > 0 (the modulo bias is irrelevant here). */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

/** The seed from MEMATTR_SEED (decimal or 0x hex) when set, else fallback. */
uint64_t seed_from_env(uint64_t fallback);

/* ---- the reference map -------------------------------------------------------------------- */

#define REF_MAX_WINDOWS 8

struct ref_window {
	uint64_t base;    /* first gfn */
	uint64_t npages;
	uint8_t *values;  /* one byte per page */
};

struct ref_map {
	size_t nwindows;
	struct ref_window win[REF_MAX_WINDOWS];
	uint8_t gap[REF_MAX_WINDOWS + 1]; /* gap i lies just before window i; gap nwindows after the last */
	uint64_t pages[256];              /* pages holding each value, whole map */
	uint64_t run_count;               /* maximal runs of the whole map */
};

/** windows[i] = {base, npages}, ascending, not overlapping; every page starts at 0. */
void ref_init(struct ref_map *ref, const uint64_t (*windows)[2], size_t nwindows);
void ref_free(struct ref_map *ref);

/** Window pages in total (bounds any run list of the reference). */
uint64_t ref_window_pages(const struct ref_map *ref);

int ref_get(const struct ref_map *ref, uint64_t gfn);

/** 1 when [start, end) may be written: start in a window, end in one or at its end. */
int ref_writable(const struct ref_map *ref, uint64_t start, uint64_t end);

/** v = (v & ~clear_mask) | set_mask over a writable [start, end) (a set is clear_mask 255). */
void ref_update(struct ref_map *ref, uint64_t start, uint64_t end, unsigned clear_mask, unsigned set_mask);

/** Maximal runs of any [start, end), clipped, into out (NULL: only count them). */
size_t ref_runs(const struct ref_map *ref, uint64_t start, uint64_t end, struct memattr_run *out);

/** A random gfn: mostly in a window, sometimes in a gap. */
uint64_t ref_random_gfn(const struct ref_map *ref, struct rng *r);

/** A random writable range: 1-16 pages; with allow_long, sometimes up to 512, to the window end,
 * or across windows (which undo most fragmentation). */
void ref_random_range(const struct ref_map *ref, struct rng *r, int allow_long, uint64_t *start, uint64_t *end);

/** A random value: mostly 0-3, sometimes 0-15, sometimes any byte (all leaf widths). */
unsigned random_value(struct rng *r);

/* ---- whole-map snapshots ------------------------------------------------------------------ */

struct snapshot {
	struct memattr_run *runs;
	size_t nruns;
	int64_t run_count;
	int64_t pages[256];
	int64_t memory_bytes; /* live nodes and leaves: a refused edit must not leak or keep a block */
	int rc;               /* 0, or the negative code runs returned */
};

/** Every run of [0, 2^40), run_count, pages(v) and memory_bytes of map. */
void snapshot_take(memattr_map *map, struct snapshot *snap);
int snapshot_equal(const struct snapshot *a, const struct snapshot *b);
void snapshot_free(struct snapshot *snap);

/** 1 when map's runs over all of [0, 2^40) are exactly the reference's; prints the first difference. */
int map_matches_ref(memattr_map *map, const struct ref_map *ref);

/**
 * Clears map, then runs ops random sets, updates and reads on it and on a fresh reference over
 * two windows (near 0 and near 2^40). 1 when every answer agreed (and the whole map, and
 * check_invariants, at the end); else 0, with what differed in why. Touches only map and its
 * own locals, so threads may run it at once on their own maps.
 */
int random_work_agrees(memattr_map *map, uint64_t seed, long ops, char *why, size_t why_len);

#endif /* MEMATTR_TEST_SUPPORT_H */
