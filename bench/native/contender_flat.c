/* A flat byte array, one byte per page: the speed limit for a point lookup while the array
 * stays in cache, and 8 bits of memory per page whatever the map holds. A set is memset();
 * isUniform compares 8 bytes at a time. Plain calloc() memory (4 KiB pages, no
 * MADV_HUGEPAGE), as a VMM would allocate it.
 */
#include <stdlib.h>
#include <string.h>

#include "contender.h"

struct flat {
	uint8_t *bytes;
	uint64_t pages;
};

static void *flat_create(uint64_t pages)
{
	struct flat *f = malloc(sizeof(*f));

	if (!f || !(f->bytes = calloc(pages, 1)))
		bench_fail("flat: cannot allocate %llu bytes", (unsigned long long)pages);
	f->pages = pages;
	return f;
}

static void flat_destroy(void *s)
{
	struct flat *f = s;

	free(f->bytes);
	free(f);
}

static inline void flat_set(void *s, uint64_t start, uint64_t end, unsigned value)
{
	memset(((struct flat *)s)->bytes + start, (int)value, end - start);
}

static inline int flat_get(void *s, uint64_t gfn)
{
	return ((struct flat *)s)->bytes[gfn];
}

static inline int flat_is_uniform(void *s, uint64_t start, uint64_t end, unsigned value)
{
	const uint8_t *b = ((struct flat *)s)->bytes;
	uint64_t pattern = 0x0101010101010101ull * (uint8_t)value;
	uint64_t g = start;

	for (; g < end && (g & 7); g++)
		if (b[g] != value)
			return 0;
	for (; g + 8 <= end; g += 8) {
		uint64_t w;

		memcpy(&w, b + g, 8);
		if (w != pattern)
			return 0;
	}
	for (; g < end; g++)
		if (b[g] != value)
			return 0;
	return 1;
}

static uint64_t flat_memory_bytes(void *s)
{
	return ((struct flat *)s)->pages;
}

CONTENDER_LOOPS(flat)

const struct contender contender_flat = {
	.key = "flat",
	.name = "flat byte array",
	.what = "one byte per page (calloc); get = one load, set = memset, isUniform = 8-byte compares",
	.max_value = 255,
	.max_bulk_pages = 0,
	.create = flat_create,
	.destroy = flat_destroy,
	.set = flat_set,
	.get = flat_get,
	.is_uniform = flat_is_uniform,
	.memory_bytes = flat_memory_bytes,
	.get_loop = flat_get_loop,
	.set_loop = flat_set_loop,
	.is_uniform_loop = flat_is_uniform_loop,
};
