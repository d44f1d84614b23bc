/* The conversion part of memattr.h (conv.c over the core's conv.ts): every bad argument of every
 * conversion function, every refusal the state machine makes, exact abort, multi-range
 * ownership, fault decisions, backing counts, the memory cap and a trap. Each refused call is
 * checked for its exact code and for leaving the map exactly as it was: all runs of [0, 2^40),
 * run_count, pages(v), memory_bytes, memattr_conv_open_count and memattr_launched, before and
 * after. memattr_check_invariants (which includes the core's conversion table) after every case.
 *
 * Short names: G, PRIV, PEND, PRES, SPOP, PPOP, SDIS, PDIS are the page bits MEMATTR_PAGE_*
 * (memattr_abi.h); TO_PRIV, PRESERVE, ANY_PRES the MEMATTR_CONV_* flags; "the fixture" is a
 * map whose guest memory is [0, 512) and [600, 640), both shared, with the hole [512, 600)
 * and everything from 640 outside.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* the trap hook (memattr_debug_scribble_heap) and map->broken */
#include "support.h"
#include "tap.h"

#define G MEMATTR_PAGE_GUEST
#define PRIV MEMATTR_PAGE_PRIVATE
#define PEND MEMATTR_PAGE_PENDING
#define PRES MEMATTR_PAGE_PRESERVE
#define SPOP MEMATTR_PAGE_SHARED_POPULATED
#define PPOP MEMATTR_PAGE_PRIVATE_POPULATED
#define SDIS MEMATTR_PAGE_SHARED_DISCARDED
#define PDIS MEMATTR_PAGE_PRIVATE_DISCARDED
#define TO_PRIV MEMATTR_CONV_TO_PRIVATE
#define PRESERVE MEMATTR_CONV_PRESERVE
#define ANY_PRES MEMATTR_CONV_JOIN_ANY_PRESERVE
#define SHARED MEMATTR_SIDE_SHARED
#define PRIVATE MEMATTR_SIDE_PRIVATE

/* Pages far above any guest memory that the memory-cap cases fill with raw values (never guest). */
#define FAR_GFN ((uint64_t)1 << 39)
#define WASM_PAGE_BYTES ((uint64_t)65536)

/* ---- the whole state, and the checks around a call ----------------------------------------- */

struct state {
	struct snapshot map;
	int64_t open;
	int launched;
};

static void state_take(memattr_map *m, struct state *s)
{
	snapshot_take(m, &s->map);
	s->open = memattr_conv_open_count(m);
	s->launched = memattr_launched(m);
}

/* 1 when equal; else prints the first difference as a diagnostic line of the current case. */
static int state_equal(const struct state *a, const struct state *b)
{
	if (a->open != b->open || a->launched != b->launched) {
		tap_diag("  open %" PRId64 " -> %" PRId64 ", launched %d -> %d", a->open, b->open, a->launched, b->launched);
		return 0;
	}
	if (snapshot_equal(&a->map, &b->map))
		return 1;
	tap_diag("  runs %zu -> %zu, run_count %" PRId64 " -> %" PRId64 ", memory_bytes %" PRId64 " -> %" PRId64,
		 a->map.nruns, b->map.nruns, a->map.run_count, b->map.run_count, a->map.memory_bytes,
		 b->map.memory_bytes);
	for (size_t i = 0; i < a->map.nruns && i < b->map.nruns; i++) {
		const struct memattr_run *x = &a->map.runs[i], *y = &b->map.runs[i];

		if (x->start != y->start || x->end != y->end || x->value != y->value) {
			tap_diag("  run %zu: [%" PRIu64 ", %" PRIu64 ") = %#x -> [%" PRIu64 ", %" PRIu64 ") = %#x", i,
				 x->start, x->end, x->value, y->start, y->end, y->value);
			break;
		}
	}
	return 0;
}

static void state_free(struct state *s)
{
	snapshot_free(&s->map);
}

/* Within a case: evaluates call once on m; it must return code and leave m exactly as it was. */
#define REFUSES(m, code, call, what)                                                               \
	do {                                                                                     \
		struct state before_, after_;                                                    \
		int64_t rc_;                                                                     \
		state_take((m), &before_);                                                       \
		rc_ = (call);                                                                    \
		state_take((m), &after_);                                                        \
		CHECK(rc_ == (code), "%s: returned %" PRId64 " (%s), expected %d (%s)", (what), rc_, \
		      memattr_strerror((int)rc_), (code), memattr_strerror(code));                \
		CHECK(state_equal(&before_, &after_), "%s: the map changed", (what));            \
		state_free(&before_);                                                            \
		state_free(&after_);                                                             \
	} while (0)

/* Ends a case, after memattr_check_invariants on m. */
#define END_CASE(m, ...)                                                                           \
	do {                                                                                     \
		int inv_ = memattr_check_invariants(m);                                          \
		CHECK(inv_ == 0, "check_invariants returned %d", inv_);                          \
		tap_end(__VA_ARGS__);                                                            \
	} while (0)

/* A case of one refused call. */
#define EXPECT_REFUSED(m, code, call, ...)                                                         \
	do {                                                                                     \
		tap_begin();                                                                     \
		REFUSES((m), (code), (call), "the call");                                        \
		END_CASE((m), __VA_ARGS__);                                                      \
	} while (0)

/* Evaluates call; it must return 0 (setup steps inside a case). */
#define OK(call) CHECK((call) == 0, "%s failed", #call)

/* ---- maps ------------------------------------------------------------------------------------ */

static memattr_map *new_map(void)
{
	memattr_map *m;

	if (memattr_map_new(&m) != 0)
		abort();
	return m;
}

/* The fixture: guest memory [0, 512) and [600, 640), shared. */
static memattr_map *new_fixture(void)
{
	memattr_map *m = new_map();

	if (memattr_guest_add(m, 0, 512, 0) != 0 || memattr_guest_add(m, 600, 40, 0) != 0)
		abort();
	return m;
}

/* A map whose guest memory is [0, npages), shared. */
static memattr_map *new_guest(uint64_t npages)
{
	memattr_map *m = new_map();

	if (memattr_guest_add(m, 0, npages, 0) != 0)
		abort();
	return m;
}

/* Raw page values (fixture building): [gfn, gfn + npages) := value. */
static void put(memattr_map *m, uint64_t gfn, uint64_t npages, unsigned value)
{
	if (memattr_set(m, gfn, gfn + npages, value) != 0)
		abort();
}

/* values[i] = the value of page gfn + i, i < n. */
static void values_of(memattr_map *m, uint64_t gfn, size_t n, uint8_t *values)
{
	uint64_t *gfns = malloc(n * sizeof(*gfns));

	if (!gfns)
		abort();
	for (size_t i = 0; i < n; i++)
		gfns[i] = gfn + i;
	if (memattr_get_many(m, gfns, values, n) != 0)
		abort();
	free(gfns);
}

/* 1 when pages gfn .. gfn + n - 1 hold want[0 .. n - 1]; prints the first difference. */
static int values_are(memattr_map *m, uint64_t gfn, size_t n, const uint8_t *want, const char *what)
{
	uint8_t *got = malloc(n);
	int ok = 1;

	if (!got)
		abort();
	values_of(m, gfn, n, got);
	for (size_t i = 0; i < n; i++) {
		if (got[i] != want[i]) {
			tap_diag("  %s: page %" PRIu64 " holds %#x, expected %#x", what, gfn + i, got[i], want[i]);
			ok = 0;
			break;
		}
	}
	free(got);
	return ok;
}

/* 1 when every page of [gfn, gfn + npages) holds value. */
static int holds(memattr_map *m, uint64_t gfn, uint64_t npages, unsigned value)
{
	return memattr_is_uniform(m, gfn, gfn + npages, value) == 1;
}

/* What populate / discard / commit / abort do to one page value (the rules, written out here). */
static uint8_t populated(uint8_t v, int side)
{
	return side == SHARED ? (uint8_t)((v & ~SDIS) | SPOP) : (uint8_t)((v & ~PDIS) | PPOP);
}

static uint8_t discarded(uint8_t v, int side)
{
	unsigned pop = side == SHARED ? SPOP : PPOP, dis = side == SHARED ? SDIS : PDIS;

	return (v & pop) ? (uint8_t)((v & ~pop) | dis) : v;
}

static uint8_t committed(uint8_t v)
{
	return (v & PRIV) ? (uint8_t)(v & ~(PEND | PRIV)) : (uint8_t)((v & ~(PEND | PRES)) | PRIV);
}

static uint8_t aborted(uint8_t v)
{
	return (uint8_t)(v & ~(PEND | PRES));
}

/* ---- bad arguments -------------------------------------------------------------------------- */

static const struct {
	uint64_t gfn, npages;
	int code;
	const char *what;
} bad_pages[] = {
	{ 0, 0, MEMATTR_E_INVAL, "npages 0" },
	{ 10, 0, MEMATTR_E_INVAL, "npages 0 in guest memory" },
	{ GFN_LIMIT, 0, MEMATTR_E_INVAL, "npages 0 at 2^40" },
	{ GFN_LIMIT, 1, MEMATTR_E_RANGE, "gfn 2^40" },
	{ GFN_LIMIT - 1, 2, MEMATTR_E_RANGE, "the last page and one past 2^40" },
	{ 0, GFN_LIMIT + 1, MEMATTR_E_RANGE, "npages 2^40 + 1" },
	{ GFN_LIMIT + 1, 1, MEMATTR_E_RANGE, "gfn 2^40 + 1" },
	{ GFN_2POW53_PLUS_1, 1, MEMATTR_E_RANGE, "gfn 2^53 + 1 (not rounded)" },
	{ 0, GFN_2POW53_PLUS_1, MEMATTR_E_RANGE, "npages 2^53 + 1 (not rounded)" },
	{ 1, GFN_2POW53_PLUS_1 - 2, MEMATTR_E_RANGE, "gfn + npages = 2^53" },
	{ (uint64_t)1 << 63, 1, MEMATTR_E_RANGE, "gfn 2^63" },
	{ UINT64_MAX, 1, MEMATTR_E_RANGE, "gfn UINT64_MAX (-1 as int64_t)" },
	{ 1, UINT64_MAX, MEMATTR_E_RANGE, "npages UINT64_MAX (gfn + npages wraps to 0)" },
	{ UINT64_MAX, UINT64_MAX, MEMATTR_E_RANGE, "gfn and npages UINT64_MAX" },
	{ 0, UINT64_MAX, MEMATTR_E_RANGE, "npages UINT64_MAX" },
};

static memattr_map *bad_map;
static struct memattr_conv bad_out;
static uint64_t bad_refaults;

static int64_t call_guest_add(uint64_t g, uint64_t n) { return memattr_guest_add(bad_map, g, n, 0); }
static int64_t call_guest_remove(uint64_t g, uint64_t n) { return memattr_guest_remove(bad_map, g, n); }
static int64_t call_request_private(uint64_t g, uint64_t n) { return memattr_conv_request(bad_map, g, n, TO_PRIV, &bad_out); }
static int64_t call_request_shared(uint64_t g, uint64_t n) { return memattr_conv_request(bad_map, g, n, 0, &bad_out); }
static int64_t call_fault_private(uint64_t g, uint64_t n) { return memattr_fault(bad_map, g, n, 1, &bad_out); }
static int64_t call_fault_shared(uint64_t g, uint64_t n) { return memattr_fault(bad_map, g, n, 0, &bad_out); }
static int64_t call_populate_shared(uint64_t g, uint64_t n) { return memattr_populate(bad_map, SHARED, g, n, &bad_refaults); }
static int64_t call_populate_private(uint64_t g, uint64_t n) { return memattr_populate(bad_map, PRIVATE, g, n, &bad_refaults); }
static int64_t call_discard_shared(uint64_t g, uint64_t n) { return memattr_discard(bad_map, SHARED, g, n); }
static int64_t call_discard_private(uint64_t g, uint64_t n) { return memattr_discard(bad_map, PRIVATE, g, n); }

static const struct {
	const char *name;
	int64_t (*call)(uint64_t gfn, uint64_t npages);
} page_fns[] = {
	{ "guest_add", call_guest_add },
	{ "guest_remove", call_guest_remove },
	{ "conv_request to private", call_request_private },
	{ "conv_request to shared", call_request_shared },
	{ "fault (private access)", call_fault_private },
	{ "fault (shared access)", call_fault_shared },
	{ "populate (shared side)", call_populate_shared },
	{ "populate (private side)", call_populate_private },
	{ "discard (shared side)", call_discard_shared },
	{ "discard (private side)", call_discard_private },
};

/* The fixture with some state: an open conversion, backing bits, a private run. */
static memattr_map *new_busy_fixture(struct memattr_conv *open)
{
	memattr_map *m = new_fixture();
	uint64_t refaults;

	put(m, 100, 20, G | PRIV);
	if (memattr_populate(m, SHARED, 0, 40, &refaults) != 40 || memattr_discard(m, SHARED, 30, 5) != 5 ||
	    memattr_conv_request(m, 10, 10, TO_PRIV, open) != 0)
		abort();
	return m;
}

static void test_bad_pages(void)
{
	struct memattr_conv open;

	bad_map = new_busy_fixture(&open);
	for (size_t f = 0; f < sizeof(page_fns) / sizeof(page_fns[0]); f++) {
		tap_begin();
		for (size_t r = 0; r < sizeof(bad_pages) / sizeof(bad_pages[0]); r++) {
			char what[160];

			snprintf(what, sizeof(what), "gfn %#" PRIx64 " npages %#" PRIx64 " (%s)", bad_pages[r].gfn,
				 bad_pages[r].npages, bad_pages[r].what);
			memset(&bad_out, 0xa5, sizeof(bad_out));
			bad_refaults = 0xdead;
			REFUSES(bad_map, bad_pages[r].code, page_fns[f].call(bad_pages[r].gfn, bad_pages[r].npages), what);
			CHECK(bad_out.id == 0xa5a5a5a5a5a5a5a5ull && bad_refaults == 0xdead, "%s: an out was written", what);
		}
		END_CASE(bad_map, "%s refuses npages 0 (-EINVAL) and ranges past 2^40, 2^53 + 1 and UINT64_MAX (-ERANGE), changing nothing",
			 page_fns[f].name);
	}
	memattr_map_free(bad_map);
}

static void test_bad_flags_sides_pointers(void)
{
	static const unsigned bad_flags[] = { 8, 16, 0x80, TO_PRIV | 8, TO_PRIV | PRESERVE | ANY_PRES | 8, 1u << 31, UINT_MAX };
	static const int bad_sides[] = { 2, 3, -1, INT_MIN, INT_MAX };
	struct memattr_conv open, c;
	struct memattr_range ranges[2];
	memattr_map *m = new_busy_fixture(&open);
	uint64_t refaults;

	tap_begin();
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "flags %#x", bad_flags[i]);
		REFUSES(m, MEMATTR_E_INVAL, memattr_conv_request(m, 40, 8, bad_flags[i], &c), what);
	}
	END_CASE(m, "conv_request refuses unknown flag bits with -EINVAL");

	tap_begin();
	for (size_t i = 0; i < sizeof(bad_sides) / sizeof(bad_sides[0]); i++) {
		char what[64];

		refaults = 0xdead;
		snprintf(what, sizeof(what), "populate side %d", bad_sides[i]);
		REFUSES(m, MEMATTR_E_INVAL, memattr_populate(m, bad_sides[i], 0, 8, &refaults), what);
		CHECK(refaults == 0xdead, "%s wrote refault_pages", what);
		snprintf(what, sizeof(what), "discard side %d", bad_sides[i]);
		REFUSES(m, MEMATTR_E_INVAL, memattr_discard(m, bad_sides[i], 0, 8), what);
	}
	END_CASE(m, "populate and discard refuse a side other than 0 and 1 with -EINVAL");

	tap_begin();
	REFUSES(m, MEMATTR_E_INVAL, memattr_conv_request(m, 40, 8, TO_PRIV, NULL), "conv_request out NULL");
	REFUSES(m, MEMATTR_E_INVAL, memattr_fault(m, 40, 8, 1, NULL), "fault out NULL (a convert)");
	REFUSES(m, MEMATTR_E_INVAL, memattr_fault(m, 0, 8, 0, NULL), "fault out NULL (a spurious one)");
	REFUSES(m, MEMATTR_E_INVAL, memattr_conv_commit(m, NULL), "conv_commit NULL");
	REFUSES(m, MEMATTR_E_INVAL, memattr_conv_abort(m, NULL), "conv_abort NULL");
	REFUSES(m, MEMATTR_E_INVAL, memattr_conv_owned_ranges(m, NULL, 0, ranges, 2), "owned_ranges conv NULL");
	REFUSES(m, MEMATTR_E_INVAL, memattr_conv_owned_ranges(m, &open, 0, NULL, 2), "owned_ranges out NULL, max 2");
	REFUSES(m, 0, memattr_conv_owned_ranges(m, &open, 0, NULL, 0), "owned_ranges out NULL, max 0");
	END_CASE(m, "NULL out and conv pointers are -EINVAL (owned_ranges of max 0 takes a NULL out)");

	tap_begin();
	REFUSES(m, MEMATTR_E_INVAL, memattr_pages_matching(m, 256, 0), "mask 256");
	REFUSES(m, MEMATTR_E_INVAL, memattr_pages_matching(m, 0, 256), "match 256");
	REFUSES(m, MEMATTR_E_INVAL, memattr_pages_matching(m, UINT_MAX, G), "mask UINT_MAX");
	REFUSES(m, MEMATTR_E_INVAL, memattr_pages_matching(m, G, G | 0x100), "match G | 0x100 (not masked to G)");
	CHECK(memattr_pages_matching(m, G, G) == 552, "guest pages %" PRId64, memattr_pages_matching(m, G, G));
	CHECK(memattr_pages_matching(m, G | PEND, G | PEND) == 10, "pending %" PRId64, memattr_pages_matching(m, G | PEND, G | PEND));
	CHECK(memattr_pages_matching(m, 255, G | PRIV) == 20, "private %" PRId64, memattr_pages_matching(m, 255, G | PRIV));
	CHECK(memattr_pages_matching(m, 0, 0) == (int64_t)GFN_LIMIT, "everything %" PRId64, memattr_pages_matching(m, 0, 0));
	END_CASE(m, "pages_matching refuses masks above 255 with -EINVAL and counts the rest");

	tap_begin();
	OK(memattr_conv_commit(m, &open));
	END_CASE(m, "the conversion open through every refusal above still commits");
	memattr_map_free(m);
}

/* ---- guest memory: -EEXIST, -ENXIO ---------------------------------------------------------- */

static void test_guest_add(void)
{
	memattr_map *m = new_map();

	tap_begin();
	OK(memattr_guest_add(m, 0, 512, 0));
	OK(memattr_guest_add(m, 600, 40, 1));
	CHECK(holds(m, 0, 512, G) && holds(m, 600, 40, G | PRIV) && holds(m, 512, 88, 0) && holds(m, 640, 1000, 0),
	      "shared, private and outside pages");
	CHECK(memattr_pages_matching(m, G, G) == 552, "guest pages");
	REFUSES(m, MEMATTR_E_EXIST, memattr_guest_add(m, 500, 20, 0), "[500, 520) overlaps the end of [0, 512)");
	REFUSES(m, MEMATTR_E_EXIST, memattr_guest_add(m, 511, 1, 0), "the last page of [0, 512)");
	REFUSES(m, MEMATTR_E_EXIST, memattr_guest_add(m, 590, 11, 1), "[590, 601) overlaps the start of [600, 640)");
	REFUSES(m, MEMATTR_E_EXIST, memattr_guest_add(m, 0, 1000, 0), "[0, 1000) covers both regions");
	OK(memattr_guest_add(m, 512, 88, 0)); /* the hole, exactly */
	CHECK(holds(m, 0, 600, G), "[0, 600) shared now");
	REFUSES(m, MEMATTR_E_EXIST, memattr_guest_add(m, 512, 1, 0), "the filled hole");
	END_CASE(m, "guest_add refuses a range touching guest memory with -EEXIST and adds exactly the rest");
	memattr_map_free(m);
}

static void test_guest_remove(void)
{
	struct memattr_conv open, c;
	memattr_map *m = new_busy_fixture(&open); /* [10, 20) pending to private, [0, 40) populated shared but [30, 35) */
	uint64_t refaults;

	tap_begin();
	REFUSES(m, MEMATTR_E_NXIO, memattr_guest_remove(m, 500, 20), "[500, 520) runs into the hole");
	REFUSES(m, MEMATTR_E_NXIO, memattr_guest_remove(m, 0, 640), "[0, 640) spans the hole");
	REFUSES(m, MEMATTR_E_NXIO, memattr_guest_remove(m, 5, 600), "-ENXIO before -EBUSY");
	REFUSES(m, MEMATTR_E_BUSY, memattr_guest_remove(m, 0, 512), "[0, 512) holds the pending [10, 20)");
	REFUSES(m, MEMATTR_E_BUSY, memattr_guest_remove(m, 19, 1), "the last pending page");
	OK(memattr_guest_remove(m, 20, 492)); /* the rest of [0, 512), backing bits and all */
	CHECK(holds(m, 20, 580, 0) && holds(m, 640, 1000, 0), "[20, 600) is outside now");
	CHECK(memattr_pages_matching(m, G, G) == 60, "guest pages: [0, 20) and [600, 640)");
	CHECK(memattr_pages_matching(m, SPOP, SPOP) == 20, "shared-populated pages left: [0, 20)");
	CHECK(memattr_pages_matching(m, PRIV, PRIV) == 0, "the private run [100, 120) is gone");
	REFUSES(m, MEMATTR_E_NXIO, memattr_conv_request(m, 15, 10, TO_PRIV, &c), "a request across the new end");
	OK(memattr_conv_commit(m, &open));
	OK(memattr_guest_remove(m, 0, 20));
	OK(memattr_guest_add(m, 0, 512, 0));
	CHECK(holds(m, 0, 512, G), "added again: shared, both backings empty");
	CHECK(memattr_populate(m, SHARED, 30, 5, &refaults) == 5 && refaults == 0, "no refault: the discarded bits were forgotten");
	END_CASE(m, "guest_remove refuses -ENXIO then -EBUSY with the map unchanged, and forgets every page it removes");
	memattr_map_free(m);
}

static void test_outside_guest_memory(void)
{
	static const struct {
		uint64_t gfn, npages;
		const char *what;
	} outside[] = {
		{ 520, 10, "inside the hole" }, { 505, 10, "across the end of [0, 512)" },
		{ 595, 10, "across the start of [600, 640)" }, { 635, 10, "across the end of [600, 640)" },
		{ 0, 640, "over both regions and the hole" }, { 640, 1, "the first page after the guest" },
		{ GFN_LIMIT - 1, 1, "the last page of the map" }, { 0, GFN_LIMIT, "the whole map" },
	};
	struct memattr_conv open, c;
	memattr_map *m = new_busy_fixture(&open);
	uint64_t refaults;

	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		uint64_t g = outside[i].gfn, n = outside[i].npages;

		tap_begin();
		REFUSES(m, MEMATTR_E_NXIO, memattr_conv_request(m, g, n, TO_PRIV, &c), "request to private");
		REFUSES(m, MEMATTR_E_NXIO, memattr_conv_request(m, g, n, 0, &c), "request to shared");
		REFUSES(m, MEMATTR_E_NXIO, memattr_conv_request(m, g, n, TO_PRIV | PRESERVE, &c), "request preserving");
		REFUSES(m, MEMATTR_E_NXIO, memattr_conv_request(m, g, n, PRESERVE, &c), "PRESERVE to shared (-ENXIO first)");
		REFUSES(m, MEMATTR_E_NXIO, memattr_fault(m, g, n, 1, &c), "fault, private access");
		REFUSES(m, MEMATTR_E_NXIO, memattr_fault(m, g, n, 0, &c), "fault, shared access");
		REFUSES(m, MEMATTR_E_NXIO, memattr_populate(m, SHARED, g, n, &refaults), "populate shared");
		REFUSES(m, MEMATTR_E_NXIO, memattr_populate(m, PRIVATE, g, n, &refaults), "populate private");
		REFUSES(m, MEMATTR_E_NXIO, memattr_discard(m, SHARED, g, n), "discard shared");
		REFUSES(m, MEMATTR_E_NXIO, memattr_discard(m, PRIVATE, g, n), "discard private");
		END_CASE(m, "requests, faults, populate and discard %s are -ENXIO", outside[i].what);
	}
	memattr_map_free(m);
}

/* ---- conflicts, the PRESERVE rules and the launch gate ----------------------------------------- */

static void test_conflicts(void)
{
	memattr_map *m = new_fixture();
	struct memattr_conv to_priv, to_shared, preserving, c;

	tap_begin();
	put(m, 100, 20, G | PRIV);
	OK(memattr_conv_request(m, 10, 10, TO_PRIV, &to_priv));
	OK(memattr_conv_request(m, 100, 10, 0, &to_shared));
	OK(memattr_conv_request(m, 200, 10, TO_PRIV | PRESERVE, &preserving));
	REFUSES(m, MEMATTR_E_BUSY, memattr_conv_request(m, 15, 10, 0, &c), "to shared over pages pending to private");
	REFUSES(m, MEMATTR_E_BUSY, memattr_conv_request(m, 0, 11, 0, &c), "to shared, its last page pending to private");
	REFUSES(m, MEMATTR_E_BUSY, memattr_conv_request(m, 105, 10, TO_PRIV, &c), "to private over pages pending to shared");
	REFUSES(m, MEMATTR_E_BUSY, memattr_conv_request(m, 0, 200, TO_PRIV, &c), "to private, pages pending both ways");
	END_CASE(m, "a request over a page pending the other way is -EBUSY");

	tap_begin();
	REFUSES(m, MEMATTR_E_BUSY, memattr_conv_request(m, 205, 10, TO_PRIV, &c), "plain over PRESERVE");
	REFUSES(m, MEMATTR_E_BUSY, memattr_conv_request(m, 12, 4, TO_PRIV | PRESERVE, &c), "PRESERVE over plain");
	REFUSES(m, MEMATTR_E_BUSY, memattr_conv_request(m, 0, 300, TO_PRIV | PRESERVE, &c), "PRESERVE over both");
	OK(memattr_conv_request(m, 205, 10, TO_PRIV | PRESERVE, &c));
	CHECK(c.npages_owned == 5 && c.nranges_owned == 1, "PRESERVE joins PRESERVE: owns %" PRIu64, c.npages_owned);
	CHECK(holds(m, 205, 5, G | PEND | PRES) && holds(m, 210, 5, G | PEND | PRES), "all pending preserving");
	OK(memattr_conv_abort(m, &c));
	OK(memattr_conv_request(m, 205, 10, TO_PRIV | ANY_PRES, &c));
	CHECK(c.npages_owned == 5 && holds(m, 205, 5, G | PEND | PRES) && holds(m, 210, 5, G | PEND),
	      "JOIN_ANY_PRESERVE joins the preserving pages, owns the rest without PRESERVE");
	OK(memattr_conv_abort(m, &c));
	OK(memattr_conv_request(m, 8, 4, TO_PRIV | ANY_PRES | PRESERVE, &c));
	CHECK(c.npages_owned == 2 && holds(m, 8, 2, G | PEND | PRES) && holds(m, 10, 2, G | PEND),
	      "PRESERVE with JOIN_ANY_PRESERVE joins plain pending pages");
	OK(memattr_conv_abort(m, &c));
	END_CASE(m, "to private with the other PRESERVE is -EBUSY, unless JOIN_ANY_PRESERVE");

	tap_begin();
	REFUSES(m, MEMATTR_E_BUSY, memattr_fault(m, 12, 2, 0, &c), "shared access to pages pending to private");
	REFUSES(m, MEMATTR_E_BUSY, memattr_fault(m, 104, 2, 1, &c), "private access to pages pending to shared");
	REFUSES(m, MEMATTR_E_BUSY, memattr_fault(m, 200, 2, 0, &c), "shared access to pages pending to private, preserving");
	REFUSES(m, MEMATTR_E_BUSY, memattr_fault(m, 0, 12, 0, &c), "shared access, spurious but for its last pages");
	REFUSES(m, MEMATTR_E_BUSY, memattr_fault(m, 0, 12, 0, &c), "the same again");
	REFUSES(m, MEMATTR_E_BUSY, memattr_fault(m, 98, 10, 1, &c), "private access over a page to convert and pages pending away");
	END_CASE(m, "a memory fault on a page pending away from the access is -EBUSY (a violation), nothing changes");

	tap_begin();
	OK(memattr_conv_commit(m, &to_priv));
	OK(memattr_conv_commit(m, &to_shared));
	OK(memattr_conv_commit(m, &preserving));
	CHECK(holds(m, 10, 10, G | PRIV) && holds(m, 100, 10, G) && holds(m, 110, 10, G | PRIV) && holds(m, 200, 10, G | PRIV),
	      "the three commits");
	CHECK(memattr_conv_open_count(m) == 0, "open %" PRId64, memattr_conv_open_count(m));
	END_CASE(m, "the conversions refused against commit as they were");
	memattr_map_free(m);
}

static void test_launch_gate(void)
{
	memattr_map *m = new_fixture();
	struct memattr_conv preserving, plain, c;

	tap_begin();
	REFUSES(m, MEMATTR_E_OPNOTSUPP, memattr_conv_request(m, 0, 8, PRESERVE, &c), "PRESERVE to shared");
	REFUSES(m, MEMATTR_E_OPNOTSUPP, memattr_conv_request(m, 0, 8, PRESERVE | ANY_PRES, &c), "PRESERVE | JOIN_ANY to shared");
	put(m, 20, 8, G | PRIV);
	REFUSES(m, MEMATTR_E_OPNOTSUPP, memattr_conv_request(m, 20, 8, PRESERVE, &c), "PRESERVE to shared of private pages");
	END_CASE(m, "PRESERVE to shared is -EOPNOTSUPP");

	tap_begin();
	OK(memattr_conv_request(m, 0, 8, TO_PRIV | PRESERVE, &preserving));
	OK(memattr_conv_request(m, 40, 8, TO_PRIV, &plain));
	REFUSES(m, MEMATTR_E_INPROGRESS, memattr_launch(m), "launch with a preserving conversion open");
	OK(memattr_conv_commit(m, &plain));
	REFUSES(m, MEMATTR_E_INPROGRESS, memattr_launch(m), "launch with it still open");
	OK(memattr_conv_request(m, 8, 8, TO_PRIV | PRESERVE, &c));
	OK(memattr_conv_abort(m, &preserving));
	REFUSES(m, MEMATTR_E_INPROGRESS, memattr_launch(m), "launch with a second one open");
	OK(memattr_conv_commit(m, &c));
	CHECK(memattr_launched(m) == 0, "launched before launch");
	OK(memattr_launch(m));
	CHECK(memattr_launched(m) == 1, "launched after launch");
	END_CASE(m, "launch is -EINPROGRESS while a preserving conversion is open, then works");

	tap_begin();
	REFUSES(m, MEMATTR_E_ALREADY, memattr_launch(m), "a second launch");
	REFUSES(m, MEMATTR_E_PERM, memattr_conv_request(m, 100, 8, TO_PRIV | PRESERVE, &c), "PRESERVE after launch");
	REFUSES(m, MEMATTR_E_PERM, memattr_conv_request(m, 100, 8, TO_PRIV | PRESERVE | ANY_PRES, &c), "PRESERVE | JOIN_ANY after launch");
	REFUSES(m, MEMATTR_E_OPNOTSUPP, memattr_conv_request(m, 100, 8, PRESERVE, &c), "PRESERVE to shared after launch");
	OK(memattr_conv_request(m, 100, 8, TO_PRIV, &c));
	REFUSES(m, MEMATTR_E_PERM, memattr_conv_request(m, 96, 8, TO_PRIV | PRESERVE, &c), "PRESERVE over plain pending after launch (-EPERM before -EBUSY)");
	OK(memattr_conv_abort(m, &c));
	CHECK(holds(m, 100, 8, G), "aborted");
	END_CASE(m, "after launch: launch is -EALREADY, PRESERVE is -EPERM (-EOPNOTSUPP to shared), plain requests work");
	memattr_map_free(m);
}

/* Which refusal wins when several apply: -ENXIO, -EOPNOTSUPP, -EPERM, -EBUSY, -ENOSPC (conv.ts). */
static void test_precedence(void)
{
	memattr_map *m = new_fixture();
	struct memattr_conv c, opposite;

	tap_begin();
	OK(memattr_conv_request(m, 10, 4, TO_PRIV, &opposite));
	REFUSES(m, MEMATTR_E_NXIO, memattr_conv_request(m, 10, 600, PRESERVE, &c), "outside + PRESERVE to shared + busy");
	REFUSES(m, MEMATTR_E_OPNOTSUPP, memattr_conv_request(m, 0, 20, PRESERVE, &c), "PRESERVE to shared + busy");
	OK(memattr_launch(m));
	REFUSES(m, MEMATTR_E_OPNOTSUPP, memattr_conv_request(m, 0, 20, PRESERVE, &c), "PRESERVE to shared after launch + busy");
	REFUSES(m, MEMATTR_E_PERM, memattr_conv_request(m, 0, 20, TO_PRIV | PRESERVE, &c), "PRESERVE after launch + busy");
	REFUSES(m, MEMATTR_E_NXIO, memattr_conv_request(m, 505, 10, TO_PRIV | PRESERVE, &c), "outside + PRESERVE after launch");
	END_CASE(m, "-ENXIO before -EOPNOTSUPP before -EPERM before -EBUSY");
	memattr_map_free(m);
}

/* ---- settled and unknown conversions -------------------------------------------------------- */

static void test_settled_and_unknown(void)
{
	memattr_map *m = new_fixture();
	struct memattr_conv a, b, fake;
	struct memattr_range r;

	tap_begin();
	OK(memattr_conv_request(m, 0, 8, TO_PRIV, &a));
	OK(memattr_conv_commit(m, &a));
	REFUSES(m, MEMATTR_E_NOENT, memattr_conv_commit(m, &a), "commit of a committed conversion");
	REFUSES(m, MEMATTR_E_NOENT, memattr_conv_abort(m, &a), "abort of a committed conversion");
	REFUSES(m, MEMATTR_E_NOENT, memattr_conv_owned_ranges(m, &a, 0, &r, 1), "owned_ranges of a committed conversion");
	OK(memattr_conv_request(m, 16, 8, TO_PRIV, &b));
	CHECK(b.slot == a.slot && b.id == a.id + 1, "the slot is reused (%u, %u), the id is not (%" PRIu64 ", %" PRIu64 ")",
	      a.slot, b.slot, a.id, b.id);
	REFUSES(m, MEMATTR_E_NOENT, memattr_conv_commit(m, &a), "commit of the committed one, its slot now open again");
	REFUSES(m, MEMATTR_E_NOENT, memattr_conv_abort(m, &a), "abort of it");
	OK(memattr_conv_abort(m, &b));
	REFUSES(m, MEMATTR_E_NOENT, memattr_conv_abort(m, &b), "abort of an aborted conversion");
	REFUSES(m, MEMATTR_E_NOENT, memattr_conv_commit(m, &b), "commit of an aborted conversion");
	CHECK(holds(m, 0, 8, G | PRIV) && holds(m, 8, 504, G), "one commit, one abort");
	END_CASE(m, "commit and abort of a settled conversion are -ENOENT, also once its slot is reused");

	tap_begin();
	OK(memattr_conv_request(m, 100, 8, TO_PRIV, &a));
	/* a's slot and id changed one way each: an id never handed out or a slot never made */
	static const struct {
		int set_id, set_slot;
		uint64_t id;
		uint32_t slot;
		const char *what;
	} fakes[] = {
		{ 1, 0, 0, 0, "id 0" }, { 1, 0, (uint64_t)1 << 53, 0, "id 2^53" },
		{ 1, 0, ((uint64_t)1 << 53) + 1, 0, "id 2^53 + 1" }, { 1, 0, UINT64_MAX, 0, "id UINT64_MAX" },
		{ 0, 1, 0, 1, "slot 1 (not made yet)" }, { 0, 1, 0, 95, "slot 95 (its block made, the slot not)" },
		{ 0, 1, 0, 96, "slot 96 (no record block)" }, { 0, 1, 0, MEMATTR_CONV_MAX_OPEN, "slot CONV_MAX_OPEN" },
		{ 0, 1, 0, (uint32_t)INT32_MAX + 1, "slot 2^31" }, { 0, 1, 0, UINT32_MAX, "slot UINT32_MAX" },
	};
	for (size_t i = 0; i < sizeof(fakes) / sizeof(fakes[0]) + 2; i++) {
		char what[96];

		fake = a;
		if (i == sizeof(fakes) / sizeof(fakes[0])) {
			fake.id = a.id + 1; /* the next id, in a's slot */
		} else if (i > sizeof(fakes) / sizeof(fakes[0])) {
			fake.id = a.id - 1; /* the previous one (b's, aborted) in the same slot */
		} else {
			if (fakes[i].set_id)
				fake.id = fakes[i].id;
			if (fakes[i].set_slot)
				fake.slot = fakes[i].slot;
		}
		const char *name = i < sizeof(fakes) / sizeof(fakes[0]) ? fakes[i].what
				   : i == sizeof(fakes) / sizeof(fakes[0]) ? "the next id" : "the previous id";

		snprintf(what, sizeof(what), "commit, %s", name);
		REFUSES(m, MEMATTR_E_NOENT, memattr_conv_commit(m, &fake), what);
		snprintf(what, sizeof(what), "abort, %s", name);
		REFUSES(m, MEMATTR_E_NOENT, memattr_conv_abort(m, &fake), what);
		snprintf(what, sizeof(what), "owned_ranges, %s", name);
		REFUSES(m, MEMATTR_E_NOENT, memattr_conv_owned_ranges(m, &fake, 0, &r, 1), what);
	}
	CHECK(memattr_conv_owned_ranges(m, &a, 0, &r, 1) == 1 && r.gfn == 100 && r.npages == 8, "the real one's range");
	OK(memattr_conv_commit(m, &a));
	CHECK(holds(m, 100, 8, G | PRIV), "committed");
	END_CASE(m, "a made-up slot or id is -ENOENT for commit, abort and owned_ranges; the real one commits");
	memattr_map_free(m);
}

/* ---- -ENOSPC -------------------------------------------------------------------------------- */

static void test_too_many_open(void)
{
	memattr_map *m = new_guest(2 * MEMATTR_CONV_MAX_OPEN);
	struct memattr_conv *convs = calloc(MEMATTR_CONV_MAX_OPEN + 1, sizeof(*convs));
	struct memattr_conv c;
	int bad = 0;

	if (!convs)
		abort();
	tap_begin();
	for (uint64_t i = 0; i < MEMATTR_CONV_MAX_OPEN; i++)
		bad += memattr_conv_request(m, i, 1, i % 2 ? TO_PRIV : TO_PRIV | PRESERVE, &convs[i]) != 0;
	CHECK(bad == 0, "%d of %d requests failed", bad, MEMATTR_CONV_MAX_OPEN);
	CHECK(memattr_conv_open_count(m) == MEMATTR_CONV_MAX_OPEN, "open %" PRId64, memattr_conv_open_count(m));
	REFUSES(m, MEMATTR_E_NOSPC, memattr_conv_request(m, 5000, 1, TO_PRIV, &c), "one more request");
	REFUSES(m, MEMATTR_E_NOSPC, memattr_conv_request(m, 5000, 100, 0, &c), "one more that would own nothing");
	REFUSES(m, MEMATTR_E_NOSPC, memattr_fault(m, 5000, 1, 1, &c), "a fault that would convert");
	CHECK(memattr_fault(m, 5000, 1, 0, &c) == MEMATTR_FAULT_SPURIOUS, "a spurious fault needs no slot");
	CHECK(memattr_fault(m, 3, 1, 1, &c) == MEMATTR_FAULT_IN_FLIGHT, "an in-flight fault needs no slot");
	REFUSES(m, MEMATTR_E_NXIO, memattr_conv_request(m, 1 << 20, 1, TO_PRIV, &c), "-ENXIO before -ENOSPC");
	REFUSES(m, MEMATTR_E_BUSY, memattr_conv_request(m, 0, 2, 0, &c), "-EBUSY before -ENOSPC");
	END_CASE(m, "with CONV_MAX_OPEN (%d) conversions open a request is -ENOSPC", MEMATTR_CONV_MAX_OPEN);

	tap_begin();
	OK(memattr_conv_commit(m, &convs[1234]));
	OK(memattr_conv_request(m, 5000, 1, TO_PRIV, &convs[MEMATTR_CONV_MAX_OPEN]));
	CHECK(convs[MEMATTR_CONV_MAX_OPEN].slot == convs[1234].slot, "the freed slot is taken");
	REFUSES(m, MEMATTR_E_NOSPC, memattr_conv_request(m, 5001, 1, TO_PRIV, &c), "full again");
	bad = 0;
	for (int i = 0; i <= MEMATTR_CONV_MAX_OPEN; i++) {
		if (i != 1234)
			bad += (i % 3 ? memattr_conv_commit(m, &convs[i]) : memattr_conv_abort(m, &convs[i])) != 0;
	}
	CHECK(bad == 0, "%d settles failed", bad);
	CHECK(memattr_conv_open_count(m) == 0, "open %" PRId64, memattr_conv_open_count(m));
	CHECK(memattr_launch(m) == 0, "launch once every preserving conversion is settled");
	END_CASE(m, "after a commit the next request gets the free slot, and everything settles");
	free(convs);
	memattr_map_free(m);
}

/* ---- multi-range ownership ------------------------------------------------------------------ */

/* nunits units of 4 pages from gfn 0: three pages the request owns (three different values: one
 * owned range over three runs) and one it skips. to_private: the owned pages are shared, the
 * fourth private; else the other way round. */
static void put_units(memattr_map *m, uint64_t base, uint64_t nunits, int to_private)
{
	unsigned a = to_private ? 0 : PRIV;

	for (uint64_t i = 0; i < nunits; i++) {
		uint64_t g = base + 4 * i;

		put(m, g, 1, G | a);
		put(m, g + 1, 1, G | a | (to_private ? SPOP : PPOP));
		put(m, g + 2, 1, G | a | (to_private ? SDIS : PDIS));
		put(m, g + 3, 1, G | (a ^ PRIV));
	}
}

/* Checks owned_ranges of c against units from gfn 0, in chunks of `chunk`, and in one call. */
static void check_owned_units(memattr_map *m, const struct memattr_conv *c, uint64_t nunits, size_t chunk)
{
	struct memattr_range *got = calloc(nunits + 8, sizeof(*got));
	uint64_t first = 0;
	int64_t n;
	int bad = 0;

	if (!got)
		abort();
	while (first < nunits + 1) {
		size_t want = nunits - first < chunk ? (size_t)(nunits - first) : chunk;

		n = memattr_conv_owned_ranges(m, c, first, got + first, chunk);
		if (!CHECK(n == (int64_t)want, "chunk at %" PRIu64 ": %" PRId64 " ranges, expected %zu", first, n, want))
			break;
		if (n == 0)
			break;
		first += (uint64_t)n;
	}
	for (uint64_t i = 0; i < nunits; i++)
		bad += got[i].gfn != 4 * i || got[i].npages != 3;
	CHECK(bad == 0, "%d ranges differ in chunks of %zu", bad, chunk);
	memset(got, 0, (nunits + 8) * sizeof(*got));
	n = memattr_conv_owned_ranges(m, c, 0, got, nunits + 8);
	CHECK(n == (int64_t)nunits, "one call: %" PRId64 " ranges", n);
	bad = 0;
	for (uint64_t i = 0; i < nunits; i++)
		bad += got[i].gfn != 4 * i || got[i].npages != 3;
	CHECK(bad == 0, "%d ranges differ in one call", bad);
	CHECK(memattr_conv_owned_ranges(m, c, nunits - 1, got, 5) == 1 && got[0].gfn == 4 * (nunits - 1), "from the last");
	CHECK(memattr_conv_owned_ranges(m, c, nunits, got, 5) == 0, "from past the last");
	CHECK(memattr_conv_owned_ranges(m, c, (uint64_t)1 << 60, got, 5) == 0, "from 2^60");
	CHECK(memattr_conv_owned_ranges(m, c, UINT64_MAX, got, 5) == 0, "from UINT64_MAX");
	free(got);
}

static void test_multi_range(uint64_t nunits, int to_private)
{
	uint64_t npages = 4 * nunits + 8;
	memattr_map *m = new_guest(npages + 100);
	uint8_t *before = malloc(npages), *want = malloc(npages);
	struct memattr_conv c;
	unsigned flags = to_private ? TO_PRIV : 0;

	if (!before || !want)
		abort();
	put_units(m, 0, nunits, to_private);
	values_of(m, 0, npages, before);

	tap_begin();
	OK(memattr_conv_request(m, 0, 4 * nunits, flags, &c));
	CHECK(c.npages_owned == 3 * nunits && c.nranges_owned == nunits, "owns %" PRIu64 " pages in %" PRIu64 " ranges",
	      c.npages_owned, c.nranges_owned);
	CHECK(c.gfn == 0 && c.npages == 4 * nunits && c.flags == flags, "the request's own fields");
	for (uint64_t i = 0; i < npages; i++)
		want[i] = (i < 4 * nunits && i % 4 != 3) ? (uint8_t)(before[i] | PEND) : before[i];
	CHECK(values_are(m, 0, npages, want, "pending"), "the owned pages are pending, no other");
	check_owned_units(m, &c, nunits, 7);
	check_owned_units(m, &c, nunits, 33);
	OK(memattr_conv_abort(m, &c));
	CHECK(values_are(m, 0, npages, before, "aborted"), "abort restores every page");
	END_CASE(m, "a request to %s owning %" PRIu64 " ranges lists them all (chunks of 7, 33 and one call) and aborts exactly",
		 to_private ? "private" : "shared", nunits);

	tap_begin();
	OK(memattr_conv_request(m, 0, 4 * nunits, flags, &c));
	CHECK(c.nranges_owned == nunits, "owns %" PRIu64 " ranges", c.nranges_owned);
	OK(memattr_conv_commit(m, &c));
	for (uint64_t i = 0; i < npages; i++)
		want[i] = (i < 4 * nunits && i % 4 != 3) ? committed((uint8_t)(before[i] | PEND)) : before[i];
	CHECK(values_are(m, 0, npages, want, "committed"), "commit converts every owned page, keeps its backing bits");
	CHECK(holds(m, 0, 1, to_private ? G | PRIV : G), "page 0");
	END_CASE(m, "the same request committed converts exactly its %" PRIu64 " ranges", nunits);
	free(before);
	free(want);
	memattr_map_free(m);
}

/* ---- exact abort ---------------------------------------------------------------------------- */

static void test_exact_abort(void)
{
	enum { N = 96 };
	memattr_map *m = new_fixture();
	uint8_t before[N], want[N];
	struct memattr_conv earlier, preserving, c;
	uint64_t refaults;

	/* [0, 96): shared, private, pending to private (an earlier conversion), backing bits */
	put(m, 16, 8, G | PRIV);
	put(m, 24, 4, G | PRIV | PPOP);
	put(m, 60, 4, G | SDIS | PDIS);
	if (memattr_populate(m, SHARED, 4, 40, &refaults) != 40 || memattr_conv_request(m, 32, 8, TO_PRIV, &earlier) != 0 ||
	    memattr_conv_request(m, 80, 4, TO_PRIV | PRESERVE, &preserving) != 0)
		abort();
	values_of(m, 0, N, before);

	tap_begin();
	OK(memattr_conv_request(m, 0, N, TO_PRIV | ANY_PRES, &c));
	CHECK(c.npages_owned == N - 12 - 8 - 4, "owns %" PRIu64, c.npages_owned);
	memcpy(want, before, N);
	/* the backings change while the conversion is pending */
	CHECK(memattr_populate(m, PRIVATE, 0, 48, &refaults) >= 0, "populate private [0, 48)");
	CHECK(memattr_discard(m, SHARED, 8, 40) >= 0, "discard shared [8, 48)");
	CHECK(memattr_populate(m, SHARED, 60, 2, &refaults) == 0 && refaults == 2, "refault shared [60, 62)");
	CHECK(memattr_discard(m, PRIVATE, 0, 4) == 4, "discard private [0, 4)");
	for (int i = 0; i < N; i++) {
		if (i < 48)
			want[i] = populated(want[i], PRIVATE);
		if (i >= 8 && i < 48)
			want[i] = discarded(want[i], SHARED);
		if (i >= 60 && i < 62)
			want[i] = populated(want[i], SHARED);
		if (i < 4)
			want[i] = discarded(want[i], PRIVATE);
	}
	OK(memattr_conv_abort(m, &c));
	CHECK(values_are(m, 0, N, want, "after abort"), "the pages before the request, with the backing changes made since");
	CHECK(holds(m, 32, 8, G | PEND | PPOP | SDIS), "the earlier conversion's pages still pending");
	CHECK(holds(m, 80, 4, G | PEND | PRES), "the preserving conversion's pages still pending");
	CHECK(memattr_conv_open_count(m) == 2, "open %" PRId64, memattr_conv_open_count(m));
	END_CASE(m, "abort restores the conversion bits of exactly the owned pages and keeps backing changes made in between");

	tap_begin();
	OK(memattr_conv_abort(m, &earlier));
	OK(memattr_conv_abort(m, &preserving));
	for (int i = 0; i < N; i++)
		want[i] = aborted(want[i]);
	CHECK(values_are(m, 0, N, want, "after both aborts"), "no pending bit left, backing bits kept");
	END_CASE(m, "aborting the joined conversions restores their pages too");
	memattr_map_free(m);
}

/* ---- memory faults -------------------------------------------------------------------------- */

static void test_faults(void)
{
	memattr_map *m = new_fixture();
	struct memattr_conv pending, preserving, c, d;
	struct memattr_range r;
	struct state before, after;
	int rc;

	put(m, 100, 20, G | PRIV);
	if (memattr_conv_request(m, 10, 10, TO_PRIV, &pending) != 0 ||
	    memattr_conv_request(m, 40, 4, TO_PRIV | PRESERVE, &preserving) != 0)
		abort();

	tap_begin();
	memset(&c, 0xa5, sizeof(c));
	REFUSES(m, MEMATTR_FAULT_SPURIOUS, memattr_fault(m, 0, 8, 0, &c), "shared access to shared pages");
	REFUSES(m, MEMATTR_FAULT_SPURIOUS, memattr_fault(m, 100, 20, 1, &c), "private access to private pages");
	REFUSES(m, MEMATTR_FAULT_SPURIOUS, memattr_fault(m, 600, 40, 0, &c), "shared access to the second region");
	CHECK(c.id == 0xa5a5a5a5a5a5a5a5ull, "out written");
	END_CASE(m, "a fault on pages that already have the access's attribute is spurious and changes nothing");

	tap_begin();
	REFUSES(m, MEMATTR_FAULT_IN_FLIGHT, memattr_fault(m, 12, 2, 1, &c), "private access to pages pending to private");
	REFUSES(m, MEMATTR_FAULT_IN_FLIGHT, memattr_fault(m, 10, 10, 1, &c), "the whole pending range");
	REFUSES(m, MEMATTR_FAULT_IN_FLIGHT, memattr_fault(m, 40, 2, 1, &c), "pages pending to private, preserving");
	put(m, 20, 4, G | PRIV);
	REFUSES(m, MEMATTR_FAULT_IN_FLIGHT, memattr_fault(m, 18, 6, 1, &c), "pending to private and private pages");
	CHECK(c.id == 0xa5a5a5a5a5a5a5a5ull, "out written");
	END_CASE(m, "a fault on pages pending towards the access (others already there) is in-flight and changes nothing");

	tap_begin();
	state_take(m, &before);
	rc = memattr_fault(m, 30, 4, 1, &c);
	CHECK(rc == MEMATTR_FAULT_CONVERT, "returned %d", rc);
	CHECK(c.id == preserving.id + 1 && c.gfn == 30 && c.npages == 4 && c.npages_owned == 4 && c.nranges_owned == 1 &&
	      c.flags == (TO_PRIV | ANY_PRES), "conv id %" PRIu64 " owned %" PRIu64 " flags %#x", c.id, c.npages_owned, c.flags);
	CHECK(holds(m, 30, 4, G | PEND), "pending to private");
	CHECK(memattr_conv_open_count(m) == before.open + 1, "one more open");
	OK(memattr_conv_commit(m, &c));
	CHECK(holds(m, 30, 4, G | PRIV), "committed");
	REFUSES(m, MEMATTR_E_NOENT, memattr_conv_commit(m, &c), "commit again");
	state_take(m, &after);
	state_free(&before);
	state_free(&after);
	END_CASE(m, "a private access to shared pages converts: the request is open in *out and commits like any other");

	tap_begin();
	rc = memattr_fault(m, 8, 40, 1, &c);
	CHECK(rc == MEMATTR_FAULT_CONVERT, "returned %d", rc);
	/* [8, 48): shared 8-9, pending 10-19, private 20-23, shared 24-29, private 30-33, shared 34-39,
	 * preserving 40-43, shared 44-47 */
	CHECK(c.npages_owned == 2 + 6 + 6 + 4 && c.nranges_owned == 4, "owned %" PRIu64 " in %" PRIu64, c.npages_owned,
	      c.nranges_owned);
	CHECK(memattr_conv_owned_ranges(m, &c, 2, &r, 1) == 1 && r.gfn == 34 && r.npages == 6, "range 2");
	CHECK(holds(m, 40, 4, G | PEND | PRES) && holds(m, 44, 4, G | PEND), "joined the preserving pages without PRESERVE");
	OK(memattr_conv_abort(m, &c));
	CHECK(holds(m, 8, 2, G) && holds(m, 10, 10, G | PEND) && holds(m, 24, 6, G) && holds(m, 40, 4, G | PEND | PRES) &&
	      holds(m, 44, 4, G), "abort gives back exactly the owned pages");
	END_CASE(m, "a fault's conversion joins pending pages of either PRESERVE and owns only the pages to convert");

	tap_begin();
	OK(memattr_conv_abort(m, &preserving));
	OK(memattr_launch(m));
	rc = memattr_fault(m, 100, 8, 0, &d);
	CHECK(rc == MEMATTR_FAULT_CONVERT && d.flags == ANY_PRES && d.npages_owned == 8, "returned %d", rc);
	CHECK(holds(m, 100, 8, G | PRIV | PEND), "pending to shared");
	REFUSES(m, MEMATTR_FAULT_IN_FLIGHT, memattr_fault(m, 100, 4, 0, &c), "again: in-flight now");
	REFUSES(m, MEMATTR_E_BUSY, memattr_fault(m, 100, 4, 1, &c), "a private access to it now");
	OK(memattr_conv_commit(m, &d));
	CHECK(holds(m, 100, 8, G) && holds(m, 108, 12, G | PRIV), "committed to shared");
	OK(memattr_conv_commit(m, &pending));
	END_CASE(m, "a shared access to private pages converts to shared, also after launch");
	memattr_map_free(m);
}

/* ---- populate and discard ------------------------------------------------------------------- */

static void test_backing_counts(void)
{
	memattr_map *m = new_fixture();
	struct memattr_conv c;
	uint64_t refaults = 99;
	int64_t n;

	tap_begin();
	n = memattr_populate(m, SHARED, 0, 8, &refaults);
	CHECK(n == 8 && refaults == 0, "new %" PRId64 ", refault %" PRIu64, n, refaults);
	CHECK(holds(m, 0, 8, G | SPOP) && holds(m, 8, 504, G), "values");
	n = memattr_populate(m, SHARED, 0, 8, &refaults);
	CHECK(n == 0 && refaults == 0, "again: new %" PRId64 ", refault %" PRIu64, n, refaults);
	n = memattr_populate(m, SHARED, 4, 8, &refaults);
	CHECK(n == 4 && refaults == 0, "half populated: new %" PRId64 ", refault %" PRIu64, n, refaults);
	END_CASE(m, "populate counts the pages that were empty (new)");

	tap_begin();
	n = memattr_discard(m, SHARED, 0, 16);
	CHECK(n == 12, "freed %" PRId64, n);
	CHECK(holds(m, 0, 12, G | SDIS) && holds(m, 12, 4, G), "values");
	CHECK(memattr_discard(m, SHARED, 0, 16) == 0, "again: nothing freed");
	CHECK(memattr_discard(m, PRIVATE, 0, 16) == 0, "the other side: nothing freed");
	CHECK(holds(m, 0, 12, G | SDIS) && holds(m, 12, 4, G), "unchanged");
	END_CASE(m, "discard counts the populated pages it frees; empty and discarded pages stay");

	tap_begin();
	n = memattr_populate(m, SHARED, 8, 8, &refaults);
	CHECK(n == 4 && refaults == 4, "new %" PRId64 ", refault %" PRIu64, n, refaults);
	CHECK(holds(m, 0, 8, G | SDIS) && holds(m, 8, 8, G | SPOP), "values");
	n = memattr_populate(m, SHARED, 0, 8, NULL);
	CHECK(n == 0, "refaults only, NULL refault_pages: new %" PRId64, n);
	CHECK(holds(m, 0, 16, G | SPOP), "populated");
	n = memattr_populate(m, PRIVATE, 0, 4, &refaults);
	CHECK(n == 4 && refaults == 0 && holds(m, 0, 4, G | SPOP | PPOP), "the private side is its own");
	CHECK(memattr_discard(m, PRIVATE, 0, 16) == 4 && holds(m, 0, 4, G | SPOP | PDIS), "private discard");
	n = memattr_populate(m, PRIVATE, 0, 16, &refaults);
	CHECK(n == 12 && refaults == 4 && holds(m, 0, 16, G | SPOP | PPOP), "new %" PRId64 ", refault %" PRIu64, n, refaults);
	END_CASE(m, "populate counts discarded pages as refaults, not new; the sides are independent");

	tap_begin();
	OK(memattr_conv_request(m, 0, 32, TO_PRIV, &c));
	CHECK(memattr_discard(m, SHARED, 0, 32) == 16 && holds(m, 0, 16, G | PEND | SDIS | PPOP), "discard on pending pages");
	n = memattr_populate(m, SHARED, 0, 32, &refaults);
	CHECK(n == 16 && refaults == 16 && holds(m, 0, 16, G | PEND | SPOP | PPOP) && holds(m, 16, 16, G | PEND | SPOP),
	      "populate on pending pages: new %" PRId64 ", refault %" PRIu64, n, refaults);
	OK(memattr_conv_commit(m, &c));
	CHECK(holds(m, 0, 16, G | PRIV | SPOP | PPOP) && holds(m, 16, 16, G | PRIV | SPOP), "commit keeps the backing bits");
	n = memattr_populate(m, SHARED, 600, 40, &refaults);
	CHECK(n == 40 && refaults == 0, "the second region: new %" PRId64, n);
	CHECK(memattr_discard(m, SHARED, 600, 40) == 40 && holds(m, 600, 40, G | SDIS), "discard all of it");
	END_CASE(m, "backing bits change on pending pages without touching the conversion bits");
	memattr_map_free(m);
}

/* ---- -ENOMEM under a memory cap -------------------------------------------------------------- */

/* Sets single far pages (raw values, never guest) until a set is -ENOMEM: the heap is then full
 * to within one edit's reserve. Returns the sets that fit. */
static long fill_heap(memattr_map *m, long max_sets)
{
	long i;

	for (i = 0; i < max_sets; i++) {
		uint64_t g = FAR_GFN + (uint64_t)i * 4096 * 129 % FAR_GFN;
		int rc = memattr_set(m, g, g + 1, (unsigned)(i % 120) + 1);

		if (rc == MEMATTR_E_NOMEM)
			return i;
		if (rc != 0)
			abort();
	}
	return -1;
}

/* Each kind of call over a fragmented range under a full heap: -ENOMEM and nothing changes; the
 * same call succeeds once the cap is raised. */
static void test_nomem_full_heap(void)
{
	enum { UNITS = 200, SPAN = 4 * UNITS };
	/* ranges of [0, 16384): a conversion to commit, one to abort, one to request, one to fault,
	 * and the backings to populate and discard */
	const uint64_t at_commit = 0, at_abort = 1000, at_request = 2000, at_fault = 3000, at_backing = 4000;
	memattr_map *m = new_guest(16384);
	struct memattr_conv to_commit, to_abort, c;
	uint64_t refaults = 0;
	long sets;
	int64_t n;

	put_units(m, at_commit, UNITS, 1);
	put_units(m, at_abort, UNITS, 0);
	put_units(m, at_request, UNITS, 1);
	put_units(m, at_fault, UNITS, 1);
	for (uint64_t g = at_backing; g < at_backing + SPAN; g += 2)
		put(m, g, 1, G | SPOP);
	if (memattr_conv_request(m, at_commit, SPAN, TO_PRIV, &to_commit) != 0 ||
	    memattr_conv_request(m, at_abort, SPAN, 0, &to_abort) != 0 || to_commit.nranges_owned != UNITS)
		abort();

	tap_begin();
	CHECK(memattr_set_memory_limit(m, (uint64_t)memattr_linear_memory_bytes(m) + WASM_PAGE_BYTES) == 0,
	      "cap at one Wasm page more than the map holds");
	sets = fill_heap(m, 1000000);
	CHECK(sets >= 0, "the heap never filled");
	REFUSES(m, MEMATTR_E_NOMEM, memattr_conv_request(m, at_request, SPAN, TO_PRIV, &c), "request over 200 ranges");
	REFUSES(m, MEMATTR_E_NOMEM, memattr_conv_request(m, at_request, 2, TO_PRIV, &c), "request over 2 pages, 2 runs");
	REFUSES(m, MEMATTR_E_NOMEM, memattr_conv_commit(m, &to_commit), "commit of 200 ranges");
	REFUSES(m, MEMATTR_E_NOMEM, memattr_conv_abort(m, &to_abort), "abort of 200 ranges");
	REFUSES(m, MEMATTR_E_NOMEM, memattr_fault(m, at_fault, SPAN, 1, &c), "a fault that converts 200 ranges");
	REFUSES(m, MEMATTR_E_NOMEM, memattr_populate(m, SHARED, at_backing, SPAN, &refaults), "populate of every other page");
	REFUSES(m, MEMATTR_E_NOMEM, memattr_discard(m, SHARED, at_backing, SPAN), "discard of every other page");
	END_CASE(m, "with the heap full (after %ld sets) requests, commits, aborts, faults, populates and discards over fragmented ranges are -ENOMEM and change nothing",
		 sets);

	tap_begin();
	OK(memattr_set_memory_limit(m, (uint64_t)1 << 32));
	OK(memattr_conv_request(m, at_request, SPAN, TO_PRIV, &c));
	CHECK(c.nranges_owned == UNITS && c.npages_owned == 3 * UNITS, "request: %" PRIu64 " ranges", c.nranges_owned);
	OK(memattr_conv_commit(m, &c));
	CHECK(holds(m, at_request, 1, G | PRIV) && holds(m, at_request + 1, 1, G | PRIV | SPOP), "committed");
	OK(memattr_conv_commit(m, &to_commit));
	CHECK(holds(m, at_commit + 4, 1, G | PRIV) && holds(m, at_commit + 6, 1, G | PRIV | SDIS), "committed");
	OK(memattr_conv_abort(m, &to_abort));
	CHECK(holds(m, at_abort, 1, G | PRIV) && holds(m, at_abort + 3, 1, G), "aborted");
	CHECK(memattr_fault(m, at_fault, SPAN, 1, &c) == MEMATTR_FAULT_CONVERT && c.nranges_owned == UNITS, "fault converts");
	OK(memattr_conv_commit(m, &c));
	n = memattr_populate(m, SHARED, at_backing, SPAN, &refaults);
	CHECK(n == SPAN / 2 && refaults == 0 && holds(m, at_backing, SPAN, G | SPOP), "populate: new %" PRId64, n);
	n = memattr_discard(m, SHARED, at_backing, SPAN);
	CHECK(n == SPAN && holds(m, at_backing, SPAN, G | SDIS), "discard: freed %" PRId64, n);
	END_CASE(m, "after the cap is raised each of the refused calls succeeds");
	memattr_map_free(m);
}

/* A request owning many ranges needs room for its range list: under a cap that tightens a set at
 * a time it fails with -ENOMEM (never a trap, nothing changed) while a one-page request still fits. */
static void test_nomem_range_list(void)
{
	enum { UNITS = 2101 };
	memattr_map *m = new_guest(16384);
	struct memattr_conv c, small;
	long tries;
	int rc = 0;

	put_units(m, 0, UNITS, 1);
	tap_begin();
	CHECK(memattr_set_memory_limit(m, (uint64_t)memattr_linear_memory_bytes(m) + 2 * WASM_PAGE_BYTES) == 0,
	      "cap at two Wasm pages more than the map holds");
	for (tries = 0; tries < 1000000; tries++) {
		uint64_t g = FAR_GFN + (uint64_t)tries * 4096 * 129 % FAR_GFN;

		rc = memattr_conv_request(m, 0, 4 * UNITS, TO_PRIV, &c);
		if (rc != 0)
			break;
		if (memattr_conv_abort(m, &c) != 0 || memattr_set(m, g, g + 1, (unsigned)(tries % 120) + 1) != 0) {
			rc = 1;
			break;
		}
	}
	CHECK(rc == MEMATTR_E_NOMEM, "after %ld tries the request returned %d", tries, rc);
	REFUSES(m, MEMATTR_E_NOMEM, memattr_conv_request(m, 0, 4 * UNITS, TO_PRIV, &c), "the request again");
	CHECK(memattr_conv_request(m, 16000, 1, TO_PRIV, &small) == 0, "a one-page request still fits");
	CHECK(memattr_conv_abort(m, &small) == 0, "and aborts");
	END_CASE(m, "a request owning %d ranges that does not fit is -ENOMEM (after %ld tries) and changes nothing", UNITS, tries);

	tap_begin();
	OK(memattr_set_memory_limit(m, (uint64_t)1 << 32));
	OK(memattr_conv_request(m, 0, 4 * UNITS, TO_PRIV, &c));
	CHECK(c.nranges_owned == UNITS, "owns %" PRIu64 " ranges", c.nranges_owned);
	check_owned_units(m, &c, UNITS, 1000);
	OK(memattr_conv_commit(m, &c));
	CHECK(memattr_pages_matching(m, G | PRIV | PEND, G | PRIV) == 4 * UNITS, "all %d pages private",
	      4 * UNITS);
	END_CASE(m, "once the cap is raised the same request succeeds and commits");
	memattr_map_free(m);
}

/* ---- a trap --------------------------------------------------------------------------------- */

/* Guest memory [0, 2^20) with pages populated all over it (tree nodes and leaves on the heap), an
 * open conversion, then the heap scribbled over: the next walk of the tree traps. */
static memattr_map *new_broken_map(struct memattr_conv *open)
{
	memattr_map *m = new_guest((uint64_t)1 << 20);
	uint64_t refaults;

	for (uint64_t i = 0; i < 64; i++) {
		if (memattr_populate(m, (int)(i % 2), i * 4096 * 3 + i, 1, &refaults) != 1)
			abort();
	}
	if (memattr_conv_request(m, 3 * 4096 * 5, 40, TO_PRIV, open) != 0 || memattr_debug_scribble_heap(m, 0xfe) <= 0)
		abort();
	return m;
}

static int64_t trap_guest_add(memattr_map *m, struct memattr_conv *c) { (void)c; return memattr_guest_add(m, 4096 * 3 + 1, 1, 0); }
static int64_t trap_request(memattr_map *m, struct memattr_conv *c) { return memattr_conv_request(m, 4096 * 3 + 1, 2, TO_PRIV, c); }
static int64_t trap_fault(memattr_map *m, struct memattr_conv *c) { return memattr_fault(m, 4096 * 3 + 1, 1, 1, c); }
static int64_t trap_populate(memattr_map *m, struct memattr_conv *c)
{
	uint64_t refaults;

	(void)c;
	return memattr_populate(m, SHARED, 4096 * 3 + 1, 1, &refaults);
}
static int64_t trap_discard(memattr_map *m, struct memattr_conv *c) { (void)c; return memattr_discard(m, PRIVATE, 4096 * 3 + 1, 1); }

static const struct {
	const char *name;
	int64_t (*call)(memattr_map *m, struct memattr_conv *c);
} trapping[] = {
	{ "guest_add", trap_guest_add }, { "conv_request", trap_request }, { "fault", trap_fault },
	{ "populate", trap_populate }, { "discard", trap_discard },
};

static void test_trap(void)
{
	struct memattr_conv open, c;
	struct memattr_range r;
	uint64_t refaults = 0xdead;
	memattr_map *m;

	for (size_t i = 0; i < sizeof(trapping) / sizeof(trapping[0]); i++) {
		int64_t rc;

		m = new_broken_map(&open);
		memset(&c, 0xa5, sizeof(c));
		tap_begin();
		rc = trapping[i].call(m, &c);
		CHECK(rc == MEMATTR_E_NOTRECOVERABLE, "returned %" PRId64, rc);
		CHECK(m->broken && m->trap == WASM_RT_TRAP_OOB, "broken %d, trap %d", m->broken, m->trap);
		CHECK(memattr_guard_current == NULL, "the guard was not popped");
		CHECK(c.id == 0xa5a5a5a5a5a5a5a5ull, "out written");
		tap_end("%s over a scribbled heap traps and returns -ENOTRECOVERABLE", trapping[i].name);
		memattr_map_free(m);
	}

	m = new_broken_map(&open);
	tap_begin();
	CHECK(memattr_conv_request(m, 0, 4, TO_PRIV, &c) == MEMATTR_E_NOTRECOVERABLE, "the trapping request");
	CHECK(memattr_guest_add(m, 1 << 20, 8, 0) == MEMATTR_E_NOTRECOVERABLE, "guest_add");
	CHECK(memattr_conv_request(m, 0, 4, TO_PRIV, &c) == MEMATTR_E_NOTRECOVERABLE, "conv_request");
	CHECK(memattr_conv_commit(m, &open) == MEMATTR_E_NOTRECOVERABLE, "conv_commit");
	CHECK(memattr_conv_abort(m, &open) == MEMATTR_E_NOTRECOVERABLE, "conv_abort");
	CHECK(memattr_conv_owned_ranges(m, &open, 0, &r, 1) == MEMATTR_E_NOTRECOVERABLE, "conv_owned_ranges");
	CHECK(memattr_conv_open_count(m) == MEMATTR_E_NOTRECOVERABLE, "conv_open_count");
	CHECK(memattr_fault(m, 0, 4, 1, &c) == MEMATTR_E_NOTRECOVERABLE, "fault");
	CHECK(memattr_launch(m) == MEMATTR_E_NOTRECOVERABLE, "launch");
	CHECK(memattr_launched(m) == MEMATTR_E_NOTRECOVERABLE, "launched");
	CHECK(memattr_populate(m, SHARED, 0, 4, &refaults) == MEMATTR_E_NOTRECOVERABLE && refaults == 0xdead, "populate");
	CHECK(memattr_discard(m, SHARED, 0, 4) == MEMATTR_E_NOTRECOVERABLE, "discard");
	CHECK(memattr_pages_matching(m, G, G) == MEMATTR_E_NOTRECOVERABLE, "pages_matching");
	CHECK(memattr_guard_current == NULL, "a guard was left");
	tap_end("after a trap every conversion function returns -ENOTRECOVERABLE");
	memattr_map_free(m);
}

int main(void)
{
	tap_init();
	test_bad_pages();
	test_bad_flags_sides_pointers();
	test_guest_add();
	test_guest_remove();
	test_outside_guest_memory();
	test_conflicts();
	test_launch_gate();
	test_precedence();
	test_settled_and_unknown();
	test_too_many_open();
	test_multi_range(2, 1);
	test_multi_range(33, 1);
	test_multi_range(34, 1);
	test_multi_range(35, 0);
	test_multi_range(2101, 1);
	test_multi_range(2101, 0);
	test_exact_abort();
	test_faults();
	test_backing_counts();
	test_nomem_full_heap();
	test_nomem_range_list();
	test_trap();
	return tap_done();
}
