// Leaves, part 3: making, widening, decoding and re-encoding leaves (and reviving parked ones).

import { CHUNK_PAGES, SCRATCH_HIST, SCRATCH_INDEX, uniformSlot } from "./layout";
import { freeBlock, unparkLeaf, unparkedIdx } from "./alloc";
import { DATA_OFFSET, addrOf, widthOf, slotOf, leafClass, dataAt, trailerAt, countsAt, distinctOf, setDistinct, minWidthFor, idxAt, putIdx, valueOfIdx, countOf, addCount, leafNew } from "./leaf-layout";
import { fillIdx } from "./leaf-words";

/**
 * A leaf for chunk `chunk`: value `v` everywhere except `x` on [lo, hi). Revives the chunk's
 * parked leaf when there is one (no allocation, no clearing: only the palette and the edited
 * pages change), else makes a new 1-bit leaf. Returns its slot.
 */
export function leafFromUniform(v: i32, lo: u32, hi: u32, x: i32, chunk: u32): u32 {
  let parked = unparkLeaf(chunk);
  if (parked != 0) return leafRevive(parked, unparkedIdx, v, lo, hi, x);
  let leaf = leafNew(1);
  store<u8>(leaf, <u8>v);
  store<u8>(leaf + 1, <u8>x);
  addCount(leaf, 1, 0, CHUNK_PAGES - (hi - lo));
  addCount(leaf, 1, 1, hi - lo);
  setDistinct(leaf, 1, 2);
  let data = dataAt(leaf);
  memory.fill(data, 0, CHUNK_PAGES / 8);
  fillIdx(data, 1, lo, hi, 1);
  return slotOf(leaf, 1);
}

/** A parked leaf whose pages all hold idx `k` made into `v` everywhere but `x` on [lo, hi). */
export function leafRevive(slot: u32, k: u32, v: i32, lo: u32, hi: u32, x: i32): u32 {
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  let data = dataAt(leaf);
  let counts = countsAt(leaf, width);
  store<u16>(counts + (<usize>k << 1), 0); // every other count is 0 already
  let idxV: u32;
  let idxX: u32;
  if (width == 8) {
    if (<i32>k != v) memory.fill(data, <u8>v, CHUNK_PAGES);
    idxV = <u32>v;
    idxX = <u32>x;
  } else {
    idxV = k;
    idxX = k == 0 ? 1 : 0;
    store<u8>(leaf + idxV, <u8>v);
    store<u8>(leaf + idxX, <u8>x);
  }
  store<u16>(counts + (<usize>idxV << 1), CHUNK_PAGES - (hi - lo));
  store<u16>(counts + (<usize>idxX << 1), hi - lo);
  setDistinct(leaf, width, 2);
  fillIdx(data, width, lo, hi, idxX);
  return slot;
}

/** Moves the w-bit lanes of the low 32 bits of `x` to 2w-bit lanes (high halves zero): Morton spreading. */
@inline export function spreadLanes(x: u64, w: u32): u64 {
  x = (x | (x << 16)) & 0x0000ffff0000ffff;
  if (w <= 8) x = (x | (x << 8)) & 0x00ff00ff00ff00ff;
  if (w <= 4) x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0f;
  if (w <= 2) x = (x | (x << 2)) & 0x3333333333333333;
  if (w == 1) x = (x | (x << 1)) & 0x5555555555555555;
  return x;
}

/** A copy of `leaf` at width `wider` (so its palette has room); frees the old block. */
export function leafWidenTo(leaf: usize, width: u32, wider: u32): usize {
  let next = leafNew(wider);
  let oldData = dataAt(leaf);
  let newData = dataAt(next);
  let entries = 1 << width;
  for (let i = 0; i < entries; i++) {
    let c = countOf(leaf, width, i);
    if (c == 0) continue;
    let target: u32 = wider == 8 ? <u32>valueOfIdx(leaf, width, i) : <u32>i;
    store<u16>(countsAt(next, wider) + (<usize>target << 1), c);
    if (wider != 8) store<u8>(next + i, load<u8>(leaf + i));
  }
  setDistinct(next, wider, distinctOf(leaf, width));
  // palette indices stay: each output word is 64·width/wider bits of old data, lanes spread
  // apart word-wise (a doubling per step), not page by page
  let pieceBits = (64 * width) / wider;
  let pieceMask: u64 = ((<u64>1) << pieceBits) - 1;
  let words = (<usize>wider) << 6; // 4096·wider bits / 64
  for (let k: usize = 0; k < words; k++) {
    let bit = k * pieceBits;
    let x = (load<u64>(oldData + ((bit >> 6) << 3)) >> (<u64>bit & 63)) & pieceMask;
    for (let w = width; w < wider; w <<= 1) x = spreadLanes(x, w);
    store<u64>(newData + (k << 3), x);
  }
  if (wider == 8) {
    // idx = value at width 8: map each byte through the old palette
    for (let o: u32 = 0; o < <u32>CHUNK_PAGES; o++) store<u8>(newData + o, load<u8>(leaf + load<u8>(newData + o)));
  }
  freeBlock(leaf, leafClass(width));
  return next;
}

/** Values of all 4096 pages, one byte each, into `dst`. */
export function leafDecode(leaf: usize, width: u32, dst: usize): void {
  let data = dataAt(leaf);
  if (width == 8) {
    memory.copy(dst, data, CHUNK_PAGES);
    return;
  }
  for (let o: u32 = 0; o < <u32>CHUNK_PAGES; o++) store<u8>(dst + o, load<u8>(leaf + idxAt(data, width, o)));
}

/**
 * Encodes 4096 values at `src` as a slot. Into `leaf` in place, keeping `keepWidth` (the caller
 * guarantees the values fit), or, when `leaf` is 0, into a new leaf of the narrowest width.
 * Returns a uniform slot (freeing `leaf`) when all pages are equal.
 */
export function leafEncode(src: usize, leaf: usize, keepWidth: u32): u32 {
  memory.fill(SCRATCH_HIST, 0, 512);
  for (let o = 0; o < CHUNK_PAGES; o++) {
    let at = SCRATCH_HIST + (<usize>load<u8>(src + o) << 1);
    store<u16>(at, load<u16>(at) + 1);
  }
  let distinct = 0;
  let lastValue = 0;
  for (let v = 0; v < 256; v++) {
    if (load<u16>(SCRATCH_HIST + (<usize>v << 1)) != 0) {
      distinct++;
      lastValue = v;
    }
  }
  if (distinct == 1) {
    if (leaf != 0) freeBlock(leaf, leafClass(keepWidth));
    return uniformSlot(lastValue);
  }
  let width: u32;
  if (leaf == 0) {
    width = minWidthFor(distinct);
    leaf = leafNew(width);
  } else {
    width = keepWidth;
    memory.fill(leaf, 0, DATA_OFFSET);
    memory.fill(trailerAt(leaf, width), 0, 4 + ((<usize>2) << width));
  }
  setDistinct(leaf, width, distinct);
  let data = dataAt(leaf);
  if (width == 8) {
    memory.copy(countsAt(leaf, width), SCRATCH_HIST, 512);
    memory.copy(data, src, CHUNK_PAGES);
    return slotOf(leaf, width);
  }
  let k = 0;
  for (let v = 0; v < 256; v++) {
    let c = load<u16>(SCRATCH_HIST + (<usize>v << 1));
    if (c == 0) continue;
    store<u8>(SCRATCH_INDEX + v, <u8>k);
    store<u8>(leaf + k, <u8>v);
    store<u16>(countsAt(leaf, width) + (<usize>k << 1), c);
    k++;
  }
  for (let o: u32 = 0; o < <u32>CHUNK_PAGES; o++) putIdx(data, width, o, load<u8>(SCRATCH_INDEX + load<u8>(src + o)));
  return slotOf(leaf, width);
}
