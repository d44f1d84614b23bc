// The block allocator: four size classes with exact sizes, a free list per class, and a bump
// pointer above the highest block ever handed out. No GC (runtime stub), no block header: the
// caller always knows a block's class (nodes are class 0, a leaf's class follows its width).
//
//   class  bytes  holds
//   0       536   internal node (520 B used) or 1-bit leaf
//   1      1056   2-bit leaf
//   2      2104   4-bit leaf
//   3      4632   8-bit leaf
//
// A freed block goes on its class's list and is handed out again first, so memory a guest
// fragments and later makes uniform is reused rather than grown. Mutating operations call
// reserveBytes(RESERVE_BYTES) before touching anything: afterwards every allocation of that
// operation succeeds, which is how a failing memory.grow leaves the map unchanged.

import { NODE_POINTERS, NODE_SLOTS, isUniformSlot, leafSlotAddr, leafSlotClass } from "./layout";

/** Upper bound of what one set/update can allocate: 4 nodes of root growth, 2 edge paths of
 * 4 nodes each, and 2 edge leaves of 8 bits (4 632 B each) — rounded up. */
@inline export const RESERVE_BYTES: usize = 16384;
/** Grow memory by at least this fraction (1/32) of its size, so a growing map does not call
 * memory.grow for every reservation. */
@inline const GROW_FRACTION_SHIFT: i32 = 5;
@inline const WASM_PAGE_SHIFT: u64 = 16;

const FREE_HEADS: usize = memory.data(4 * 4, 16);

/* Parked leaves: a leaf that just became uniform (every page holds one palette idx) is not
 * freed at once but parked here with its content, so the next edit of the same chunk — a page
 * flipping through three or more values empties and refills its chunk on every cycle — takes
 * it back without allocating, clearing or re-encoding (hysteresis). Parked blocks are not live
 * (memoryBytes() excludes them); an allocation finding its free list empty takes a parked
 * block of its class before growing the heap; the oldest entry is freed when the table is full.
 *
 *   PARK entry i (16 B):  0 chunk + 1 (0 = empty) u32 · 4 leaf slot u32 · 8 idx u32 · 12 class u32
 */
@inline const PARK_SLOTS: i32 = 8;
const PARK: usize = memory.data(PARK_SLOTS * 16, 16);
let parkNext: i32 = 0;
let parkedBytes: u64 = 0;
/** The idx every page of the block returned by unparkLeaf() holds. */
export let unparkedIdx: u32 = 0;
const HEAP_START: usize = (__heap_base + 15) & ~(<usize>15);

/* Garbage: internal nodes a set detached whole (it covered their span, or left them all one
 * value), kept with their subtrees instead of freed block by block there — a whole-guest set over
 * a fragmented guest then costs O(nodes it touches), not O(leaves it drops). They form a stack
 * linked through each node's unused word (offset 4) as `next node | level` (blocks are 8-aligned,
 * levels 1–4). An allocation finding its free list empty pops garbage, a node at a time (its
 * leaves to their free lists, its child nodes onto the stack), before it takes a parked block or
 * grows the heap — so the heap grows exactly when eager freeing would have grown it, and memory
 * stays bounded. heapLiveBytes() drains it all first, so memoryBytes() and checkInvariants()
 * count exactly what eager freeing would. */
let garbageHead: u32 = 0;

let heapTop: usize = HEAP_START;
let liveBytes: u64 = 0;
/** Cap on linear memory, in 64 KiB Wasm pages; lowered by tests to simulate a failing grow. */
let limitPages: i32 = 65536;

@inline export function classBytes(cls: i32): usize {
  return cls == 0 ? 536 : cls == 1 ? 1056 : cls == 2 ? 2104 : 4632;
}

/** Makes sure `bytes` more can be bump-allocated without growing; false when memory cannot grow. */
export function reserveBytes(bytes: usize): bool {
  let haveBytes = <u64>memory.size() << WASM_PAGE_SHIFT;
  let needBytes = <u64>heapTop + <u64>bytes;
  if (needBytes <= haveBytes) return true;
  let curPages = memory.size();
  let minPages = <i32>((needBytes - haveBytes + 0xffff) >> WASM_PAGE_SHIFT);
  if (curPages + minPages > limitPages) return false;
  let wantPages = max(minPages, curPages >> GROW_FRACTION_SHIFT);
  if (curPages + wantPages > limitPages) wantPages = limitPages - curPages;
  if (memory.grow(wantPages) >= 0) return true;
  return wantPages > minPages && memory.grow(minPages) >= 0;
}

export function allocBlock(cls: i32): usize {
  let headAt = FREE_HEADS + (<usize>cls << 2);
  let block: usize = load<u32>(headAt);
  let bytes = classBytes(cls);
  while (block == 0 && garbageHead != 0) {
    drainGarbageNode();
    block = load<u32>(headAt);
  }
  if (block != 0) {
    store<u32>(headAt, load<u32>(block));
  } else if ((block = stealParked(cls)) != 0) {
    // a parked leaf of this class: reused before the heap grows
  } else {
    block = heapTop;
    heapTop += bytes;
    // reserveBytes() ran first, so this holds; if it ever does not, stop rather than corrupt.
    if (<u64>heapTop > (<u64>memory.size() << WASM_PAGE_SHIFT)) unreachable();
  }
  liveBytes += bytes;
  return block;
}

export function freeBlock(block: usize, cls: i32): void {
  let headAt = FREE_HEADS + (<usize>cls << 2);
  store<u32>(block, load<u32>(headAt));
  store<u32>(headAt, <u32>block);
  liveBytes -= classBytes(cls);
}

/** Puts node `node` at `level` (≥ 1), detached from the tree, with its subtree on the garbage stack. */
export function discardNode(node: usize, level: i32): void {
  store<u32>(node, garbageHead, 4);
  garbageHead = <u32>node | <u32>level;
}

/** Frees the top garbage node: its leaves to their free lists, its child nodes onto the stack. */
function drainGarbageNode(): void {
  let node = <usize>(garbageHead & ~7);
  let level = <i32>(garbageHead & 7);
  garbageHead = load<u32>(node, 4);
  if (load<u32>(node + NODE_POINTERS) != 0) {
    for (let at = node + NODE_SLOTS, last = at + 127 * 4; at <= last; at += 4) {
      let slot = load<u32>(at);
      if (isUniformSlot(slot)) continue;
      if (level == 1) freeBlock(leafSlotAddr(slot), leafSlotClass(slot));
      else discardNode(<usize>slot, level - 1);
    }
  }
  freeBlock(node, 0);
}

/** Frees every garbage node (before live bytes or free lists are reported). */
export function drainGarbage(): void {
  while (garbageHead != 0) drainGarbageNode();
}

/** Parks the block of a leaf that became uniform (all pages `idx`) for chunk `chunk`. */
export function parkLeaf(chunk: u32, slot: u32, idx: u32, cls: i32): void {
  let at = PARK + (<usize>parkNext << 4);
  if (load<u32>(at) != 0) {
    // table full: the oldest entry goes back to its free list
    let oldCls = <i32>load<u32>(at, 12);
    parkedBytes -= classBytes(oldCls);
    freeFromPark(<usize>(load<u32>(at, 4) & ~7), oldCls);
  }
  store<u32>(at, chunk + 1);
  store<u32>(at, slot, 4);
  store<u32>(at, idx, 8);
  store<u32>(at, <u32>cls, 12);
  parkNext = (parkNext + 1) & (PARK_SLOTS - 1);
  liveBytes -= classBytes(cls);
  parkedBytes += classBytes(cls);
}

/** The parked leaf slot of `chunk` (now live again; its pages all hold `unparkedIdx`), or 0. */
export function unparkLeaf(chunk: u32): u32 {
  for (let i = 0; i < PARK_SLOTS; i++) {
    let at = PARK + (<usize>i << 4);
    if (load<u32>(at) != chunk + 1) continue;
    let cls = <i32>load<u32>(at, 12);
    store<u32>(at, 0);
    liveBytes += classBytes(cls);
    parkedBytes -= classBytes(cls);
    unparkedIdx = load<u32>(at, 8);
    return load<u32>(at, 4);
  }
  return 0;
}

function stealParked(cls: i32): usize {
  for (let i = 0; i < PARK_SLOTS; i++) {
    let at = PARK + (<usize>i << 4);
    if (load<u32>(at) == 0 || <i32>load<u32>(at, 12) != cls) continue;
    store<u32>(at, 0);
    parkedBytes -= classBytes(cls);
    return <usize>(load<u32>(at, 4) & ~7);
  }
  return 0;
}

@inline function freeFromPark(block: usize, cls: i32): void {
  let headAt = FREE_HEADS + (<usize>cls << 2);
  store<u32>(block, load<u32>(headAt));
  store<u32>(headAt, <u32>block);
}

/** Bytes held by parked leaves (neither live nor on a free list). */
export function heapParkedBytes(): u64 {
  return parkedBytes;
}

/** Forgets every block at once (clear()). Linear memory stays as large as it was. */
export function resetHeap(): void {
  memory.fill(FREE_HEADS, 0, 16);
  memory.fill(PARK, 0, PARK_SLOTS * 16);
  parkNext = 0;
  parkedBytes = 0;
  garbageHead = 0;
  heapTop = HEAP_START;
  liveBytes = 0;
}

/** Bytes of live blocks: reachable from the tree (garbage is drained first), not parked or free. */
export function heapLiveBytes(): u64 {
  drainGarbage();
  return liveBytes;
}
export function heapTopBytes(): usize {
  return heapTop;
}
export function heapStartBytes(): usize {
  return HEAP_START;
}
export function setLimitPages(pages: i32): void {
  limitPages = pages;
}
export function getLimitPages(): i32 {
  return limitPages;
}
/** Number of free blocks of a class (for checkInvariants and tests). */
export function freeBlockCount(cls: i32): i32 {
  drainGarbage();
  let n = 0;
  let block: usize = load<u32>(FREE_HEADS + (<usize>cls << 2));
  while (block != 0) {
    if (block < HEAP_START || block >= heapTop) return -1;
    n++;
    block = <usize>load<u32>(block);
  }
  return n;
}
