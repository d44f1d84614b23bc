/* Threads: every thread its own map, all at once. Maps created at the same moment from several
 * threads (the runtime's one-time setup racing), random work against each thread's own
 * reference, and one thread trapping its maps over and over while the others work: the guard
 * stack is per thread, so nobody else notices.
 */
#define _POSIX_C_SOURCE 200809L /* pthread barriers, fork, pipe */

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "support.h"
#include "tap.h"

#define NTHREADS 4
#define WORK_OPS 100000
#define TRAP_ROUNDS 300

struct worker {
	pthread_t thread;
	int index;
	int traps;         /* this one breaks maps instead of working */
	int new_rc;        /* memattr_map_new of the first map */
	int ok;
	long trapped;      /* traps turned into -ENOTRECOVERABLE */
	char why[256];
};

static pthread_barrier_t start_line;
static atomic_int working; /* workers still doing random work: the trapper keeps going until 0 */

/* A map whose heap is scribbled over, and a call that walks it: one trap. */
static int trap_once(struct worker *w)
{
	memattr_map *map;
	int rc;

	if (memattr_map_new(&map) != 0)
		return 0;
	for (uint64_t i = 0; i < 32; i++)
		memattr_set(map, i * 4096 * 3 + i, i * 4096 * 3 + i + 1, (unsigned)(i % 3) + 1);
	memattr_debug_scribble_heap(map, 0xfe);
	rc = memattr_get(map, 4096 * 3 + 1);
	memattr_map_free(map);
	if (rc != MEMATTR_E_NOTRECOVERABLE || memattr_guard_current != NULL) {
		snprintf(w->why, sizeof(w->why), "round %ld: get returned %d", w->trapped, rc);
		return 0;
	}
	w->trapped++;
	return 1;
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	memattr_map *map = NULL;

	pthread_barrier_wait(&start_line);
	w->new_rc = memattr_map_new(&map); /* all threads at once: the first use of the runtime */
	if (w->new_rc != 0)
		return NULL;
	if (w->traps) {
		w->ok = 1;
		for (int i = 0; (i < TRAP_ROUNDS || atomic_load(&working) > 0) && w->ok; i++)
			w->ok = trap_once(w);
	} else {
		w->ok = random_work_agrees(map, 0x7468726561640000ull + (uint64_t)w->index, WORK_OPS, w->why,
					   sizeof(w->why));
		atomic_fetch_sub(&working, 1);
	}
	memattr_map_free(map);
	return NULL;
}

/* Runs NTHREADS workers at once, the last one trapping when with_trapper. */
static void run_all(struct worker *workers, int with_trapper)
{
	pthread_barrier_init(&start_line, NULL, NTHREADS);
	atomic_store(&working, with_trapper ? NTHREADS - 1 : NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		workers[i] = (struct worker){ .index = i, .traps = with_trapper && i == NTHREADS - 1 };
		if (pthread_create(&workers[i].thread, NULL, run_worker, &workers[i]) != 0)
			abort();
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(workers[i].thread, NULL);
	pthread_barrier_destroy(&start_line);
}

int main(void)
{
	struct worker workers[NTHREADS];

	tap_init();
	run_all(workers, 0);

	tap_begin();
	for (int i = 0; i < NTHREADS; i++)
		CHECK(workers[i].new_rc == 0, "thread %d: map_new %d", i, workers[i].new_rc);
	tap_end("%d threads create their first maps at the same moment", NTHREADS);

	tap_begin();
	for (int i = 0; i < NTHREADS; i++)
		CHECK(workers[i].ok, "thread %d: %s", i, workers[i].why);
	tap_end("%d threads, each with its own map, agree with their own references (%d operations each)",
		NTHREADS, WORK_OPS);

	run_all(workers, 1);
	tap_begin();
	CHECK(workers[NTHREADS - 1].ok && workers[NTHREADS - 1].trapped >= TRAP_ROUNDS, "the trapping thread: %ld traps; %s",
	      workers[NTHREADS - 1].trapped, workers[NTHREADS - 1].why);
	tap_end("a thread traps map after map (%ld), each call returning -ENOTRECOVERABLE", workers[NTHREADS - 1].trapped);

	tap_begin();
	for (int i = 0; i < NTHREADS - 1; i++)
		CHECK(workers[i].new_rc == 0 && workers[i].ok, "thread %d: %s", i, workers[i].why);
	tap_end("meanwhile %d other threads' maps keep agreeing with their references", NTHREADS - 1);
	return tap_done();
}
