// Leaves, part 4: edits — a range or a page set to a value, masked updates, and the in-place
// short edits the hot paths take (no allocation, no re-encode).

import { CHUNK_PAGES, SCRATCH_VALUES, addPages, uniformSlot } from "./layout";
import { freeBlock, parkLeaf } from "./alloc";
import { applyMask } from "./mask";
import { SHRINK_MIN_PAGES, UPDATE_RUNS_MAX, addrOf, widthOf, slotOf, leafClass, dataAt, distinctOf, setDistinct, minWidthFor, shouldShrink, idxAt, putIdx, valueOfIdx, countOf, addCount, wordPattern, leafGet, recountDistinct, findIdx, findOrAddIdx } from "./leaf-layout";
import { idxInside, fillIdx, countRangeIdx, subtractCounts, SHORT_RUN_PAGES, leafNextChange, leafBoundaries } from "./leaf-words";
import { leafWidenTo, leafDecode, leafEncode } from "./leaf-encode";

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
  if (idx < 0 && oldValue >= 0) {
    // no room for x, and the range holds only oldValue: when those are all of its pages, its
    // entry becomes x — the pages, counts and distinct count stay as they are
    let oldIdx = findIdx(leaf, width, oldValue);
    if (countOf(leaf, width, oldIdx) == hi - lo) {
      store<u8>(leaf + oldIdx, <u8>x);
      return slot;
    }
  } else if (idx < 0 && (idx = idxInside(leaf, width, lo, hi)) >= 0) {
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
export function leafUpdateRuns(slot: u32, lo: u32, hi: u32, clearMask: i32, setMask: i32, chunk: u32): i64 {
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

/** Pages of each palette idx inside the range being overwritten (leafSetRangeInPlace): u16[16]. */
export const RANGE_COUNTS: usize = memory.data(16 * 2, 16);

/** leafSetRangeInPlace's answer when it changed nothing (the generic path must run). */
export const IN_PLACE_REFUSED: i32 = i32.MIN_VALUE;

@inline export function differsIn(a: i32, b: i32): i32 {
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
export function setRangeInPlace1(leaf: usize, data: usize, lo: u32, hi: u32, idx: u32, x: i32, distinct: i32, before: i32, after: i32, relabel: bool): i32 {
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
