// The conversion model's state machine, once for every embedder (src/model/states.ts has the
// state table for readers; abi.ts the bit layout): a request marks pending the pages it owns,
// commit applies the target attribute to them, abort restores them exactly; the launch gate;
// the decision about a memory fault; the backing bits (populate / discard). Each works on a
// range in one call, checks everything before it changes anything, and is all or nothing.
//
// Short names: `s, e` a validated range [s, e); `u` the value a whole range holds; `other` the
// attribute bit a page has before a conversion to `to` (0 for to-private, PAGE_PRIVATE for
// to-shared); `owned` the pages a request marked pending (the pages of its range settled in
// `other`), which commit and abort change and nothing else does.
//
// Open conversions live in records, at most CONV_MAX_OPEN at once. An embedder names one by
// (slot, id): the slot finds the record, the id (never reused) tells a stale name. Slot 0 is a
// record in static memory next to the result slots, taken whenever it is free: a VMM nearly
// always settles a flip before the next request, so the hot path touches no other line. Slots
// 1… are a table in blocks of the core's allocator (so they count in memoryBytes() and in
// checkInvariants()), with a free list.
//
//   record (RECORD_BYTES = 48), RECORDS_PER_BLOCK in one class-3 block, blocks listed in CONV_DIR:
//   0         8        12        16         24        32      36         40           48
//   ┌─────────┬────────┬─────────┬──────────┬─────────┬───────┬──────────┬────────────┐
//   │ id f64  │ flags  │ nranges │ start0   │ end0    │ ext   │ nextFree │ ownedPages │
//   │ 0: free │ u32    │ u32     │ u64      │ u64     │ u32   │ slot + 1 │ u64        │
//   └─────────┴────────┴─────────┴──────────┴─────────┴───────┴──────────┴────────────┘
//   owned range 0 sits in the record; ranges 1… in a chain of class-0 blocks from `ext`:
//   0        4        8                                              536
//   ┌────────┬────────┬──────────────────────────────────────────────┐
//   │ next   │ count  │ EXT_RANGES × (start u64, end u64)            │
//   └────────┴────────┴──────────────────────────────────────────────┘

import {
  CONV_JOIN_ANY_PRESERVE, CONV_MAX_OPEN, CONV_PRESERVE, CONV_TO_PRIVATE, E_ALREADY, E_BUSY, E_EXIST, E_INPROGRESS, E_INVAL,
  E_NOENT, E_NOMEM, E_NOSPC, E_NXIO, E_OPNOTSUPP, E_PERM, FAULT_CONVERT, FAULT_IN_FLIGHT, FAULT_SPURIOUS, OUT_AT_GFN,
  OUT_AT_VALUE, OUT_FIRST_END, OUT_FIRST_START, OUT_ID, OUT_OWNED_PAGES, OUT_OWNED_RANGES, OUT_REFAULT_PAGES, OUT_SLOT,
  OUT_SLOTS, OUT_VALUE_AFTER, OUT_VALUE_BEFORE, PAGE_GUEST, PAGE_PENDING, PAGE_PRESERVE, PAGE_PRIVATE,
  PAGE_PRIVATE_DISCARDED, PAGE_PRIVATE_POPULATED, PAGE_SHARED_DISCARDED, PAGE_SHARED_POPULATED, SIDE_PRIVATE, SIDE_SHARED,
} from "./abi";
import { RESERVE_BYTES, allocBlock, classBytes, freeBlock, reserveBytes } from "./alloc";
import { checkRange, setValid, toGfn, updateIfUniformValid, updateValid } from "./edit";
import { BATCH_IN, pagesOfValue } from "./layout";
import { applyMask, withTest } from "./mask";
import { uniformValueOf, writeRuns } from "./tree";

@inline const RECORD_BYTES: usize = 48;
@inline const RECORD_BLOCK_CLASS: i32 = 3;
@inline const RECORDS_PER_BLOCK: i32 = 96; // 4632 / 48
@inline const DIR_BLOCKS: i32 = (CONV_MAX_OPEN + RECORDS_PER_BLOCK - 1) / RECORDS_PER_BLOCK;
@inline const EXT_CLASS: i32 = 0;
@inline const EXT_RANGES: u32 = 33; // (536 - 8) / 16

@inline const R_ID: usize = 0;
@inline const R_FLAGS: usize = 8;
@inline const R_NRANGES: usize = 12;
@inline const R_START0: usize = 16;
@inline const R_END0: usize = 24;
@inline const R_EXT: usize = 32;
@inline const R_NEXT_FREE: usize = 36;
@inline const R_OWNED_PAGES: usize = 40;

/* The static part, in one cache-line-aligned piece so that a flip touches as few lines as it
 * can (a replay runs cache-cold: the guest's touches evict everything between exits):
 *   CONV_HOT  the record of slot 0
 *   CONV_OUT  the results of the last call, f64[OUT_SLOTS] (abi.ts OUT_*)
 *   CONV_DIR  the blocks of slots 1…, u32[DIR_BLOCKS] (0 = not made yet) */
const CONV_STATIC: usize = memory.data(<i32>RECORD_BYTES + OUT_SLOTS * 8 + DIR_BLOCKS * 4, 64);
const CONV_HOT: usize = CONV_STATIC;
const CONV_OUT: usize = CONV_STATIC + RECORD_BYTES;
const CONV_DIR: usize = CONV_OUT + OUT_SLOTS * 8;
/** Runs a walk reads at a time: f64 triples (start, end, value). */
@inline const WALK_RUNS: i32 = 128;
const WALK: usize = memory.data(WALK_RUNS * 24, 16);

let nextId: f64 = 1; // f64 (exact to 2^53): what the embedder passes back, compared without a conversion
let openCount: i32 = 0;
let preservingOpen: i32 = 0;
let slotsMade: i32 = 0; // table slots made: slots 1 … slotsMade
let freeHead: i32 = 0; // the first free table slot, 0 = none
let launchedFlag: bool = false;

// ---- results -------------------------------------------------------------------------

/** A page count or gfn (below 2^53) as f64 through the signed conversion: one instruction on x64, where the unsigned one is a branchy sequence. */
@inline function f64Of(x: u64): f64 {
  return <f64><i64>x;
}

@inline function out(i: i32, v: f64): void {
  store<f64>(CONV_OUT + (<usize>i << 3), v);
}

/** Where the exports leave their results: f64[OUT_SLOTS]. */
export function convOut(): usize {
  return CONV_OUT;
}

/** The masked-update pair of a one-value edit: `before` → `after`, or -1/-1. */
@inline function outValues(before: i32, after: i32): void {
  out(OUT_VALUE_BEFORE, before);
  out(OUT_VALUE_AFTER, after);
}

// ---- the record table ----------------------------------------------------------------

@inline function recordAt(slot: i32): usize {
  if (slot == 0) return CONV_HOT;
  let i = slot - 1;
  return <usize>load<u32>(CONV_DIR + (<usize>(i / RECORDS_PER_BLOCK) << 2)) + <usize>(i % RECORDS_PER_BLOCK) * RECORD_BYTES;
}

@inline function hotFree(): bool {
  return load<f64>(CONV_HOT + R_ID) == 0;
}

/** Bytes a new record and `nranges` owned ranges may allocate (reserve them before any change). */
@inline function recordBytesNeeded(nranges: u64): usize {
  let ext = nranges > 1 ? <usize>((nranges - 1 + EXT_RANGES - 1) / EXT_RANGES) : 0;
  let block: usize = !hotFree() && freeHead == 0 && slotsMade % RECORDS_PER_BLOCK == 0 ? classBytes(RECORD_BLOCK_CLASS) : 0;
  return block + ext * classBytes(EXT_CLASS);
}

/** A free record's slot (memory reserved by the caller). */
@inline function takeSlot(): i32 {
  if (hotFree()) return 0;
  if (freeHead == 0) return newSlot();
  let slot = freeHead;
  freeHead = <i32>load<u32>(recordAt(slot) + R_NEXT_FREE);
  return slot;
}

/** A table slot never used before; a new record block every RECORDS_PER_BLOCK slots. */
function newSlot(): i32 {
  let i = slotsMade++;
  if (i % RECORDS_PER_BLOCK == 0) {
    let block = allocBlock(RECORD_BLOCK_CLASS);
    memory.fill(block, 0, classBytes(RECORD_BLOCK_CLASS));
    store<u32>(CONV_DIR + (<usize>(i / RECORDS_PER_BLOCK) << 2), <u32>block);
  }
  return i + 1;
}

/** Puts a table slot on the free list (slot 0 is free once its id is 0). */
@inline function releaseSlot(slot: i32, r: usize): void {
  if (slot == 0) return;
  store<u32>(r + R_NEXT_FREE, <u32>freeHead);
  freeHead = slot;
}

/** The record of the open conversion (slot, id), or 0. */
@inline function openRecord(slot: i32, id: f64): usize {
  if (<u32>slot > <u32>slotsMade || !(id >= 1)) return 0;
  let r = recordAt(slot);
  return load<f64>(r + R_ID) == id ? r : 0;
}

/** Owned range i of record r: start (its end at + 8). */
function rangeAt(r: usize, i: u32): usize {
  if (i == 0) return r + R_START0;
  let block = <usize>load<u32>(r + R_EXT);
  let k = i - 1;
  while (k >= EXT_RANGES) {
    block = <usize>load<u32>(block);
    k -= EXT_RANGES;
  }
  return block + 8 + (<usize>k << 4);
}

/** Appends owned range [s, e) as range i of record r (ext blocks: memory reserved by the caller). */
function appendRange(r: usize, i: u32, tail: usize, s: u64, e: u64): usize {
  if (i == 0) {
    store<u64>(r + R_START0, s);
    store<u64>(r + R_END0, e);
    return tail;
  }
  if ((i - 1) % EXT_RANGES == 0) {
    let block = allocBlock(EXT_CLASS);
    store<u32>(block, 0);
    store<u32>(block, 0, 4);
    if (tail == 0) store<u32>(r + R_EXT, <u32>block);
    else store<u32>(tail, <u32>block);
    tail = block;
  }
  let k = load<u32>(tail, 4);
  store<u64>(tail + 8 + (<usize>k << 4), s);
  store<u64>(tail + 16 + (<usize>k << 4), e);
  store<u32>(tail, k + 1, 4);
  return tail;
}

/** A record no conversion holds: id 0 (openRecord's test), no owned ranges. Plain stores (memory.fill is a call in V8). */
@inline function clearRecord(r: usize): void {
  store<f64>(r + R_ID, 0);
  store<u32>(r + R_FLAGS, 0);
  store<u32>(r + R_NRANGES, 0);
  store<u32>(r + R_EXT, 0);
}

@inline function freeRecord(slot: i32, r: usize): void {
  if (load<u32>(r + R_EXT) != 0) freeExt(r);
  if ((load<u32>(r + R_FLAGS) & CONV_PRESERVE) != 0) preservingOpen--;
  clearRecord(r);
  releaseSlot(slot, r);
  openCount--;
}

/** Frees record r's chain of owned-range blocks. */
function freeExt(r: usize): void {
  let block = <usize>load<u32>(r + R_EXT);
  while (block != 0) {
    let next = <usize>load<u32>(block);
    freeBlock(block, EXT_CLASS);
    block = next;
  }
  store<u32>(r + R_EXT, 0);
}

/** Forgets every open conversion and the launch flag (the map's clear(); the heap is reset apart). */
export function convReset(): void {
  memory.fill(CONV_STATIC, 0, RECORD_BYTES + OUT_SLOTS * 8 + DIR_BLOCKS * 4);
  nextId = 1;
  openCount = 0;
  preservingOpen = 0;
  slotsMade = 0;
  freeHead = 0;
  launchedFlag = false;
}

// ---- walking the runs of a range -----------------------------------------------------

// A walk reads the runs of [s, e) WALK_RUNS at a time (writeRuns); the caller loops:
//   for (let g = s; g < e; ) { let n = walkFrom(g, e); for (i < n) {...}; g = walkEnd(n); }
@inline function walkFrom(g: u64, e: u64): i32 {
  return writeRuns(g, e, WALK, WALK_RUNS);
}
@inline function runStart(i: i32): u64 {
  return toGfn(load<f64>(WALK + <usize>i * 24));
}
@inline function runEnd(i: i32): u64 {
  return toGfn(load<f64>(WALK + <usize>i * 24, 8));
}
@inline function runValue(i: i32): i32 {
  return <i32>load<f64>(WALK + <usize>i * 24, 16);
}

// ---- request -------------------------------------------------------------------------

// What a request found in its range (decide()): the first page outside guest memory, the first
// page in conflict and its value, and what the request would own.
let nxioAt: f64 = -1;
let conflictAt: f64 = -1;
let conflictValue: i32 = 0;
let ownedPages: u64 = 0;
let ownedRanges: u64 = 0;
let firstStart: u64 = 0;
let firstEnd: u64 = 0;

/**
 * A page value `v` (guest, pending) meets a request to private (`toPrivate`) with `preserveBit`:
 * true when it may join (pending the same way, and with the same PRESERVE unless `anyPreserve`).
 */
@inline function mayJoin(v: i32, toPrivate: bool, preserveBit: i32, anyPreserve: bool): bool {
  if (((v & PAGE_PRIVATE) == 0) != toPrivate) return false; // pending the other way
  return anyPreserve || !toPrivate || (v & PAGE_PRESERVE) == preserveBit;
}

/** Classifies one run [rs, re) of value v for a request; false stops the walk (outside guest memory). */
@inline function decideRun(rs: u64, re: u64, v: i32, other: i32, toPrivate: bool, preserveBit: i32, anyPreserve: bool): bool {
  if ((v & PAGE_GUEST) == 0) {
    nxioAt = f64Of(rs);
    return false;
  }
  if ((v & PAGE_PENDING) != 0) {
    if (conflictAt < 0 && !mayJoin(v, toPrivate, preserveBit, anyPreserve)) {
      conflictAt = f64Of(rs);
      conflictValue = v;
    }
  } else if ((v & PAGE_PRIVATE) == other) {
    ownedPages += re - rs;
    if (ownedRanges > 0 && lastOwnedEnd == rs) {
      if (ownedRanges == 1) firstEnd = re; // runs of other values next to each other: one owned range
    } else if (++ownedRanges == 1) {
      firstStart = rs;
      firstEnd = re;
    }
    lastOwnedEnd = re;
  }
  return true;
}
let lastOwnedEnd: u64 = 0;

/** Walks [s, e) once, filling the decision above; `u` ≥ 0 is the one value the range holds. */
function decide(s: u64, e: u64, u: i32, toPrivate: bool, preserveBit: i32, anyPreserve: bool): void {
  nxioAt = -1;
  conflictAt = -1;
  ownedPages = 0;
  ownedRanges = 0;
  lastOwnedEnd = 0;
  let other = toPrivate ? 0 : PAGE_PRIVATE;
  if (u >= 0) {
    decideRun(s, e, u, other, toPrivate, preserveBit, anyPreserve);
    return;
  }
  for (let g = s; g < e; ) {
    let n = walkFrom(g, e);
    for (let i = 0; i < n; i++) {
      if (!decideRun(runStart(i), runEnd(i), runValue(i), other, toPrivate, preserveBit, anyPreserve)) return;
    }
    g = runEnd(n - 1);
  }
}

/** Writes the owned ranges of [s, e) (state not yet changed) into record r. */
function recordOwned(r: usize, s: u64, e: u64, other: i32): void {
  let i: u32 = 0;
  let tail: usize = 0;
  let curStart: u64 = 0;
  let curEnd: u64 = 0;
  let have = false;
  for (let g = s; g < e; ) {
    let n = walkFrom(g, e);
    for (let k = 0; k < n; k++) {
      let v = runValue(k);
      if ((v & PAGE_PENDING) != 0 || (v & PAGE_PRIVATE) != other) continue;
      let rs = runStart(k);
      let re = runEnd(k);
      if (have && curEnd == rs) {
        curEnd = re;
        continue;
      }
      if (have) tail = appendRange(r, i++, tail, curStart, curEnd);
      curStart = rs;
      curEnd = re;
      have = true;
    }
    g = runEnd(n - 1);
  }
  if (have) appendRange(r, i, tail, curStart, curEnd);
}

/**
 * Opens a conversion of [s, e) (validated) with `flags` (CONV_*): decides, then marks the owned
 * pages pending. 0 (results at convOut()) or a negative code, the map unchanged.
 */
@inline function request(s: u64, e: u64, flags: i32): i32 {
  // The common flip, in one descent: a plain request over one value, settled in the other
  // attribute. (Memory: the edit reserves for itself; a new record block is reserved here, rarely.)
  if ((flags & CONV_PRESERVE) == 0 && openCount < CONV_MAX_OPEN && (recordBytesNeeded(1) == 0 || reserveBytes(RESERVE_BYTES + recordBytesNeeded(1)))) {
    let other = (flags & CONV_TO_PRIVATE) != 0 ? 0 : PAGE_PRIVATE;
    let u = updateIfUniformValid(s, e, PAGE_GUEST | PAGE_PENDING | PAGE_PRIVATE, PAGE_GUEST | other, 0, PAGE_PENDING);
    if (u < -1) return u;
    if (u >= 0 && (u & (PAGE_GUEST | PAGE_PENDING | PAGE_PRIVATE)) == (PAGE_GUEST | other)) {
      outValues(u, u | PAGE_PENDING);
      let slot = takeSlot();
      return openedAt(slot, recordAt(slot), flags, e - s, 1, s, e);
    }
    return requestGeneral(s, e, flags, u); // nothing changed: the general path decides
  }
  return requestGeneral(s, e, flags, uniformValueOf(s, e));
}

/** request() past its fast path; `u` is the value all of [s, e) holds, or -1. */
function requestGeneral(s: u64, e: u64, flags: i32, u: i32): i32 {
  let toPrivate = (flags & CONV_TO_PRIVATE) != 0;
  let preserve = (flags & CONV_PRESERVE) != 0;
  let preserveBit = preserve ? PAGE_PRESERVE : 0;
  let anyPreserve = (flags & CONV_JOIN_ANY_PRESERVE) != 0;
  let other = toPrivate ? 0 : PAGE_PRIVATE;
  let setBits = PAGE_PENDING | preserveBit;
  outValues(-1, -1);
  decide(s, e, u, toPrivate, preserveBit, anyPreserve);
  if (nxioAt >= 0) {
    out(OUT_AT_GFN, nxioAt);
    return E_NXIO;
  }
  if (preserve && !toPrivate) return E_OPNOTSUPP;
  if (preserve && launchedFlag) return E_PERM;
  if (conflictAt >= 0) {
    out(OUT_AT_GFN, conflictAt);
    out(OUT_AT_VALUE, conflictValue);
    return E_BUSY;
  }
  if (openCount >= CONV_MAX_OPEN) return E_NOSPC;
  if (!reserveBytes(RESERVE_BYTES + recordBytesNeeded(ownedRanges))) return E_NOMEM;
  let slot = takeSlot();
  let r = recordAt(slot);
  if (ownedRanges > 1) recordOwned(r, s, e, other);
  let rc = 0;
  if (ownedPages == e - s) {
    // the whole range, one value or several: no page is pending or in the target attribute
    let one = uniformValueOf(s, e);
    if (one >= 0) {
      rc = setValid(s, e, one | setBits, one);
      outValues(one, one | setBits);
    } else {
      rc = updateValid(s, e, 0, setBits);
    }
  } else if (ownedPages > 0) {
    rc = updateValid(s, e, withTest(0, PAGE_GUEST | PAGE_PENDING | PAGE_PRIVATE, PAGE_GUEST | other), setBits);
  }
  if (rc != 0) {
    // unreachable with the memory reserved above; give the slot back all the same
    freeRecordBlocksOnly(r);
    releaseSlot(slot, r);
    return rc;
  }
  return openedAt(slot, r, flags, ownedPages, ownedRanges, firstStart, firstEnd);
}

function freeRecordBlocksOnly(r: usize): void {
  let block = <usize>load<u32>(r + R_EXT);
  while (block != 0) {
    let next = <usize>load<u32>(block);
    freeBlock(block, EXT_CLASS);
    block = next;
  }
  clearRecord(r);
}

@inline function openedAt(slot: i32, r: usize, flags: i32, pages: u64, nranges: u64, s: u64, e: u64): i32 {
  let id = nextId;
  nextId = id + 1;
  store<f64>(r + R_ID, id);
  store<u32>(r + R_FLAGS, <u32>flags);
  store<u32>(r + R_NRANGES, <u32>nranges);
  store<u64>(r + R_OWNED_PAGES, pages);
  store<u32>(r + R_NEXT_FREE, 0);
  if (nranges == 1) {
    store<u64>(r + R_START0, s);
    store<u64>(r + R_END0, e);
  }
  openCount++;
  if ((flags & CONV_PRESERVE) != 0) preservingOpen++;
  out(OUT_ID, id);
  out(OUT_SLOT, slot);
  out(OUT_OWNED_PAGES, f64Of(pages));
  out(OUT_OWNED_RANGES, f64Of(nranges));
  out(OUT_FIRST_START, nranges > 0 ? f64Of(s) : 0);
  out(OUT_FIRST_END, nranges > 0 ? f64Of(e) : 0);
  return 0;
}

@inline const CONV_FLAGS: i32 = CONV_TO_PRIVATE | CONV_PRESERVE | CONV_JOIN_ANY_PRESERVE;

/**
 * A conversion request for [start, end) with `flags` (CONV_*): the pages settled in the other
 * attribute become pending (owned), pages pending the same way are joined, pages already in the
 * target attribute are skipped. 0 with the results at convOut() (OUT_ID, OUT_SLOT, the owned
 * pages and ranges), or: E_NXIO (a page outside guest memory; OUT_AT_GFN), E_OPNOTSUPP
 * (PRESERVE to shared), E_PERM (PRESERVE after launch), E_BUSY (a page pending the other way or
 * with another PRESERVE; OUT_AT_GFN, OUT_AT_VALUE), E_NOSPC, E_NOMEM, E_INVAL, E_RANGE — in
 * that order of precedence, the map unchanged.
 */
export function convRequest(start: f64, end: f64, flags: i32): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if ((flags & ~CONV_FLAGS) != 0) return E_INVAL;
  return request(toGfn(start), toGfn(end), flags);
}

// ---- commit and abort ----------------------------------------------------------------

/** Applies clear/set to every owned range of r; all or nothing (undo with the inverse on -ENOMEM). */
@inline function editOwned(r: usize, clearMask: i32, setMask: i32, undoClear: i32, undoSet: i32): i32 {
  let n = load<u32>(r + R_NRANGES);
  outValues(-1, -1);
  if (n != 1) return editOwnedRanges(r, n, clearMask, setMask, undoClear, undoSet);
  let s = load<u64>(r + R_START0);
  let e = load<u64>(r + R_END0);
  let u = updateIfUniformValid(s, e, 0, 0, clearMask, setMask);
  if (u >= 0) {
    outValues(u, applyMask(u, clearMask, setMask));
    return 0;
  }
  return u < -1 ? u : updateValid(s, e, clearMask, setMask);
}

/** editOwned() of a conversion owning no range or several. */
function editOwnedRanges(r: usize, n: u32, clearMask: i32, setMask: i32, undoClear: i32, undoSet: i32): i32 {
  for (let i: u32 = 0; i < n; i++) {
    let at = rangeAt(r, i);
    let rc = updateValid(load<u64>(at), load<u64>(at, 8), clearMask, setMask);
    if (rc == 0) continue;
    for (let j: u32 = 0; j < i; j++) {
      let back = rangeAt(r, j);
      // these pages held these bits a moment ago; the leaves have room for them again
      updateValid(load<u64>(back), load<u64>(back, 8), undoClear, undoSet);
    }
    return rc;
  }
  return 0;
}

@inline function settle(slot: i32, id: f64, committed: bool): i32 {
  let r = openRecord(slot, id);
  if (r == 0) return E_NOENT;
  let flags = <i32>load<u32>(r + R_FLAGS);
  let toPrivate = (flags & CONV_TO_PRIVATE) != 0;
  let pendingBits = PAGE_PENDING | ((flags & CONV_PRESERVE) != 0 ? PAGE_PRESERVE : 0);
  // abort: clear PENDING|PRESERVE (the attribute never changed while pending); commit to
  // private: that and set PRIVATE; commit to shared: clear PENDING|PRIVATE. Undo: the inverse.
  let clearMask = PAGE_PENDING | PAGE_PRESERVE;
  let setMask = 0;
  let undoClear = 0;
  let undoSet = pendingBits;
  if (committed && toPrivate) {
    setMask = PAGE_PRIVATE;
    undoClear = PAGE_PRIVATE;
  } else if (committed) {
    clearMask = PAGE_PENDING | PAGE_PRIVATE;
    undoSet = PAGE_PENDING | PAGE_PRIVATE;
  }
  let rc = editOwned(r, clearMask, setMask, undoClear, undoSet);
  if (rc != 0) return rc;
  freeRecord(slot, r);
  return 0;
}

/** Applies the target attribute to the owned pages of open conversion (slot, id). 0, E_NOENT, E_NOMEM. */
export function convCommit(slot: i32, id: f64): i32 {
  return settle(slot, id, true);
}

/** Restores the owned pages of open conversion (slot, id) exactly. 0, E_NOENT, E_NOMEM. */
export function convAbort(slot: i32, id: f64): i32 {
  return settle(slot, id, false);
}

/**
 * Writes owned ranges `first` … of open conversion (slot, id) as f64 pairs (start, end) at
 * batchIn(), at most `max`; returns how many, or E_NOENT / E_INVAL.
 */
export function convOwnedRanges(slot: i32, id: f64, first: f64, max: i32): i32 {
  let r = openRecord(slot, id);
  if (r == 0) return E_NOENT;
  if (!(first >= 0) || max < 0) return E_INVAL;
  let n = <f64>load<u32>(r + R_NRANGES);
  let count = 0;
  for (let i = first; i < n && count < max; i++, count++) {
    let at = rangeAt(r, <u32>i);
    store<f64>(BATCH_IN + (<usize>count << 4), f64Of(load<u64>(at)));
    store<f64>(BATCH_IN + (<usize>count << 4) + 8, f64Of(load<u64>(at, 8)));
  }
  return count;
}

/** Conversions open now. */
export function convOpenCount(): i32 {
  return openCount;
}

// ---- launch --------------------------------------------------------------------------

/** Closes the in-place-encryption gate. 0, E_ALREADY (launched before), E_INPROGRESS (a preserving conversion is open). */
export function convLaunch(): i32 {
  if (launchedFlag) return E_ALREADY;
  if (preservingOpen > 0) return E_INPROGRESS;
  launchedFlag = true;
  return 0;
}

/** 1 after convLaunch(), else 0. */
export function convLaunched(): i32 {
  return launchedFlag ? 1 : 0;
}

// ---- memory faults -------------------------------------------------------------------

/**
 * What a memory fault on [start, end) means for an access that needs private memory
 * (`toPrivate` 1) or shared (0). In order: a page outside guest memory → E_NXIO (OUT_AT_GFN); a
 * page pending away from the access → E_BUSY (the first; OUT_AT_GFN, OUT_AT_VALUE); a page of the
 * other attribute → FAULT_CONVERT, the implicit request now open (as convRequest with
 * CONV_JOIN_ANY_PRESERVE; its errors too); a page pending towards the access → FAULT_IN_FLIGHT;
 * else FAULT_SPURIOUS. Nothing changes but for FAULT_CONVERT.
 */
export function convFault(start: f64, end: f64, toPrivate: i32): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if (<u32>toPrivate > 1) return E_INVAL;
  let s = toGfn(start);
  let e = toGfn(end);
  let wantPrivate = toPrivate != 0;
  let flags = (wantPrivate ? CONV_TO_PRIVATE : 0) | CONV_JOIN_ANY_PRESERVE;
  // decide() with any PRESERVE: its conflicts are exactly the pages pending away from the access
  decide(s, e, uniformValueOf(s, e), wantPrivate, 0, true);
  if (nxioAt >= 0) {
    out(OUT_AT_GFN, nxioAt);
    return E_NXIO;
  }
  if (conflictAt >= 0) {
    out(OUT_AT_GFN, conflictAt);
    out(OUT_AT_VALUE, conflictValue);
    return E_BUSY;
  }
  if (ownedPages > 0) {
    rc = requestGeneral(s, e, flags, uniformValueOf(s, e));
    return rc != 0 ? rc : FAULT_CONVERT;
  }
  let pending = uniformPendingIn(s, e);
  return pending ? FAULT_IN_FLIGHT : FAULT_SPURIOUS;
}

/** True when some page of [s, e) is pending (no page is settled in the other attribute here). */
function uniformPendingIn(s: u64, e: u64): bool {
  let u = uniformValueOf(s, e);
  if (u >= 0) return (u & PAGE_PENDING) != 0;
  for (let g = s; g < e; ) {
    let n = walkFrom(g, e);
    for (let i = 0; i < n; i++) if ((runValue(i) & PAGE_PENDING) != 0) return true;
    g = runEnd(n - 1);
  }
  return false;
}

// ---- guest memory and backings -------------------------------------------------------

/**
 * Makes [start, end) guest memory: shared (or private when `initialPrivate` is 1), both backings
 * empty. 0, E_EXIST when a page of it already is guest memory (pages outside hold 0), E_INVAL,
 * E_RANGE, E_NOMEM.
 */
export function guestAdd(start: f64, end: f64, initialPrivate: i32): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if (<u32>initialPrivate > 1) return E_INVAL;
  let s = toGfn(start);
  let e = toGfn(end);
  if (uniformValueOf(s, e) != 0) return E_EXIST;
  return setValid(s, e, PAGE_GUEST | (initialPrivate != 0 ? PAGE_PRIVATE : 0));
}

/**
 * Makes [start, end) no longer guest memory (RAM unplugged): every page goes back to 0 —
 * attribute, backing state and all — so adding it again starts clean. Refused with the map
 * unchanged: E_NXIO when a page of it is not guest memory (OUT_AT_GFN: the first), else E_BUSY
 * when a page is pending a conversion (OUT_AT_GFN, OUT_AT_VALUE: the first; settle it first);
 * E_INVAL, E_RANGE, E_NOMEM. The caller reads what was populated there before (the backings of
 * the removed memory are the caller's to drop).
 */
export function guestRemove(start: f64, end: f64): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  let s = toGfn(start);
  let e = toGfn(end);
  let u = uniformValueOf(s, e);
  nxioAt = -1;
  conflictAt = -1;
  if (u >= 0) removeCheckRun(s, u);
  else {
    for (let g = s; g < e && nxioAt < 0; ) {
      let n = walkFrom(g, e);
      for (let i = 0; i < n && nxioAt < 0; i++) removeCheckRun(runStart(i), runValue(i));
      g = runEnd(n - 1);
    }
  }
  if (nxioAt >= 0) {
    out(OUT_AT_GFN, nxioAt);
    return E_NXIO;
  }
  if (conflictAt >= 0) {
    out(OUT_AT_GFN, conflictAt);
    out(OUT_AT_VALUE, conflictValue);
    return E_BUSY;
  }
  return setValid(s, e, 0, u);
}

/** guestRemove's check of one run at `at` of value v: the first page outside, the first pending. */
@inline function removeCheckRun(at: u64, v: i32): void {
  if ((v & PAGE_GUEST) == 0) nxioAt = f64Of(at);
  else if ((v & PAGE_PENDING) != 0 && conflictAt < 0) {
    conflictAt = f64Of(at);
    conflictValue = v;
  }
}

@inline function populatedBit(side: i32): i32 {
  return side == SIDE_SHARED ? PAGE_SHARED_POPULATED : PAGE_PRIVATE_POPULATED;
}
@inline function discardedBit(side: i32): i32 {
  return side == SIDE_SHARED ? PAGE_SHARED_DISCARDED : PAGE_PRIVATE_DISCARDED;
}

// Counts of a backing walk: pages outside guest memory stop it (nxioAt).
let countA: u64 = 0;
let countB: u64 = 0;

/** Walks [s, e): countA = pages with none of `bits`, countB = pages with `bitB` (outside guest memory: nxioAt). */
function countBacking(s: u64, e: u64, u: i32, pop: i32, disc: i32): void {
  nxioAt = -1;
  countA = 0;
  countB = 0;
  for (let g = s; g < e; ) {
    let n = u >= 0 ? 1 : walkFrom(g, e);
    for (let i = 0; i < n; i++) {
      let rs = u >= 0 ? s : runStart(i);
      let re = u >= 0 ? e : runEnd(i);
      let v = u >= 0 ? u : runValue(i);
      if ((v & PAGE_GUEST) == 0) {
        nxioAt = f64Of(rs);
        return;
      }
      if ((v & pop) != 0) continue;
      if ((v & disc) != 0) countB += re - rs;
      else countA += re - rs;
    }
    g = u >= 0 ? e : runEnd(n - 1);
  }
}

/** The arguments of a populate or discard: 0 (and the before/after report reset), or a code. */
@inline function checkBackingArgs(start: f64, end: f64, side: i32): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if (side != SIDE_SHARED && side != SIDE_PRIVATE) return E_INVAL;
  outValues(-1, -1);
  return 0;
}

/**
 * Records that `side`'s backing (SIDE_*) now holds [start, end): discarded pages become
 * populated (refaults, OUT_REFAULT_PAGES), empty ones populated (new: the return value).
 * E_NXIO (OUT_AT_GFN), E_INVAL, E_RANGE, E_NOMEM, the map unchanged.
 */
export function pagesPopulate(start: f64, end: f64, side: i32): f64 {
  let rc = checkBackingArgs(start, end, side);
  if (rc != 0) return rc;
  let s = toGfn(start);
  let e = toGfn(end);
  let pop = populatedBit(side);
  let disc = discardedBit(side);
  out(OUT_REFAULT_PAGES, 0);
  // one descent for a guest range of one value without this side
  let u = updateIfUniformValid(s, e, PAGE_GUEST | pop, PAGE_GUEST, disc, pop);
  if (u < -1) return u;
  if (u >= 0 && (u & (PAGE_GUEST | pop)) == PAGE_GUEST) {
    outValues(u, (u & ~disc) | pop);
    let n = f64Of(e - s);
    if ((u & disc) != 0) {
      out(OUT_REFAULT_PAGES, n);
      return 0;
    }
    return n;
  }
  countBacking(s, e, u, pop, disc);
  if (nxioAt >= 0) {
    out(OUT_AT_GFN, nxioAt);
    return E_NXIO;
  }
  if (countA + countB > 0) {
    rc = updateValid(s, e, disc, pop);
    if (rc != 0) return rc;
  }
  out(OUT_REFAULT_PAGES, f64Of(countB));
  return f64Of(countA);
}

/**
 * Records that `side`'s backing dropped [start, end) (hole-punched): populated pages become
 * discarded; empty and discarded pages stay. Returns the pages freed, or as pagesPopulate().
 */
export function pagesDiscard(start: f64, end: f64, side: i32): f64 {
  let rc = checkBackingArgs(start, end, side);
  if (rc != 0) return rc;
  let s = toGfn(start);
  let e = toGfn(end);
  let pop = populatedBit(side);
  let disc = discardedBit(side);
  let u = updateIfUniformValid(s, e, PAGE_GUEST | pop, PAGE_GUEST | pop, pop, disc);
  if (u < -1) return u;
  if (u >= 0 && (u & PAGE_GUEST) != 0) {
    if ((u & pop) == 0) return 0;
    outValues(u, (u & ~pop) | disc);
    return f64Of(e - s);
  }
  // countA = pages without pop and disc, countB = discarded: the freed are the rest
  countBacking(s, e, u, pop, disc);
  if (nxioAt >= 0) {
    out(OUT_AT_GFN, nxioAt);
    return E_NXIO;
  }
  let freed = (e - s) - countA - countB;
  if (freed == 0) return 0;
  rc = updateValid(s, e, withTest(pop, pop, pop), disc);
  return rc != 0 ? rc : f64Of(freed);
}

/** Pages of the whole map whose value v has (v & mask) == match: a sum of per-value totals. */
export function pagesMatching(mask: i32, match: i32): f64 {
  let n: i64 = 0;
  for (let v = 0; v < 256; v++) if ((v & mask) == match) n += pagesOfValue(v);
  return <f64>n;
}

// ---- invariants ----------------------------------------------------------------------

/** Bytes of the record blocks and owned-range blocks (live, outside the tree). */
export function convLiveBytes(): u64 {
  let bytes: u64 = 0;
  for (let b = 0; b < DIR_BLOCKS; b++) if (load<u32>(CONV_DIR + (<usize>b << 2)) != 0) bytes += classBytes(RECORD_BLOCK_CLASS);
  for (let slot = 0; slot <= slotsMade; slot++) {
    let block = <usize>load<u32>(recordAt(slot) + R_EXT);
    while (block != 0) {
      bytes += classBytes(EXT_CLASS);
      block = <usize>load<u32>(block);
    }
  }
  return bytes;
}

/**
 * 0 when the table is consistent: the open count and the preserving count match the records,
 * every owned range is inside the page space, ascending and coalesced, its pages all pending in
 * the record's direction with its PRESERVE, and the owned pages add up. Else the failing slot + 1.
 */
export function convCheck(): i32 {
  let open = 0;
  let preserving = 0;
  for (let slot = 0; slot <= slotsMade; slot++) {
    let r = recordAt(slot);
    if (load<f64>(r + R_ID) == 0) continue;
    open++;
    let flags = <i32>load<u32>(r + R_FLAGS);
    if ((flags & CONV_PRESERVE) != 0) preserving++;
    let want = PAGE_GUEST | PAGE_PENDING | ((flags & CONV_TO_PRIVATE) != 0 ? (flags & CONV_PRESERVE) != 0 ? PAGE_PRESERVE : 0 : PAGE_PRIVATE);
    let mask = PAGE_GUEST | PAGE_PENDING | PAGE_PRIVATE | PAGE_PRESERVE;
    let n = load<u32>(r + R_NRANGES);
    let pages: u64 = 0;
    let prevEnd: u64 = 0;
    for (let i: u32 = 0; i < n; i++) {
      let at = rangeAt(r, i);
      let s = load<u64>(at);
      let e = load<u64>(at, 8);
      if (!(s < e) || (i > 0 && s <= prevEnd)) return slot + 1;
      for (let g = s; g < e; ) {
        let k = walkFrom(g, e);
        for (let j = 0; j < k; j++) if ((runValue(j) & mask) != want) return slot + 1;
        g = runEnd(k - 1);
      }
      pages += e - s;
      prevEnd = e;
    }
    if (pages != load<u64>(r + R_OWNED_PAGES)) return slot + 1;
  }
  if (open != openCount || preserving != preservingOpen) return slotsMade + 2;
  return 0;
}

/** The id the next conversion will get (ids only grow; a snapshot records it). */
export function convNextId(): f64 {
  return nextId;
}
