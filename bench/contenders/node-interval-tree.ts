// node-interval-tree (an AVL interval tree) as a run store: records are our runs
// { low, high, value } (closed intervals) covering the whole guest. set = search the runs
// overlapping the range and its two neighbours, remove them, insert the pieces.
// Estimate: ≈ 420 bytes per run (a node with key/max/height/parent/left/right and a records
// array, plus the run record; measured here: 408 B/run with 2^18 runs).
import { IntervalTree } from "node-interval-tree";
import { overBudget, type Contender, type Store } from "./_contender.js";
import { planSet, type Run } from "./_run-pieces.js";

const BYTES_PER_RUN = 420;

class NodeIntervalStore implements Store {
  readonly t = new IntervalTree<Run>();

  constructor(pages: number) {
    this.t.insert({ low: 0, high: pages - 1, value: 0 });
  }

  get(gfn: number): number {
    return this.t.search(gfn, gfn)[0]!.value;
  }

  set(start: number, end: number, value: number): void {
    const t = this.t;
    const { remove, insert } = planSet(t.search(start - 1, end), start, end, value);
    for (const r of remove) t.remove(r);
    for (const r of insert) t.insert(r);
  }

  isUniform(start: number, end: number, value: number): boolean {
    const found = this.t.search(start, end - 1);
    return found.length === 1 && found[0]!.value === value;
  }

  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void): void {
    for (const r of this.t.search(start, end - 1)) fn(Math.max(r.low, start), Math.min(r.high + 1, end), r.value);
  }

  getMany(gfns: Float64Array, from: number, n: number): number {
    const t = this.t;
    let s = 0;
    for (let i = from; i < from + n; i++) {
      const g = gfns[i]!;
      s += t.search(g, g)[0]!.value;
    }
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
    return this.t.search(start, end - 1).length;
  }
}

export const nodeIntervalTree: Contender = {
  name: "node-interval-tree",
  valueMask: 255,
  cannotHold: (s) => overBudget(s.runs * BYTES_PER_RUN, `${BYTES_PER_RUN} B per run`),
  create: async (pages) => new NodeIntervalStore(pages),
};
