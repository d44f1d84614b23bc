/* bench/_inputs.ts in C; see inputs.h. Each generator draws from its prng in the same order
 * as its TypeScript twin. */
#include "inputs.h"

#include <stdlib.h>

static uint32_t splitmix32(uint32_t *s)
{
	uint32_t z;

	*s += 0x9e3779b9u;
	z = *s;
	z = (z ^ (z >> 16)) * 0x85ebca6bu;
	z = (z ^ (z >> 13)) * 0xc2b2ae35u;
	return z ^ (z >> 16);
}

void prng_init(struct prng *r, uint32_t seed)
{
	uint32_t s = seed;

	r->a = splitmix32(&s);
	r->b = splitmix32(&s);
	r->c = splitmix32(&s);
	r->d = 1;
	for (int i = 0; i < 12; i++)
		prng_next_u32(r);
}

uint32_t prng_next_u32(struct prng *r)
{
	uint32_t t = r->a + r->b + r->d;

	r->d++;
	r->a = r->b ^ (r->b >> 9);
	r->b = r->c + (r->c << 3);
	r->c = (r->c << 21) | (r->c >> 11);
	r->c += t;
	return t;
}

static double prng_float(struct prng *r)
{
	uint32_t hi = prng_next_u32(r) >> 5; /* drawn first, as JS evaluates left to right */
	uint32_t lo = prng_next_u32(r) >> 6;

	return ((double)hi * 67108864.0 + (double)lo) / 9007199254740992.0;
}

uint64_t prng_int(struct prng *r, uint64_t min, uint64_t max)
{
	return min + (uint64_t)(prng_float(r) * (double)(max - min + 1));
}

void cmds_push(struct cmds *c, uint64_t start, uint64_t end, unsigned value)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->a = realloc(c->a, c->cap * sizeof(*c->a));
		if (!c->a)
			bench_fail("cmds: out of memory");
	}
	c->a[c->n++] = (struct cmd){ start, end, value };
}

void cmds_free(struct cmds *c)
{
	free(c->a);
	*c = (struct cmds){ 0 };
}

struct cmds booted_guest(uint64_t pages, unsigned flips, uint32_t seed)
{
	struct cmds c = { 0 };
	uint64_t bounce_start = pages / 4;
	uint64_t bounce_pages = pages / 16 < 16384 ? pages / 16 : 16384;
	struct prng r;

	prng_init(&r, seed);
	cmds_push(&c, 0, pages, PRIVATE);
	cmds_push(&c, bounce_start, bounce_start + bounce_pages, SHARED);
	for (unsigned i = 0; i < flips; i++) {
		uint64_t g = prng_int(&r, 0, pages - 1);

		cmds_push(&c, g, g + 1, SHARED);
	}
	return c;
}

struct cmds fragmented_guest(uint64_t pages, unsigned max_run, uint32_t seed)
{
	struct cmds c = { 0 };
	unsigned v = PRIVATE;
	struct prng r;

	prng_init(&r, seed);
	for (uint64_t g = 0; g < pages;) {
		uint64_t e = g + prng_int(&r, 1, max_run);

		if (e > pages)
			e = pages;
		if (v != SHARED)
			cmds_push(&c, g, e, v);
		g = e;
		v ^= 1;
	}
	return c;
}

uint64_t *random_gfns(uint64_t pages, size_t n, uint32_t seed)
{
	uint64_t *out = malloc(n * sizeof(*out));
	struct prng r;

	if (!out)
		bench_fail("random_gfns: out of memory");
	prng_init(&r, seed);
	for (size_t i = 0; i < n; i++)
		out[i] = prng_int(&r, 0, pages - 1);
	return out;
}

struct cmds hot_flips(uint64_t pages, size_t n, unsigned npages, unsigned hot_slots, uint32_t seed)
{
	struct cmds c = { 0 };
	uint64_t base = pages / 2 + 1; /* inside private memory, away from the bounce area */
	uint64_t slots[64];
	struct prng r;

	if (hot_slots > 64)
		bench_fail("hot_flips: at most 64 slots");
	prng_init(&r, seed);
	for (unsigned i = 0; i < hot_slots; i++)
		slots[i] = base + (uint64_t)i * 64 + prng_int(&r, 0, 31);
	for (size_t i = 0; i < n / 2; i++) {
		uint64_t g = slots[i % hot_slots];

		cmds_push(&c, g, g + npages, SHARED);
		cmds_push(&c, g, g + npages, PRIVATE);
	}
	return c;
}

struct cmds random_conversions(uint64_t pages, size_t n, unsigned max_pages, uint32_t seed)
{
	struct cmds c = { 0 };
	struct prng r;

	prng_init(&r, seed);
	for (size_t i = 0; i < n; i++) {
		uint64_t npages = prng_int(&r, 1, max_pages);
		uint64_t g = prng_int(&r, 0, pages - npages);

		cmds_push(&c, g, g + npages, (unsigned)prng_int(&r, 0, 1));
	}
	return c;
}

struct cmds aligned_queries(uint64_t pages, size_t n, unsigned npages, unsigned value, uint32_t seed)
{
	struct cmds c = { 0 };
	struct prng r;

	prng_init(&r, seed);
	for (size_t i = 0; i < n; i++) {
		uint64_t g = prng_int(&r, 0, pages / npages - 1) * npages;

		cmds_push(&c, g, g + npages, value);
	}
	return c;
}
