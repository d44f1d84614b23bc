/* The memory limit: its rounding and cap, and a fragmenting workload under a low cap, where
 * every call that needs more memory returns -ENOMEM and leaves the map exactly as it was
 * (whole-map snapshot before and after each call), while the calls that fit agree with the
 * byte-per-page reference.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "support.h"
#include "tap.h"

#define WASM_PAGE_BYTES ((uint64_t)65536)
#define GIB4 ((uint64_t)1 << 32)
#define WORKLOAD_OPS 2500

static const uint64_t windows[][2] = {
	{ 0, (uint64_t)1 << 20 },                        /* 256 chunks under two level-1 nodes */
	{ GFN_LIMIT - ((uint64_t)1 << 16), (uint64_t)1 << 16 }, /* a second path, at the top */
};

struct op {
	int is_update;
	uint64_t start, end;
	unsigned a, b; /* set: value; update: clear_mask, set_mask */
};

static struct op random_op(const struct ref_map *ref, struct rng *r)
{
	struct op op = { 0 };
	unsigned k = (unsigned)rng_below(r, 10);

	if (k < 8) { /* fragment: a page or two with a value that widens the leaf */
		op.start = ref_random_gfn(ref, r);
		op.start = op.start >= GFN_LIMIT - 2 ? GFN_LIMIT - 2 : op.start;
		op.end = op.start + 1 + rng_below(r, 2);
	} else {
		ref_random_range(ref, r, 1, &op.start, &op.end);
	}
	if (!ref_writable(ref, op.start, op.end))
		ref_random_range(ref, r, 0, &op.start, &op.end); /* a random gfn may fall in a gap */
	op.is_update = rng_below(r, 4) == 0;
	op.a = (unsigned)rng_below(r, 256);
	op.b = (unsigned)rng_below(r, 256);
	return op;
}

static int apply(memattr_map *map, const struct op *op)
{
	return op->is_update ? memattr_update(map, op->start, op->end, op->a, op->b)
			     : memattr_set(map, op->start, op->end, op->a);
}

static void apply_ref(struct ref_map *ref, const struct op *op)
{
	if (op->is_update)
		ref_update(ref, op->start, op->end, op->a, op->b);
	else
		ref_update(ref, op->start, op->end, 255, op->a);
}

static void test_limit_arithmetic(void)
{
	memattr_map *map;
	int64_t held;

	tap_begin();
	if (!CHECK(memattr_map_new(&map) == 0, "map_new")) {
		tap_end("set_memory_limit rounds down to 64 KiB and caps at 4 GiB");
		return;
	}
	held = memattr_linear_memory_bytes(map);
	CHECK(memattr_memory_limit(map) == GIB4, "a new map's cap is %" PRIu64, memattr_memory_limit(map));
	CHECK(held > 0 && held % (int64_t)WASM_PAGE_BYTES == 0, "linear memory %" PRId64, held);
	CHECK(memattr_set_memory_limit(map, (uint64_t)held + 3 * WASM_PAGE_BYTES + 123) == 0, "set");
	CHECK(memattr_memory_limit(map) == (uint64_t)held + 3 * WASM_PAGE_BYTES, "rounded to %" PRIu64,
	      memattr_memory_limit(map));
	CHECK(memattr_set_memory_limit(map, (uint64_t)held) == 0, "a cap of exactly the memory held");
	CHECK(memattr_set_memory_limit(map, (uint64_t)1 << 40) == 0 && memattr_memory_limit(map) == GIB4,
	      "1 TiB caps at %" PRIu64, memattr_memory_limit(map));
	CHECK(memattr_set_memory_limit(map, UINT64_MAX) == 0 && memattr_memory_limit(map) == GIB4, "UINT64_MAX");
	memattr_map_free(map);
	tap_end("set_memory_limit rounds down to 64 KiB and caps at 4 GiB");
}

/* At a cap of exactly what a new map holds, the first edit that needs a leaf is refused. */
static void test_no_room_at_all(void)
{
	memattr_map *map;
	struct snapshot before, after;
	int rc = 0, i;

	tap_begin();
	if (!CHECK(memattr_map_new(&map) == 0, "map_new")) {
		tap_end("at a cap of the memory held, edits fail with -ENOMEM and change nothing");
		return;
	}
	CHECK(memattr_set_memory_limit(map, (uint64_t)memattr_linear_memory_bytes(map)) == 0, "cap");
	/* fragment until the bump allocator's first pages are used up */
	for (i = 0; i < 100000 && rc == 0; i++) {
		snapshot_take(map, &before);
		rc = memattr_set(map, (uint64_t)i * 4096 * 129 % GFN_LIMIT, (uint64_t)i * 4096 * 129 % GFN_LIMIT + 1,
				 (unsigned)(i % 250) + 1);
		snapshot_take(map, &after);
		if (rc != 0)
			CHECK(snapshot_equal(&before, &after), "the refused set changed the map");
		snapshot_free(&before);
		snapshot_free(&after);
	}
	CHECK(rc == MEMATTR_E_NOMEM, "after %d sets: %d", i, rc);
	CHECK(memattr_check_invariants(map) == 0, "invariants");
	memattr_map_free(map);
	tap_end("at a cap of the memory held, edits fail with -ENOMEM (after %d sets) and change nothing", i);
}

static void test_fragmenting_workload(void)
{
	struct rng rng = { seed_from_env(0x6c696d6974ull) };
	struct ref_map ref;
	memattr_map *map;
	uint64_t limit;
	long refused[2] = { 0, 0 }, accepted = 0, unchanged = 0, mismatched = 0, over = 0, bad_rc = 0;
	struct op last_refused = { 0 };
	int have_refused = 0;

	tap_diag("seed %#" PRIx64 " (MEMATTR_SEED)", rng.state);
	if (memattr_map_new(&map) != 0)
		abort();
	ref_init(&ref, windows, sizeof(windows) / sizeof(windows[0]));
	limit = (uint64_t)memattr_linear_memory_bytes(map) + 3 * WASM_PAGE_BYTES;
	if (memattr_set_memory_limit(map, limit) != 0)
		abort();

	for (int i = 0; i < WORKLOAD_OPS; i++) {
		struct op op = random_op(&ref, &rng);
		struct snapshot before, after;
		int rc;

		snapshot_take(map, &before);
		rc = apply(map, &op);
		snapshot_take(map, &after);
		if (rc == 0) {
			apply_ref(&ref, &op);
			accepted++;
			if (i % 100 == 0 && !map_matches_ref(map, &ref))
				mismatched++;
		} else if (rc == MEMATTR_E_NOMEM) {
			refused[op.is_update]++;
			unchanged += snapshot_equal(&before, &after);
			last_refused = op;
			have_refused = 1;
		} else {
			bad_rc++;
		}
		over += (uint64_t)memattr_linear_memory_bytes(map) > limit;
		snapshot_free(&before);
		snapshot_free(&after);
	}
	tap_diag("%ld accepted, %ld sets and %ld updates refused", accepted, refused[0], refused[1]);

	tap_begin();
	CHECK(refused[0] > 0 && refused[1] > 0, "sets refused %ld, updates refused %ld", refused[0], refused[1]);
	CHECK(unchanged == refused[0] + refused[1], "%ld of %ld refused calls changed the map",
	      refused[0] + refused[1] - unchanged, refused[0] + refused[1]);
	CHECK(bad_rc == 0, "%ld calls returned neither 0 nor -ENOMEM", bad_rc);
	CHECK(memattr_check_invariants(map) == 0, "invariants");
	tap_end("under a cap of 3 pages more, refused sets and updates return -ENOMEM and change nothing");

	tap_begin();
	CHECK(mismatched == 0, "%ld checks found the map off the reference", mismatched);
	CHECK(map_matches_ref(map, &ref), "at the end");
	CHECK(accepted > WORKLOAD_OPS / 4, "only %ld calls fit", accepted);
	tap_end("the calls that fit agree with the reference (%ld of %d)", accepted, WORKLOAD_OPS);

	tap_begin();
	CHECK(over == 0, "linear memory went over the cap %ld times", over);
	tap_end("linear memory never exceeds the cap");

	tap_begin();
	CHECK(have_refused && memattr_set_memory_limit(map, GIB4) == 0, "raise the cap");
	if (have_refused) {
		CHECK(apply(map, &last_refused) == 0, "the last refused call, again");
		apply_ref(&ref, &last_refused);
		CHECK(map_matches_ref(map, &ref), "after it");
	}
	tap_end("after the cap is raised, the last refused call succeeds");

	tap_begin();
	CHECK(memattr_set_memory_limit(map, (uint64_t)memattr_linear_memory_bytes(map)) == 0, "cap at what it holds");
	CHECK(memattr_clear(map) == 0, "clear");
	CHECK(memattr_set(map, 5, 6, 77) == 0 && memattr_get(map, 5) == 77, "an edit after clear");
	CHECK(memattr_memory_bytes(map) < 16384, "memory_bytes %" PRId64 " after clear", memattr_memory_bytes(map));
	tap_end("clear hands every block back, so edits fit again");

	ref_free(&ref);
	memattr_map_free(map);
}

int main(void)
{
	tap_init();
	test_limit_arithmetic();
	test_no_room_at_all();
	test_fragmenting_workload();
	return tap_done();
}
