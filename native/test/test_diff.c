/* Differential test: random operations on the C API and on a byte-per-page reference
 * (support.h), over windows of pages near 0, near the tree's node edges, across 2^32 and near
 * 2^40, and across all of them at once. Every answer must agree; check_invariants and the whole
 * map are compared every CHECK_EVERY operations.
 *
 *	MEMATTR_SEED=<seed> MEMATTR_DIFF_OPS=<n> build/native/test/test_diff   replays a run
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "support.h"
#include "tap.h"

#define DEFAULT_SEED 0x6d656d6174747221ull /* "memattr!" */
#define DEFAULT_OPS 1000000
#define CHECK_EVERY 1000

static const uint64_t windows[][2] = {
	{ 0, 12288 },                                   /* gfn 0 and three chunks */
	{ ((uint64_t)1 << 19) - 4096, 8192 },           /* a level-1 node edge */
	{ ((uint64_t)1 << 32) - 2048, 4096 },           /* 2^32: past uint32_t */
	{ ((uint64_t)1 << 33) - 6144, 12288 },          /* a level-3 node edge */
	{ ((uint64_t)1 << MEMATTR_GFN_BITS) - 12288, 12288 }, /* up to the last page */
};
#define NWINDOWS (sizeof(windows) / sizeof(windows[0]))

enum op_kind {
	OP_SET, OP_UPDATE, OP_GET, OP_GET_MANY, OP_IS_UNIFORM, OP_UNIFORM_VALUE, OP_COUNT_IN_RANGE,
	OP_RUNS, OP_PAGES, OP_RUN_COUNT, NR_OPS
};
static const char *const op_names[NR_OPS] = {
	"set", "update", "get", "get_many", "is_uniform", "uniform_value", "count_in_range",
	"runs", "pages", "run_count",
};
static const unsigned op_weights[NR_OPS] = { 25, 15, 18, 4, 10, 7, 7, 8, 3, 3 }; /* of 100 */

struct diff {
	memattr_map *map;
	struct ref_map ref;
	struct rng rng;
	struct memattr_run *want, *got; /* run lists, as long as any the reference can produce */
	size_t runs_cap;
	uint64_t *gfns;
	uint8_t *values;
	int allow_long;     /* long writes (which undo fragmentation) only in some phases */
	uint64_t max_runs;  /* the most runs the map held at a check */
};

/* Writes fragment the map for PHASE_OPS operations, then long writes join in for as many. */
#define PHASE_OPS 50000

#define GET_MANY_MAX 6000 /* above getMany's 4096 per call: the C layer must chunk */

/* A read range: mostly a writable one, sometimes any (partly over a gap, or up to 2^40). */
static void random_read_range(struct diff *d, uint64_t *start, uint64_t *end)
{
	uint64_t s, len;

	if (rng_below(&d->rng, 5) != 0) {
		ref_random_range(&d->ref, &d->rng, 1, start, end);
		return;
	}
	s = ref_random_gfn(&d->ref, &d->rng);
	switch (rng_below(&d->rng, 3)) {
	case 0: len = 1 + rng_below(&d->rng, 16); break;
	case 1: len = 1 + rng_below(&d->rng, 1 << 20); break;
	default: len = GFN_LIMIT - s; break;
	}
	*start = s;
	*end = len > GFN_LIMIT - s ? GFN_LIMIT : s + len;
}

/* A value to ask about: half the time the one at start, so "yes" answers come up too. */
static unsigned query_value(struct diff *d, uint64_t start)
{
	return rng_below(&d->rng, 2) ? (unsigned)ref_get(&d->ref, start) : random_value(&d->rng);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	printf("#   ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 0;
}

static int run_op(struct diff *d, enum op_kind op)
{
	uint64_t s, e;
	unsigned v, c;
	int rc;

	switch (op) {
	case OP_SET:
		ref_random_range(&d->ref, &d->rng, d->allow_long, &s, &e);
		v = random_value(&d->rng);
		rc = memattr_set(d->map, s, e, v);
		ref_update(&d->ref, s, e, 255, v);
		return rc == 0 || fail("set [%#" PRIx64 ", %#" PRIx64 ") %u: %d", s, e, v, rc);
	case OP_UPDATE:
		ref_random_range(&d->ref, &d->rng, d->allow_long, &s, &e);
		c = (unsigned)rng_below(&d->rng, 256);
		v = random_value(&d->rng);
		rc = memattr_update(d->map, s, e, c, v);
		ref_update(&d->ref, s, e, c, v);
		return rc == 0 || fail("update [%#" PRIx64 ", %#" PRIx64 ") clear %#x set %#x: %d", s, e, c, v, rc);
	case OP_GET:
		s = ref_random_gfn(&d->ref, &d->rng);
		rc = memattr_get(d->map, s);
		return rc == ref_get(&d->ref, s) || fail("get %#" PRIx64 ": %d, reference %d", s, rc, ref_get(&d->ref, s));
	case OP_GET_MANY: {
		size_t n = rng_below(&d->rng, 2000) ? 1 + rng_below(&d->rng, 64) : 4000 + rng_below(&d->rng, 2000);

		for (size_t i = 0; i < n; i++)
			d->gfns[i] = ref_random_gfn(&d->ref, &d->rng);
		rc = memattr_get_many(d->map, d->gfns, d->values, n);
		if (rc != 0)
			return fail("get_many of %zu: %d", n, rc);
		for (size_t i = 0; i < n; i++) {
			if (d->values[i] != ref_get(&d->ref, d->gfns[i]))
				return fail("get_many of %zu: [%zu] gfn %#" PRIx64 " = %u, reference %d", n, i,
					    d->gfns[i], d->values[i], ref_get(&d->ref, d->gfns[i]));
		}
		return 1;
	}
	case OP_IS_UNIFORM: {
		size_t n;

		random_read_range(d, &s, &e);
		v = query_value(d, s);
		n = ref_runs(&d->ref, s, e, d->want);
		rc = memattr_is_uniform(d->map, s, e, v);
		return rc == (n == 1 && d->want[0].value == v) ||
		       fail("is_uniform [%#" PRIx64 ", %#" PRIx64 ") %u: %d, reference %zu runs", s, e, v, rc, n);
	}
	case OP_UNIFORM_VALUE: {
		uint8_t got = 0;
		size_t n;

		random_read_range(d, &s, &e);
		n = ref_runs(&d->ref, s, e, d->want);
		rc = memattr_uniform_value(d->map, s, e, &got);
		if (n == 1)
			return (rc == 1 && got == d->want[0].value) ||
			       fail("uniform_value [%#" PRIx64 ", %#" PRIx64 "): %d/%u, reference 1/%u", s, e, rc, got,
				    d->want[0].value);
		return rc == 0 || fail("uniform_value [%#" PRIx64 ", %#" PRIx64 "): %d, reference mixed", s, e, rc);
	}
	case OP_COUNT_IN_RANGE: {
		int64_t got;
		uint64_t want = 0;
		size_t n;

		random_read_range(d, &s, &e);
		v = query_value(d, s);
		n = ref_runs(&d->ref, s, e, d->want);
		for (size_t i = 0; i < n; i++)
			want += d->want[i].value == v ? d->want[i].end - d->want[i].start : 0;
		got = memattr_count_in_range(d->map, s, e, v);
		return got == (int64_t)want || fail("count_in_range [%#" PRIx64 ", %#" PRIx64 ") %u: %" PRId64
						    ", reference %" PRIu64, s, e, v, got, want);
	}
	case OP_RUNS: {
		/* a small max_runs half the time: the caller resumes from the last end */
		size_t max = rng_below(&d->rng, 2) ? 1 + rng_below(&d->rng, 8) : d->runs_cap;
		size_t n, have = 0;
		uint64_t from;

		random_read_range(d, &s, &e);
		n = ref_runs(&d->ref, s, e, d->want);
		for (from = s; from < e;) {
			int64_t got = memattr_runs(d->map, from, e, d->got + have, max);

			if (got <= 0 || (size_t)got > max || have + (size_t)got > n)
				return fail("runs [%#" PRIx64 ", %#" PRIx64 ") max %zu: %" PRId64 " after %zu, reference %zu",
					    from, e, max, got, have, n);
			have += (size_t)got;
			if ((size_t)got < max)
				break;
			from = d->got[have - 1].end;
		}
		if (have != n)
			return fail("runs [%#" PRIx64 ", %#" PRIx64 ") max %zu: %zu runs, reference %zu", s, e, max, have, n);
		for (size_t i = 0; i < n; i++) {
			if (d->got[i].start != d->want[i].start || d->got[i].end != d->want[i].end ||
			    d->got[i].value != d->want[i].value)
				return fail("runs [%#" PRIx64 ", %#" PRIx64 ") max %zu: run %zu is [%#" PRIx64 ", %#" PRIx64
					    ") %u, reference [%#" PRIx64 ", %#" PRIx64 ") %u", s, e, max, i, d->got[i].start,
					    d->got[i].end, d->got[i].value, d->want[i].start, d->want[i].end, d->want[i].value);
		}
		return 1;
	}
	case OP_PAGES: {
		int64_t got;

		v = random_value(&d->rng);
		got = memattr_pages(d->map, v);
		return got == (int64_t)d->ref.pages[v] ||
		       fail("pages %u: %" PRId64 ", reference %" PRIu64, v, got, d->ref.pages[v]);
	}
	case OP_RUN_COUNT: {
		int64_t got = memattr_run_count(d->map);

		return got == (int64_t)d->ref.run_count ||
		       fail("run_count: %" PRId64 ", reference %" PRIu64, got, d->ref.run_count);
	}
	default:
		return fail("unknown op %d", op);
	}
}

static enum op_kind random_op(struct rng *r)
{
	unsigned x = (unsigned)rng_below(r, 100);

	for (int op = 0; op < NR_OPS; op++) {
		if (x < op_weights[op])
			return (enum op_kind)op;
		x -= op_weights[op];
	}
	return OP_GET;
}

/* The whole map against the reference: runs, run_count and every pages(v). */
static int whole_map_agrees(struct diff *d)
{
	if (!map_matches_ref(d->map, &d->ref))
		return 0;
	if (memattr_run_count(d->map) != (int64_t)d->ref.run_count)
		return fail("run_count %" PRId64 ", reference %" PRIu64, memattr_run_count(d->map), d->ref.run_count);
	if (ref_runs(&d->ref, 0, GFN_LIMIT, NULL) != d->ref.run_count)
		return fail("the reference's own run count is off");
	for (unsigned v = 0; v < 256; v++) {
		if (memattr_pages(d->map, v) != (int64_t)d->ref.pages[v])
			return fail("pages %u: %" PRId64 ", reference %" PRIu64, v, memattr_pages(d->map, v), d->ref.pages[v]);
	}
	return 1;
}

int main(void)
{
	uint64_t seed = seed_from_env(DEFAULT_SEED);
	const char *ops_env = getenv("MEMATTR_DIFF_OPS");
	long ops = ops_env ? strtol(ops_env, NULL, 0) : DEFAULT_OPS;
	unsigned long calls[NR_OPS] = { 0 };
	long done, failed_at = -1, invariant_checks = 0, whole_checks = 0;
	int failed_op = -1, invariants_ok = 1, whole_ok = 1, rc;
	struct diff d = { .rng = { seed } };

	tap_init();
	tap_diag("seed %#" PRIx64 ", %ld operations (replay: MEMATTR_SEED=%#" PRIx64 " MEMATTR_DIFF_OPS=%ld %s)",
		 seed, ops, seed, ops, "build/native/test/test_diff");
	rc = memattr_map_new(&d.map);
	if (rc) {
		tap_begin();
		CHECK(rc == 0, "memattr_map_new: %d", rc);
		tap_end("a map is created");
		return tap_done();
	}
	ref_init(&d.ref, windows, NWINDOWS);
	d.runs_cap = ref_window_pages(&d.ref) + 2 * REF_MAX_WINDOWS + 2;
	d.want = malloc(d.runs_cap * sizeof(*d.want));
	d.got = malloc(d.runs_cap * sizeof(*d.got));
	d.gfns = malloc(GET_MANY_MAX * sizeof(*d.gfns));
	d.values = malloc(GET_MANY_MAX);
	if (!d.want || !d.got || !d.gfns || !d.values)
		abort();

	for (done = 0; done < ops; done++) {
		enum op_kind op = random_op(&d.rng);

		d.allow_long = (done / PHASE_OPS) % 2 == 1;
		calls[op]++;
		if (!run_op(&d, op)) {
			failed_op = op;
			failed_at = done;
			break;
		}
		if ((done + 1) % CHECK_EVERY == 0) {
			invariant_checks++;
			rc = memattr_check_invariants(d.map);
			if (rc != 0) {
				invariants_ok = fail("check_invariants after operation %ld: %d", done, rc);
				break;
			}
			whole_checks++;
			if (d.ref.run_count > d.max_runs)
				d.max_runs = d.ref.run_count;
			if (!whole_map_agrees(&d)) {
				whole_ok = fail("after operation %ld", done);
				break;
			}
		}
	}

	for (int op = 0; op < NR_OPS; op++) {
		tap_begin();
		if (op == failed_op)
			CHECK(0, "operation %ld (a %s) disagreed; seed %#" PRIx64, failed_at, op_names[op], seed);
		tap_end("%s: %lu random calls agree with the byte-per-page reference", op_names[op], calls[op]);
	}
	tap_begin();
	CHECK(invariants_ok, "seed %#" PRIx64, seed);
	tap_end("check_invariants holds every %d operations (%ld checks)", CHECK_EVERY, invariant_checks);
	tap_begin();
	CHECK(whole_ok, "seed %#" PRIx64, seed);
	tap_end("whole-map runs, run_count and pages(v) agree every %d operations (%ld checks)", CHECK_EVERY,
		whole_checks);
	tap_diag("at most %" PRIu64 " runs at a check; final map: %" PRIu64 " runs, %" PRId64 " bytes of nodes and leaves, %" PRId64 " bytes of linear memory",
		 d.max_runs, d.ref.run_count, memattr_memory_bytes(d.map), memattr_linear_memory_bytes(d.map));
	tap_begin();
	CHECK(done == ops, "stopped after %ld of %ld operations", done, ops);
	CHECK(whole_map_agrees(&d), "at the end");
	tap_end("all %ld operations ran and the final map matches the reference", ops);

	memattr_map_free(d.map);
	ref_free(&d.ref);
	free(d.want);
	free(d.got);
	free(d.gfns);
	free(d.values);
	return tap_done();
}
