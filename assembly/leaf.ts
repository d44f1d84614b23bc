// Leaves: one chunk of 4096 pages, palette-packed. A chunk whose pages all hold one value is
// never a leaf — its parent keeps a uniform slot instead — so every leaf holds 2 or more values.
//
// Width (bits per page) is the smallest power of two ≥ ceil(log2(distinct values)): 1, 2, 4 or
// 8. Powers of two keep a page inside one byte, so reads are one load and word-wide compares
// work for every width. A leaf may stay wider than its current distinct count needs (single-page
// and fully covered edits never shrink it, to avoid re-encoding on every flip); range edits of
// SHRINK_MIN_PAGES or more re-encode it at the narrowest width when that is a quarter of its
// width or less (shouldShrink).
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
//
// Hysteresis, so a page cycling through three or more values (the model's value carries the
// populated bits too) pays neither an allocation nor a re-encode per flip: a leaf that becomes
// uniform through a small edit is parked (alloc.ts) with its width and content, and the next
// edit of its chunk revives it by rewriting two palette entries and the edited pages; a leaf is
// widened once, straight to the width an edit needs, and kept at that width by small edits.
// A value with no free palette entry first takes over an entry whose pages all lie inside the
// edited range (its count drops to 0 by the edit), so a hot page cycling through four values in
// a 1-bit leaf relabels entries instead of widening; widening itself spreads packed words, not
// pages.

import { CHUNK_PAGES, SCRATCH_HIST, SCRATCH_INDEX, SCRATCH_VALUES, addPages, leafSlotAddr, leafSlotOf, leafSlotWidth, uniformSlot } from "./layout";
import { allocBlock, freeBlock, parkLeaf, unparkLeaf, unparkedIdx } from "./alloc";
import { applyMask } from "./mask";

/** Range edits at least this long re-encode a leaf at its narrowest width. */
@inline const SHRINK_MIN_PAGES: u32 = 64;
/** Partial updates over at most this many runs go run by run in place (more: decode, re-encode). */
@inline const UPDATE_RUNS_MAX: i32 = 64;
@inline const DATA_OFFSET: usize = 16;

// ── slots and layout ─────────────────────────────────────────────────────────────────────

@inline function addrOf(slot: u32): usize {
  return leafSlotAddr(slot);
}
@inline function widthOf(slot: u32): u32 {
  return leafSlotWidth(slot);
}
@inline function slotOf(leaf: usize, width: u32): u32 {
  return leafSlotOf(leaf, width);
}
@inline export function leafClass(width: u32): i32 {
  return <i32>ctz(width);
}
@inline function dataAt(leaf: usize): usize {
  return leaf + DATA_OFFSET;
}
@inline function trailerAt(leaf: usize, width: u32): usize {
  return leaf + DATA_OFFSET + ((<usize>width) << 9);
}
@inline function countsAt(leaf: usize, width: u32): usize {
  return trailerAt(leaf, width) + 4;
}
@inline function distinctOf(leaf: usize, width: u32): i32 {
  return <i32>load<u16>(trailerAt(leaf, width));
}
@inline function setDistinct(leaf: usize, width: u32, n: i32): void {
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
@inline function shouldShrink(distinct: i32, width: u32): bool {
  return minWidthFor(distinct) * 4 <= width;
}
@inline function idxAt(data: usize, width: u32, o: u32): u32 {
  let bit = o * width;
  return (<u32>load<u8>(data + (bit >> 3)) >> (bit & 7)) & ((1 << width) - 1);
}
@inline function putIdx(data: usize, width: u32, o: u32, idx: u32): void {
  let bit = o * width;
  let at = data + (bit >> 3);
  let shift = bit & 7;
  let mask = ((1 << width) - 1) << shift;
  store<u8>(at, (load<u8>(at) & ~mask) | (idx << shift));
}
@inline function valueOfIdx(leaf: usize, width: u32, idx: u32): i32 {
  return width == 8 ? <i32>idx : <i32>load<u8>(leaf + idx);
}
@inline function countOf(leaf: usize, width: u32, idx: u32): u32 {
  return load<u16>(countsAt(leaf, width) + (<usize>idx << 1));
}
@inline function addCount(leaf: usize, width: u32, idx: u32, delta: i32): void {
  let at = countsAt(leaf, width) + (<usize>idx << 1);
  store<u16>(at, <i32>load<u16>(at) + delta);
}
/**
 * idx repeated over a byte: idx · 0xff/(2^width − 1). The factor (0xff, 0x55, 0x11, 0x01 for
 * widths 1, 2, 4, 8) comes from one constant by log2(width): a division by a variable is a
 * ~25-cycle instruction on x64, on every short read and write.
 */
@inline function bytePattern(width: u32, idx: u32): u32 {
  return idx * ((0x011155ff >> (ctz(width) << 3)) & 0xff);
}
/** idx repeated over 64 bits. */
@inline function wordPattern(width: u32, idx: u32): u64 {
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

function leafNew(width: u32): usize {
  let leaf = allocBlock(leafClass(width));
  memory.fill(leaf, 0, DATA_OFFSET);
  memory.fill(trailerAt(leaf, width), 0, 4 + ((<usize>2) << width));
  return leaf;
}

function recountDistinct(leaf: usize, width: u32): i32 {
  let n = 0;
  let counts = countsAt(leaf, width);
  let entries = 1 << width;
  for (let i = 0; i < entries; i++) if (load<u16>(counts + (<usize>i << 1)) != 0) n++;
  return n;
}

/** Palette idx of value `x` if some page holds it, else -1. */
function findIdx(leaf: usize, width: u32, x: i32): i32 {
  if (width == 8) return countOf(leaf, width, x) != 0 ? x : -1;
  let entries = 1 << width;
  for (let i = 0; i < entries; i++) {
    if (countOf(leaf, width, i) != 0 && <i32>load<u8>(leaf + i) == x) return i;
  }
  return -1;
}

/** Palette idx for value `x`, taking a free entry if needed; -1 when the palette is full. */
function findOrAddIdx(leaf: usize, width: u32, x: i32): i32 {
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

/**
 * A palette idx (widths below 8) whose every page lies in [lo, hi), or -1: an edit of the range
 * frees that entry, so it can be relabelled with the new value instead of widening the leaf
 * (a page cycling 1 → 3 → 2 → 0 in a 1-bit leaf never needs a third entry).
 */
function idxInside(leaf: usize, width: u32, lo: u32, hi: u32): i32 {
  if (width == 8) return -1;
  let n = hi - lo;
  let data = dataAt(leaf);
  let entries = 1 << width;
  for (let i = 0; i < entries; i++) {
    let c = countOf(leaf, width, i);
    if (c != 0 && c <= n && countRangeIdx(data, width, lo, hi, i) == c) return i;
  }
  return -1;
}

/** Writes idx to pages [lo, hi): word by word, masked in the first and last word. */
function fillIdx(data: usize, width: u32, lo: u32, hi: u32, idx: u32): void {
  let bitLo = lo * width;
  let bitHi = hi * width;
  let k = bitLo >> 6;
  let kLast = (bitHi - 1) >> 6;
  let pattern = wordPattern(width, idx);
  let firstMask = (<u64>-1) << (<u64>bitLo & 63);
  let lastMask = (<u64>-1) >> (<u64>(63 - ((bitHi - 1) & 63)));
  let at = data + (<usize>k << 3);
  if (k == kLast) {
    let mask = firstMask & lastMask;
    store<u64>(at, (load<u64>(at) & ~mask) | (pattern & mask));
    return;
  }
  store<u64>(at, (load<u64>(at) & ~firstMask) | (pattern & firstMask));
  let lastAt = data + (<usize>kLast << 3);
  for (at += 8; at < lastAt; at += 8) store<u64>(at, pattern);
  store<u64>(lastAt, (load<u64>(lastAt) & ~lastMask) | (pattern & lastMask));
}

/** Folds each lane of `diff` onto its lowest bit: lane ≠ 0 → its low bit set (other bits junk). */
@inline function foldLanes(diff: u64, width: u32): u64 {
  let d = diff;
  if (width >= 2) d |= d >> 1;
  if (width >= 4) d |= d >> 2;
  if (width == 8) d |= d >> 4;
  return d;
}
/** Pages in [lo, hi) whose idx is `idx`: word by word, lanes compared at once, masked at the edges. */
function countRangeIdx(data: usize, width: u32, lo: u32, hi: u32, idx: u32): u32 {
  let bitLo = lo * width;
  let bitHi = hi * width;
  let k = bitLo >> 6;
  let kLast = (bitHi - 1) >> 6;
  let pattern = wordPattern(width, idx);
  let lowBits = wordPattern(width, 1);
  let firstMask = (<u64>-1) << (<u64>bitLo & 63);
  let lastMask = (<u64>-1) >> (<u64>(63 - ((bitHi - 1) & 63)));
  let n: u64 = 0;
  let mask = firstMask;
  for (; k <= kLast; k++) {
    if (k == kLast) mask &= lastMask;
    let same = ~foldLanes(load<u64>(data + (<usize>k << 3)) ^ pattern, width) & lowBits;
    n += popcnt(same & mask);
    mask = <u64>-1;
  }
  return <u32>n;
}
/** Subtracts pages [lo, hi) from the per-idx counts (before they are overwritten). */
function subtractCounts(leaf: usize, width: u32, lo: u32, hi: u32): void {
  let data = dataAt(leaf);
  if (width == 1) {
    // two indices: popcount the ones, the rest are zeros
    let ones = countRangeIdx(data, 1, lo, hi, 1);
    addCount(leaf, 1, 1, -<i32>ones);
    addCount(leaf, 1, 0, -<i32>(hi - lo - ones));
    return;
  }
  for (let o = lo; o < hi; o++) addCount(leaf, width, idxAt(data, width, o), -1);
}

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
function leafRevive(slot: u32, k: u32, v: i32, lo: u32, hi: u32, x: i32): u32 {
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
@inline function spreadLanes(x: u64, w: u32): u64 {
  x = (x | (x << 16)) & 0x0000ffff0000ffff;
  if (w <= 8) x = (x | (x << 8)) & 0x00ff00ff00ff00ff;
  if (w <= 4) x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0f;
  if (w <= 2) x = (x | (x << 2)) & 0x3333333333333333;
  if (w == 1) x = (x | (x << 1)) & 0x5555555555555555;
  return x;
}

/** A copy of `leaf` at width `wider` (so its palette has room); frees the old block. */
function leafWidenTo(leaf: usize, width: u32, wider: u32): usize {
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
function leafDecode(leaf: usize, width: u32, dst: usize): void {
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
function leafEncode(src: usize, leaf: usize, keepWidth: u32): u32 {
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

/**
 * Sets pages [lo, hi) of the leaf of chunk `chunk` to `x`. Returns its slot (it may move, or
 * become uniform: then its block is parked). `allowShrink` lets a long edit re-encode the leaf
 * narrower (a new block). `oldValue` ≥ 0 says every page of the range holds that value (≠ x):
 * then the counts change without reading the range.
 */
export function leafSetRange(slot: u32, lo: u32, hi: u32, x: i32, chunk: u32, allowShrink: bool = true, oldValue: i32 = -1): u32 {
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  let idx = findOrAddIdx(leaf, width, x);
  if (idx < 0 && (idx = idxInside(leaf, width, lo, hi)) >= 0) {
    // relabelled: its pages are all overwritten below, so the counts come out right
    store<u8>(leaf + idx, <u8>x);
    oldValue = -1;
  }
  if (idx < 0) {
    leaf = leafWidenTo(leaf, width, width << 1);
    width <<= 1;
    idx = findOrAddIdx(leaf, width, x);
  }
  let distinct = 0;
  if (oldValue >= 0) {
    let oldIdx = <u32>findIdx(leaf, width, oldValue);
    distinct = distinctOf(leaf, width);
    if (countOf(leaf, width, idx) == 0) distinct++;
    addCount(leaf, width, oldIdx, -<i32>(hi - lo));
    if (countOf(leaf, width, oldIdx) == 0) distinct--;
  } else {
    subtractCounts(leaf, width, lo, hi);
  }
  fillIdx(dataAt(leaf), width, lo, hi, idx);
  addCount(leaf, width, idx, hi - lo);
  if (oldValue < 0) distinct = recountDistinct(leaf, width);
  if (distinct == 1) {
    parkLeaf(chunk, slotOf(leaf, width), <u32>idx, leafClass(width));
    return uniformSlot(x);
  }
  setDistinct(leaf, width, distinct);
  if (allowShrink && hi - lo >= SHRINK_MIN_PAGES && shouldShrink(distinct, width)) {
    leafDecode(leaf, width, SCRATCH_VALUES);
    freeBlock(leaf, leafClass(width));
    return leafEncode(SCRATCH_VALUES, 0, 0);
  }
  return slotOf(leaf, width);
}

/**
 * Sets one page when that needs no new block and does not make the leaf uniform: the hot
 * flip. Returns the page's old value (x itself when nothing changes), or -1 having changed
 * nothing when the generic path (widen or collapse) is needed.
 */
export function leafSetPageInPlace(slot: u32, o: u32, x: i32): i32 {
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  let data = dataAt(leaf);
  let oldIdx = idxAt(data, width, o);
  let old = valueOfIdx(leaf, width, oldIdx);
  if (old == x) return x;
  let idx = findOrAddIdx(leaf, width, x); // may label a free entry: harmless, its count stays 0
  if (idx < 0) {
    if (width == 8 || countOf(leaf, width, oldIdx) != 1) return -1;
    // the page is its entry's only one: relabel the entry, nothing else changes
    store<u8>(leaf + oldIdx, <u8>x);
    return old;
  }
  let distinct = distinctOf(leaf, width);
  if (countOf(leaf, width, idx) == 0) distinct++;
  if (countOf(leaf, width, oldIdx) == 1) distinct--;
  if (distinct == 1) return -1;
  putIdx(data, width, o, idx);
  addCount(leaf, width, idx, 1);
  addCount(leaf, width, oldIdx, -1);
  setDistinct(leaf, width, distinct);
  return old;
}

/** Longest run the short reads and writes below take: its bits plus a byte's offset fit one u64. */
@inline export const SHORT_RUN_PAGES: u32 = 4;

/**
 * The value every page of [lo, hi) holds (hi − lo ≤ SHORT_RUN_PAGES), or -1: the run's packed
 * bits in one unaligned u64 load (≤ 32 bits from a byte boundary; the trailer after the data
 * keeps the load inside the block) compared with its first idx repeated, then one palette load.
 */
@inline export function leafRunValue(slot: u32, lo: u32, hi: u32): i32 {
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  let bit = lo * width;
  let bits = load<u64>(dataAt(leaf) + (bit >> 3)) >> (<u64>bit & 7);
  let idx = <u32>bits & ((1 << width) - 1);
  let mask = ((<u64>1) << (<u64>((hi - lo) * width))) - 1;
  if (((bits ^ wordPattern(width, idx)) & mask) != 0) return -1;
  return valueOfIdx(leaf, width, idx);
}

/** leafSetRunInPlace's answer when it changed nothing (the generic path must run). */
export const RUN_REFUSED: i32 = i32.MIN_VALUE;

/**
 * Sets pages [lo, hi) (hi − lo ≤ SHORT_RUN_PAGES), which all hold `old`, to `x` (≠ old) when
 * that needs no new block and leaves ≥ 2 values: the write of a conversion's request or commit.
 * One unaligned u64 holds the run and the page on each side of it (≤ 6 lanes of ≤ 8 bits, from a
 * byte boundary; the trailer after the data keeps it inside the block): read once, written back
 * once. A neighbour inside the leaf is compared by idx — used entries hold distinct values — so
 * the boundaries need no palette load; `beforeOutside`/`afterOutside` are the values of the
 * pages just outside the chunk (−1 outside the page space), used only when lo = 0 / hi = 4096.
 * Updates the leaf's counts and the map-wide COUNTS. Returns the change in boundaries, or
 * RUN_REFUSED having changed nothing (a free palette entry may have been labelled x: harmless,
 * its count stays 0) when the generic path (widen or collapse) is needed.
 */
@inline export function leafSetRunInPlace(
  slot: u32, lo: u32, hi: u32, old: i32, x: i32, beforeOutside: i32, afterOutside: i32,
): i32 {
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  let n = hi - lo;
  let first = lo > 0 ? lo - 1 : lo; // the window's first page
  let firstBit = first * width;
  let at = dataAt(leaf) + (firstBit >> 3);
  let window = load<u64>(at);
  let runShift = (<u64>firstBit & 7) + <u64>((lo - first) * width);
  let laneMask: u64 = ((<u64>1) << width) - 1;
  let oldIdx = <u32>((window >> runShift) & laneMask);
  let oldCount = countOf(leaf, width, oldIdx);
  let idx = findOrAddIdx(leaf, width, x); // never -1 at width 8
  if (idx < 0) {
    if (oldCount != n) return RUN_REFUSED;
    // the run is its entry's every page: relabel the entry, nothing else in the leaf changes
    store<u8>(leaf + oldIdx, <u8>x);
    idx = oldIdx;
  } else {
    let distinct = distinctOf(leaf, width);
    if (countOf(leaf, width, idx) == 0) distinct++;
    if (oldCount == n) distinct--;
    if (distinct <= 1) return RUN_REFUSED;
    let runMask = (((<u64>1) << (<u64>(n * width))) - 1) << runShift;
    store<u64>(at, (window & ~runMask) | ((wordPattern(width, idx) << runShift) & runMask));
    addCount(leaf, width, idx, n);
    addCount(leaf, width, oldIdx, -<i32>n);
    setDistinct(leaf, width, distinct);
  }
  addPages(old, -<i64>n);
  addPages(x, <i64>n);
  let delta: i32;
  if (lo > 0) {
    let b = <u32>((window >> (<u64>firstBit & 7)) & laneMask);
    delta = <i32>(b != <u32>idx) - <i32>(b != oldIdx);
  } else {
    delta = differsIn(beforeOutside, x) - differsIn(beforeOutside, old);
  }
  if (hi < <u32>CHUNK_PAGES) {
    let a = <u32>((window >> (runShift + <u64>(n * width))) & laneMask);
    delta += <i32>(a != <u32>idx) - <i32>(a != oldIdx);
  } else {
    delta += differsIn(x, afterOutside) - differsIn(old, afterOutside);
  }
  return delta;
}

/** Sets one page, widening or collapsing the leaf as needed. Returns its slot. */
export function leafSetPage(slot: u32, o: u32, x: i32, chunk: u32): u32 {
  if (leafSetPageInPlace(slot, o, x) >= 0) return slot;
  return leafSetRange(slot, o, o + 1, x, chunk);
}


/**
 * A partial update run by run in place, touching only the pages of [lo, hi): a survey of the
 * range's runs (word-wide) learns which palette entries occur there; if the values the update
 * adds would not fit, the leaf widens once, straight to a width that holds them all; then each
 * run that changes is one leafSetRange with known old value (counts adjusted, bytes filled, no
 * allocation). A long edit (≥ SHRINK_MIN_PAGES) that did not widen re-encodes narrower when it
 * can, so at most one block is allocated per leaf. Returns -1, having changed nothing, when the
 * range holds more than UPDATE_RUNS_MAX runs (the caller decodes and re-encodes instead).
 */
function leafUpdateRuns(slot: u32, lo: u32, hi: u32, clearMask: i32, setMask: i32, chunk: u32): i64 {
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  let present: u64 = 0; // bit i: idx i occurs in [lo, hi) (widths below 8)
  let runs = 0;
  for (let o = lo; o < hi; ) {
    if (++runs > UPDATE_RUNS_MAX) return -1;
    if (width < 8) present |= (<u64>1) << idxAt(dataAt(leaf), width, o);
    o = leafNextChange(slot, o, hi);
  }
  let widened = false;
  if (width < 8) {
    let entries = 1 << width;
    let added = 0;
    for (let i = 0; i < entries; i++) {
      if ((present & ((<u64>1) << i)) == 0) continue;
      let v = <i32>load<u8>(leaf + i);
      let nv = applyMask(v, clearMask, setMask);
      if (nv == v || findIdx(leaf, width, nv) >= 0) continue;
      let seen = false;
      for (let j = 0; j < i && !seen; j++) {
        seen = (present & ((<u64>1) << j)) != 0 && applyMask(<i32>load<u8>(leaf + j), clearMask, setMask) == nv;
      }
      if (!seen) added++;
    }
    let need = minWidthFor(distinctOf(leaf, width) + added);
    if (need > width) {
      leaf = leafWidenTo(leaf, width, need);
      width = need;
      slot = slotOf(leaf, width);
      widened = true;
    }
  }
  let o = lo;
  while (o < hi) {
    let next = leafNextChange(slot, o, hi);
    let v = leafGet(slot, o);
    let nv = applyMask(v, clearMask, setMask);
    if (nv != v) {
      slot = leafSetRange(slot, o, next, nv, chunk, false, v);
      // uniform now: the pages after `next` held nv already, and the mask keeps nv
      if ((slot & 1) != 0) return <i64>slot;
    }
    o = next;
  }
  if (!widened && hi - lo >= SHRINK_MIN_PAGES && shouldShrink(distinctOf(leaf, width), width)) {
    leafDecode(leaf, width, SCRATCH_VALUES);
    freeBlock(leaf, leafClass(width));
    return <i64>leafEncode(SCRATCH_VALUES, 0, 0);
  }
  return <i64>slot;
}

/**
 * Masked update v = (v & ~clearMask) | setMask of pages [lo, hi). `whole` says the range is
 * the full chunk: then the leaf keeps its block (no allocation), and when the update maps the
 * values present one-to-one only the palette changes.
 */
export function leafUpdate(slot: u32, lo: u32, hi: u32, clearMask: i32, setMask: i32, whole: bool, chunk: u32): u32 {
  if (!whole) {
    let done = leafUpdateRuns(slot, lo, hi, clearMask, setMask, chunk);
    if (done >= 0) return <u32>done;
  }
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  if (whole && width < 8) {
    let entries = 1 << width;
    let oneToOne = true;
    for (let i = 0; i < entries && oneToOne; i++) {
      if (countOf(leaf, width, i) == 0) continue;
      let vi = applyMask(<i32>load<u8>(leaf + i), clearMask, setMask);
      for (let j = 0; j < i; j++) {
        if (countOf(leaf, width, j) == 0) continue;
        if (applyMask(<i32>load<u8>(leaf + j), clearMask, setMask) == vi) {
          oneToOne = false;
          break;
        }
      }
    }
    if (oneToOne) {
      for (let i = 0; i < entries; i++) {
        if (countOf(leaf, width, i) != 0) store<u8>(leaf + i, <u8>applyMask(<i32>load<u8>(leaf + i), clearMask, setMask));
      }
      return slot;
    }
  }
  leafDecode(leaf, width, SCRATCH_VALUES);
  for (let o = lo; o < hi; o++) {
    let at = SCRATCH_VALUES + o;
    store<u8>(at, <u8>applyMask(<i32>load<u8>(at), clearMask, setMask));
  }
  if (whole) return leafEncode(SCRATCH_VALUES, leaf, width);
  freeBlock(leaf, leafClass(width));
  return leafEncode(SCRATCH_VALUES, 0, 0);
}

/** First offset in (o, hi) whose value differs from page o's, or hi. */
export function leafNextChange(slot: u32, o: u32, hi: u32): u32 {
  let width = widthOf(slot);
  let data = dataAt(addrOf(slot));
  let idx = idxAt(data, width, o);
  let perWord = 64 / width;
  o++;
  while (o < hi && (o & (perWord - 1)) != 0) {
    if (idxAt(data, width, o) != idx) return o;
    o++;
  }
  let pattern = wordPattern(width, idx);
  while (o + perWord <= hi) {
    let diff = load<u64>(data + ((o * width) >> 3)) ^ pattern;
    if (diff != 0) return o + (<u32>ctz(diff) / width);
    o += perWord;
  }
  while (o < hi) {
    if (idxAt(data, width, o) != idx) return o;
    o++;
  }
  return hi;
}

/** Boundaries inside the range: offsets o in (lo, hi) whose value differs from page o − 1's. */
export function leafBoundaries(slot: u32, lo: u32, hi: u32): u32 {
  if (lo + 1 >= hi) return 0;
  let width = widthOf(slot);
  let data = dataAt(addrOf(slot));
  // word by word: each lane against the lane before it (the previous word's top lane for lane 0)
  let bitLo = (lo + 1) * width;
  let bitHi = hi * width;
  let k = bitLo >> 6;
  let kLast = (bitHi - 1) >> 6;
  let lowBits = wordPattern(width, 1);
  let firstMask = (<u64>-1) << (<u64>bitLo & 63);
  let lastMask = (<u64>-1) >> (<u64>(63 - ((bitHi - 1) & 63)));
  let carry: u64 = k > 0 ? load<u64>(data + (<usize>(k - 1) << 3)) >> (64 - <u64>width) : 0;
  let n: u64 = 0;
  let mask = firstMask;
  for (; k <= kLast; k++) {
    if (k == kLast) mask &= lastMask;
    let x = load<u64>(data + (<usize>k << 3));
    let diff = x ^ ((x << <u64>width) | carry);
    n += popcnt(foldLanes(diff, width) & lowBits & mask);
    carry = x >> (64 - <u64>width);
    mask = <u64>-1;
  }
  return <u32>n;
}
/** Words compared between early outs in leafAllEqual: one 64-byte cache line. */
@inline const ALL_EQUAL_BLOCK_WORDS: u32 = 8;

/**
 * True when every page of [lo, hi) holds `x`. Branch-light, because a query's answer (and the
 * word where a range stops being uniform) is as good as random to the branch predictor: the idx
 * of page lo is the only candidate (live palette entries hold distinct values), so no palette
 * walk; its value is compared with x and every word of the range against that idx repeated,
 * differences OR-ed together and tested once per cache line.
 */
export function leafAllEqual(slot: u32, lo: u32, hi: u32, x: i32): bool {
  return leafAllEqualInline(slot, lo, hi, x);
}

/** leafAllEqual for the isUniform exports' loops (no call on the way). */
@inline export function leafAllEqualInline(slot: u32, lo: u32, hi: u32, x: i32): bool {
  let leaf = addrOf(slot);
  let log2Width = (slot >> 1) & 3;
  let width = <u32>1 << log2Width;
  let data = dataAt(leaf);
  let bitLo = lo << log2Width;
  let bitHi = hi << log2Width;
  let k = bitLo >> 6;
  let kLast = (bitHi - 1) >> 6;
  let first = load<u64>(data + (<usize>k << 3));
  let idx = <u32>(first >> (<u64>bitLo & 63)) & ((<u32>1 << width) - 1);
  let value = select<i32>(<i32>idx, <i32>load<u8>(leaf + idx), log2Width == 3);
  let pattern = wordPattern(width, idx);
  let firstMask = (<u64>-1) << (<u64>bitLo & 63);
  let lastMask = (<u64>-1) >> (<u64>(63 - ((bitHi - 1) & 63)));
  if (k == kLast) return (((first ^ pattern) & firstMask & lastMask) | <u64>(value ^ x)) == 0;
  let diff = ((first ^ pattern) & firstMask) | ((load<u64>(data + (<usize>kLast << 3)) ^ pattern) & lastMask) | <u64>(value ^ x);
  k++;
  while (k < kLast) {
    let stop = min(kLast, k + ALL_EQUAL_BLOCK_WORDS);
    for (; k < stop; k++) diff |= load<u64>(data + (<usize>k << 3)) ^ pattern;
    if (diff != 0) return false;
  }
  return diff == 0;
}

/** Pages of [lo, hi) holding `x`. */
export function leafCountValue(slot: u32, lo: u32, hi: u32, x: i32): u32 {
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  let idx = findIdx(leaf, width, x);
  if (idx < 0) return 0;
  if (lo == 0 && hi == <u32>CHUNK_PAGES) return countOf(leaf, width, idx);
  return countRangeIdx(dataAt(leaf), width, lo, hi, idx);
}

/** Adds `sign` × (pages of [lo, hi) per value) to the map-wide COUNTS. */
export function leafAddHistogram(slot: u32, lo: u32, hi: u32, sign: i64): void {
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  let entries = 1 << width;
  let whole = lo == 0 && hi == <u32>CHUNK_PAGES;
  let data = dataAt(leaf);
  for (let i = 0; i < entries; i++) {
    let c = countOf(leaf, width, i);
    if (c == 0) continue;
    let n = whole ? c : countRangeIdx(data, width, lo, hi, i);
    addPages(valueOfIdx(leaf, width, i), sign * <i64>n);
  }
}

export function leafValueAt(slot: u32, o: u32): i32 {
  return leafGet(slot, o);
}

/** Checks one leaf; 0 when sound, else a negative code naming the broken rule. */
export function leafCheck(slot: u32): i32 {
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  if ((leaf & 7) != 0) return -1;
  let entries = 1 << width;
  let data = dataAt(leaf);
  let distinct = 0;
  let total: u32 = 0;
  for (let i = 0; i < entries; i++) {
    let c = countOf(leaf, width, i);
    if (c == 0) continue;
    distinct++;
    total += c;
    if (countRangeIdx(data, width, 0, CHUNK_PAGES, i) != c) return -3;
    if (width < 8) {
      let v = load<u8>(leaf + i);
      for (let j = 0; j < i; j++) if (countOf(leaf, width, j) != 0 && load<u8>(leaf + j) == v) return -4;
    }
  }
  if (total != <u32>CHUNK_PAGES) return -5;
  if (distinct < 2) return -6;
  if (distinct != distinctOf(leaf, width)) return -7;
  if (minWidthFor(distinct) > width) return -8;
  return 0;
}

/** Pages of each palette idx inside the range being overwritten (leafSetRangeInPlace): u16[16]. */
const RANGE_COUNTS: usize = memory.data(16 * 2, 16);
/** leafSetRangeInPlace's answer when it changed nothing (the generic path must run). */
export const IN_PLACE_REFUSED: i32 = i32.MIN_VALUE;

@inline function differsIn(a: i32, b: i32): i32 {
  return a >= 0 && b >= 0 && a != b ? 1 : 0;
}

/**
 * Sets pages [lo, hi) of a leaf to `x` in place when that needs no new block (no widening) and
 * leaves ≥ 2 values (no collapse) and no re-encode narrower: the hot range conversion. Word-wise:
 * what the range held per idx is counted with popcount over words (countRangeIdx), its run
 * boundaries with the lane-compare in leafBoundaries, and the pages are filled with memory.fill
 * in the aligned middle. Updates the leaf's counts and the map-wide COUNTS; `before`/`after` are
 * the values of the pages just outside the range (−1 at the ends of the page space). Returns the
 * change in boundaries, or IN_PLACE_REFUSED having changed nothing (a free palette entry may have
 * been labelled with x: harmless, its count stays 0).
 */
export function leafSetRangeInPlace(slot: u32, lo: u32, hi: u32, x: i32, before: i32, after: i32): i32 {
  let leaf = addrOf(slot);
  let width = widthOf(slot);
  let n = hi - lo;
  if (width == 8 && n > 64) return IN_PLACE_REFUSED;
  let idx = findOrAddIdx(leaf, width, x);
  // no free entry: one whose pages all lie in the range is relabelled x once its old value's
  // pages are subtracted from COUNTS (its count and the distinct count stay as they are)
  let relabel = idx < 0;
  if (relabel && (idx = idxInside(leaf, width, lo, hi)) < 0) return IN_PLACE_REFUSED;
  let data = dataAt(leaf);
  let distinct = distinctOf(leaf, width);
  if (countOf(leaf, width, idx) == 0) distinct++;
  if (width == 1) return setRangeInPlace1(leaf, data, lo, hi, <u32>idx, x, distinct, before, after, relabel);
  if (width < 8) {
    let entries = 1 << width;
    let seen: u32 = 0;
    for (let i = 0; i < entries; i++) {
      let c = countOf(leaf, width, i);
      let k: u32 = 0;
      if (c != 0 && seen < n) {
        k = countRangeIdx(data, width, lo, hi, i);
        seen += k;
        if (k == c && i != idx) distinct--;
      }
      store<u16>(RANGE_COUNTS + (<usize>i << 1), k);
    }
  } else {
    // width 8, short range: page by page against the leaf's own counts
    for (let o = lo; o < hi; o++) {
      let v = idxAt(data, 8, o);
      let seenBefore = false;
      for (let p = lo; p < o && !seenBefore; p++) seenBefore = idxAt(data, 8, p) == v;
      if (seenBefore) continue;
      let k: u32 = 0;
      for (let p = o; p < hi; p++) if (idxAt(data, 8, p) == v) k++;
      if (k == countOf(leaf, 8, v) && v != <u32>idx) distinct--;
    }
  }
  if (distinct <= 1) return IN_PLACE_REFUSED;
  if (n >= SHRINK_MIN_PAGES && shouldShrink(distinct, width)) return IN_PLACE_REFUSED;
  let first = <i32>idxAt(data, width, lo);
  let last = <i32>idxAt(data, width, hi - 1);
  let firstValue = valueOfIdx(leaf, width, first);
  let lastValue = valueOfIdx(leaf, width, last);
  let removed = <i32>leafBoundaries(slot, lo, hi) + differsIn(before, firstValue) + differsIn(lastValue, after);
  if (width < 8) {
    let entries = 1 << width;
    for (let i = 0; i < entries; i++) {
      let k = <i32>load<u16>(RANGE_COUNTS + (<usize>i << 1));
      if (k == 0) continue;
      addCount(leaf, width, i, -k);
      addPages(<i32>load<u8>(leaf + i), -<i64>k);
    }
    if (relabel) store<u8>(leaf + idx, <u8>x);
  } else {
    for (let o = lo; o < hi; o++) {
      let v = idxAt(data, 8, o);
      addCount(leaf, 8, v, -1);
      addPages(v, -1);
    }
  }
  addCount(leaf, width, idx, n);
  addPages(x, <i64>n);
  setDistinct(leaf, width, distinct);
  fillIdx(data, width, lo, hi, idx);
  return differsIn(before, x) + differsIn(x, after) - removed;
}

/**
 * leafSetRangeInPlace for 1-bit leaves, in two passes over the range's words: the first counts
 * the ones (popcount) and the boundaries (popcount of x ^ (x << 1 | carry)) at once, the second
 * fills. `distinct` already counts idx.
 */
function setRangeInPlace1(leaf: usize, data: usize, lo: u32, hi: u32, idx: u32, x: i32, distinct: i32, before: i32, after: i32, relabel: bool): i32 {
  let n = hi - lo;
  let k = lo >> 6;
  let kLast = (hi - 1) >> 6;
  let firstMask = (<u64>-1) << (<u64>lo & 63);
  let lastMask = (<u64>-1) >> (<u64>(63 - ((hi - 1) & 63)));
  let carry: u64 = k > 0 ? load<u64>(data + (<usize>(k - 1) << 3)) >> 63 : 0;
  let ones: u64 = 0;
  let flips: u64 = 0;
  let mask = firstMask;
  let flipMask = firstMask << 1; // boundaries only at o in (lo, hi)
  for (let kk = k; kk <= kLast; kk++) {
    if (kk == kLast) {
      mask &= lastMask;
      flipMask &= lastMask;
    }
    let w = load<u64>(data + (<usize>kk << 3));
    ones += popcnt(w & mask);
    flips += popcnt((w ^ ((w << 1) | carry)) & flipMask);
    carry = w >> 63;
    mask = <u64>-1;
    flipMask = <u64>-1;
  }
  let other = idx ^ 1;
  let otherInRange = other == 1 ? <u32>ones : n - <u32>ones;
  let otherCount = countOf(leaf, 1, other);
  if (otherCount != 0 && otherCount == otherInRange) distinct--;
  if (distinct <= 1) return IN_PLACE_REFUSED;
  if (n >= SHRINK_MIN_PAGES && shouldShrink(distinct, 1)) return IN_PLACE_REFUSED;
  let firstValue = <i32>load<u8>(leaf + idxAt(data, 1, lo));
  let lastValue = <i32>load<u8>(leaf + idxAt(data, 1, hi - 1));
  let removed = <i32>flips + differsIn(before, firstValue) + differsIn(lastValue, after);
  let zeros = n - <u32>ones;
  addCount(leaf, 1, 0, -<i32>zeros);
  addCount(leaf, 1, 1, -<i32>ones);
  addCount(leaf, 1, idx, n);
  addPages(<i32>load<u8>(leaf), -<i64>zeros);
  addPages(<i32>load<u8>(leaf + 1), -<i64>ones);
  if (relabel) store<u8>(leaf + idx, <u8>x);
  addPages(x, <i64>n);
  setDistinct(leaf, 1, distinct);
  fillIdx(data, 1, lo, hi, idx);
  return differsIn(before, x) + differsIn(x, after) - removed;
}
