/* Debug hooks for native/test (declared in internal.h only, not in memattr.h). */
#include "internal.h"

int64_t memattr_debug_scribble_heap(memattr_map *map, uint8_t byte)
{
	struct memattr_guard guard;
	uint32_t heap_start, heap_bytes;

	MEMATTR_ENTER(map, &guard);
	heap_start = (uint32_t)Z_memattrZ_staticBytes(&map->core); /* the heap starts after static data */
	heap_bytes = (uint32_t)Z_memattrZ_heapBytes(&map->core);   /* every block handed out so far */
	memattr_leave(&guard);
	memset(memattr_linear(map, heap_start), byte, heap_bytes);
	return heap_bytes;
}
