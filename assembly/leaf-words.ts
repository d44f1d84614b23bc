// Leaves, part 2: reads and word-at-a-time helpers — a page's idx is a lane of a 64-bit word, so
// fills, counts, run ends and equality tests go a word (64/width pages) at a time.

import { CHUNK_PAGES, addPages } from "./layout";
import { addrOf, widthOf, dataAt, distinctOf, minWidthFor, idxAt, valueOfIdx, countOf, addCount, wordPattern, leafGet, findIdx } from "./leaf-layout";

/**
 * A palette idx (widths below 8) whose every page lies in [lo, hi), or -1: an edit of the range
 * frees that entry, so it can be relabelled with the new value instead of widening the leaf
 * (a page cycling 1 → 3 → 2 → 0 in a 1-bit leaf never needs a third entry).
 */
export function idxInside(leaf: usize, width: u32, lo: u32, hi: u32): i32 {
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
export function fillIdx(data: usize, width: u32, lo: u32, hi: u32, idx: u32): void {
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
@inline export function foldLanes(diff: u64, width: u32): u64 {
  let d = diff;
  if (width >= 2) d |= d >> 1;
  if (width >= 4) d |= d >> 2;
  if (width == 8) d |= d >> 4;
  return d;
}

/** Pages in [lo, hi) whose idx is `idx`: word by word, lanes compared at once, masked at the edges. */
export function countRangeIdx(data: usize, width: u32, lo: u32, hi: u32, idx: u32): u32 {
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
export function subtractCounts(leaf: usize, width: u32, lo: u32, hi: u32): void {
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
@inline export const ALL_EQUAL_BLOCK_WORDS: u32 = 8;

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
