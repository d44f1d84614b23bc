// Shapes shared by every file of the core: the page space, the slot encoding, the static regions.
//
// Conventions (used in every assembly/ file):
//   gfn   guest frame number, a 4 KiB page index in [0, 2^40); u64 inside Wasm, f64 across the boundary
//   chunk 4096 consecutive pages starting at a multiple of 4096: what one leaf covers
//   o     page offset inside a chunk, 0 … 4095
//   slot  a u32 tree entry: odd = one uniform value for its whole subtree (v << 1 | 1),
//         even = pointer to a node (level ≥ 1) or to a leaf (level 0)
//   level 0 = chunk (leaf) level; a slot at level L covers 4096 · 128^L pages
//   idx   a palette index inside a leaf (what the packed bits hold)

import { GFN_BITS } from "./abi";

/** log2 of the pages one leaf (chunk) covers. */
@inline export const CHUNK_SHIFT: u64 = 12;
@inline export const CHUNK_PAGES: i32 = 4096;
/** log2 of the slots per internal node. 12 + 4 · 7 = 40: height 4 covers the page space exactly. */
@inline export const FANOUT_SHIFT: u64 = 7;
@inline export const FANOUT: i32 = 128;
@inline export const MAX_HEIGHT: i32 = 4;
@inline export const MAX_GFN: u64 = (<u64>1) << <u64>GFN_BITS;
@inline export const MAX_GFN_F64: f64 = <f64>MAX_GFN;

@inline export function uniformSlot(value: i32): u32 {
  return (<u32>value << 1) | 1;
}
@inline export function isUniformSlot(slot: u32): bool {
  return (slot & 1) != 0;
}
@inline export function slotValue(slot: u32): i32 {
  return <i32>(slot >>> 1);
}
/* A leaf slot: the leaf's block address (8-aligned) | log2(bits per page) << 1. log2 of the
 * width is also the block's allocator class (alloc.ts: 1-bit leaves in class 0 … 8-bit in 3). */
/** The block of the leaf a leaf slot points to. */
@inline export function leafSlotAddr(slot: u32): usize {
  return <usize>(slot & ~7);
}
/** log2 of the leaf's bits per page: its block's allocator class. */
@inline export function leafSlotClass(slot: u32): i32 {
  return <i32>((slot >> 1) & 3);
}
/** The leaf's bits per page (1, 2, 4 or 8). */
@inline export function leafSlotWidth(slot: u32): u32 {
  return 1 << ((slot >> 1) & 3);
}
/** The slot of the leaf at `leaf` with `width` bits per page. */
@inline export function leafSlotOf(leaf: usize, width: u32): u32 {
  return <u32>leaf | (ctz(width) << 1);
}

/** 1 when the slot is a pointer, 0 when it is a uniform value. */
@inline export function isPointerBit(slot: u32): u32 {
  return (slot & 1) ^ 1;
}
/** log2 of the pages a slot at `level` covers. */
@inline export function shiftOf(level: i32): u64 {
  return CHUNK_SHIFT + FANOUT_SHIFT * <u64>level;
}
/** Pages a slot at `level` covers. */
@inline export function spanOf(level: i32): u64 {
  return (<u64>1) << shiftOf(level);
}

/* Internal node, one allocator block of class 0 (536 B, shared with 1-bit leaves):
 *
 *   0              4            8                                   520      536
 *   ┌──────────────┬────────────┬───────────────────────────────────┬────────┐
 *   │ pointerCount │ garbage    │ slots[128]: u32 each              │ (pad)  │
 *   │ u32          │ u32        │ slot i covers base + i·span/128   │        │
 *   └──────────────┴────────────┴───────────────────────────────────┴────────┘
 * pointerCount = how many slots are pointers; 0 means every child is uniform, the only
 * case in which the node might collapse into one uniform slot. garbage = while the node waits
 * on the garbage stack (alloc.ts), the next node there | its level; unused in the live tree.
 */
@inline export const NODE_POINTERS: usize = 0;
@inline export const NODE_SLOTS: usize = 8;

// Static regions (zeroed at instantiation, never freed).
/** Pages per value over the whole map: i64[256]. */
export const COUNTS: usize = memory.data(256 * 8, 16);

/** Pages of the whole map holding value `v` (COUNTS[v]). */
@inline export function pagesOfValue(v: i32): i64 {
  return load<i64>(COUNTS + (<usize>v << 3));
}

/** COUNTS[v] += delta: the one place the map-wide per-value totals change. */
@inline export function addPages(v: i32, delta: i64): void {
  let at = COUNTS + (<usize>v << 3);
  store<i64>(at, load<i64>(at) + delta);
}
/** One chunk decoded to a byte per page, for the rare re-encode paths: u8[4096]. */
export const SCRATCH_VALUES: usize = memory.data(4096, 16);
/** Histogram used while encoding a chunk: u16[256]. */
export const SCRATCH_HIST: usize = memory.data(256 * 2, 16);
/** Value → palette index while encoding: u8[256]. */
export const SCRATCH_INDEX: usize = memory.data(256, 16);

/** Commands per batch call: 1024 commands × 4 f64 = 32 KiB, or 4096 gfns for getMany. */
@inline export const BATCH_COMMANDS: i32 = 1024;
@inline export const BATCH_GFNS: i32 = 4096;
/** getMany input (one gfn per f64) and runs output (f64 triples): f64[4096]. */
export const BATCH_IN: usize = memory.data(BATCH_GFNS * 8, 16);
/** Batch commands: 1024 × (opcode, a, b, c) f64. */
export const BATCH_CMDS: usize = memory.data(BATCH_COMMANDS * 32, 16);
/** Batch output: one f64 per command, or one u8 per gfn for getMany: 8 KiB. */
export const BATCH_OUT: usize = memory.data(BATCH_COMMANDS * 8, 16);
