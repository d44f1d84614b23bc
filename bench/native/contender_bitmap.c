/* A QEMU-style bitmap: one bit per page, set = shared, as QEMU's RamBlockAttributes keeps it
 * (system/ram-block-attributes.c: bitmap_set() when a range becomes shared, bitmap_clear()
 * when it becomes private; "is this range populated/discarded" by find_next_zero_bit() /
 * find_next_bit() over the range). Written here from that description, 64-bit words:
 *
 *   set      whole words in the middle, a masked first and last word
 *   get      one bit
 *   isUniform private: find_next_bit(start) >= end; shared: find_next_zero_bit(start) >= end,
 *            a word at a time
 *
 * This models QEMU's fast path only, so it is a lower bound on what QEMU pays per conversion:
 * ram_block_attributes_state_change() also scans for the range's current state first (over
 * the rest of the bitmap, not just the range) and walks a mixed range bit by bit to notify
 * listeners per block. Holds two values (0 and 1).
 */
#include <stdlib.h>
#include <string.h>

#include "contender.h"

#define WORD_BITS 64

struct bitmap {
	uint64_t *words;
	uint64_t pages;
	uint64_t nwords;
};

/** Bits [lo, 64) of a word. */
static inline uint64_t mask_from(uint64_t lo)
{
	return ~0ull << (lo % WORD_BITS);
}

/** Bits [0, hi) of a word, hi in 1..64. */
static inline uint64_t mask_below(uint64_t hi)
{
	return ~0ull >> ((WORD_BITS - hi % WORD_BITS) % WORD_BITS);
}

static void *bitmap_create(uint64_t pages)
{
	struct bitmap *b = malloc(sizeof(*b));

	if (!b)
		bench_fail("bitmap: out of memory");
	b->pages = pages;
	b->nwords = (pages + WORD_BITS - 1) / WORD_BITS;
	b->words = malloc(b->nwords * 8);
	if (!b->words)
		bench_fail("bitmap: cannot allocate %llu words", (unsigned long long)b->nwords);
	memset(b->words, 0xff, b->nwords * 8); /* every page shared */
	return b;
}

static void bitmap_destroy(void *s)
{
	struct bitmap *b = s;

	free(b->words);
	free(b);
}

/** Sets (or clears) bits [start, end): the first and last word masked, whole words between. */
static inline void bitmap_fill(uint64_t *w, uint64_t start, uint64_t end, int ones)
{
	uint64_t first = start / WORD_BITS, last = (end - 1) / WORD_BITS;
	uint64_t head = mask_from(start), tail = mask_below(end);

	if (first == last) {
		uint64_t m = head & tail;

		w[first] = ones ? w[first] | m : w[first] & ~m;
		return;
	}
	w[first] = ones ? w[first] | head : w[first] & ~head;
	for (uint64_t i = first + 1; i < last; i++)
		w[i] = ones ? ~0ull : 0;
	w[last] = ones ? w[last] | tail : w[last] & ~tail;
}

/** The first bit in [from, size) that is set (or, with zero, clear); size when none. */
static inline uint64_t find_next(const uint64_t *w, uint64_t size, uint64_t from, int zero)
{
	uint64_t flip = zero ? ~0ull : 0;
	uint64_t i = from / WORD_BITS;
	uint64_t word;

	if (from >= size)
		return size;
	word = (w[i] ^ flip) & mask_from(from);
	while (!word) {
		if (++i >= (size + WORD_BITS - 1) / WORD_BITS)
			return size;
		word = w[i] ^ flip;
	}
	from = i * WORD_BITS + (uint64_t)__builtin_ctzll(word);
	return from < size ? from : size;
}

static inline void bitmap_set(void *s, uint64_t start, uint64_t end, unsigned value)
{
	bitmap_fill(((struct bitmap *)s)->words, start, end, value == 0);
}

static inline int bitmap_get(void *s, uint64_t gfn)
{
	return !((((struct bitmap *)s)->words[gfn / WORD_BITS] >> (gfn % WORD_BITS)) & 1);
}

static inline int bitmap_is_uniform(void *s, uint64_t start, uint64_t end, unsigned value)
{
	/* private: no shared (set) bit in the range; shared: no private (clear) bit */
	return find_next(((struct bitmap *)s)->words, end, start, value == 0) >= end;
}

static uint64_t bitmap_memory_bytes(void *s)
{
	return ((struct bitmap *)s)->nwords * 8;
}

CONTENDER_LOOPS(bitmap)

const struct contender contender_bitmap = {
	.key = "bitmap",
	.name = "QEMU-style bitmap",
	.what = "one bit per page, set = shared (QEMU RamBlockAttributes); word-at-a-time bitmap_set/clear, isUniform by find_next_bit / find_next_zero_bit",
	.max_value = 1,
	.max_bulk_pages = 0,
	.create = bitmap_create,
	.destroy = bitmap_destroy,
	.set = bitmap_set,
	.get = bitmap_get,
	.is_uniform = bitmap_is_uniform,
	.memory_bytes = bitmap_memory_bytes,
	.get_loop = bitmap_get_loop,
	.set_loop = bitmap_set_loop,
	.is_uniform_loop = bitmap_is_uniform_loop,
};
