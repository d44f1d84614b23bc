// checkInvariants(): walks everything and recomputes what the edits keep incrementally.
// Slow (O(map)), meant for tests. Returns 0, or a negative code; invariantFailure() then names
// the rule as a small number (table below) for the test's message.
//
//   rule  meaning
//   1     a leaf is malformed; invariantDetail is leafCheck's code:
//           -1 block not 8-aligned   -3 a palette entry's count differs from its pages
//           -4 a value twice in the palette   -5 counts do not add up to 4096
//           -6 fewer than 2 values (should be a uniform slot)   -7 distinct count wrong
//           -8 narrower than its values need
//   2     a node's pointerCount is wrong
//   3     a node holds one uniform value in every slot (should have collapsed)
//   4     the root is taller than its content needs
//   5     COUNTS differ from a recount
//   6     COUNTS do not add up to 2^40
//   7     boundaryCount differs from a recount
//   8     live bytes differ from the blocks reachable from the root and the conversion table
//   9     the free lists are broken or bytes are lost (live + free + parked ≠ heap used)
//   10    height out of range
//   11    the conversion table is inconsistent (conv.ts convCheck; detail = its code)

import { COUNTS, MAX_GFN, MAX_HEIGHT, NODE_POINTERS, NODE_SLOTS, isUniformSlot, pagesOfValue, uniformSlot } from "./layout";
import { classBytes, freeBlockCount, heapLiveBytes, heapParkedBytes, heapStartBytes, heapTopBytes } from "./alloc";
import { leafBytesOf, leafCheck } from "./leaf";
import { addAllToCounts, boundariesInRange, boundaryCount, height, root, tailValue } from "./tree";
import { convCheck, convLiveBytes } from "./conv";

const SAVED_COUNTS: usize = memory.data(256 * 8, 16);

let failure: i32 = 0;
let detail: i32 = 0;
let reachableBytes: u64 = 0;

function fail(rule: i32, code: i32): bool {
  failure = rule;
  detail = code;
  return false;
}

function checkTree(slot: u32, level: i32): bool {
  if (isUniformSlot(slot)) return true;
  if (level == 0) {
    let code = leafCheck(slot);
    if (code != 0) return fail(1, code);
    reachableBytes += leafBytesOf(slot);
    return true;
  }
  reachableBytes += classBytes(0);
  let pointers: u32 = 0;
  let first = load<u32>(<usize>slot + NODE_SLOTS);
  let allSame = true;
  for (let i = 0; i < 128; i++) {
    let child = load<u32>(<usize>slot + NODE_SLOTS + (<usize>i << 2));
    if (!isUniformSlot(child)) pointers++;
    if (child != first) allSame = false;
    if (!checkTree(child, level - 1)) return false;
  }
  if (pointers != load<u32>(<usize>slot + NODE_POINTERS)) return fail(2, <i32>pointers);
  if (pointers == 0 && allSame) return fail(3, level);
  return true;
}

export function checkAll(): i32 {
  failure = 0;
  detail = 0;
  reachableBytes = 0;
  if (height < 0 || height > MAX_HEIGHT) return fail(10, height) ? 0 : -1;
  if (!checkTree(root, height)) return -1;
  let tail = uniformSlot(tailValue);
  if (height > 0) {
    if (root == tail) return fail(4, 0) ? 0 : -1;
    if (!isUniformSlot(root)) {
      let needed = false;
      for (let i = 1; i < 128; i++) if (load<u32>(<usize>root + NODE_SLOTS + (<usize>i << 2)) != tail) needed = true;
      if (!needed) return fail(4, 1) ? 0 : -1;
    }
  }
  // recount COUNTS by scanning everything into a zeroed table, then compare and restore
  memory.copy(SAVED_COUNTS, COUNTS, 256 * 8);
  memory.fill(COUNTS, 0, 256 * 8);
  let boundaries = boundariesInRange(0, MAX_GFN); // SCAN_NONE: leaves COUNTS alone
  addAllToCounts();
  let sum: i64 = 0;
  let countsOk = true;
  for (let v = 0; v < 256; v++) {
    let mine = load<i64>(SAVED_COUNTS + (<usize>v << 3));
    if (mine != pagesOfValue(v)) {
      countsOk = false;
      detail = v;
    }
    sum += mine;
  }
  memory.copy(COUNTS, SAVED_COUNTS, 256 * 8);
  if (!countsOk) return fail(5, detail) ? 0 : -1;
  if (sum != <i64>MAX_GFN) return fail(6, 0) ? 0 : -1;
  if (boundaries != boundaryCount) return fail(7, <i32>(boundaries - boundaryCount)) ? 0 : -1;
  reachableBytes += convLiveBytes();
  if (reachableBytes != heapLiveBytes()) return fail(8, <i32>(reachableBytes - heapLiveBytes())) ? 0 : -1;
  let freeBytes: u64 = 0;
  for (let cls = 0; cls < 4; cls++) {
    let n = freeBlockCount(cls);
    if (n < 0) return fail(9, cls) ? 0 : -1;
    freeBytes += <u64>n * classBytes(cls);
  }
  if (heapLiveBytes() + heapParkedBytes() + freeBytes != <u64>(heapTopBytes() - heapStartBytes())) return fail(9, 4) ? 0 : -1;
  let conv = convCheck();
  if (conv != 0) return fail(11, conv) ? 0 : -1;
  return 0;
}

export function invariantRule(): i32 {
  return failure;
}
export function invariantDetail(): i32 {
  return detail;
}
