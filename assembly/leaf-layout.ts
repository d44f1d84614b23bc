// Leaves, part 1: the layout of a leaf block and its accessors (see leaf.ts for what a leaf is).
//
// Leaf block (class = log2(width)); palette and data sit at fixed offsets so a read needs no
// header, and the slot pointing at a leaf carries log2(width) in bits 1–2 (blocks are 8-aligned):
//
//   0                 16                          T = 16 + 512·width   T+2       T+4
//   ┌─────────────────┬───────────────────────────┬───────────────────┬─────────┬────────────────┐
//   │ palette[16]: u8 │ packed idx: 4096·width    │ distinctCount u16 │ (pad)   │ counts[P]: u16 │
//   │ idx → value     │ bits, page o at bit o·w   │                   │         │ pages per idx  │
//   └─────────────────┴───────────────────────────┴───────────────────┴─────────┴────────────────┘
//   P = 2^width.  width 1: 536 B · width 2: 1056 B · width 4: 2104 B · width 8: 4632 B (rounded to 8).
//   Width 8 uses no palette (idx = value). Bits are least significant first.
// An idx with count 0 is free: its palette byte is stale and never matched.

import { leafSlotAddr, leafSlotOf, leafSlotWidth } from "./layout";
import { allocBlock, freeBlock } from "./alloc";

/** Range edits at least this long re-encode a leaf at its narrowest width. */
@inline export const SHRINK_MIN_PAGES: u32 = 64;

/** Partial updates over at most this many runs go run by run in place (more: decode, re-encode). */
@inline export const UPDATE_RUNS_MAX: i32 = 64;

@inline export const DATA_OFFSET: usize = 16;

@inline export function addrOf(slot: u32): usize {
  return leafSlotAddr(slot);
}

@inline export function widthOf(slot: u32): u32 {
  return leafSlotWidth(slot);
}

@inline export function slotOf(leaf: usize, width: u32): u32 {
  return leafSlotOf(leaf, width);
}

@inline export function leafClass(width: u32): i32 {
  return <i32>ctz(width);
}

@inline export function dataAt(leaf: usize): usize {
  return leaf + DATA_OFFSET;
}

@inline export function trailerAt(leaf: usize, width: u32): usize {
  return leaf + DATA_OFFSET + ((<usize>width) << 9);
}

@inline export function countsAt(leaf: usize, width: u32): usize {
  return trailerAt(leaf, width) + 4;
}

@inline export function distinctOf(leaf: usize, width: u32): i32 {
  return <i32>load<u16>(trailerAt(leaf, width));
}

@inline export function setDistinct(leaf: usize, width: u32, n: i32): void {
  store<u16>(trailerAt(leaf, width), n);
}

@inline export function minWidthFor(distinct: i32): u32 {
  return distinct <= 2 ? 1 : distinct <= 4 ? 2 : distinct <= 16 ? 4 : 8;
}

/**
 * A long edit re-encodes a leaf narrower only when a quarter of its width would do: one step of
 * slack, so a range whose values cycle (one more value, then one fewer) does not re-encode the
 * whole leaf twice per cycle.
 */
@inline export function shouldShrink(distinct: i32, width: u32): bool {
  return minWidthFor(distinct) * 4 <= width;
}

@inline export function idxAt(data: usize, width: u32, o: u32): u32 {
  let bit = o * width;
  return (<u32>load<u8>(data + (bit >> 3)) >> (bit & 7)) & ((1 << width) - 1);
}

@inline export function putIdx(data: usize, width: u32, o: u32, idx: u32): void {
  let bit = o * width;
  let at = data + (bit >> 3);
  let shift = bit & 7;
  let mask = ((1 << width) - 1) << shift;
  store<u8>(at, (load<u8>(at) & ~mask) | (idx << shift));
}

@inline export function valueOfIdx(leaf: usize, width: u32, idx: u32): i32 {
  return width == 8 ? <i32>idx : <i32>load<u8>(leaf + idx);
}

@inline export function countOf(leaf: usize, width: u32, idx: u32): u32 {
  return load<u16>(countsAt(leaf, width) + (<usize>idx << 1));
}

@inline export function addCount(leaf: usize, width: u32, idx: u32, delta: i32): void {
  let at = countsAt(leaf, width) + (<usize>idx << 1);
  store<u16>(at, <i32>load<u16>(at) + delta);
}

/**
 * idx repeated over a byte: idx · 0xff/(2^width − 1). The factor (0xff, 0x55, 0x11, 0x01 for
 * widths 1, 2, 4, 8) comes from one constant by log2(width): a division by a variable is a
 * ~25-cycle instruction on x64, on every short read and write.
 */
@inline export function bytePattern(width: u32, idx: u32): u32 {
  return idx * ((0x011155ff >> (ctz(width) << 3)) & 0xff);
}

/** idx repeated over 64 bits. */
@inline export function wordPattern(width: u32, idx: u32): u64 {
  return <u64>bytePattern(width, idx) * 0x0101010101010101;
}

/** Bytes of the block behind a leaf slot. */
export function leafBytesOf(slot: u32): usize {
  let width = widthOf(slot);
  return (DATA_OFFSET + ((<usize>width) << 9) + 4 + ((<usize>2) << width) + 7) & ~(<usize>7);
}

export function leafFree(slot: u32): void {
  freeBlock(addrOf(slot), leafClass(widthOf(slot)));
}

/** Value of page `o`: the hot read, two dependent loads (data, then palette). */
@inline export function leafGet(slot: u32, o: u32): i32 {
  let log2Width = (slot >> 1) & 3;
  let leaf = <usize>(slot & ~7);
  let bit = o << log2Width;
  let idx = (<u32>load<u8>(leaf + DATA_OFFSET + (bit >> 3)) >> (bit & 7)) & ((1 << (1 << log2Width)) - 1);
  return log2Width == 3 ? <i32>idx : <i32>load<u8>(leaf + idx);
}

export function leafNew(width: u32): usize {
  let leaf = allocBlock(leafClass(width));
  memory.fill(leaf, 0, DATA_OFFSET);
  memory.fill(trailerAt(leaf, width), 0, 4 + ((<usize>2) << width));
  return leaf;
}

export function recountDistinct(leaf: usize, width: u32): i32 {
  let n = 0;
  let counts = countsAt(leaf, width);
  let entries = 1 << width;
  for (let i = 0; i < entries; i++) if (load<u16>(counts + (<usize>i << 1)) != 0) n++;
  return n;
}

/** Palette idx of value `x` if some page holds it, else -1. */
export function findIdx(leaf: usize, width: u32, x: i32): i32 {
  if (width == 8) return countOf(leaf, width, x) != 0 ? x : -1;
  let entries = 1 << width;
  for (let i = 0; i < entries; i++) {
    if (countOf(leaf, width, i) != 0 && <i32>load<u8>(leaf + i) == x) return i;
  }
  return -1;
}

/** Palette idx for value `x`, taking a free entry if needed; -1 when the palette is full. */
export function findOrAddIdx(leaf: usize, width: u32, x: i32): i32 {
  if (width == 8) return x;
  let entries = 1 << width;
  let freeIdx = -1;
  for (let i = 0; i < entries; i++) {
    if (countOf(leaf, width, i) != 0) {
      if (<i32>load<u8>(leaf + i) == x) return i;
    } else if (freeIdx < 0) freeIdx = i;
  }
  if (freeIdx >= 0) store<u8>(leaf + freeIdx, <u8>x);
  return freeIdx;
}
