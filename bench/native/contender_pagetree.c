/* The kernel's way: one entry per page in a radix tree, stored and checked page by page, as
 * KVM keeps memory attributes (virt/kvm/kvm_main.c):
 *
 *   kvm_vm_set_mem_attributes()        returns early when kvm_range_has_memory_attributes()
 *                                      says the range already holds the value, else
 *                                      xa_store()s every gfn of [start, end), one full store
 *                                      (a descent from the root) per page; a 0 attribute
 *                                      stores NULL, i.e. erases, and empty nodes are freed
 *   kvm_range_has_memory_attributes()  for a non-zero value walks the range page by page
 *                                      (xas_next) and stops at the first other entry; for 0
 *                                      looks for any entry in the range (xas_find), skipping
 *                                      empty subtrees
 *   kvm_get_memory_attributes()        one xa_load()
 *
 * Written here from that description, not from XArray's code: nodes of 64 slots (XArray's
 * XA_CHUNK_SHIFT 6), a fixed height for the guest size, value entries tagged in the bottom
 * slots (xa_mk_value), freed nodes kept on a free list (a slab cache's role). Lower bound on
 * the kernel's cost: it also xa_reserve()s every gfn before storing, runs the MMU
 * invalidation handlers over the range, and its nodes are 576 bytes (these: 528).
 */
#include <stdlib.h>

#include "contender.h"

#define XA_SHIFT 6
#define XA_SLOTS (1u << XA_SHIFT)
#define XA_MASK (XA_SLOTS - 1)

struct xnode {
	void *slots[XA_SLOTS];  /* children, or value entries in the bottom level */
	struct xnode *parent;
	uint8_t offset;         /* our slot in parent */
	uint8_t count;          /* non-NULL slots */
};

struct pagetree {
	struct xnode *root;
	unsigned top_shift;      /* index bits below the root's slot: (height - 1) * 6 */
	uint64_t live_nodes;
	struct xnode *free_list; /* freed nodes, linked through parent */
};

static inline void *value_entry(unsigned value)
{
	return value ? (void *)(((uintptr_t)value << 1) | 1) : NULL;
}

static inline unsigned entry_value(const void *entry)
{
	return (unsigned)((uintptr_t)entry >> 1);
}

static struct xnode *node_new(struct pagetree *t, struct xnode *parent, unsigned offset)
{
	struct xnode *n = t->free_list;

	if (n)
		t->free_list = n->parent;
	else if (!(n = malloc(sizeof(*n))))
		bench_fail("pagetree: out of memory after %llu nodes", (unsigned long long)t->live_nodes);
	for (unsigned i = 0; i < XA_SLOTS; i++)
		n->slots[i] = NULL;
	n->parent = parent;
	n->offset = (uint8_t)offset;
	n->count = 0;
	t->live_nodes++;
	return n;
}

/** Frees an empty node and every ancestor it leaves empty. */
static void node_delete(struct pagetree *t, struct xnode *n)
{
	while (n) {
		struct xnode *parent = n->parent;
		unsigned offset = n->offset;

		n->parent = t->free_list;
		t->free_list = n;
		t->live_nodes--;
		if (!parent) {
			t->root = NULL;
			return;
		}
		parent->slots[offset] = NULL;
		if (--parent->count)
			return;
		n = parent;
	}
}

static void *pt_create(uint64_t pages)
{
	struct pagetree *t = calloc(1, sizeof(*t));
	unsigned bits = 0;

	if (!t)
		bench_fail("pagetree: out of memory");
	while (bits < 64 && ((uint64_t)1 << bits) < pages)
		bits++;
	t->top_shift = bits <= XA_SHIFT ? 0 : (bits - 1) / XA_SHIFT * XA_SHIFT;
	return t;
}

static void free_subtree(struct xnode *n, unsigned shift)
{
	if (shift)
		for (unsigned i = 0; i < XA_SLOTS; i++)
			if (n->slots[i])
				free_subtree(n->slots[i], shift - XA_SHIFT);
	free(n);
}

static void pt_destroy(void *s)
{
	struct pagetree *t = s;

	if (t->root)
		free_subtree(t->root, t->top_shift);
	while (t->free_list) {
		struct xnode *n = t->free_list;

		t->free_list = n->parent;
		free(n);
	}
	free(t);
}

/** xa_store(index, entry): a descent from the root, creating nodes for an entry, erasing for NULL. */
static inline void pt_store(struct pagetree *t, uint64_t index, void *entry)
{
	struct xnode *n = t->root;
	void *old;
	unsigned off;

	if (!n) {
		if (!entry)
			return;
		n = t->root = node_new(t, NULL, 0);
	}
	for (unsigned shift = t->top_shift; shift; shift -= XA_SHIFT) {
		struct xnode *child;

		off = (index >> shift) & XA_MASK;
		child = n->slots[off];
		if (!child) {
			if (!entry)
				return; /* erasing where nothing is stored */
			child = node_new(t, n, off);
			n->slots[off] = child;
			n->count++;
		}
		n = child;
	}
	off = index & XA_MASK;
	old = n->slots[off];
	if (old == entry)
		return;
	n->slots[off] = entry;
	if (!old)
		n->count++;
	else if (!entry && --n->count == 0)
		node_delete(t, n);
}

/** The bottom node holding index, or NULL. */
static inline struct xnode *pt_leaf(const struct pagetree *t, uint64_t index)
{
	struct xnode *n = t->root;

	for (unsigned shift = t->top_shift; n && shift; shift -= XA_SHIFT)
		n = n->slots[(index >> shift) & XA_MASK];
	return n;
}

static inline int pt_get(void *s, uint64_t gfn)
{
	struct xnode *leaf = pt_leaf(s, gfn);

	return leaf ? (int)entry_value(leaf->slots[gfn & XA_MASK]) : 0;
}

/** Whether n (covering base.. at shift) holds any entry in [start, end): xas_find's skip of empty subtrees. */
static int any_entry(const struct xnode *n, uint64_t base, unsigned shift, uint64_t start, uint64_t end)
{
	uint64_t span = (uint64_t)XA_SLOTS << shift;
	uint64_t lo = start > base ? (start - base) >> shift : 0;
	uint64_t hi = end < base + span ? (end - 1 - base) >> shift : XA_MASK;

	for (uint64_t off = lo; off <= hi; off++) {
		const void *slot = n->slots[off];

		if (!slot)
			continue;
		if (!shift || any_entry(slot, base + (off << shift), shift - XA_SHIFT, start, end))
			return 1;
	}
	return 0;
}

/** kvm_range_has_memory_attributes(): a walk page by page for a value, a search for entries for 0. */
static inline int pt_is_uniform(void *s, uint64_t start, uint64_t end, unsigned value)
{
	const struct pagetree *t = s;
	const void *want = value_entry(value);
	const struct xnode *leaf = NULL;

	if (end == start + 1)
		return (unsigned)pt_get(s, start) == value;
	if (!want)
		return !t->root || !any_entry(t->root, 0, t->top_shift, start, end);
	for (uint64_t g = start; g < end; g++) {
		if (g == start || (g & XA_MASK) == 0)
			leaf = pt_leaf(t, g);
		if (!leaf || leaf->slots[g & XA_MASK] != want)
			return 0;
	}
	return 1;
}

/** kvm_vm_set_mem_attributes(): nothing when the range already holds value, else a store per page. */
static inline void pt_set(void *s, uint64_t start, uint64_t end, unsigned value)
{
	struct pagetree *t = s;
	void *entry = value_entry(value);

	if (pt_is_uniform(s, start, end, value))
		return;
	for (uint64_t g = start; g < end; g++)
		pt_store(t, g, entry);
}

static uint64_t pt_memory_bytes(void *s)
{
	return ((struct pagetree *)s)->live_nodes * sizeof(struct xnode);
}

CONTENDER_LOOPS(pt)

const struct contender contender_pagetree = {
	.key = "pagetree",
	.name = "per-page radix tree (kernel)",
	.what = "one entry per page in a 64-way radix tree, as KVM's mem_attr_array: a store per page (xa_store loop), isUniform walked page by page",
	.max_value = 255,
	/* 2^22 pages (16 GiB) take ~0.1 s per whole-guest conversion; a 1 TiB guest is measured
	 * at this size and scaled linearly */
	.max_bulk_pages = (uint64_t)1 << 22,
	.create = pt_create,
	.destroy = pt_destroy,
	.set = pt_set,
	.get = pt_get,
	.is_uniform = pt_is_uniform,
	.memory_bytes = pt_memory_bytes,
	.get_loop = pt_get_loop,
	.set_loop = pt_set_loop,
	.is_uniform_loop = pt_is_uniform_loop,
};
