// A flat Uint8Array with one byte per page: the speed limit for point lookups, and what a
// per-page table costs in memory (QEMU keeps one bit per page; a byte holds the whole value).
// Estimate: 1 byte per page.
import { overBudget, type Contender, type Store } from "./_contender.js";

class FlatStore implements Store {
  readonly a: Uint8Array;
  constructor(pages: number) {
    this.a = new Uint8Array(pages);
  }
  get(gfn: number): number {
    return this.a[gfn]!;
  }
  set(start: number, end: number, value: number): void {
    if (end - start === 1) this.a[start] = value;
    else this.a.fill(value, start, end);
  }
  isUniform(start: number, end: number, value: number): boolean {
    const a = this.a;
    for (let g = start; g < end; g++) if (a[g] !== value) return false;
    return true;
  }
  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void): void {
    const a = this.a;
    let runStart = start;
    for (let g = start + 1; g <= end; g++) {
      if (g === end || a[g] !== a[runStart]) {
        fn(runStart, g, a[runStart]!);
        runStart = g;
      }
    }
  }
  getMany(gfns: Float64Array, from: number, n: number): number {
    const a = this.a;
    let s = 0;
    for (let i = from; i < from + n; i++) s += a[gfns[i]!]!;
    return s;
  }
  setMany(cmds: Float64Array, n: number): void {
    const a = this.a;
    for (let i = 0; i < 3 * n; i += 3) {
      const start = cmds[i]!;
      const end = cmds[i + 1]!;
      if (end - start === 1) a[start] = cmds[i + 2]!;
      else a.fill(cmds[i + 2]!, start, end);
    }
  }
  isUniformMany(cmds: Float64Array, n: number): number {
    const a = this.a;
    let k = 0;
    for (let i = 0; i < 3 * n; i += 3) {
      const end = cmds[i + 1]!;
      const value = cmds[i + 2]!;
      let g = cmds[i]!;
      while (g < end && a[g] === value) g++;
      if (g === end) k++;
    }
    return k;
  }
  countRuns(start: number, end: number): number {
    const a = this.a;
    let n = 1;
    for (let g = start + 1; g < end; g++) if (a[g] !== a[g - 1]) n++;
    return n;
  }
}

export const flat: Contender = {
  name: "flat Uint8Array",
  valueMask: 255,
  cannotHold: (s) => overBudget(s.pages, "1 byte per page"),
  create: async (pages) => new FlatStore(pages),
};
