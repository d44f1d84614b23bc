// Edits of a validated range, shared by the map's exports (index.ts) and the conversion model
// (conv.ts): the argument checks of the f64 boundary, and set / masked update / updateIfUniform
// choosing between the short in-chunk path (short.ts), page by page across a chunk edge, and
// the general tree edit after reserving memory. Each is all or nothing: -ENOMEM leaves the map
// unchanged.

import { E_INVAL, E_NOMEM, E_RANGE } from "./abi";
import { RESERVE_BYTES, reserveBytes } from "./alloc";
import { MAX_GFN_F64 } from "./layout";
import { applyMask } from "./mask";
import { shortSet, shortUpdate, shortUpdateIfUniform } from "./short";
import { getValue, inOneChunk, setPageInLeaf, setRange, setRangeInLeaf, uniformValueOf, updateRange } from "./tree";

/** x has no fraction. floor is one instruction; f64↔u64 conversions are not, on x64. */
@inline export function isWhole(x: f64): bool {
  return Math.floor(x) == x;
}

/** f64 → u64 through the signed conversion (one instruction on x64); exact below 2^53. */
@inline export function toGfn(x: f64): u64 {
  return <u64><i64>x;
}

/** 0 when [start, end) is a valid range of integer gfns, else -EINVAL/-ERANGE. */
@inline export function checkRange(start: f64, end: f64): i32 {
  if (!(start >= 0 && end <= MAX_GFN_F64)) return E_RANGE; // NaN fails here too
  if (!(start < end) || !isWhole(start) || !isWhole(end)) return E_INVAL;
  return 0;
}

/** v is an integer 0–255. */
@inline export function checkByte(v: f64): bool {
  return v >= 0 && v <= 255 && isWhole(v);
}

/**
 * Sets and updates of at most this many pages are short: inside one chunk they find its leaf
 * once and edit its pages directly (short.ts; at most leaf.ts SHORT_RUN_PAGES); across a chunk
 * edge they go page by page.
 */
@inline export const UPDATE_PAGEWISE_MAX: u64 = 4;

/**
 * Sets [s, e) to `value`. `old` ≥ 0: every page of it holds `old` (the caller checked), so the
 * set scans nothing (setRange). 0 or -ENOMEM (map unchanged).
 */
@inline export function setValid(s: u64, e: u64, value: i32, old: i32 = -1): i32 {
  if (e - s <= UPDATE_PAGEWISE_MAX) {
    if (inOneChunk(s, e)) return shortSet(s, e, value);
    return updatePagewise(s, e, 255, value);
  }
  if (setRangeInLeaf(s, e, value)) return 0;
  if (!reserveBytes(RESERVE_BYTES)) return E_NOMEM;
  setRange(s, e, value, old);
  return 0;
}

/** Masked update (mask.ts) of [s, e). 0 or -ENOMEM (map unchanged). */
@inline export function updateValid(s: u64, e: u64, clearMask: i32, setMask: i32): i32 {
  if (e - s <= UPDATE_PAGEWISE_MAX) {
    if (inOneChunk(s, e)) return shortUpdate(s, e, clearMask, setMask);
    return updatePagewise(s, e, clearMask, setMask);
  }
  if (!reserveBytes(RESERVE_BYTES)) return E_NOMEM;
  updateRange(s, e, clearMask, setMask);
  return 0;
}

/**
 * The value u all of [s, e) holds and, when (u & testMask) == testValue, the masked update of
 * the whole range: one descent for a short range inside one chunk. u, -1 when mixed (nothing
 * changed), or -ENOMEM (map unchanged).
 */
@inline export function updateIfUniformValid(s: u64, e: u64, testMask: i32, testValue: i32, clearMask: i32, setMask: i32): i32 {
  if (e - s <= UPDATE_PAGEWISE_MAX && inOneChunk(s, e)) {
    return shortUpdateIfUniform(s, e, testMask, testValue, clearMask, setMask);
  }
  let u = uniformValueOf(s, e);
  if (u < 0 || (u & testMask) != testValue) return u;
  let nv = applyMask(u, clearMask, setMask);
  if (nv == u) return u;
  let rc = setValid(s, e, nv, u);
  return rc != 0 ? rc : u;
}

/**
 * A short update across a chunk edge, as a set per page: each page that changes is one in-place
 * leaf write when its leaf has room, with no scan of the range. All or nothing: several pages
 * reserve up front for the worst case of every page taking the slow path (≤ 2 chunks, each at
 * most a path of nodes, a new leaf and widening to 8 bits: under 2 × RESERVE_BYTES).
 */
function updatePagewise(s: u64, e: u64, clearMask: i32, setMask: i32): i32 {
  if (e - s > 1 && !reserveBytes(2 * RESERVE_BYTES)) return E_NOMEM;
  for (let g = s; g < e; g++) {
    let old = getValue(g);
    let nv = applyMask(old, clearMask, setMask);
    if (nv == old || setPageInLeaf(g, nv)) continue;
    if (e - s == 1 && !reserveBytes(RESERVE_BYTES)) return E_NOMEM;
    if (clearMask == 255) { // (a test in the upper bytes makes it other than 255)
      setRange(g, e, nv); // a set: the rest of the range takes the same value in one edit
      return 0;
    }
    setRange(g, g + 1, nv);
  }
  return 0;
}

/** Four masks (or a mask test) all within 0–255. */
@inline export function masksOk(a: i32, b: i32, c: i32, d: i32): bool {
  return <u32>(a | b | c | d) <= 255;
}

