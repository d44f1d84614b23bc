/* The C layout of memattr.h's structs, linked into build/rust/diff_test so its first cases can
 * compare them with the #[repr(C)] types of memattr.rs (size, alignment, every field's offset). */
#include <stddef.h>
#include <stdint.h>

#include "memattr.h"

#define LAYOUT3(type, a, b, c) \
	sizeof(struct type), _Alignof(struct type), offsetof(struct type, a), offsetof(struct type, b), \
	offsetof(struct type, c)

/* memattr_run: size, align, start, end, value; memattr_range: size, align, gfn, npages;
 * memattr_conv: size, align, id, slot, flags, gfn, npages, npages_owned, nranges_owned. */
const uint64_t memattr_rust_layout_c[] = {
	LAYOUT3(memattr_run, start, end, value),
	sizeof(struct memattr_range), _Alignof(struct memattr_range), offsetof(struct memattr_range, gfn),
	offsetof(struct memattr_range, npages),
	LAYOUT3(memattr_conv, id, slot, flags), offsetof(struct memattr_conv, gfn),
	offsetof(struct memattr_conv, npages), offsetof(struct memattr_conv, npages_owned),
	offsetof(struct memattr_conv, nranges_owned),
};
const size_t memattr_rust_layout_c_len = sizeof(memattr_rust_layout_c) / sizeof(memattr_rust_layout_c[0]);
