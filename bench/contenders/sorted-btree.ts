// sorted-btree as a run map, the way a TypeScript developer would write one: keys = run
// starts, values = { end, value }; the runs cover the whole guest (value 0 included), so the
// run holding a page is the pair at or before it. set() splits the runs at its ends, deletes
// the covered keys, and merges with equal neighbours.
// Estimate: ≈ 110 bytes per run (key and value slots in the leaf arrays at ~3/4 fill, a
// { end, value } object, boxed keys; measured here: 104 B/run with 2^18 runs).
import * as btreeModule from "sorted-btree";
import { overBudget, type Contender, type Store } from "./_contender.js";

// a CommonJS module (exports.default = BTree): Node's ESM import sees module.exports as the default
type BTreeClass = typeof btreeModule.default.default;
const BTree: BTreeClass = (btreeModule.default as unknown as { default?: BTreeClass }).default ?? (btreeModule.default as unknown as BTreeClass);
const BYTES_PER_RUN = 110;

interface Run {
  end: number;
  value: number;
}

class BTreeStore implements Store {
  readonly t = new BTree<number, Run>();
  private readonly pair: [number, Run] = [0, { end: 0, value: 0 }];

  constructor(pages: number) {
    this.t.set(0, { end: pages, value: 0 });
  }

  get(gfn: number): number {
    return this.t.getPairOrNextLower(gfn, this.pair)![1].value;
  }

  set(start: number, end: number, value: number): void {
    const t = this.t;
    const [aStart, a] = t.getPairOrNextLower(start)!;
    const z = a.end >= end ? a : t.getPairOrNextLower(end - 1)![1];
    const zEnd = z.end;
    const zValue = z.value;
    let newStart = start;
    let newEnd = end;
    let leftPiece: number | undefined;
    if (aStart < start) {
      if (a.value === value) newStart = aStart;
      else leftPiece = aStart;
    } else {
      const prev = t.nextLowerPair(start);
      if (prev !== undefined && prev[1].value === value) newStart = prev[0];
    }
    let rightPiece = false;
    if (zEnd > end) {
      if (zValue === value) newEnd = zEnd;
      else rightPiece = true;
    } else {
      const next = t.get(end);
      if (next !== undefined && next.value === value) newEnd = next.end;
    }
    t.deleteRange(start, newEnd, false);
    if (leftPiece !== undefined) t.set(leftPiece, { end: start, value: a.value });
    if (rightPiece) t.set(end, { end: zEnd, value: zValue });
    t.set(newStart, { end: newEnd, value });
  }

  isUniform(start: number, end: number, value: number): boolean {
    const r = this.t.getPairOrNextLower(start, this.pair)![1];
    return r.value === value && r.end >= end;
  }

  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void): void {
    const first = this.t.getPairOrNextLower(start)![0];
    this.t.forRange(first, end, false, (k, r) => {
      fn(Math.max(k, start), Math.min(r.end, end), r.value);
    });
  }

  getMany(gfns: Float64Array, from: number, n: number): number {
    const t = this.t;
    const pair = this.pair;
    let s = 0;
    for (let i = from; i < from + n; i++) s += t.getPairOrNextLower(gfns[i]!, pair)![1].value;
    return s;
  }

  setMany(cmds: Float64Array, n: number): void {
    for (let i = 0; i < 3 * n; i += 3) this.set(cmds[i]!, cmds[i + 1]!, cmds[i + 2]!);
  }

  isUniformMany(cmds: Float64Array, n: number): number {
    let k = 0;
    for (let i = 0; i < 3 * n; i += 3) if (this.isUniform(cmds[i]!, cmds[i + 1]!, cmds[i + 2]!)) k++;
    return k;
  }

  countRuns(start: number, end: number): number {
    const first = this.t.getPairOrNextLower(start)![0];
    let n = 0;
    this.t.forRange(first, end, false, (_k, r) => {
      n += 1 + (r.value & 0); // visit each run object, as the other contenders do
    });
    return n;
  }
}

export const sortedBtree: Contender = {
  name: "sorted-btree run map",
  valueMask: 255,
  cannotHold: (s) => overBudget(s.runs * BYTES_PER_RUN, `${BYTES_PER_RUN} B per run`),
  create: async (pages) => new BTreeStore(pages),
};
