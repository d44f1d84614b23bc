/* How the wasm2c runtime is configured for memattr: included first by every file that sees
 * wasm-rt.h (the Makefile force-includes it into the generated core and wasm-rt-impl.c), so the
 * core, the runtime and the C API agree on these switches.
 *
 *   WASM_RT_MEMCHECK_SIGNAL_HANDLER 0  explicit bounds checks on every load and store instead of
 *        an 8 GiB PROT_NONE reservation and a process-wide SIGSEGV handler: a VMM owns its signals.
 *   WASM_RT_USE_STACK_DEPTH_COUNT 0    no call-depth counter (a plain global in wasm-rt-impl.c,
 *        racy between threads); the core recurses at most tree-height (4) deep, by a level argument
 *        that linear memory cannot change.
 *   WASM_RT_TRAP_HANDLER               a trap calls memattr_trap_handler() (guard.c), which
 *        longjmps to this thread's guard; wasm-rt-impl.c's wasm_rt_jmp_buf is a plain global and
 *        is never used.
 */
#ifndef MEMATTR_WASM_RT_CONFIG_H
#define MEMATTR_WASM_RT_CONFIG_H

#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 0
#define WASM_RT_USE_STACK_DEPTH_COUNT 0
#define WASM_RT_TRAP_HANDLER memattr_trap_handler

#include <stdlib.h>
#include <wasm-rt.h>

/** Unwinds to the calling thread's guard; aborts when the thread has none. Never returns. */
WASM_RT_NO_RETURN void memattr_trap_handler(wasm_rt_trap_t trap);

/** calloc() that traps (WASM_RT_TRAP_EXHAUSTION) instead of returning NULL (runtime.c). */
void *memattr_runtime_calloc(size_t nmemb, size_t size);

#ifdef MEMATTR_RUNTIME_CALLOC
/* Only in wasm-rt-impl.c: its wasm_rt_allocate_memory() calls calloc() without checking for
 * NULL, and the start function then writes through the pointer. Trapping instead lets
 * memattr_map_new() return -ENOMEM. (stdlib.h is already in, so only the calls are renamed.) */
#define calloc memattr_runtime_calloc
#endif

#endif /* MEMATTR_WASM_RT_CONFIG_H */
