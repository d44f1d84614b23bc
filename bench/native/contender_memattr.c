/* memattr through its public C API (native/include/memattr.h, libmemattr.a): the Wasm core
 * compiled by wasm2c, every call checked and guarded as a VMM would make it. One map per
 * store; the map covers [0, 2^40) whatever the guest size.
 */
#include <stdlib.h>

#include "contender.h"
#include "memattr.h"

static void *ma_create(uint64_t pages)
{
	memattr_map *map;
	int rc = memattr_map_new(&map);

	(void)pages;
	if (rc)
		bench_fail("memattr_map_new: %s", memattr_strerror(rc));
	return map;
}

static void ma_destroy(void *s)
{
	memattr_map_free(s);
}

static inline void ma_set(void *s, uint64_t start, uint64_t end, unsigned value)
{
	int rc = memattr_set(s, start, end, value);

	if (__builtin_expect(rc != 0, 0))
		bench_fail("memattr_set(%llu, %llu, %u): %s", (unsigned long long)start,
			   (unsigned long long)end, value, memattr_strerror(rc));
}

static inline int ma_get(void *s, uint64_t gfn)
{
	return memattr_get(s, gfn); /* gfns here are in range: never a negative code */
}

static inline int ma_is_uniform(void *s, uint64_t start, uint64_t end, unsigned value)
{
	return memattr_is_uniform(s, start, end, value);
}

static uint64_t ma_memory_bytes(void *s)
{
	return (uint64_t)memattr_memory_bytes(s);
}

CONTENDER_LOOPS(ma)

/* memattr_get_many: one guarded call per chunk of gfns, values written as bytes. */
#define GET_MANY_CHUNK 4096

static uint64_t ma_get_many_loop(void *s, const uint64_t *gfns, size_t n)
{
	uint8_t values[GET_MANY_CHUNK];
	uint64_t sum = 0;

	for (size_t done = 0; done < n; done += GET_MANY_CHUNK) {
		size_t k = n - done < GET_MANY_CHUNK ? n - done : GET_MANY_CHUNK;
		int rc = memattr_get_many(s, gfns + done, values, k);

		if (rc)
			bench_fail("memattr_get_many: %s", memattr_strerror(rc));
		for (size_t i = 0; i < k; i++)
			sum += values[i];
	}
	return sum;
}

const struct contender contender_memattr = {
	.key = "memattr",
	.name = "memattr C API",
	.what = "libmemattr.a (wasm2c): a radix tree of runs, uniform subtrees and packed leaves; memattr_get / memattr_set / memattr_is_uniform per call",
	.max_value = 255,
	.max_bulk_pages = 0,
	.create = ma_create,
	.destroy = ma_destroy,
	.set = ma_set,
	.get = ma_get,
	.is_uniform = ma_is_uniform,
	.memory_bytes = ma_memory_bytes,
	.get_loop = ma_get_loop,
	.set_loop = ma_set_loop,
	.is_uniform_loop = ma_is_uniform_loop,
	.get_many_loop = ma_get_many_loop,
	.get_many_name = "memattr C API, get_many",
};
