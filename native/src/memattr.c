/* The map part of memattr.h over the wasm2c-compiled core.
 *
 * Every function checks its arguments in integer arithmetic first (the core's reads, such as
 * get(), trust theirs, and a uint64_t above 2^53 would round on its way to a double), then
 * enters the guard, calls the core and leaves (internal.h). Codes are the core's
 * (memattr_abi.h); a trap turns into -ENOTRECOVERABLE for this call and every later one.
 */
#include "internal.h"

#include <stdlib.h>

int memattr_map_new(memattr_map **out)
{
	struct memattr_guard guard;
	memattr_map *map;
	int rc;

	if (!out)
		return MEMATTR_E_INVAL;
	*out = NULL;
	rc = memattr_runtime_init();
	if (rc)
		return rc;
	map = calloc(1, sizeof(*map));
	if (!map)
		return MEMATTR_E_NOMEM;

	/* By hand, not MEMATTR_ENTER: a trap here (linear memory could not be allocated) must
	 * free the half-made map rather than mark it broken. */
	guard.outer = memattr_guard_current;
	if (memattr_setjmp(guard.jmp) != 0) {
		memattr_guard_current = guard.outer;
		rc = memattr_guard_trap == WASM_RT_TRAP_EXHAUSTION ? MEMATTR_E_NOMEM
								   : MEMATTR_E_NOTRECOVERABLE;
		if (Z_memattrZ_memory(&map->core)->data)
			Z_memattr_free(&map->core);
		free(map);
		return rc;
	}
	memattr_guard_current = &guard;
	Z_memattr_instantiate(&map->core); /* allocates linear memory, runs the start function */
	map->memory = Z_memattrZ_memory(&map->core);
	map->batch_in = Z_memattrZ_batchIn(&map->core);
	map->batch_out = Z_memattrZ_batchOut(&map->core);
	map->runs_capacity = Z_memattrZ_runsCapacity(&map->core);
	map->get_many_capacity = Z_memattrZ_getManyCapacity(&map->core);
	Z_memattrZ_setMemoryLimitPages(&map->core, MEMATTR_RUNTIME_MAX_PAGES);
	memattr_leave(&guard);

	map->limit_pages = MEMATTR_WASM_MAX_PAGES;
	*out = map;
	return 0;
}

void memattr_map_free(memattr_map *map)
{
	if (!map)
		return;
	Z_memattr_free(&map->core); /* frees linear memory only: runs no core code, cannot trap */
	free(map);
}

int memattr_set(memattr_map *map, uint64_t start, uint64_t end, unsigned value)
{
	struct memattr_guard guard;
	int rc;

	rc = memattr_check_range(start, end);
	if (rc)
		return rc;
	if (memattr_check_byte(value))
		return MEMATTR_E_INVAL;
	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_set(&map->core, memattr_gfn_f64(start), memattr_gfn_f64(end), value);
	memattr_leave(&guard);
	return rc;
}

int memattr_update(memattr_map *map, uint64_t start, uint64_t end, unsigned clear_mask, unsigned set_mask)
{
	struct memattr_guard guard;
	int rc;

	rc = memattr_check_range(start, end);
	if (rc)
		return rc;
	if (memattr_check_byte(clear_mask) || memattr_check_byte(set_mask))
		return MEMATTR_E_INVAL;
	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_update(&map->core, memattr_gfn_f64(start), memattr_gfn_f64(end),
					clear_mask, set_mask);
	memattr_leave(&guard);
	return rc;
}

int memattr_get(memattr_map *map, uint64_t gfn)
{
	struct memattr_guard guard;
	int value;

	if (unlikely(memattr_check_gfn(gfn)))
		return MEMATTR_E_RANGE; /* get() trusts its gfn: the check is only here */
	MEMATTR_ENTER(map, &guard);
	value = (int32_t)Z_memattrZ_get(&map->core, memattr_gfn_f64(gfn));
	memattr_leave(&guard);
	return value;
}

/* Through getMany(): gfns as f64 at batch_in, one value byte each at batch_out, a chunk of
 * get_many_capacity per call (one guard and one call for up to 4096 gfns). */
int memattr_get_many(memattr_map *map, const uint64_t *gfns, uint8_t *values, size_t n)
{
	struct memattr_guard guard;
	size_t done = 0;
	int rc = 0;

	if (n && (!gfns || !values))
		return MEMATTR_E_INVAL;
	MEMATTR_ENTER(map, &guard);
	while (done < n && rc == 0) {
		size_t chunk = n - done < map->get_many_capacity ? n - done : map->get_many_capacity;
		size_t k;

		for (k = 0; k < chunk; k++) {
			uint64_t gfn = gfns[done + k];

			if (unlikely(memattr_check_gfn(gfn))) {
				rc = MEMATTR_E_RANGE; /* the values before it are still written */
				break;
			}
			memattr_store_f64(map, map->batch_in + 8 * (uint32_t)k, memattr_gfn_f64(gfn));
		}
		if (k) {
			int got = (int32_t)Z_memattrZ_getMany(&map->core, (uint32_t)k);

			if (got < 0) { /* cannot happen for checked gfns; pass it on rather than hide it */
				rc = got;
				break;
			}
			memcpy(values + done, memattr_linear(map, map->batch_out), k);
		}
		done += k;
	}
	memattr_leave(&guard);
	return rc;
}

int memattr_is_uniform(memattr_map *map, uint64_t start, uint64_t end, unsigned value)
{
	struct memattr_guard guard;
	int rc;

	rc = memattr_check_range(start, end);
	if (rc)
		return rc;
	if (memattr_check_byte(value))
		return MEMATTR_E_INVAL;
	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_isUniform(&map->core, memattr_gfn_f64(start), memattr_gfn_f64(end), value);
	memattr_leave(&guard);
	return rc;
}

int memattr_uniform_value(memattr_map *map, uint64_t start, uint64_t end, uint8_t *value)
{
	struct memattr_guard guard;
	int rc;

	rc = memattr_check_range(start, end);
	if (rc)
		return rc;
	if (!value)
		return MEMATTR_E_INVAL;
	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_uniformValue(&map->core, memattr_gfn_f64(start), memattr_gfn_f64(end));
	memattr_leave(&guard);
	if (rc >= 0) {
		*value = (uint8_t)rc;
		return 1;
	}
	return rc == -1 ? 0 : rc; /* -1: mixed; below: a code */
}

int64_t memattr_count_in_range(memattr_map *map, uint64_t start, uint64_t end, unsigned value)
{
	struct memattr_guard guard;
	int64_t pages;
	int rc;

	rc = memattr_check_range(start, end);
	if (rc)
		return rc;
	if (memattr_check_byte(value))
		return MEMATTR_E_INVAL;
	MEMATTR_ENTER(map, &guard);
	pages = (int64_t)Z_memattrZ_countInRange(&map->core, memattr_gfn_f64(start), memattr_gfn_f64(end), value);
	memattr_leave(&guard);
	return pages;
}

int64_t memattr_pages(memattr_map *map, unsigned value)
{
	struct memattr_guard guard;
	int64_t pages;

	if (memattr_check_byte(value))
		return MEMATTR_E_INVAL; /* pages() would mask it to 8 bits */
	MEMATTR_ENTER(map, &guard);
	pages = (int64_t)Z_memattrZ_pages(&map->core, value);
	memattr_leave(&guard);
	return pages;
}

int64_t memattr_run_count(memattr_map *map)
{
	struct memattr_guard guard;
	int64_t runs;

	MEMATTR_ENTER(map, &guard);
	runs = (int64_t)Z_memattrZ_runCount(&map->core);
	memattr_leave(&guard);
	return runs;
}

/* runs() writes at most runs_capacity f64 triples (start, end, value) at batch_in per call;
 * a longer answer resumes from the last run's end, which is where the next run starts. */
int64_t memattr_runs(memattr_map *map, uint64_t start, uint64_t end, struct memattr_run *out, size_t max_runs)
{
	struct memattr_guard guard;
	uint64_t from = start;
	size_t total = 0;
	int rc;

	rc = memattr_check_range(start, end);
	if (rc)
		return rc;
	if (!out || max_runs == 0)
		return MEMATTR_E_INVAL; /* as runs(): 0 would make "returns max_runs" mean "more" forever */
	MEMATTR_ENTER(map, &guard);
	while (total < max_runs && from < end) {
		size_t want = max_runs - total < map->runs_capacity ? max_runs - total : map->runs_capacity;
		int n = (int32_t)Z_memattrZ_runs(&map->core, memattr_gfn_f64(from), memattr_gfn_f64(end),
						 (uint32_t)want);

		if (n < 0) { /* cannot happen for a checked range */
			memattr_leave(&guard);
			return n;
		}
		for (int i = 0; i < n; i++) {
			uint32_t at = map->batch_in + 24 * (uint32_t)i;

			out[total + i].start = (uint64_t)memattr_load_f64(map, at);
			out[total + i].end = (uint64_t)memattr_load_f64(map, at + 8);
			out[total + i].value = (uint8_t)memattr_load_f64(map, at + 16);
		}
		total += (size_t)n;
		if ((size_t)n < want)
			break;
		from = out[total - 1].end;
	}
	memattr_leave(&guard);
	return (int64_t)total;
}

int memattr_clear(memattr_map *map)
{
	struct memattr_guard guard;

	MEMATTR_ENTER(map, &guard);
	Z_memattrZ_clear(&map->core);
	memattr_leave(&guard);
	return 0;
}

int64_t memattr_memory_bytes(memattr_map *map)
{
	struct memattr_guard guard;
	int64_t bytes;

	MEMATTR_ENTER(map, &guard); /* memoryBytes() first frees detached subtrees: a walk */
	bytes = (int64_t)Z_memattrZ_memoryBytes(&map->core);
	memattr_leave(&guard);
	return bytes;
}

int64_t memattr_linear_memory_bytes(memattr_map *map)
{
	if (map->broken)
		return MEMATTR_E_NOTRECOVERABLE;
	return (int64_t)map->memory->size;
}

int memattr_set_memory_limit(memattr_map *map, uint64_t bytes)
{
	struct memattr_guard guard;
	uint64_t pages = bytes >> MEMATTR_WASM_PAGE_SHIFT;

	if (pages > MEMATTR_WASM_MAX_PAGES)
		pages = MEMATTR_WASM_MAX_PAGES;
	MEMATTR_ENTER(map, &guard);
	if (pages < map->memory->pages) {
		memattr_leave(&guard);
		return MEMATTR_E_INVAL; /* linear memory cannot shrink */
	}
	Z_memattrZ_setMemoryLimitPages(&map->core, pages < MEMATTR_RUNTIME_MAX_PAGES ? (uint32_t)pages
									      : MEMATTR_RUNTIME_MAX_PAGES);
	memattr_leave(&guard);
	map->limit_pages = (uint32_t)pages;
	return 0;
}

uint64_t memattr_memory_limit(memattr_map *map)
{
	return (uint64_t)map->limit_pages << MEMATTR_WASM_PAGE_SHIFT; /* a field: no core call */
}

int memattr_check_invariants(memattr_map *map)
{
	struct memattr_guard guard;
	int rc;

	MEMATTR_ENTER(map, &guard);
	rc = (int32_t)Z_memattrZ_checkInvariants(&map->core);
	memattr_leave(&guard);
	return rc;
}
