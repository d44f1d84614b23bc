/* A quick timing loop (make -C native bench; not a test): what the guard costs per call, and
 * memattr_get / memattr_is_uniform (2 MiB) on a fragmented 1 GiB guest. Best of 5 rounds of
 * many calls each; ns per call. A proper benchmark belongs in bench/.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "support.h"

#define CALLS 10000000L
#define ROUNDS 5
#define GUEST_PAGES ((uint64_t)1 << 18) /* 1 GiB */
#define NGFNS 65536                     /* a power of two: index by mask */

static uint64_t gfns[NGFNS];
static volatile int64_t sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ---- the guard alone: an empty call with and without it ------------------------------------ */

__attribute__((noinline)) static int call_plain(memattr_map *map, uint64_t gfn)
{
	if (memattr_check_gfn(gfn))
		return MEMATTR_E_RANGE;
	return map->broken + (int)(gfn & 1);
}

__attribute__((noinline)) static int call_guarded(memattr_map *map, uint64_t gfn)
{
	struct memattr_guard guard;
	int rc;

	if (memattr_check_gfn(gfn))
		return MEMATTR_E_RANGE;
	MEMATTR_ENTER(map, &guard);
	rc = (int)(gfn & 1);
	memattr_leave(&guard);
	return rc;
}

/* The same guard on glibc's setjmp (no signal mask) instead of GCC's builtin, for comparison. */
static MEMATTR_TLS jmp_buf *libc_guard;

__attribute__((noinline)) static int call_guarded_libc(memattr_map *map, uint64_t gfn)
{
	jmp_buf buf, *outer = libc_guard;
	int rc;

	if (memattr_check_gfn(gfn))
		return MEMATTR_E_RANGE;
	if (map->broken)
		return MEMATTR_E_NOTRECOVERABLE;
	if (setjmp(buf) != 0) {
		libc_guard = outer;
		return MEMATTR_E_NOTRECOVERABLE;
	}
	libc_guard = &buf;
	rc = (int)(gfn & 1);
	libc_guard = outer;
	return rc;
}

typedef int64_t (*bench_fn)(memattr_map *map, long i);

static int64_t b_plain(memattr_map *m, long i) { return call_plain(m, gfns[i & (NGFNS - 1)]); }
static int64_t b_guarded(memattr_map *m, long i) { return call_guarded(m, gfns[i & (NGFNS - 1)]); }
static int64_t b_guarded_libc(memattr_map *m, long i) { return call_guarded_libc(m, gfns[i & (NGFNS - 1)]); }
static int64_t b_core_get(memattr_map *m, long i) { return (int32_t)Z_memattrZ_get(&m->core, (double)(int64_t)gfns[i & (NGFNS - 1)]); }
static int64_t b_get(memattr_map *m, long i) { return memattr_get(m, gfns[i & (NGFNS - 1)]); }
static int64_t b_is_uniform(memattr_map *m, long i)
{
	uint64_t s = gfns[i & (NGFNS - 1)] & ~(uint64_t)511;

	return memattr_is_uniform(m, s, s + 512, 0);
}
static int64_t b_core_is_uniform(memattr_map *m, long i)
{
	uint64_t s = gfns[i & (NGFNS - 1)] & ~(uint64_t)511;

	return (int32_t)Z_memattrZ_isUniform(&m->core, (double)(int64_t)s, (double)(int64_t)(s + 512), 0);
}

static double time_ns(memattr_map *map, bench_fn fn, long calls)
{
	double best = 1e30;

	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns();
		int64_t acc = 0;

		for (long i = 0; i < calls; i++)
			acc += fn(map, i);
		sink = acc;
		t0 = (now_ns() - t0) / (double)calls;
		best = t0 < best ? t0 : best;
	}
	return best;
}

int main(void)
{
	struct rng rng = { 42 };
	memattr_map *map;

	if (memattr_map_new(&map) != 0)
		return 1;
	for (int i = 0; i < NGFNS; i++)
		gfns[i] = rng_below(&rng, GUEST_PAGES);
	/* fragmented: a few thousand short runs of 1-3, the rest 0 (2 MiB ranges mostly mixed) */
	for (int i = 0; i < 4000; i++) {
		uint64_t s = rng_below(&rng, GUEST_PAGES - 16);

		memattr_set(map, s, s + 1 + rng_below(&rng, 8), 1 + (unsigned)rng_below(&rng, 3));
	}
	printf("guard alone (an empty call, checked gfn):\n");
	printf("  plain                    %6.2f ns\n", time_ns(map, b_plain, CALLS));
	printf("  guarded, __builtin_setjmp %5.2f ns\n", time_ns(map, b_guarded, CALLS));
	printf("  guarded, glibc setjmp    %6.2f ns\n", time_ns(map, b_guarded_libc, CALLS));
	printf("1 GiB guest, %" PRId64 " runs, random pages:\n", memattr_run_count(map));
	printf("  core get (no checks, no guard)  %6.2f ns\n", time_ns(map, b_core_get, CALLS));
	printf("  memattr_get                     %6.2f ns\n", time_ns(map, b_get, CALLS));
	printf("  core isUniform 2 MiB            %6.2f ns\n", time_ns(map, b_core_is_uniform, CALLS / 4));
	printf("  memattr_is_uniform 2 MiB        %6.2f ns\n", time_ns(map, b_is_uniform, CALLS / 4));
	memattr_set(map, 0, GUEST_PAGES, 0);
	memattr_set(map, 12345, 12346, 1); /* one page elsewhere keeps it a tree */
	printf("the same guest uniform:\n");
	printf("  memattr_get                     %6.2f ns\n", time_ns(map, b_get, CALLS));
	printf("  memattr_is_uniform 2 MiB        %6.2f ns\n", time_ns(map, b_is_uniform, CALLS / 4));
	memattr_map_free(map);
	return 0;
}
