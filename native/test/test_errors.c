/* Every bad argument of every map function: the code it returns, and the whole map unchanged
 * (all runs, run_count and pages(v) compared before and after). Gfns above 2^53 are checked in
 * integer arithmetic: 2^53 + 1 and UINT64_MAX must be -ERANGE, never rounded into range.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "tap.h"

static memattr_map *map;

/* A map with something in it: runs near 0, across a chunk edge, at 2^32 and at the last page. */
static void fill_fixture(void)
{
	static const uint64_t pieces[][3] = {
		{ 0, 3, 1 }, { 4090, 4100, 2 }, { 4100, 4101, 200 },
		{ (uint64_t)1 << 32, ((uint64_t)1 << 32) + 7, 9 }, { GFN_LIMIT - 2, GFN_LIMIT, 255 },
	};

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		if (memattr_set(map, pieces[i][0], pieces[i][1], (unsigned)pieces[i][2]) != 0)
			abort();
	}
}

/* Evaluates call once and checks it returned code and left the map exactly as it was. */
#define EXPECT_UNCHANGED(code, call, ...)                                                           \
	do {                                                                                     \
		struct snapshot before_, after_;                                                 \
		int64_t rc_;                                                                     \
		tap_begin();                                                                     \
		snapshot_take(map, &before_);                                                    \
		rc_ = (call);                                                                    \
		snapshot_take(map, &after_);                                                     \
		CHECK(rc_ == (code), "returned %" PRId64 " (%s), expected %d (%s)", rc_,          \
		      memattr_strerror((int)rc_), (code), memattr_strerror(code));                \
		CHECK(snapshot_equal(&before_, &after_), "the map changed");                     \
		snapshot_free(&before_);                                                         \
		snapshot_free(&after_);                                                          \
		tap_end(__VA_ARGS__);                                                            \
	} while (0)

/* ---- every function that takes a range [start, end) --------------------------------------- */

static struct memattr_run runs_out[8];
static uint8_t uniform_out;

static int64_t call_set(uint64_t s, uint64_t e) { return memattr_set(map, s, e, 1); }
static int64_t call_update(uint64_t s, uint64_t e) { return memattr_update(map, s, e, 255, 1); }
static int64_t call_is_uniform(uint64_t s, uint64_t e) { return memattr_is_uniform(map, s, e, 0); }
static int64_t call_uniform_value(uint64_t s, uint64_t e) { return memattr_uniform_value(map, s, e, &uniform_out); }
static int64_t call_count_in_range(uint64_t s, uint64_t e) { return memattr_count_in_range(map, s, e, 0); }
static int64_t call_runs(uint64_t s, uint64_t e) { return memattr_runs(map, s, e, runs_out, 8); }

static const struct {
	const char *name;
	int64_t (*call)(uint64_t start, uint64_t end);
} range_fns[] = {
	{ "set", call_set }, { "update", call_update }, { "is_uniform", call_is_uniform },
	{ "uniform_value", call_uniform_value }, { "count_in_range", call_count_in_range },
	{ "runs", call_runs },
};

static const struct {
	uint64_t start, end;
	int code;
	const char *what;
} bad_ranges[] = {
	{ 5, 5, MEMATTR_E_INVAL, "start == end" },
	{ 6, 5, MEMATTR_E_INVAL, "start > end" },
	{ GFN_LIMIT, GFN_LIMIT, MEMATTR_E_INVAL, "the empty range at 2^40" },
	{ 0, GFN_LIMIT + 1, MEMATTR_E_RANGE, "end = 2^40 + 1" },
	{ GFN_LIMIT, GFN_LIMIT + 1, MEMATTR_E_RANGE, "[2^40, 2^40 + 1)" },
	{ GFN_LIMIT + 1, 5, MEMATTR_E_RANGE, "start = 2^40 + 1 above end" },
	{ 0, GFN_2POW53_PLUS_1, MEMATTR_E_RANGE, "end = 2^53 + 1 (not rounded)" },
	{ GFN_2POW53_PLUS_1, GFN_2POW53_PLUS_1 + 1, MEMATTR_E_RANGE, "[2^53 + 1, 2^53 + 2)" },
	{ 0, UINT64_MAX, MEMATTR_E_RANGE, "end = UINT64_MAX" },
	{ UINT64_MAX, 5, MEMATTR_E_RANGE, "start = UINT64_MAX (-1 as int64_t)" },
	{ UINT64_MAX - 1, UINT64_MAX, MEMATTR_E_RANGE, "[UINT64_MAX - 1, UINT64_MAX)" },
	{ (uint64_t)1 << 63, ((uint64_t)1 << 63) + 1, MEMATTR_E_RANGE, "[2^63, 2^63 + 1)" },
};

static void test_bad_ranges(void)
{
	for (size_t f = 0; f < sizeof(range_fns) / sizeof(range_fns[0]); f++) {
		for (size_t r = 0; r < sizeof(bad_ranges) / sizeof(bad_ranges[0]); r++)
			EXPECT_UNCHANGED(bad_ranges[r].code, range_fns[f].call(bad_ranges[r].start, bad_ranges[r].end),
				       "%s refuses %s", range_fns[f].name, bad_ranges[r].what);
	}
}

/* ---- values, masks and pointers ------------------------------------------------------------ */

static void test_bad_values(void)
{
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_set(map, 0, 10, 256), "set refuses value 256");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_set(map, 0, 10, UINT_MAX), "set refuses value UINT_MAX");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_update(map, 0, 10, 256, 0), "update refuses clear_mask 256");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_update(map, 0, 10, 0, 256), "update refuses set_mask 256");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_update(map, 0, 10, UINT_MAX, UINT_MAX), "update refuses masks UINT_MAX");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_is_uniform(map, 0, 10, 256), "is_uniform refuses value 256");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_count_in_range(map, 0, 10, 256), "count_in_range refuses value 256");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_pages(map, 256), "pages refuses value 256 (not masked to 0)");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_pages(map, UINT_MAX), "pages refuses value UINT_MAX");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_uniform_value(map, 0, 10, NULL), "uniform_value refuses a NULL value pointer");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_runs(map, 0, 10, NULL, 8), "runs refuses a NULL out");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_runs(map, 0, 10, runs_out, 0), "runs refuses max_runs 0");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_map_new(NULL), "map_new refuses a NULL out");
}

static void test_bad_gfns(void)
{
	static const struct {
		uint64_t gfn;
		const char *what;
	} bad[] = {
		{ GFN_LIMIT, "2^40" }, { GFN_LIMIT + 1, "2^40 + 1" }, { GFN_2POW53_PLUS_1, "2^53 + 1 (not rounded)" },
		{ (uint64_t)1 << 63, "2^63" }, { UINT64_MAX, "UINT64_MAX (-1 as int64_t)" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_UNCHANGED(MEMATTR_E_RANGE, memattr_get(map, bad[i].gfn), "get refuses gfn %s", bad[i].what);
}

/* get_many: -ERANGE at the first bad gfn, the values before it written, the rest untouched. */
static void test_get_many_partial(size_t n, size_t bad_at, uint64_t bad_gfn)
{
	uint64_t *gfns = malloc(n * sizeof(*gfns));
	uint8_t *values = malloc(n);

	if (!gfns || !values)
		abort();
	for (size_t i = 0; i < n; i++)
		gfns[i] = i % 2 ? GFN_LIMIT - 1 - i : i; /* the fixture's values at both ends */
	gfns[bad_at] = bad_gfn;
	memset(values, 0xab, n);
	EXPECT_UNCHANGED(MEMATTR_E_RANGE, memattr_get_many(map, gfns, values, n),
		       "get_many of %zu refuses gfn %#" PRIx64 " at index %zu", n, bad_gfn, bad_at);
	tap_begin();
	for (size_t i = 0; i < bad_at; i++) {
		if (!CHECK(values[i] == memattr_get(map, gfns[i]), "values[%zu] = %u", i, values[i]))
			break;
	}
	for (size_t i = bad_at; i < n; i++) {
		if (!CHECK(values[i] == 0xab, "values[%zu] = %#x was written", i, values[i]))
			break;
	}
	tap_end("get_many of %zu with a bad gfn at %zu writes exactly the values before it", n, bad_at);
	free(gfns);
	free(values);
}

static void test_get_many(void)
{
	uint64_t gfn = 0;
	uint8_t value = 0;

	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_get_many(map, NULL, &value, 1), "get_many refuses NULL gfns");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_get_many(map, &gfn, NULL, 1), "get_many refuses NULL values");
	EXPECT_UNCHANGED(0, memattr_get_many(map, NULL, NULL, 0), "get_many of 0 gfns accepts NULL pointers");
	test_get_many_partial(10, 0, GFN_LIMIT);
	test_get_many_partial(10, 3, GFN_2POW53_PLUS_1);
	test_get_many_partial(6000, 5000, UINT64_MAX); /* in the second chunk of 4096 */
	test_get_many_partial(6000, 4096, GFN_LIMIT);  /* the first gfn of the second chunk */
}

/* ---- the memory limit ---------------------------------------------------------------------- */

static void test_memory_limit_args(void)
{
	int64_t held = memattr_linear_memory_bytes(map);
	uint64_t limit = memattr_memory_limit(map);

	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_set_memory_limit(map, (uint64_t)held - 1),
		       "set_memory_limit refuses a cap below the memory held");
	EXPECT_UNCHANGED(MEMATTR_E_INVAL, memattr_set_memory_limit(map, 0), "set_memory_limit refuses 0");
	tap_begin();
	CHECK(memattr_memory_limit(map) == limit, "limit %" PRIu64 ", was %" PRIu64, memattr_memory_limit(map), limit);
	tap_end("a refused set_memory_limit keeps the cap");
}

/* ---- the edges that must work -------------------------------------------------------------- */

static void test_edges_accepted(void)
{
	struct memattr_run run;
	uint8_t value = 0;

	tap_begin();
	CHECK(memattr_get(map, GFN_LIMIT - 1) == 255, "get(2^40 - 1) = %d", memattr_get(map, GFN_LIMIT - 1));
	CHECK(memattr_is_uniform(map, GFN_LIMIT - 2, GFN_LIMIT, 255) == 1, "is_uniform of the last two pages");
	CHECK(memattr_uniform_value(map, GFN_LIMIT - 1, GFN_LIMIT, &value) == 1 && value == 255, "value %u", value);
	CHECK(memattr_count_in_range(map, 0, GFN_LIMIT, 255) == 2, "count %" PRId64,
	      memattr_count_in_range(map, 0, GFN_LIMIT, 255));
	CHECK(memattr_runs(map, GFN_LIMIT - 1, GFN_LIMIT, &run, 1) == 1 && run.start == GFN_LIMIT - 1 &&
	      run.end == GFN_LIMIT && run.value == 255, "run [%" PRIu64 ", %" PRIu64 ") %u", run.start, run.end, run.value);
	CHECK(memattr_update(map, GFN_LIMIT - 1, GFN_LIMIT, 0x0f, 0) == 0 && memattr_get(map, GFN_LIMIT - 1) == 0xf0,
	      "update of the last page");
	CHECK(memattr_set(map, GFN_LIMIT - 1, GFN_LIMIT, 255) == 0, "set of the last page");
	tap_end("the last page, 2^40 - 1, is a page like any other");

	tap_begin();
	CHECK(memattr_set(map, 0, GFN_LIMIT, 7) == 0, "set(0, 2^40)");
	CHECK(memattr_run_count(map) == 1, "run_count %" PRId64, memattr_run_count(map));
	CHECK(memattr_pages(map, 7) == (int64_t)GFN_LIMIT, "pages(7) %" PRId64, memattr_pages(map, 7));
	CHECK(memattr_clear(map) == 0 && memattr_pages(map, 0) == (int64_t)GFN_LIMIT, "clear");
	tap_end("set(0, 2^40) covers the whole map, clear empties it");
	fill_fixture();
}

static void test_strerror(void)
{
	static const int codes[] = {
		MEMATTR_E_NOMEM, MEMATTR_E_FAULT, MEMATTR_E_INVAL, MEMATTR_E_RANGE, MEMATTR_E_NOSYS,
		MEMATTR_E_NXIO, MEMATTR_E_BUSY, MEMATTR_E_PERM, MEMATTR_E_OPNOTSUPP, MEMATTR_E_ALREADY,
		MEMATTR_E_INPROGRESS, MEMATTR_E_NOENT, MEMATTR_E_NOSPC, MEMATTR_E_EXIST, MEMATTR_E_NOTRECOVERABLE,
	};

	tap_begin();
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		CHECK(strcmp(memattr_strerror(codes[i]), "unknown error") != 0, "code %d", codes[i]);
	CHECK(strcmp(memattr_strerror(0), "unknown error") != 0, "0");
	CHECK(strcmp(memattr_strerror(-9999), "unknown error") == 0, "-9999: %s", memattr_strerror(-9999));
	CHECK(strcmp(memattr_strerror(12), "unknown error") == 0, "12 (a positive errno): %s", memattr_strerror(12));
	tap_end("strerror names every code of the table and 0, and only those");
}

int main(void)
{
	tap_init();
	if (memattr_map_new(&map) != 0) {
		tap_begin();
		CHECK(0, "memattr_map_new failed");
		tap_end("a map is created");
		return tap_done();
	}
	fill_fixture();
	test_bad_ranges();
	test_bad_values();
	test_bad_gfns();
	test_get_many();
	test_memory_limit_args();
	test_edges_accepted();
	test_strerror();
	memattr_map_free(map);
	memattr_map_free(NULL);
	return tap_done();
}
