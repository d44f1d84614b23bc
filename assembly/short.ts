// Short edits: a range of a few pages inside one chunk — the model's 1–2 page conversion, a
// request (updateIfUniform) then a commit (update) — finds its chunk's slot with one walk down
// (chunkSlotOf), then reads, compares and writes its pages in that leaf directly: palette
// lookup, packed indices written in place, the leaf's counts, COUNTS and boundaryCount adjusted
// from the two pages around the range. Anything unusual goes to the general setRange after
// reserving memory, so ENOMEM still leaves the map unchanged:
//
//   chunk slot / what it takes         path
//   leaf, room in the palette          in place (leafSetRunInPlace), no allocation
//   leaf, palette full                 relabel the entry when the range is all its pages, else general
//   leaf that would become uniform     general (the leaf is parked, the slot turns uniform)
//   uniform slot (or the tail)         general (split)
//
// The caller (index.ts) has validated the range, checked that it lies inside one chunk
// (inOneChunk) and that it is short (UPDATE_PAGEWISE_MAX pages).

import { E_NOMEM } from "./abi";
import { applyMask } from "./mask";
import { RESERVE_BYTES, reserveBytes } from "./alloc";
import { isUniformSlot, slotValue } from "./layout";
import { leafGet, leafRunValue } from "./leaf";
import { chunkSlotOf, setRange, setRangeInLeafSlot, setRunInLeafSlot } from "./tree";


/** The value all of [s, e) holds, given its chunk's slot; -1 when mixed (then a leaf). */
@inline function runValueIn(slot: u32, s: u64, e: u64): i32 {
  if (isUniformSlot(slot)) return slotValue(slot);
  let lo = <u32>s & 4095;
  return leafRunValue(slot, lo, lo + <u32>(e - s));
}

// The hot paths are @inline (into the exports: one Wasm function per conversion call, no calls
// on the way to the write); the rare ones below stay functions of their own.

/** The general path: reserve, then setRange. 0 or -ENOMEM (map unchanged). */
function setRangeReserved(s: u64, e: u64, x: i32): i32 {
  if (!reserveBytes(RESERVE_BYTES)) return E_NOMEM;
  setRange(s, e, x);
  return 0;
}

/** Sets [s, e), all holding `old` ≠ x, to x: in place when the slot is a leaf that can take it. */
@inline function setRun(slot: u32, s: u64, e: u64, old: i32, x: i32): i32 {
  if (!isUniformSlot(slot) && setRunInLeafSlot(slot, s, e, old, x)) return 0;
  return setRangeReserved(s, e, x);
}

/** set() of a short range inside one chunk. 0 or -ENOMEM (map unchanged). */
@inline export function shortSet(s: u64, e: u64, x: i32): i32 {
  let slot = chunkSlotOf(s);
  let old = runValueIn(slot, s, e);
  if (old == x) return 0;
  if (old >= 0) return setRun(slot, s, e, old, x);
  // mixed, so a leaf: the word-wise in-place set of any range, else the general path
  if (setRangeInLeafSlot(slot, s, e, x)) return 0;
  return setRangeReserved(s, e, x);
}

/** update() of a short range inside one chunk. 0 or -ENOMEM (map unchanged). */
@inline export function shortUpdate(s: u64, e: u64, clearMask: i32, setMask: i32): i32 {
  let slot = chunkSlotOf(s);
  let old = runValueIn(slot, s, e);
  if (old < 0) return updateMixed(slot, s, e, clearMask, setMask);
  let nv = applyMask(old, clearMask, setMask);
  return nv == old ? 0 : setRun(slot, s, e, old, nv);
}

/**
 * shortUpdate of a range holding several values (so its chunk is a leaf): run by run. Any run
 * may take the general path, so memory for all of them is reserved first (≤ 4 runs in one
 * chunk: a path of nodes, a new leaf, widening up to 8 bits — under 2 × RESERVE_BYTES).
 */
function updateMixed(slot: u32, s: u64, e: u64, clearMask: i32, setMask: i32): i32 {
  if (!reserveBytes(2 * RESERVE_BYTES)) return E_NOMEM;
  let g = s;
  while (g < e) {
    let v: i32;
    let b = e;
    if (isUniformSlot(slot)) {
      v = slotValue(slot); // the rest of the range: the slot covers the whole chunk
    } else {
      let o = <u32>g & 4095;
      v = leafGet(slot, o);
      b = g + 1;
      while (b < e && leafGet(slot, o + <u32>(b - g)) == v) b++;
    }
    let nv = applyMask(v, clearMask, setMask);
    if (nv != v && (isUniformSlot(slot) || !setRunInLeafSlot(slot, g, b, v, nv))) {
      setRange(g, b, nv);
      slot = chunkSlotOf(s); // the leaf may have widened (moved) or become uniform
    }
    g = b;
  }
  return 0;
}

/**
 * updateIfUniform() of a short range inside one chunk: the value u all of [s, e) holds and, when
 * (u & testMask) == testValue, the masked update. u, -1 when mixed, or -ENOMEM (map unchanged).
 */
@inline export function shortUpdateIfUniform(
  s: u64, e: u64, testMask: i32, testValue: i32, clearMask: i32, setMask: i32,
): i32 {
  let slot = chunkSlotOf(s);
  let u = runValueIn(slot, s, e);
  if (u < 0 || (u & testMask) != testValue) return u;
  let nv = applyMask(u, clearMask, setMask);
  if (nv == u) return u;
  let rc = setRun(slot, s, e, u, nv);
  return rc != 0 ? rc : u;
}
