// The radix tree: like the kernel's XArray, a slot is either one value for its whole subtree
// (a multi-index entry) or a pointer one level down; the height grows only with the highest gfn
// touched, and pages at or above the tree's span hold `tailValue`.
//
//   level h (root)  span 4096·128^h pages      slot = uniform value | node pointer
//   …
//   level 1         node of 128 slots, each one chunk
//   level 0         uniform slot | leaf (leaf.ts)
//
// Canonical form (checkInvariants verifies it): a node whose slots are all the same uniform
// value is replaced by that slot; a leaf holds ≥ 2 values; the root is no taller than needed
// (height 0, or some root slot other than slot 0 differs from the tail).
//
// Map-wide totals are kept up to date on every change: COUNTS[v] (pages per value) and
// `boundaryCount` (gfns p ≥ 1 with value(p−1) ≠ value(p)), so pages(v) and runCount() are O(1).
// A mutation first scans the range it replaces (O(pieces in range), the same order as the
// edit itself) to learn what it removes.

import {
  CHUNK_SHIFT, COUNTS, FANOUT_SHIFT, MAX_GFN, MAX_GFN_F64, NODE_POINTERS, NODE_SLOTS, addPages,
  isPointerBit, isUniformSlot, shiftOf, slotValue, spanOf, uniformSlot,
} from "./layout";
import { allocBlock, discardNode, freeBlock, resetHeap } from "./alloc";
import { applyMask } from "./mask";
import {
  leafAddHistogram, leafAllEqual, leafAllEqualInline, leafBoundaries, leafCountValue, leafFree, leafFromUniform, leafGet, leafNextChange,
  leafRunValue, leafSetPage, leafSetPageInPlace, leafSetRange, leafSetRangeInPlace, leafSetRunInPlace, leafUpdate, leafValueAt,
  IN_PLACE_REFUSED, RUN_REFUSED, SHORT_RUN_PAGES,
} from "./leaf";

export let height: i32 = 0;
export let root: u32 = uniformSlot(0);
export let tailValue: i32 = 0;
export let boundaryCount: i64 = 0;

@inline function slotAt(node: usize, i: i32): usize {
  return node + NODE_SLOTS + (<usize>i << 2);
}

/** One step of a walk down: the slot of node `node`'s child covering page g, when each child covers 2^shift pages. */
@inline function childSlot(node: u32, g: u64, shift: u64): u32 {
  return load<u32>(slotAt(<usize>node, <i32>((g >> shift) & 127)));
}

/**
 * The leaf chunkSlotOf found last and its chunk (NO_CHUNK: none), so a conversion's commit finds
 * the leaf its request just walked to without walking again. Only setRange and updateRange
 * (through setTree/updateTree, growFor, shrink) and resetTree replace, move or free a slot;
 * each forgets it first. In-place edits keep the leaf where it is.
 */
@inline const NO_CHUNK: u64 = <u64>-1;
let lastLeafChunk: u64 = NO_CHUNK;
let lastLeaf: u32 = 0;

export function resetTree(): void {
  lastLeafChunk = NO_CHUNK;
  resetHeap();
  height = 0;
  root = uniformSlot(0);
  tailValue = 0;
  boundaryCount = 0;
  memory.fill(COUNTS, 0, 256 * 8);
  store<i64>(COUNTS, <i64>MAX_GFN);
}

// ── reads ────────────────────────────────────────────────────────────────────────────────

/** Value of page g. */
@inline export function getValue(g: u64): i32 {
  let level = height;
  let shift = shiftOf(level);
  if (g >> shift != 0) return tailValue;
  let slot = root;
  while (level > 0) {
    if (isUniformSlot(slot)) return slotValue(slot);
    shift -= FANOUT_SHIFT;
    slot = childSlot(slot, g, shift);
    level--;
  }
  if (isUniformSlot(slot)) return slotValue(slot);
  return leafGet(slot, <u32>g & 4095);
}

/**
 * Values of `n` pages: gfns (f64) at `gfnsAt`, one byte each to `valuesAt`. The tree's globals
 * are read once into locals for the whole loop. Returns -1, or the index of the first gfn that
 * is not an integer in [0, 2^40) (values before it are written).
 */
export function getValuesInto(gfnsAt: usize, valuesAt: usize, n: i32): i32 {
  let top = root;
  let topLevel = height;
  let topShift = shiftOf(topLevel);
  let tail = tailValue;
  for (let i = 0; i < n; i++) {
    let gfn = load<f64>(gfnsAt + (<usize>i << 3));
    if (!(gfn >= 0 && gfn < MAX_GFN_F64 && Math.floor(gfn) == gfn)) return i;
    let g = <u64><i64>gfn;
    let value: i32;
    if (g >> topShift != 0) {
      value = tail;
    } else {
      let slot = top;
      let level = topLevel;
      let shift = topShift;
      while (level > 0 && !isUniformSlot(slot)) {
        shift -= FANOUT_SHIFT;
        slot = childSlot(slot, g, shift);
        level--;
      }
      value = isUniformSlot(slot) ? slotValue(slot) : leafGet(slot, <u32>g & 4095);
    }
    store<u8>(valuesAt + i, <u8>value);
  }
  return -1;
}

/**
 * getValuesInto for u32 gfns (all below 2^32, so no checks): the tree's globals in locals, one
 * branch per level.
 */
export function getValuesIntoU32(gfnsAt: usize, valuesAt: usize, n: i32): void {
  let top = root;
  let topLevel = height;
  let topShift = shiftOf(topLevel);
  let tail = tailValue;
  for (let i = 0; i < n; i++) {
    let g = <u64>load<u32>(gfnsAt + (<usize>i << 2));
    let value: i32;
    if (g >> topShift != 0) {
      value = tail;
    } else {
      let slot = top;
      let shift = topShift;
      while (!isUniformSlot(slot) && shift > 12) {
        shift -= FANOUT_SHIFT;
        slot = childSlot(slot, g, shift);
      }
      value = isUniformSlot(slot) ? slotValue(slot) : leafGet(slot, <u32>g & 4095);
    }
    store<u8>(valuesAt + i, <u8>value);
  }
}

// ── scanning: totals and boundaries of what a range holds ───────────────────────────────

@inline const SCAN_NONE: i32 = 0;
@inline const SCAN_SUBTRACT: i32 = 1;
@inline const SCAN_ADD: i32 = 2;
@inline const SCAN_COUNT: i32 = 3;

let scanMode: i32 = 0;
let scanTarget: i32 = 0;
let scanFirst: i32 = -1;
let scanLast: i32 = -1;
let scanBoundaries: i64 = 0;
let scanCount: u64 = 0;

function scanPiece(v: i32, pages: u64): void {
  if (scanLast < 0) scanFirst = v;
  else if (scanLast != v) scanBoundaries++;
  scanLast = v;
  if (scanMode == SCAN_SUBTRACT || scanMode == SCAN_ADD) {
    addPages(v, scanMode == SCAN_ADD ? <i64>pages : -<i64>pages);
  } else if (scanMode == SCAN_COUNT && v == scanTarget) {
    scanCount += pages;
  }
}

function scanLeaf(leaf: u32, lo: u32, hi: u32): void {
  let first = leafValueAt(leaf, lo);
  if (scanLast < 0) scanFirst = first;
  else if (scanLast != first) scanBoundaries++;
  scanBoundaries += leafBoundaries(leaf, lo, hi);
  scanLast = leafValueAt(leaf, hi - 1);
  if (scanMode == SCAN_SUBTRACT) leafAddHistogram(leaf, lo, hi, -1);
  else if (scanMode == SCAN_ADD) leafAddHistogram(leaf, lo, hi, 1);
  else if (scanMode == SCAN_COUNT) scanCount += leafCountValue(leaf, lo, hi, scanTarget);
}

function scanTree(slot: u32, level: i32, base: u64, s: u64, e: u64): void {
  let end = base + spanOf(level);
  let lo = max(s, base);
  let hi = min(e, end);
  if (isUniformSlot(slot)) {
    scanPiece(slotValue(slot), hi - lo);
    return;
  }
  if (level == 0) {
    scanLeaf(slot, <u32>(lo - base), <u32>(hi - base));
    return;
  }
  let childShift = shiftOf(level - 1);
  let i0 = <i32>((lo - base) >> childShift);
  let i1 = <i32>((hi - 1 - base) >> childShift);
  let i = i0;
  while (i <= i1) {
    let child = load<u32>(slotAt(slot, i));
    if (!isUniformSlot(child)) {
      scanTree(child, level - 1, base + (<u64>i << childShift), s, e);
      i++;
      continue;
    }
    // a stretch of equal uniform children is one piece: one scanPiece, not one per child
    let j = i + 1;
    while (j <= i1 && load<u32>(slotAt(slot, j)) == child) j++;
    let pieceLo = max(lo, base + (<u64>i << childShift));
    let pieceHi = min(hi, base + (<u64>j << childShift));
    scanPiece(slotValue(child), pieceHi - pieceLo);
    i = j;
  }
}

/** Scans [s, e) with the given mode; results in scanFirst/scanLast/scanBoundaries/scanCount. */
function scanRange(s: u64, e: u64, mode: i32, target: i32): void {
  scanMode = mode;
  scanTarget = target;
  scanFirst = -1;
  scanLast = -1;
  scanBoundaries = 0;
  scanCount = 0;
  let span = spanOf(height);
  if (s < span) scanTree(root, height, 0, s, min(e, span));
  if (e > span) scanPiece(tailValue, e - max(s, span));
}

export function countValueInRange(s: u64, e: u64, v: i32): u64 {
  scanRange(s, e, SCAN_COUNT, v);
  return scanCount;
}

/** Boundaries strictly inside (s, e): runs in [s, e) minus one. */
export function boundariesInRange(s: u64, e: u64): i64 {
  scanRange(s, e, SCAN_NONE, 0);
  return scanBoundaries;
}

function allEqualTree(slot: u32, level: i32, base: u64, s: u64, e: u64, v: i32): bool {
  if (isUniformSlot(slot)) return slotValue(slot) == v;
  let lo = max(s, base);
  let hi = min(e, base + spanOf(level));
  if (level == 0) return leafAllEqual(slot, <u32>(lo - base), <u32>(hi - base), v);
  let childShift = shiftOf(level - 1);
  let i0 = <i32>((lo - base) >> childShift);
  let i1 = <i32>((hi - 1 - base) >> childShift);
  for (let i = i0; i <= i1; i++) {
    if (!allEqualTree(load<u32>(slotAt(slot, i)), level - 1, base + (<u64>i << childShift), s, e, v)) return false;
  }
  return true;
}

/**
 * The slot that holds page g's chunk, found with one walk down: a leaf, or a uniform slot at
 * whatever level the walk met one (the tail's value at or above the tree's span). Either way
 * it covers the whole chunk.
 */
@inline export function chunkSlotOf(g: u64): u32 {
  if (g >> CHUNK_SHIFT == lastLeafChunk) return lastLeaf;
  let level = height;
  let shift = shiftOf(level);
  if (g >> shift != 0) return uniformSlot(tailValue);
  let slot = root;
  while (level > 0) {
    if (isUniformSlot(slot)) return slot;
    shift -= FANOUT_SHIFT;
    slot = childSlot(slot, g, shift);
    level--;
  }
  if (!isUniformSlot(slot)) {
    lastLeafChunk = g >> CHUNK_SHIFT;
    lastLeaf = slot;
  }
  return slot;
}

/** True when [s, e) lies inside one chunk (one leaf or one uniform slot). */
@inline export function inOneChunk(s: u64, e: u64): bool {
  return (s >> CHUNK_SHIFT) == ((e - 1) >> CHUNK_SHIFT);
}

/** The value every page of [s, e) holds, or -1. A range inside one chunk costs one walk down. */
export function uniformValueOf(s: u64, e: u64): i32 {
  if (inOneChunk(s, e)) {
    let slot = chunkSlotOf(s);
    if (isUniformSlot(slot)) return slotValue(slot);
    let lo = <u32>s & 4095;
    let hi = lo + <u32>(e - s);
    if (hi - lo <= SHORT_RUN_PAGES) return leafRunValue(slot, lo, hi); // one word, no palette walk
    let v = leafGet(slot, lo);
    return leafAllEqual(slot, lo, hi, v) ? v : -1;
  }
  let v = getValue(s);
  return allEqual(s, e, v) ? v : -1;
}

/** True when every page of [s, e) holds v: one walk, stopping at the first other page. */
export function allEqual(s: u64, e: u64, v: i32): bool {
  let level = height;
  let shift = shiftOf(level);
  let span = (<u64>1) << shift;
  if (e > span) {
    if (tailValue != v) return false;
    if (s >= span) return true;
    return allEqualTree(root, level, 0, s, span, v);
  }
  // walk down while one slot holds the whole range (the common hugepage query): no recursion
  let slot = root;
  let last = e - 1;
  while (level > 0) {
    if (isUniformSlot(slot)) return slotValue(slot) == v;
    shift -= FANOUT_SHIFT;
    if ((s >> shift) != (last >> shift)) return allEqualTree(slot, level, (s >> (shift + FANOUT_SHIFT)) << (shift + FANOUT_SHIFT), s, e, v);
    slot = childSlot(slot, s, shift);
    level--;
  }
  if (isUniformSlot(slot)) return slotValue(slot) == v;
  return leafAllEqual(slot, <u32>s & 4095, (<u32>last & 4095) + 1, v);
}

/**
 * allEqual with the tree's globals given (root, log2 of its span, tail value: a batch reads them
 * once): a range inside one chunk costs one walk down, then an O(1) answer for a uniform slot or
 * a word-wise compare of the leaf's bits; any other range goes to allEqual.
 */
@inline export function allEqualWith(top: u32, topShift: u64, tail: i32, s: u64, e: u64, v: i32): bool {
  if (((s ^ (e - 1)) >> CHUNK_SHIFT) != 0) return allEqual(s, e, v);
  if (s >> topShift != 0) return tail == v; // the tree's span is whole chunks
  let slot = top;
  let shift = topShift;
  while (!isUniformSlot(slot) && shift > CHUNK_SHIFT) {
    shift -= FANOUT_SHIFT;
    slot = childSlot(slot, s, shift);
  }
  if (isUniformSlot(slot)) return slotValue(slot) == v;
  let lo = <u32>s & 4095;
  return leafAllEqualInline(slot, lo, lo + <u32>(e - s), v);
}

// ── runs: maximal runs of [s, e) written as f64 triples ─────────────────────────────────

let runsOut: usize = 0;
let runsMax: i32 = 0;
let runsCount: i32 = 0;
let runStart: u64 = 0;
let runValue: i32 = -1;
let runsFull: bool = false;

function runsPiece(start: u64, end: u64, v: i32): void {
  if (v == runValue) return;
  if (runValue >= 0) {
    let at = runsOut + <usize>runsCount * 24;
    store<f64>(at, <f64>runStart);
    store<f64>(at, <f64>start, 8);
    store<f64>(at, <f64>runValue, 16);
    runsCount++;
    if (runsCount == runsMax) runsFull = true;
  }
  runStart = start;
  runValue = v;
}

function runsTree(slot: u32, level: i32, base: u64, s: u64, e: u64): void {
  let lo = max(s, base);
  let hi = min(e, base + spanOf(level));
  if (isUniformSlot(slot)) {
    runsPiece(lo, hi, slotValue(slot));
    return;
  }
  if (level == 0) {
    let o = <u32>(lo - base);
    let oEnd = <u32>(hi - base);
    while (o < oEnd && !runsFull) {
      let next = leafNextChange(slot, o, oEnd);
      runsPiece(base + o, base + next, leafValueAt(slot, o));
      o = next;
    }
    return;
  }
  let childShift = shiftOf(level - 1);
  let i0 = <i32>((lo - base) >> childShift);
  let i1 = <i32>((hi - 1 - base) >> childShift);
  for (let i = i0; i <= i1 && !runsFull; i++) {
    runsTree(load<u32>(slotAt(slot, i)), level - 1, base + (<u64>i << childShift), s, e);
  }
}

/** Writes up to maxRuns maximal runs of [s, e), clipped, as f64 (start, end, value) at `out`. */
export function writeRuns(s: u64, e: u64, out: usize, maxRuns: i32): i32 {
  runsOut = out;
  runsMax = maxRuns;
  runsCount = 0;
  runValue = -1;
  runsFull = false;
  let span = spanOf(height);
  if (s < span) runsTree(root, height, 0, s, min(e, span));
  if (e > span && !runsFull) runsPiece(max(s, span), e, tailValue);
  if (!runsFull) runsPiece(e, e, -2); // flush the open run
  return runsCount;
}

// ── edits ────────────────────────────────────────────────────────────────────────────────

/** Frees a subtree a set dropped: a leaf at once, a node (with its subtree) onto the garbage stack. */
function freeSubtree(slot: u32, level: i32): void {
  if (isUniformSlot(slot)) return;
  if (level == 0) leafFree(slot);
  else discardNode(<usize>slot, level);
}

/** True when every slot of `node` outside [c0, c1] is `fill`: a set of [c0, c1] to it leaves the node one value. */
function othersAre(node: usize, c0: i32, c1: i32, fill: u32): bool {
  for (let i = 0; i < c0; i++) if (load<u32>(slotAt(node, i)) != fill) return false;
  for (let i = c1 + 1; i < 128; i++) if (load<u32>(slotAt(node, i)) != fill) return false;
  return true;
}

function nodeFromUniform(v: i32): usize {
  let node = allocBlock(0);
  store<u32>(node + NODE_POINTERS, 0);
  store<u32>(node, 0, 4);
  let fill = uniformSlot(v);
  for (let i = 0; i < 128; i++) store<u32>(slotAt(node, i), fill);
  return node;
}

/** Replaces a node whose slots are all one uniform value by that slot. */
function nodeNormalize(node: usize): u32 {
  if (load<u32>(node + NODE_POINTERS) != 0) return <u32>node;
  let first = load<u32>(slotAt(node, 0));
  // most nodes differ at the far end or the middle: two loads instead of a walk
  if (load<u32>(slotAt(node, 127)) != first || load<u32>(slotAt(node, 64)) != first) return <u32>node;
  for (let i = 1; i < 128; i++) if (load<u32>(slotAt(node, i)) != first) return <u32>node;
  freeBlock(node, 0);
  return first;
}

function setTree(slot: u32, level: i32, base: u64, s: u64, e: u64, x: i32): u32 {
  let end = base + spanOf(level);
  if (s <= base && end <= e) {
    freeSubtree(slot, level);
    return uniformSlot(x);
  }
  if (isUniformSlot(slot) && slotValue(slot) == x) return slot;
  let lo = max(s, base) - base;
  let hi = min(e, end) - base;
  if (level == 0) {
    let chunk = <u32>(base >> 12);
    if (isUniformSlot(slot)) return leafFromUniform(slotValue(slot), <u32>lo, <u32>hi, x, chunk);
    if (hi - lo == 1) return leafSetPage(slot, <u32>lo, x, chunk);
    return leafSetRange(slot, <u32>lo, <u32>hi, x, chunk, true, setOld);
  }
  let node: usize = isUniformSlot(slot) ? nodeFromUniform(slotValue(slot)) : <usize>slot;
  let childShift = shiftOf(level - 1);
  let i0 = <i32>(lo >> childShift);
  let i1 = <i32>((hi - 1) >> childShift);
  let pointers = load<u32>(node + NODE_POINTERS);
  let fill = uniformSlot(x);
  // children i0 and i1 may be partly covered (a call each); those between are covered whole
  let c0 = i0;
  let c1 = i1;
  if (base + (<u64>i0 << childShift) < s) {
    pointers = setChild(node, i0, level, base, childShift, s, e, x, pointers);
    c0++;
  }
  if (c0 <= c1 && base + (<u64>(i1 + 1) << childShift) > e) {
    pointers = setChild(node, i1, level, base, childShift, s, e, x, pointers);
    c1--;
  }
  if (pointers == 0) {
    // every child uniform: a plain store loop, nothing to free
    for (let at = slotAt(node, c0), last = slotAt(node, c1); at <= last; at += 4) store<u32>(at, fill);
  } else if (othersAre(node, c0, c1, fill)) {
    // the node becomes one value: it goes to the garbage stack whole, its children unfreed
    store<u32>(node + NODE_POINTERS, pointers);
    discardNode(node, level);
    return fill;
  } else {
    for (let i = c0; i <= c1; i++) {
      let at = slotAt(node, i);
      let old = load<u32>(at);
      if (!isUniformSlot(old)) {
        freeSubtree(old, level - 1);
        pointers--;
      }
      store<u32>(at, fill);
    }
  }
  store<u32>(node + NODE_POINTERS, pointers);
  return nodeNormalize(node);
}

/** setTree on child i of `node`; returns the node's pointer count after it. */
@inline function setChild(node: usize, i: i32, level: i32, base: u64, childShift: u64, s: u64, e: u64, x: i32, pointers: u32): u32 {
  let at = slotAt(node, i);
  let old = load<u32>(at);
  let next = setTree(old, level - 1, base + (<u64>i << childShift), s, e, x);
  store<u32>(at, next);
  return pointers + isPointerBit(next) - isPointerBit(old);
}

function updateTree(slot: u32, level: i32, base: u64, s: u64, e: u64, clearMask: i32, setMask: i32): u32 {
  let end = base + spanOf(level);
  let whole = s <= base && end <= e;
  if (isUniformSlot(slot)) {
    let v = slotValue(slot);
    let nv = applyMask(v, clearMask, setMask);
    if (nv == v) return slot;
    if (whole) return uniformSlot(nv);
    return setTree(slot, level, base, s, e, nv);
  }
  let lo = max(s, base) - base;
  let hi = min(e, end) - base;
  if (level == 0) return leafUpdate(slot, <u32>lo, <u32>hi, clearMask, setMask, whole, <u32>(base >> 12));
  let node = <usize>slot;
  let childShift = shiftOf(level - 1);
  let i0 = <i32>(lo >> childShift);
  let i1 = <i32>((hi - 1) >> childShift);
  let pointers = load<u32>(node + NODE_POINTERS);
  for (let i = i0; i <= i1; i++) {
    let at = slotAt(node, i);
    let old = load<u32>(at);
    let next = updateTree(old, level - 1, base + (<u64>i << childShift), s, e, clearMask, setMask);
    store<u32>(at, next);
    pointers = pointers + isPointerBit(next) - isPointerBit(old);
  }
  store<u32>(node + NODE_POINTERS, pointers);
  return nodeNormalize(node);
}

/** Grows the tree until [s, e) splits into a part inside it and, if any, the whole tail. */
function growFor(s: u64, e: u64): void {
  let need = e < MAX_GFN ? e : s;
  while (spanOf(height) < need) {
    if (root != uniformSlot(tailValue)) {
      let node = nodeFromUniform(tailValue);
      store<u32>(slotAt(node, 0), root);
      store<u32>(node + NODE_POINTERS, isPointerBit(root));
      root = <u32>node;
    }
    height++;
  }
}

/** Lowers the root while it is taller than its content needs. */
function shrink(): void {
  while (true) {
    let tail = uniformSlot(tailValue);
    if (root == tail) {
      height = 0;
      return;
    }
    if (height == 0 || isUniformSlot(root)) return;
    for (let i = 1; i < 128; i++) if (load<u32>(slotAt(root, i)) != tail) return;
    let child = load<u32>(slotAt(root, 0));
    freeBlock(root, 0);
    root = child;
    height--;
  }
}

@inline function differs(a: i32, b: i32): i64 {
  return a >= 0 && b >= 0 && a != b ? 1 : 0;
}

/**
 * The hot 1-page flip: when page g's chunk is already a leaf that can take x in place, sets it
 * with one walk down, no allocation and no tree change, and returns true. Returns false having
 * changed nothing otherwise (the caller then reserves memory and calls setRange).
 */
export function setPageInLeaf(g: u64, x: i32): bool {
  let level = height;
  let shift = shiftOf(level);
  if (g >> shift != 0) return false;
  let slot = root;
  while (level > 0) {
    if (isUniformSlot(slot)) return false;
    shift -= FANOUT_SHIFT;
    slot = childSlot(slot, g, shift);
    level--;
  }
  if (isUniformSlot(slot)) return false;
  let o = <u32>g & 4095;
  let before = o > 0 ? leafGet(slot, o - 1) : g > 0 ? getValue(g - 1) : -1;
  let after = o < 4095 ? leafGet(slot, o + 1) : g + 1 < MAX_GFN ? getValue(g + 1) : -1;
  let old = leafSetPageInPlace(slot, o, x);
  if (old < 0) return false;
  if (old == x) return true;
  addPages(old, -1);
  addPages(x, 1);
  boundaryCount += differs(before, x) + differs(x, after) - differs(before, old) - differs(old, after);
  return true;
}

/**
 * The hot range conversion: when [s, e) lies inside one chunk that is already a leaf able to take
 * x in place (leafSetRangeInPlace), sets it with one walk down, no scan, no allocation, and
 * returns true. Returns false having changed nothing otherwise.
 */
export function setRangeInLeaf(s: u64, e: u64, x: i32): bool {
  if ((s >> 12) != ((e - 1) >> 12)) return false;
  let level = height;
  let shift = shiftOf(level);
  if (s >> shift != 0) return false;
  let slot = root;
  while (level > 0) {
    if (isUniformSlot(slot)) return false;
    shift -= FANOUT_SHIFT;
    slot = childSlot(slot, s, shift);
    level--;
  }
  if (isUniformSlot(slot)) return false;
  return setRangeInLeafSlot(slot, s, e, x);
}

/** setRangeInLeaf once the walk found [s, e)'s chunk to be the leaf `slot`. */
export function setRangeInLeafSlot(slot: u32, s: u64, e: u64, x: i32): bool {
  let lo = <u32>s & 4095;
  let hi = lo + <u32>(e - s);
  let before = lo > 0 ? leafGet(slot, lo - 1) : s > 0 ? getValue(s - 1) : -1;
  let after = hi < 4096 ? leafGet(slot, hi) : e < MAX_GFN ? getValue(e) : -1;
  let delta = leafSetRangeInPlace(slot, lo, hi, x, before, after);
  if (delta == IN_PLACE_REFUSED) return false;
  boundaryCount += delta;
  return true;
}

/** Value of neighbour page g in another chunk, or -1 outside the page space (g = −1 wraps). */
function valueOrNone(g: u64): i32 {
  return g < MAX_GFN ? getValue(g) : -1;
}

/**
 * Sets [s, e), inside the chunk of the leaf `slot` and all holding `old` (≠ x), to x in place
 * (leafSetRunInPlace): the short edit's write, no scan, no allocation; a neighbour in another
 * chunk costs a walk down. Returns false having changed nothing otherwise.
 */
@inline export function setRunInLeafSlot(slot: u32, s: u64, e: u64, old: i32, x: i32): bool {
  let lo = <u32>s & 4095;
  let hi = lo + <u32>(e - s);
  let before = lo == 0 ? valueOrNone(s - 1) : -1;
  let after = hi == 4096 ? valueOrNone(e) : -1;
  let delta = leafSetRunInPlace(slot, lo, hi, old, x, before, after);
  if (delta == RUN_REFUSED) return false;
  boundaryCount += delta;
  return true;
}

/**
 * True when [s, e) holds far more of the root's pointer children than the rest of the map does:
 * then scanning what stays outside (to recount the totals) is cheaper than scanning what the set
 * removes (a whole guest set after fragmentation). A proxy: the root's pointers, not the leaves.
 */
function cheaperOutside(s: u64, e: u64): bool {
  if (height == 0 || isUniformSlot(root) || load<u32>(<usize>root + NODE_POINTERS) == 0) return false;
  let childShift = shiftOf(height - 1);
  let span = spanOf(height);
  if (s >= span) return false;
  let i0 = <i32>(s >> childShift);
  let i1 = <i32>((min(e, span) - 1) >> childShift);
  let inside: u32 = 0;
  for (let i = i0; i <= i1; i++) inside += isPointerBit(load<u32>(slotAt(root, i)));
  let outside = load<u32>(<usize>root + NODE_POINTERS) - inside;
  return inside > 2 * outside + 2;
}

/**
 * setRange's known-old mode for setTree's leaf edits: the value every page of the range being
 * set holds, or -1 (unknown: a leaf counts what the range held per palette entry).
 */
let setOld: i32 = -1;

/**
 * Sets [s, e) to x. The caller has validated the range and reserved memory. `old` ≥ 0 says every
 * page of [s, e) holds `old` (the caller checked: a conversion's flip): then the totals change
 * by the range, the boundaries only at its two ends, and no page of it is scanned or counted —
 * the cost follows the leaves at the ends, not the pages.
 */
export function setRange(s: u64, e: u64, x: i32, old: i32 = -1): void {
  lastLeafChunk = NO_CHUNK;
  let before = s > 0 ? getValue(s - 1) : -1;
  let after = e < MAX_GFN ? getValue(e) : -1;
  if (old >= 0 && e - s > 1) {
    if (old == x) return;
    addPages(old, -<i64>(e - s));
    boundaryCount += differs(before, x) + differs(x, after) - differs(before, old) - differs(old, after);
    setOld = old;
  } else if (e - s == 1) {
    // one page: no scan, the three values around it say everything
    let old = getValue(s);
    if (old == x) return;
    addPages(old, -1);
    boundaryCount += differs(before, x) + differs(x, after) - differs(before, old) - differs(old, after);
  } else if (cheaperOutside(s, e)) {
    // most of the tree's leaves lie inside: recount the totals from what stays outside instead
    memory.fill(COUNTS, 0, 256 * 8);
    let kept: i64 = 0;
    if (s > 0) {
      scanRange(0, s, SCAN_ADD, 0);
      kept += scanBoundaries;
    }
    if (e < MAX_GFN) {
      scanRange(e, MAX_GFN, SCAN_ADD, 0);
      kept += scanBoundaries;
    }
    boundaryCount = kept + differs(before, x) + differs(x, after);
  } else {
    scanRange(s, e, SCAN_SUBTRACT, 0);
    boundaryCount += differs(before, x) + differs(x, after)
      - (scanBoundaries + differs(before, scanFirst) + differs(scanLast, after));
  }
  addPages(x, <i64>(e - s));
  growFor(s, e);
  let span = spanOf(height);
  if (s < span) root = setTree(root, height, 0, s, min(e, span), x);
  if (e > span) tailValue = x;
  setOld = -1;
  shrink();
}

/** Masked update of [s, e). The caller has validated the range and reserved memory. */
export function updateRange(s: u64, e: u64, clearMask: i32, setMask: i32): void {
  lastLeafChunk = NO_CHUNK;
  let before = s > 0 ? getValue(s - 1) : -1;
  let after = e < MAX_GFN ? getValue(e) : -1;
  scanRange(s, e, SCAN_SUBTRACT, 0);
  let removed = scanBoundaries + differs(before, scanFirst) + differs(scanLast, after);
  growFor(s, e);
  let span = spanOf(height);
  if (s < span) root = updateTree(root, height, 0, s, min(e, span), clearMask, setMask);
  if (e > span) tailValue = applyMask(tailValue, clearMask, setMask);
  shrink();
  scanRange(s, e, SCAN_ADD, 0);
  boundaryCount += scanBoundaries + differs(before, scanFirst) + differs(scanLast, after) - removed;
}

export function clearAll(): void {
  resetTree();
}

/** Adds the histogram of the whole map to COUNTS (checkInvariants recounts into a zeroed table). */
export function addAllToCounts(): void {
  scanRange(0, MAX_GFN, SCAN_ADD, 0);
}
