/* The seeded inputs of the JS peers suite (bench/_inputs.ts), rebuilt in C with the same
 * generator (src/trace/prng.ts: sfc32 seeded through splitmix32), so the same seed gives the
 * same gfns and commands here as there.
 */
#ifndef BENCH_NATIVE_INPUTS_H
#define BENCH_NATIVE_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "contender.h"

#define SHARED 0u
#define PRIVATE 1u

struct prng {
	uint32_t a, b, c, d;
};

void prng_init(struct prng *r, uint32_t seed);
uint32_t prng_next_u32(struct prng *r);
/** An integer in [min, max], as prng.int() computes it (through a 53-bit float). */
uint64_t prng_int(struct prng *r, uint64_t min, uint64_t max);

/** A growable list of cmds. */
struct cmds {
	struct cmd *a;
	size_t n, cap;
};

void cmds_push(struct cmds *c, uint64_t start, uint64_t end, unsigned value);
void cmds_free(struct cmds *c);

/** All private, a shared bounce area (64 MiB at most, at a quarter), then `flips` scattered 1-page shared pages. */
struct cmds booted_guest(uint64_t pages, unsigned flips, uint32_t seed);
/** Alternating private / shared runs of 1-max_run pages over the whole guest (only the private ones as cmds). */
struct cmds fragmented_guest(uint64_t pages, unsigned max_run, uint32_t seed);
/** n random gfns in [0, pages) (malloc'd). */
uint64_t *random_gfns(uint64_t pages, size_t n, uint32_t seed);
/** n flips of npages at hot_slots hot pages, shared then back to private. */
struct cmds hot_flips(uint64_t pages, size_t n, unsigned npages, unsigned hot_slots, uint32_t seed);
/** n conversions of 1-max_pages pages at random starts, to 0 or 1 at random. */
struct cmds random_conversions(uint64_t pages, size_t n, unsigned max_pages, uint32_t seed);
/** n queries over aligned ranges of npages pages, each asking for value. */
struct cmds aligned_queries(uint64_t pages, size_t n, unsigned npages, unsigned value, uint32_t seed);

#endif /* BENCH_NATIVE_INPUTS_H */
