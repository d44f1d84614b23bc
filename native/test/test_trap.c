/* A trap turned into an error. The core's heap is scribbled over through a debug hook
 * (internal.h), so the next walk of the tree follows a garbage pointer out of linear memory and
 * traps: that call returns -ENOTRECOVERABLE, so does every later one, other maps keep working,
 * and the broken map can still be freed. A trap outside any guard aborts.
 */
#define _POSIX_C_SOURCE 200809L /* pthread barriers, fork, pipe */

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "support.h"
#include "tap.h"

#define SCRIBBLE 0xfe /* every u32 becomes 0xfefefefe: an even slot, so a pointer, far outside memory */

/* A gfn in each of 64 chunks, spread over the low end and the top: nodes and leaves to walk. */
static uint64_t fragment_gfn(int i)
{
	return i % 2 ? (uint64_t)i * 4096 * 3 + (uint64_t)i : GFN_LIMIT - (uint64_t)i * 4096 * 5 - 1;
}

static memattr_map *new_fragmented_map(void)
{
	memattr_map *map;

	if (memattr_map_new(&map) != 0)
		abort();
	for (int i = 0; i < 64; i++) {
		if (memattr_set(map, fragment_gfn(i), fragment_gfn(i) + 1, (unsigned)(i % 5) + 1) != 0)
			abort();
	}
	return map;
}

static memattr_map *new_broken_map(void)
{
	memattr_map *map = new_fragmented_map();

	if (memattr_debug_scribble_heap(map, SCRIBBLE) <= 0)
		abort();
	return map;
}

/* ---- each call that walks the tree turns its trap into -ENOTRECOVERABLE ---------------------- */

static int64_t walk_get(memattr_map *m) { return memattr_get(m, fragment_gfn(1)); }
static int64_t walk_set(memattr_map *m) { return memattr_set(m, fragment_gfn(1), fragment_gfn(1) + 2, 9); }
static int64_t walk_set_long(memattr_map *m) { return memattr_set(m, 100, 3 * 4096 * 40, 9); }
static int64_t walk_update(memattr_map *m) { return memattr_update(m, fragment_gfn(3), fragment_gfn(3) + 1, 1, 2); }
static int64_t walk_is_uniform(memattr_map *m) { return memattr_is_uniform(m, 0, 1 << 20, 0); }
static int64_t walk_count(memattr_map *m) { return memattr_count_in_range(m, 0, 1 << 20, 0); }
static int64_t walk_runs(memattr_map *m)
{
	struct memattr_run runs[4];

	return memattr_runs(m, 0, GFN_LIMIT, runs, 4);
}
static int64_t walk_uniform_value(memattr_map *m)
{
	uint8_t v;

	return memattr_uniform_value(m, 0, 1 << 20, &v);
}
static int64_t walk_get_many(memattr_map *m)
{
	uint64_t gfns[3] = { 0, fragment_gfn(1), fragment_gfn(2) };
	uint8_t values[3];

	return memattr_get_many(m, gfns, values, 3);
}

static const struct {
	const char *name;
	int64_t (*call)(memattr_map *map);
} walks[] = {
	{ "get", walk_get }, { "set (one chunk)", walk_set }, { "set (many chunks)", walk_set_long },
	{ "update", walk_update }, { "is_uniform", walk_is_uniform }, { "uniform_value", walk_uniform_value },
	{ "count_in_range", walk_count }, { "runs", walk_runs }, { "get_many", walk_get_many },
};

static void test_each_walk_traps(void)
{
	for (size_t i = 0; i < sizeof(walks) / sizeof(walks[0]); i++) {
		memattr_map *map = new_broken_map();
		int64_t rc = walks[i].call(map);

		tap_begin();
		CHECK(rc == MEMATTR_E_NOTRECOVERABLE, "returned %" PRId64, rc);
		CHECK(map->broken && map->trap == WASM_RT_TRAP_OOB, "broken %d, trap %d", map->broken, map->trap);
		CHECK(memattr_guard_current == NULL, "the guard was not popped");
		tap_end("%s over a scribbled heap traps and returns -ENOTRECOVERABLE", walks[i].name);
		memattr_map_free(map);
	}
}

/* ---- after the trap ------------------------------------------------------------------------ */

static void test_broken_map_refuses_everything(memattr_map *map)
{
	struct memattr_run run;
	uint64_t gfn = 1;
	uint8_t value;

	tap_begin();
	CHECK(memattr_set(map, 0, 1, 1) == MEMATTR_E_NOTRECOVERABLE, "set");
	CHECK(memattr_update(map, 0, 1, 1, 1) == MEMATTR_E_NOTRECOVERABLE, "update");
	CHECK(memattr_get(map, 0) == MEMATTR_E_NOTRECOVERABLE, "get");
	CHECK(memattr_get_many(map, &gfn, &value, 1) == MEMATTR_E_NOTRECOVERABLE, "get_many");
	CHECK(memattr_is_uniform(map, 0, 1, 0) == MEMATTR_E_NOTRECOVERABLE, "is_uniform");
	CHECK(memattr_uniform_value(map, 0, 1, &value) == MEMATTR_E_NOTRECOVERABLE, "uniform_value");
	CHECK(memattr_count_in_range(map, 0, 1, 0) == MEMATTR_E_NOTRECOVERABLE, "count_in_range");
	CHECK(memattr_pages(map, 0) == MEMATTR_E_NOTRECOVERABLE, "pages");
	CHECK(memattr_run_count(map) == MEMATTR_E_NOTRECOVERABLE, "run_count");
	CHECK(memattr_runs(map, 0, 1, &run, 1) == MEMATTR_E_NOTRECOVERABLE, "runs");
	CHECK(memattr_clear(map) == MEMATTR_E_NOTRECOVERABLE, "clear");
	CHECK(memattr_memory_bytes(map) == MEMATTR_E_NOTRECOVERABLE, "memory_bytes");
	CHECK(memattr_linear_memory_bytes(map) == MEMATTR_E_NOTRECOVERABLE, "linear_memory_bytes");
	CHECK(memattr_set_memory_limit(map, (uint64_t)1 << 32) == MEMATTR_E_NOTRECOVERABLE, "set_memory_limit");
	CHECK(memattr_check_invariants(map) == MEMATTR_E_NOTRECOVERABLE, "check_invariants");
	CHECK(memattr_debug_scribble_heap(map, 0) == MEMATTR_E_NOTRECOVERABLE, "scribble");
	CHECK(memattr_memory_limit(map) == (uint64_t)1 << 32, "memory_limit (a field) %" PRIu64, memattr_memory_limit(map));
	tap_end("every later call on the broken map returns -ENOTRECOVERABLE");
}

static void test_trap_and_neighbours(void)
{
	memattr_map *healthy = new_fragmented_map();
	memattr_map *map = new_fragmented_map();
	memattr_map *fresh = NULL;
	char why[256];
	int rc;

	if (memattr_set_memory_limit(map, (uint64_t)1 << 32) != 0 || memattr_debug_scribble_heap(map, SCRIBBLE) <= 0)
		abort();
	tap_begin();
	rc = memattr_get(map, fragment_gfn(5));
	CHECK(rc == MEMATTR_E_NOTRECOVERABLE, "returned %d", rc);
	CHECK(strcmp(memattr_strerror(rc), "unknown error") != 0, "strerror");
	tap_end("the call that traps returns -ENOTRECOVERABLE");

	test_broken_map_refuses_everything(map);

	tap_begin();
	CHECK(random_work_agrees(healthy, 1, 20000, why, sizeof(why)), "the map made before the trap: %s", why);
	tap_end("a map made before the trap keeps working");

	tap_begin();
	CHECK(memattr_map_new(&fresh) == 0 && fresh, "map_new");
	if (fresh)
		CHECK(random_work_agrees(fresh, 2, 20000, why, sizeof(why)), "a map made after the trap: %s", why);
	tap_end("a map made after the trap works");

	tap_begin();
	memattr_map_free(map); /* under ASan: no leak, no bad free */
	memattr_map_free(healthy);
	memattr_map_free(fresh);
	tap_end("a broken map is freed like any other");
}

/* ---- a trap with no guard ------------------------------------------------------------------ */

static void test_unguarded_trap_aborts(void)
{
	memattr_map *map = new_broken_map();
	char message[512] = { 0 };
	int out[2], status = 0;
	pid_t pid;

	tap_begin();
	if (!CHECK(pipe(out) == 0, "pipe"))
		goto done;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(out[1], STDERR_FILENO);
		close(out[0]);
		/* a core call without MEMATTR_ENTER: the handler finds no guard */
		Z_memattrZ_get(&map->core, (double)fragment_gfn(1));
		_exit(0); /* not reached, or the test fails */
	}
	close(out[1]);
	if (read(out[0], message, sizeof(message) - 1) < 0)
		message[0] = 0;
	close(out[0]);
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
	CHECK(strstr(message, "outside a guarded call") != NULL, "stderr: %s", message);
done:
	memattr_map_free(map);
	tap_end("a trap outside any guard aborts with a message");
}

static void test_allocation_failure(void)
{
	memattr_map *map = (memattr_map *)&map; /* not NULL, so map_new must write NULL */
	int rc;

	tap_begin();
	memattr_debug_fail_next_allocation();
	rc = memattr_map_new(&map);
	CHECK(rc == MEMATTR_E_NOMEM, "returned %d", rc);
	CHECK(map == NULL, "out not NULL");
	CHECK(memattr_guard_current == NULL, "the guard was not popped");
	CHECK(memattr_map_new(&map) == 0 && map, "the next map_new");
	if (map)
		CHECK(memattr_set(map, 1, 2, 3) == 0 && memattr_get(map, 1) == 3, "the next map works");
	memattr_map_free(map);
	tap_end("linear memory that cannot be allocated makes map_new return -ENOMEM");
}

int main(void)
{
	tap_init();
	test_each_walk_traps();
	test_trap_and_neighbours();
	test_unguarded_trap_aborts();
	test_allocation_failure();
	return tap_done();
}
