// The module's exports: the whole contract between the .wasm and its embedders (the TypeScript
// facade in src/core/range-map.ts, or a Rust/C VMM through wasmtime). The module imports
// nothing but env.abort, which nothing here calls in a release build.
//
// Gfns cross the boundary as f64 (exact up to 2^53; JS→Wasm i64 would mean BigInt). Mutating
// exports validate their arguments themselves and return 0 or a negative errno (errors.ts);
// reads assume the integers they are given (the facade validates) and never write.
//
// Batch: the embedder writes commands into batchCommands() and calls runBatch(n); each command is
// four f64 (opcode, a, b, c) and its result one f64 at batchOut() + 8·i:
//
//   opcode  command                    a      b     c                       result
//   1       set                        start  end   value                   0
//   2       update                     start  end   clearMask + 256·setMask 0
//   3       get                        gfn    –     –                       value
//   4       isUniform                  start  end   value                   1 or 0
//   5       uniformValue               start  end   –                       value or -1
//   6       countInRange               start  end   value                   pages
//
// Commands run in order, each whole or not at all. The first one that is invalid (-EINVAL,
// -ERANGE, -ENOSYS) or cannot get memory (-ENOMEM) stops the batch: commands 0…k−1 stay
// applied, batchErrorIndex() = k. (The TypeScript batch validates every command when it is
// added, so from there only -ENOMEM can stop a batch.)

import { BATCH_CMDS, BATCH_COMMANDS, BATCH_GFNS, BATCH_IN, BATCH_OUT, COUNTS, MAX_GFN_F64, pagesOfValue, shiftOf } from "./layout";
import { E_FAULT, E_INVAL, E_NOMEM, E_NOSYS, E_RANGE, OP_COUNT, OP_GET, OP_IS_UNIFORM, OP_SET, OP_UNIFORM_VALUE, OP_UPDATE } from "./abi";
import { RESERVE_BYTES, getLimitPages, heapLiveBytes, heapStartBytes, heapTopBytes, reserveBytes, setLimitPages } from "./alloc";
import {
  allEqual, allEqualWith, boundaryCount, clearAll, countValueInRange, getValue, getValuesInto, getValuesIntoU32, height, inOneChunk,
  resetTree, root, setPageInLeaf, setRange, setRangeInLeaf, tailValue, uniformValueOf, updateRange, writeRuns,
} from "./tree";
import { withTest } from "./mask";
import { checkByte, checkRange, isWhole, masksOk, setValid, toGfn, updateIfUniformValid, updateValid } from "./edit";
import { shortSet, shortUpdate, shortUpdateIfUniform } from "./short";
import { checkAll, invariantDetail as ruleDetail, invariantRule as ruleNumber } from "./invariants";
import { convReset } from "./conv";

// The conversion model (conv.ts): request / commit / abort / fault / launch / backing bits.
export {
  convAbort, convCommit, convFault, convLaunch, convLaunched, convNextId, convOpenCount, convOut, convOwnedRanges, convRequest, guestAdd,
  guestRemove, pagesDiscard, pagesMatching, pagesPopulate,
} from "./conv";

resetTree();

@inline const RUN_BYTES: i32 = 24;

let errorIndex: i32 = -1;

/** Value of page `gfn` (0 ≤ gfn < 2^40, an integer). */
export function get(gfn: f64): i32 {
  return getValue(toGfn(gfn));
}

/** Sets every page of [start, end) to `value`. 0, -EINVAL, -ERANGE or -ENOMEM (map unchanged). */
export function set(start: f64, end: f64, value: i32): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if (<u32>value > 255) return E_INVAL;
  return setValid(toGfn(start), toGfn(end), value);
}

/** v = (v & ~clearMask) | setMask on every page of [start, end). Codes as set(). */
export function update(start: f64, end: f64, clearMask: i32, setMask: i32): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if (<u32>clearMask > 255 || <u32>setMask > 255) return E_INVAL;
  return updateValid(toGfn(start), toGfn(end), clearMask, setMask);
}

/**
 * update() of the pages whose value v has (v & testMask) == testValue; the others keep theirs.
 * One pass over the range (a conditional masked update: mask.ts). Codes as set().
 */
export function updateWhere(start: f64, end: f64, testMask: i32, testValue: i32, clearMask: i32, setMask: i32): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if (!masksOk(testMask, testValue, clearMask, setMask)) return E_INVAL;
  return updateValid(toGfn(start), toGfn(end), withTest(clearMask, testMask, testValue), setMask);
}

/**
 * The value all of [start, end) holds (0–255), and — when that value `u` passes
 * `(u & testMask) == testValue` — the masked update `(u & ~clearMask) | setMask` of the whole
 * range, in one call: a conversion's request or a populate over one run (a short range inside
 * one chunk: one descent in all, short.ts). -1 when the range is mixed (nothing changed: the
 * caller walks its runs), or a code below -1: bad arguments, or -ENOMEM with the map unchanged.
 */
export function updateIfUniform(start: f64, end: f64, testMask: i32, testValue: i32, clearMask: i32, setMask: i32): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if (!masksOk(testMask, testValue, clearMask, setMask)) return E_INVAL;
  return updateIfUniformValid(toGfn(start), toGfn(end), testMask, testValue, clearMask, setMask);
}

/** The value all of [start, end) holds, -1 when mixed, or a code below -1 for bad arguments. */
export function uniformValue(start: f64, end: f64): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  return uniformValueOf(toGfn(start), toGfn(end));
}

/** 1 when every page of [start, end) holds `value`, 0 when not, or a negative code. */
export function isUniform(start: f64, end: f64, value: i32): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if (<u32>value > 255) return E_INVAL;
  return allEqualWith(root, shiftOf(height), tailValue, toGfn(start), toGfn(end), value) ? 1 : 0;
}

/** Pages of [start, end) holding `value`, or a negative code for bad arguments. */
export function countInRange(start: f64, end: f64, value: i32): f64 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if (<u32>value > 255) return E_INVAL;
  return <f64>countValueInRange(toGfn(start), toGfn(end), value);
}

/** Pages of the whole map holding `value`: O(1). */
export function pages(value: i32): f64 {
  return <f64>pagesOfValue(value & 255);
}

/**
 * Where the per-value page totals live: i64[256] (value v at + 8·v), for an embedder that sums
 * many of them without a call each. Values stay below 2^41, so the high word is small.
 */
export function pagesTable(): usize {
  return COUNTS;
}

/** Maximal runs in the whole map: O(1). */
export function runCount(): f64 {
  return <f64>(boundaryCount + 1);
}

/**
 * Writes up to `maxRuns` maximal runs of [start, end), clipped, into batchIn() as f64 triples
 * (start, end, value); returns how many. Resume from the last end when it returns maxRuns.
 */
export function runs(start: f64, end: f64, maxRuns: i32): i32 {
  let rc = checkRange(start, end);
  if (rc != 0) return rc;
  if (maxRuns <= 0) return E_INVAL;
  if (maxRuns > runsCapacity()) maxRuns = runsCapacity();
  return writeRuns(toGfn(start), toGfn(end), BATCH_IN, maxRuns);
}

export function runsCapacity(): i32 {
  return (BATCH_GFNS * 8) / RUN_BYTES;
}

/** Sets every page to 0 and forgets every block (linear memory itself cannot shrink). */
export function clear(): void {
  clearAll();
  convReset();
}

/** Bytes of live nodes and leaves: what the map's content costs. */
export function memoryBytes(): f64 {
  return <f64>heapLiveBytes();
}

/** Bytes of heap handed out so far, live or on a free list (grows only; free blocks are reused). */
export function heapBytes(): f64 {
  return <f64>(heapTopBytes() - heapStartBytes());
}

/** Bytes of static data below the heap (batch buffers, tables). */
export function staticBytes(): f64 {
  return <f64>heapStartBytes();
}

export function treeHeight(): i32 {
  return height;
}

/** 0 when every invariant holds, else -EFAULT; see invariantRule()/invariantDetail(). */
export function checkInvariants(): i32 {
  return checkAll() == 0 ? 0 : E_FAULT;
}
export function invariantRule(): i32 {
  return ruleNumber();
}
export function invariantDetail(): i32 {
  return ruleDetail();
}

/** Caps linear memory at `pages` × 64 KiB; growth beyond fails with -ENOMEM. Tests use it. */
export function setMemoryLimitPages(pagesLimit: i32): void {
  setLimitPages(pagesLimit);
}
export function memoryLimitPages(): i32 {
  return getLimitPages();
}

/** Where runBatch() reads its commands (4 f64 each); apart from batchIn() so runs/getMany never clobber staged commands. */
export function batchCommands(): usize {
  return BATCH_CMDS;
}
/** Where getMany() reads gfns and runs() writes runs. */
export function batchIn(): usize {
  return BATCH_IN;
}
export function batchOut(): usize {
  return BATCH_OUT;
}
export function batchCapacity(): i32 {
  return BATCH_COMMANDS;
}
export function getManyCapacity(): i32 {
  return BATCH_GFNS;
}
export function batchErrorIndex(): i32 {
  return errorIndex;
}

function checkCommand(at: usize): i32 {
  let op = load<f64>(at);
  let a = load<f64>(at, 8);
  let b = load<f64>(at, 16);
  let c = load<f64>(at, 24);
  if (op == OP_GET) return a >= 0 && a < MAX_GFN_F64 && isWhole(a) ? 0 : a >= 0 && isWhole(a) ? E_RANGE : E_INVAL;
  if (op < OP_SET || op > OP_COUNT || !isWhole(op)) return E_NOSYS;
  let rc = checkRange(a, b);
  if (rc != 0) return rc;
  if (op == OP_UPDATE) return c >= 0 && c <= 65535 && isWhole(c) ? 0 : E_INVAL;
  if (op == OP_UNIFORM_VALUE) return 0;
  return checkByte(c) ? 0 : E_INVAL;
}

/**
 * Runs `n` commands from batchCommands() in order; results at batchOut(). Returns 0, or the
 * code of the first command that is invalid or cannot get memory, with batchErrorIndex(): the
 * commands before it are applied, it and the rest are not.
 * `prechecked` = 1 skips the per-command argument checks: only for a caller
 * that validated every command itself, as the TypeScript RangeMapBatch does when commands are
 * added. Any other embedder passes 0.
 */
export function runBatch(n: i32, prechecked: i32): i32 {
  errorIndex = -1;
  if (n < 0 || n > BATCH_COMMANDS) return E_INVAL;
  for (let i = 0; i < n; i++) {
    let at = BATCH_CMDS + (<usize>i << 5);
    let rc = prechecked != 0 ? 0 : checkCommand(at);
    if (rc != 0) {
      errorIndex = i;
      return rc;
    }
    let op = <i32>load<f64>(at);
    let a = toGfn(load<f64>(at, 8));
    let b = toGfn(load<f64>(at, 16));
    let c = <i32>load<f64>(at, 24);
    let result: f64 = 0;
    if (op == OP_GET) {
      result = getValue(a);
    } else if (op == OP_SET && (b - a == 1 ? setPageInLeaf(a, c) : setRangeInLeaf(a, b, c))) {
      // done in place
    } else if (op == OP_SET || op == OP_UPDATE) {
      if (!reserveBytes(RESERVE_BYTES)) {
        errorIndex = i;
        return E_NOMEM;
      }
      if (op == OP_SET) setRange(a, b, c);
      else updateRange(a, b, c & 255, c >> 8);
    } else if (op == OP_IS_UNIFORM) {
      result = allEqual(a, b, c) ? 1 : 0;
    } else if (op == OP_UNIFORM_VALUE) {
      result = uniformValueOf(a, b);
    } else {
      result = <f64>countValueInRange(a, b, c);
    }
    store<f64>(BATCH_OUT + (<usize>i << 3), result);
  }
  return 0;
}

/**
 * Reads `n` gfns (f64) from batchIn() and writes their values, one byte each, to batchOut().
 * 0, or -EINVAL/-ERANGE with batchErrorIndex() (values before it are written).
 */
export function getMany(n: i32): i32 {
  errorIndex = -1;
  if (n < 0 || n > BATCH_GFNS) return E_INVAL;
  let bad = getValuesInto(BATCH_IN, BATCH_OUT, n);
  if (bad < 0) return 0;
  errorIndex = bad;
  let g = load<f64>(BATCH_IN + (<usize>bad << 3));
  return g >= 0 && isWhole(g) ? E_RANGE : E_INVAL;
}

/** Queries per isUniformMany call: f64 triples in batchIn(). */
@inline const UNIFORM_QUERIES: i32 = BATCH_GFNS / 3;

export function isUniformManyCapacity(): i32 {
  return UNIFORM_QUERIES;
}

/**
 * Reads `n` f64 triples (start, end, value) from batchIn() and writes 1 or 0 per query, one
 * byte each, to batchOut(): isUniform without a call or a staged command per query. 0, or the
 * code of the first invalid query with batchErrorIndex() (answers before it are written).
 */
export function isUniformMany(n: i32): i32 {
  errorIndex = -1;
  if (n < 0 || n > UNIFORM_QUERIES) return E_INVAL;
  // the tree's globals in locals for the whole loop (no query changes them)
  let top = root;
  let topShift = shiftOf(height);
  let tail = tailValue;
  for (let i = 0; i < n; i++) {
    let at = BATCH_IN + <usize>i * 24;
    let start = load<f64>(at);
    let end = load<f64>(at, 8);
    let value = load<f64>(at, 16);
    // every check at once, one branch (the error path names which one failed)
    let ok = (start >= 0) & (end <= MAX_GFN_F64) & (start < end) & isWhole(start) & isWhole(end)
      & (value >= 0) & (value <= 255) & isWhole(value);
    if (!ok) {
      errorIndex = i;
      let rc = checkRange(start, end);
      return rc != 0 ? rc : E_INVAL;
    }
    store<u8>(BATCH_OUT + i, allEqualWith(top, topShift, tail, toGfn(start), toGfn(end), <i32>value) ? 1 : 0);
  }
  return 0;
}

/**
 * Reads `n` f64 pairs (start, end) from batchIn() and writes uniformValue per range as an i16
 * (the value, or -1 when mixed) to batchOut(). Codes as isUniformMany(); n ≤ getManyCapacity()/2.
 */
export function uniformValueMany(n: i32): i32 {
  errorIndex = -1;
  if (n < 0 || n > BATCH_GFNS / 2) return E_INVAL;
  for (let i = 0; i < n; i++) {
    let at = BATCH_IN + (<usize>i << 4);
    let start = load<f64>(at);
    let end = load<f64>(at, 8);
    let rc = checkRange(start, end);
    if (rc != 0) {
      errorIndex = i;
      return rc;
    }
    store<i16>(BATCH_OUT + (<usize>i << 1), <i16>uniformValueOf(toGfn(start), toGfn(end)));
  }
  return 0;
}

/**
 * getMany for gfns below 2^32 given as u32 (4 bytes a load instead of an f64 and its checks):
 * reads `n` from batchIn(), writes one byte each to batchOut(). Always 0 for n in range.
 */
export function getManyU32(n: i32): i32 {
  errorIndex = -1;
  if (n < 0 || n > BATCH_GFNS) return E_INVAL;
  getValuesIntoU32(BATCH_IN, BATCH_OUT, n);
  return 0;
}
