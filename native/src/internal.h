/* memattr's C layer, shared by memattr.c (the map) and conv.c (the conversion model).
 *
 * Short names used here:
 *   core   the WebAssembly core compiled to C by wasm2c (build/native/gen/memattr_core.c): one
 *          instance per map, Z_memattrZ_<export>(&map->core, ...), gfns crossing as double
 *   linear the instance's linear memory (map->memory->data); its data pointer moves when the
 *          core grows memory, so it is re-read after every call into the core
 *
 * ┌──────────────────────────────────────────────────────────────────────────────────────────┐
 * │ The guard, and the thread rule                                                           │
 * │                                                                                          │
 * │ The core traps on an out-of-bounds access or `unreachable` (only a bug or corrupted      │
 * │ linear memory can cause one). wasm2c turns a trap into wasm_rt_trap(), which calls       │
 * │ memattr_trap_handler() (wasm_rt_config.h); that longjmps to the innermost guard of the   │
 * │ calling thread. So every call into the core sits between                                 │
 * │                                                                                          │
 * │     struct memattr_guard guard;                                                          │
 * │     MEMATTR_ENTER(map, &guard);    returns -ENOTRECOVERABLE from the calling function    │
 * │     rc = Z_memattrZ_...(&map->core, ...);     when the map is broken or the core traps   │
 * │     memattr_leave(&guard);                                                               │
 * │                                                                                          │
 * │ MEMATTR_ENTER must be used in the API function itself (the jump target is its frame),    │
 * │ and every path out of it after a successful enter calls memattr_leave() first. A trap    │
 * │ marks the map broken: that call and every later one returns -ENOTRECOVERABLE, and only   │
 * │ memattr_map_free() still works. Nothing after the trap runs core code again, so a        │
 * │ half-done edit is never observed.                                                        │
 * │                                                                                          │
 * │ Thread rule: the guard stack is thread-local (memattr_guard_current), never shared, so   │
 * │ maps used from different threads trap independently. A map itself is not thread-safe:    │
 * │ calls on one map must not overlap (memattr.h). The only process-wide state is the        │
 * │ runtime's function-type registry, filled once under pthread_once (runtime.c);            │
 * │ instantiating and freeing an instance touch nothing global (checked in wasm-rt-impl.c of │
 * │ wabt 1.0.32), so memattr_map_new/free take no lock. A trap with no guard (a core call    │
 * │ outside MEMATTR_ENTER) aborts with a message: it must never return into core code.       │
 * └──────────────────────────────────────────────────────────────────────────────────────────┘
 */
#ifndef MEMATTR_INTERNAL_H
#define MEMATTR_INTERNAL_H

#include "wasm_rt_config.h" /* first: the runtime switches must precede wasm-rt.h */

#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include "memattr.h"
#include "memattr_core.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/** Gfns are below this (2^40 today); computed from the generated constant, never retyped. */
#define MEMATTR_GFN_LIMIT ((uint64_t)1 << MEMATTR_GFN_BITS)

/** Wasm pages are 64 KiB. */
#define MEMATTR_WASM_PAGE_SHIFT 16
/** What a 32-bit linear memory can address: 65536 pages, 4 GiB. */
#define MEMATTR_WASM_MAX_PAGES 65536u
/** What the wasm2c 1.0.32 runtime can hold: its wasm_rt_memory_t.size is a uint32_t, so at
 * 65536 pages it wraps to 0 and wasm_rt_grow_memory() would realloc() to 0 bytes. The core is
 * capped one page below; memattr_memory_limit() still reports the cap the caller asked for. */
#define MEMATTR_RUNTIME_MAX_PAGES 65535u

struct memattr_map {
	Z_memattr_instance_t core;  /* the core's globals and its linear memory */
	wasm_rt_memory_t *memory;   /* &core's memory (its data moves on growth, this does not) */
	uint32_t batch_in;          /* offsets in linear memory of the core's buffers (fixed) */
	uint32_t batch_out;
	uint32_t runs_capacity;     /* run triples runs() can write at batch_in per call */
	uint32_t get_many_capacity; /* gfns getMany() reads at batch_in per call */
	uint32_t limit_pages;       /* the cap memattr_memory_limit() reports, in 64 KiB pages */
	int broken;                 /* the core trapped: every call returns -ENOTRECOVERABLE */
	wasm_rt_trap_t trap;        /* which trap it was (for a debugger) */
};

/* ---- the guard ---------------------------------------------------------------------------- */

#if defined(__GNUC__) && !defined(__clang__) && !defined(MEMATTR_GUARD_LIBC_SETJMP)
/* GCC's builtin saves only the frame pointer, the stack pointer and the landing address (the
 * compiler treats every register as clobbered at the landing), with no signal mask and no
 * pointer mangling: a few stores. It must not be longjmp'd from its own function; the handler
 * is another one: a few stores, where glibc's setjmp costs several times as much (the figures
 * are in docs/native.md and bench/results, from make -C native bench). */
typedef void *memattr_jmp_buf[5];
#define memattr_setjmp(buf) __builtin_setjmp(buf)
#define memattr_longjmp(buf) __builtin_longjmp((buf), 1)
#else
typedef jmp_buf memattr_jmp_buf;
#define memattr_setjmp(buf) setjmp(buf) /* glibc's setjmp saves no signal mask */
#define memattr_longjmp(buf) longjmp((buf), 1)
#endif

/* initial-exec: a TLS access is one %fs-relative load, no __tls_get_addr call (16 bytes of
 * static TLS in all, which glibc's surplus covers even when a shared object holding the library
 * is dlopen()ed). */
#define MEMATTR_TLS _Thread_local __attribute__((tls_model("initial-exec")))

struct memattr_guard {
	memattr_jmp_buf jmp;
	struct memattr_guard *outer; /* saved before setjmp, so it is still valid after a trap */
};

/** The calling thread's innermost guard, or NULL outside every API call. */
extern MEMATTR_TLS struct memattr_guard *memattr_guard_current;
/** The code of the last trap on this thread (set by the handler, read by the landing). */
extern MEMATTR_TLS wasm_rt_trap_t memattr_guard_trap;

/* The `!= 0` keeps setjmp in one of the forms C allows (an entire controlling expression
 * compared with a constant). */
#define MEMATTR_ENTER(map, guard)                                                  \
	do {                                                                       \
		if (unlikely((map)->broken))                                       \
			return MEMATTR_E_NOTRECOVERABLE;                           \
		(guard)->outer = memattr_guard_current;                            \
		if (memattr_setjmp((guard)->jmp) != 0)                             \
			return memattr_guard_landed((map), (guard));               \
		memattr_guard_current = (guard);                                   \
	} while (0)

/** Leaves a guard entered by MEMATTR_ENTER (on every path but the trap's). */
static inline void memattr_leave(struct memattr_guard *guard)
{
	memattr_guard_current = guard->outer;
}

/** Where a trap lands: pops the guard, marks the map broken. Returns -ENOTRECOVERABLE. */
static inline int memattr_guard_landed(memattr_map *map, struct memattr_guard *guard)
{
	memattr_guard_current = guard->outer;
	map->broken = 1;
	map->trap = memattr_guard_trap;
	return MEMATTR_E_NOTRECOVERABLE;
}

/** Runs the runtime's one-time setup (pthread_once). 0, or -ENOMEM. */
int memattr_runtime_init(void);

/* ---- argument helpers: integer checks before anything becomes a double ---------------------- */

/** 0 when [start, end) is a range of the map; -ERANGE when start or end is above the limit
 * (checked in uint64_t: 2^53 + 1 must not round to a double the core accepts), else -EINVAL
 * for start >= end. */
static inline int memattr_check_range(uint64_t start, uint64_t end)
{
	if (unlikely(start > MEMATTR_GFN_LIMIT || end > MEMATTR_GFN_LIMIT))
		return MEMATTR_E_RANGE;
	if (unlikely(start >= end))
		return MEMATTR_E_INVAL;
	return 0;
}

/** 0 when gfn is a page of the map, else -ERANGE. */
static inline int memattr_check_gfn(uint64_t gfn)
{
	return likely(gfn < MEMATTR_GFN_LIMIT) ? 0 : MEMATTR_E_RANGE;
}

/** npages from gfn as [gfn, *end): 0, -ERANGE (past the limit; no overflow), -EINVAL (npages 0). */
static inline int memattr_check_pages(uint64_t gfn, uint64_t npages, uint64_t *end)
{
	if (unlikely(gfn > MEMATTR_GFN_LIMIT || npages > MEMATTR_GFN_LIMIT - gfn))
		return MEMATTR_E_RANGE;
	if (unlikely(npages == 0))
		return MEMATTR_E_INVAL;
	*end = gfn + npages;
	return 0;
}

/** 0 when v is a page value or a mask (0-255), else -EINVAL. */
static inline int memattr_check_byte(unsigned v)
{
	return likely(v <= MEMATTR_MAX_VALUE) ? 0 : MEMATTR_E_INVAL;
}

/** A checked gfn (≤ 2^40) as the core's double: through int64_t, one cvtsi2sd, exact. */
static inline double memattr_gfn_f64(uint64_t gfn)
{
	return (double)(int64_t)gfn;
}

/** A byte of linear memory at offset (re-read after each core call: memory may have moved). */
static inline uint8_t *memattr_linear(const memattr_map *map, uint32_t offset)
{
	return map->memory->data + offset;
}

/** The f64 the core keeps at offset in linear memory (memcpy: it may be unaligned for C). */
static inline double memattr_load_f64(const memattr_map *map, uint32_t offset)
{
	double x;

	memcpy(&x, memattr_linear(map, offset), sizeof(x));
	return x;
}

static inline void memattr_store_f64(memattr_map *map, uint32_t offset, double x)
{
	memcpy(memattr_linear(map, offset), &x, sizeof(x));
}

/* ---- debug hooks: for native/test only, not part of memattr.h ------------------------------ */

/** Overwrites the core's whole heap (every tree node and leaf) with byte; returns the bytes
 * written or -ENOTRECOVERABLE. The next walk of the tree reads garbage pointers and traps. */
int64_t memattr_debug_scribble_heap(memattr_map *map, uint8_t byte);

/** Makes the runtime's next linear-memory allocation on this thread fail (as calloc would). */
void memattr_debug_fail_next_allocation(void);

#endif /* MEMATTR_INTERNAL_H */
