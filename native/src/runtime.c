/* The glue between the wasm2c runtime and memattr's guards: one-time setup, the trap handler
 * and the checked allocation of linear memory. internal.h explains the guard and the thread rule. */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>

MEMATTR_TLS struct memattr_guard *memattr_guard_current;
MEMATTR_TLS wasm_rt_trap_t memattr_guard_trap;

/* memattr_debug_fail_next_allocation() sets it; the next runtime calloc() on this thread fails. */
static MEMATTR_TLS int fail_next_allocation;

#if defined(__SANITIZE_ADDRESS__)
#define MEMATTR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMATTR_ASAN 1
#endif
#endif

#ifdef MEMATTR_ASAN
/* ASan's longjmp interceptor does this; __builtin_longjmp bypasses it. Unpoisons the stack of
 * the frames the jump skips, or their redzones would stay poisoned for later calls. */
void __asan_handle_no_return(void);
#endif

void memattr_trap_handler(wasm_rt_trap_t trap)
{
	struct memattr_guard *guard = memattr_guard_current;

	if (!guard) {
		/* returning would resume core code after a failed check: never do that */
		fprintf(stderr, "memattr: the core trapped (%s) outside a guarded call; aborting\n",
			wasm_rt_strerror(trap));
		abort();
	}
	memattr_guard_trap = trap;
#ifdef MEMATTR_ASAN
	__asan_handle_no_return();
#endif
	memattr_longjmp(guard->jmp);
}

void *memattr_runtime_calloc(size_t nmemb, size_t size)
{
	void *p = NULL;

	if (fail_next_allocation)
		fail_next_allocation = 0;
	else
		p = calloc(nmemb, size);
	if (!p && nmemb && size)
		wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION); /* memattr_map_new's guard turns it into -ENOMEM */
	return p;
}

void memattr_debug_fail_next_allocation(void)
{
	fail_next_allocation = 1;
}

static pthread_once_t runtime_once = PTHREAD_ONCE_INIT;

static void runtime_init_once(void)
{
	wasm_rt_init(); /* with the signal handler off it only has to be called */
	/* fills the runtime's process-wide function-type registry (realloc: not thread-safe,
	 * hence once) */
	Z_memattr_init_module();
}

int memattr_runtime_init(void)
{
	return pthread_once(&runtime_once, runtime_init_once) == 0 ? 0 : MEMATTR_E_NOMEM;
}
