/* The reference map, the generators and whole-map snapshots of support.h. */
#include "support.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t seed_from_env(uint64_t fallback)
{
	const char *s = getenv("MEMATTR_SEED");

	return s && *s ? strtoull(s, NULL, 0) : fallback;
}

/* ---- the reference map -------------------------------------------------------------------- */

/* A stretch of the page space: a gap (values NULL, one value) or a window (a byte per page). */
struct segment {
	uint64_t start, end;
	uint8_t *values;
	uint8_t *gap_value;
};

/* The page space in order: gap 0, window 0, gap 1, ..., window n-1, gap n (empty gaps left out). */
static size_t ref_segments(const struct ref_map *ref, struct segment *segs)
{
	struct ref_map *r = (struct ref_map *)ref;
	uint64_t at = 0;
	size_t n = 0;

	for (size_t i = 0; i < r->nwindows; i++) {
		if (r->win[i].base > at)
			segs[n++] = (struct segment){ at, r->win[i].base, NULL, &r->gap[i] };
		segs[n++] = (struct segment){ r->win[i].base, r->win[i].base + r->win[i].npages,
					      r->win[i].values, NULL };
		at = r->win[i].base + r->win[i].npages;
	}
	if (at < GFN_LIMIT)
		segs[n++] = (struct segment){ at, GFN_LIMIT, NULL, &r->gap[r->nwindows] };
	return n;
}

void ref_init(struct ref_map *ref, const uint64_t (*windows)[2], size_t nwindows)
{
	assert(nwindows >= 1 && nwindows <= REF_MAX_WINDOWS);
	memset(ref, 0, sizeof(*ref));
	ref->nwindows = nwindows;
	for (size_t i = 0; i < nwindows; i++) {
		assert(i == 0 || windows[i][0] >= windows[i - 1][0] + windows[i - 1][1]);
		assert(windows[i][0] + windows[i][1] <= GFN_LIMIT);
		ref->win[i].base = windows[i][0];
		ref->win[i].npages = windows[i][1];
		ref->win[i].values = calloc(windows[i][1], 1);
		assert(ref->win[i].values);
	}
	ref->pages[0] = GFN_LIMIT;
	ref->run_count = 1;
}

void ref_free(struct ref_map *ref)
{
	for (size_t i = 0; i < ref->nwindows; i++)
		free(ref->win[i].values);
	memset(ref, 0, sizeof(*ref));
}

uint64_t ref_window_pages(const struct ref_map *ref)
{
	uint64_t n = 0;

	for (size_t i = 0; i < ref->nwindows; i++)
		n += ref->win[i].npages;
	return n;
}

int ref_get(const struct ref_map *ref, uint64_t gfn)
{
	struct segment segs[2 * REF_MAX_WINDOWS + 1];
	size_t n = ref_segments(ref, segs);

	for (size_t i = 0; i < n; i++) {
		if (gfn < segs[i].start || gfn >= segs[i].end)
			continue;
		return segs[i].values ? segs[i].values[gfn - segs[i].start] : *segs[i].gap_value;
	}
	return -1;
}

int ref_writable(const struct ref_map *ref, uint64_t start, uint64_t end)
{
	int start_ok = 0, end_ok = 0;

	for (size_t i = 0; i < ref->nwindows; i++) {
		uint64_t b = ref->win[i].base, e = b + ref->win[i].npages;

		start_ok |= start >= b && start < e;
		end_ok |= end > b && end <= e;
	}
	return start < end && start_ok && end_ok;
}

/* Appends [s, e) holding v to a run list, merging it into the last run when equal. */
static void runs_append(struct memattr_run *out, size_t *n, int *last, uint64_t s, uint64_t e, uint8_t v)
{
	if (*n && *last == v) {
		if (out)
			out[*n - 1].end = e;
		return;
	}
	if (out)
		out[*n] = (struct memattr_run){ .start = s, .end = e, .value = v };
	(*n)++;
	*last = v;
}

size_t ref_runs(const struct ref_map *ref, uint64_t start, uint64_t end, struct memattr_run *out)
{
	struct segment segs[2 * REF_MAX_WINDOWS + 1];
	size_t nsegs = ref_segments(ref, segs), n = 0;
	int last = -1;

	for (size_t i = 0; i < nsegs; i++) {
		uint64_t lo = start > segs[i].start ? start : segs[i].start;
		uint64_t hi = end < segs[i].end ? end : segs[i].end;

		if (lo >= hi)
			continue;
		if (!segs[i].values) {
			runs_append(out, &n, &last, lo, hi, *segs[i].gap_value);
			continue;
		}
		for (uint64_t g = lo; g < hi;) {
			const uint8_t *p = segs[i].values - segs[i].start;
			uint64_t h = g + 1;

			while (h < hi && p[h] == p[g])
				h++;
			runs_append(out, &n, &last, g, h, p[g]);
			g = h;
		}
	}
	return n;
}

void ref_update(struct ref_map *ref, uint64_t start, uint64_t end, unsigned clear_mask, unsigned set_mask)
{
	struct segment segs[2 * REF_MAX_WINDOWS + 1];
	size_t nsegs = ref_segments(ref, segs);
	/* the boundaries that can change lie in [start - 1, end + 1) */
	uint64_t around_start = start ? start - 1 : start;
	uint64_t around_end = end < GFN_LIMIT ? end + 1 : end;
	size_t runs_before = ref_runs(ref, around_start, around_end, NULL);

	assert(ref_writable(ref, start, end));
	for (size_t i = 0; i < nsegs; i++) {
		uint64_t lo = start > segs[i].start ? start : segs[i].start;
		uint64_t hi = end < segs[i].end ? end : segs[i].end;

		if (lo >= hi)
			continue;
		if (!segs[i].values) {
			uint8_t old = *segs[i].gap_value;
			uint8_t nv = (uint8_t)((old & ~clear_mask) | set_mask);

			assert(lo == segs[i].start && hi == segs[i].end); /* gaps are written whole */
			ref->pages[old] -= hi - lo;
			ref->pages[nv] += hi - lo;
			*segs[i].gap_value = nv;
			continue;
		}
		for (uint64_t g = lo; g < hi; g++) {
			uint8_t *p = &segs[i].values[g - segs[i].start];
			uint8_t nv = (uint8_t)((*p & ~clear_mask) | set_mask);

			ref->pages[*p]--;
			ref->pages[nv]++;
			*p = nv;
		}
	}
	ref->run_count += ref_runs(ref, around_start, around_end, NULL) - runs_before;
}

/* A page of window w, a quarter of the time within 4 pages of a chunk (4096-page leaf) edge. */
static uint64_t random_page_of(const struct ref_window *w, struct rng *r)
{
	uint64_t g = w->base + rng_below(r, w->npages);

	if (rng_below(r, 4) == 0) {
		uint64_t edge = (g + 2048) & ~(uint64_t)4095;

		g = edge + rng_below(r, 8) - 4;
		if (g < w->base || g >= w->base + w->npages)
			g = w->base + rng_below(r, w->npages);
	}
	return g;
}

uint64_t ref_random_gfn(const struct ref_map *ref, struct rng *r)
{
	if (rng_below(r, 10) == 0)
		return rng_below(r, GFN_LIMIT);
	return random_page_of(&ref->win[rng_below(r, ref->nwindows)], r);
}

void ref_random_range(const struct ref_map *ref, struct rng *r, int allow_long, uint64_t *start, uint64_t *end)
{
	size_t i = rng_below(r, ref->nwindows);
	const struct ref_window *w = &ref->win[i];
	uint64_t s = random_page_of(w, r), wend = w->base + w->npages, e;
	unsigned kind = (unsigned)rng_below(r, allow_long ? 1000 : 750);

	if (kind < 750) {
		e = s + 1 + rng_below(r, 16);
	} else if (kind < 960) {
		e = s + 1 + rng_below(r, 512);
	} else if (kind < 997) {
		e = s + 1 + rng_below(r, wend - s);
	} else { /* across windows, every gap between them whole */
		size_t j = i + rng_below(r, ref->nwindows - i);
		const struct ref_window *v = &ref->win[j];

		e = j == i ? s + 1 + rng_below(r, wend - s) : v->base + 1 + rng_below(r, v->npages);
		wend = v->base + v->npages;
	}
	*start = s;
	*end = e < wend ? e : wend;
}

unsigned random_value(struct rng *r)
{
	unsigned k = (unsigned)rng_below(r, 10);

	if (k < 7)
		return (unsigned)rng_below(r, 4);
	if (k < 9)
		return (unsigned)rng_below(r, 16);
	return (unsigned)rng_below(r, 256);
}

/* ---- whole-map snapshots ------------------------------------------------------------------ */

void snapshot_take(memattr_map *map, struct snapshot *snap)
{
	size_t cap = 1024;
	uint64_t from = 0;

	memset(snap, 0, sizeof(*snap));
	snap->runs = malloc(cap * sizeof(*snap->runs));
	assert(snap->runs);
	for (;;) {
		size_t ask = cap - snap->nruns;
		int64_t got = memattr_runs(map, from, GFN_LIMIT, snap->runs + snap->nruns, ask);

		if (got < 0) {
			snap->rc = (int)got;
			break;
		}
		snap->nruns += (size_t)got;
		if ((size_t)got < ask || snap->runs[snap->nruns - 1].end >= GFN_LIMIT)
			break;
		from = snap->runs[snap->nruns - 1].end;
		if (snap->nruns == cap) {
			cap *= 2;
			snap->runs = realloc(snap->runs, cap * sizeof(*snap->runs));
			assert(snap->runs);
		}
	}
	snap->run_count = memattr_run_count(map);
	for (unsigned v = 0; v < 256; v++)
		snap->pages[v] = memattr_pages(map, v);
	snap->memory_bytes = memattr_memory_bytes(map);
}

int snapshot_equal(const struct snapshot *a, const struct snapshot *b)
{
	if (a->rc != b->rc || a->nruns != b->nruns || a->run_count != b->run_count ||
	    a->memory_bytes != b->memory_bytes)
		return 0;
	if (memcmp(a->pages, b->pages, sizeof(a->pages)) != 0)
		return 0;
	for (size_t i = 0; i < a->nruns; i++) {
		if (a->runs[i].start != b->runs[i].start || a->runs[i].end != b->runs[i].end ||
		    a->runs[i].value != b->runs[i].value)
			return 0;
	}
	return 1;
}

void snapshot_free(struct snapshot *snap)
{
	free(snap->runs);
	snap->runs = NULL;
}

int map_matches_ref(memattr_map *map, const struct ref_map *ref)
{
	size_t cap = ref_window_pages(ref) + 2 * REF_MAX_WINDOWS + 2;
	struct memattr_run *want = malloc(cap * sizeof(*want));
	struct snapshot got;
	size_t n;
	int ok = 1;

	assert(want);
	n = ref_runs(ref, 0, GFN_LIMIT, want);
	snapshot_take(map, &got);
	if (got.rc != 0) {
		printf("#   runs over the whole map returned %d\n", got.rc);
		ok = 0;
	}
	for (size_t i = 0; ok && i < n && i < got.nruns; i++) {
		if (want[i].start == got.runs[i].start && want[i].end == got.runs[i].end &&
		    want[i].value == got.runs[i].value)
			continue;
		printf("#   run %zu: map [%#" PRIx64 ", %#" PRIx64 ") = %u, reference [%#" PRIx64 ", %#" PRIx64
		       ") = %u\n", i, got.runs[i].start, got.runs[i].end, got.runs[i].value, want[i].start,
		       want[i].end, want[i].value);
		ok = 0;
	}
	if (ok && n != got.nruns) {
		printf("#   the map has %zu runs, the reference %zu\n", got.nruns, n);
		ok = 0;
	}
	snapshot_free(&got);
	free(want);
	return ok;
}

int random_work_agrees(memattr_map *map, uint64_t seed, long ops, char *why, size_t why_len)
{
	static const uint64_t windows[][2] = { { 0, 8192 }, { GFN_LIMIT - 8192, 8192 } };
	struct rng rng = { seed };
	struct ref_map ref;
	long i;
	int rc = 0;

	why[0] = 0;
	ref_init(&ref, windows, 2);
	if ((rc = memattr_clear(map)) != 0) {
		snprintf(why, why_len, "clear: %d", rc);
		goto out;
	}
	for (i = 0; i < ops; i++) {
		uint64_t s, e, g = ref_random_gfn(&ref, &rng);
		unsigned v = random_value(&rng), c = (unsigned)rng_below(&rng, 256);
		size_t n;

		ref_random_range(&ref, &rng, i % 64 == 0, &s, &e);
		switch (rng_below(&rng, 5)) {
		case 0:
			rc = memattr_set(map, s, e, v);
			ref_update(&ref, s, e, 255, v);
			break;
		case 1:
			rc = memattr_update(map, s, e, c, v);
			ref_update(&ref, s, e, c, v);
			break;
		case 2:
			rc = memattr_get(map, g) == ref_get(&ref, g) ? 0 : -1;
			break;
		case 3:
			n = ref_runs(&ref, s, e, NULL);
			v = (unsigned)ref_get(&ref, s);
			rc = memattr_is_uniform(map, s, e, v) == (n == 1) ? 0 : -1;
			break;
		default:
			rc = memattr_run_count(map) == (int64_t)ref.run_count ? 0 : -1;
			break;
		}
		if (rc != 0) {
			snprintf(why, why_len, "operation %ld on [%#" PRIx64 ", %#" PRIx64 ") gfn %#" PRIx64 ": %d", i,
				 s, e, g, rc);
			goto out;
		}
	}
	if (!map_matches_ref(map, &ref)) {
		snprintf(why, why_len, "the whole map differs at the end");
		rc = -1;
	} else if ((rc = memattr_check_invariants(map)) != 0) {
		snprintf(why, why_len, "check_invariants: %d", rc);
	}
out:
	ref_free(&ref);
	return rc == 0;
}
