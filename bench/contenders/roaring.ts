// roaring (CRoaring, native) holding the private set: bit 0 of the value, one bit per page.
// Page numbers are 32-bit, so it caps at 2^32 pages (16 TiB). Bytes held: its own report,
// getSerializationSizeInBytes("portable") (containers' payload plus headers; the in-memory
// size is that plus a few dozen bytes per 64 Ki-page container), since it lives outside the
// JS heap. Estimate: at most 1 bit per page plus 8 KiB per container, under the budget always
// for ≤ 2^32 pages.
import roaringModule from "roaring";
import type { Contender, Store } from "./_contender.js";

const { RoaringBitmap32 } = roaringModule;
const MAX_PAGES = 2 ** 32;

class RoaringStore implements Store {
  readonly b = new RoaringBitmap32();
  get(gfn: number): number {
    return this.b.has(gfn) ? 1 : 0;
  }
  set(start: number, end: number, value: number): void {
    if (value & 1) this.b.addRange(start, end);
    else this.b.removeRange(start, end);
  }
  isUniform(start: number, end: number, value: number): boolean {
    return value & 1 ? this.b.hasRange(start, end) : !this.b.intersectsWithRange(start, end);
  }
  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void): void {
    // no run API: page through the members (by index, from rank(start - 1)) and turn them into runs of 1s and the gaps between
    const chunk = new Uint32Array(65536);
    let at = start; // end of what was reported
    let runStart = -1;
    let runEnd = -1;
    let index = start > 0 ? this.b.rank(start - 1) : 0; // members below start
    for (let done = false; !done; ) {
      const got = this.b.rangeUint32Array(chunk, index, chunk.length);
      index += got.length;
      done = got.length < chunk.length;
      for (let i = 0; i < got.length; i++) {
        const g = got[i]!;
        if (g >= end) {
          done = true;
          break;
        }
        if (g === runEnd) {
          runEnd++;
          continue;
        }
        if (runStart >= 0) {
          if (at < runStart) fn(at, runStart, 0);
          fn(runStart, runEnd, 1);
          at = runEnd;
        }
        runStart = g;
        runEnd = g + 1;
      }
    }
    if (runStart >= 0) {
      if (at < runStart) fn(at, runStart, 0);
      fn(runStart, runEnd, 1);
      at = runEnd;
    }
    if (at < end) fn(at, end, 0);
  }
  getMany(gfns: Float64Array, from: number, n: number): number {
    const b = this.b;
    let s = 0;
    for (let i = from; i < from + n; i++) if (b.has(gfns[i]!)) s++;
    return s;
  }
  setMany(cmds: Float64Array, n: number): void {
    const b = this.b;
    for (let i = 0; i < 3 * n; i += 3) {
      if (cmds[i + 2]! & 1) b.addRange(cmds[i]!, cmds[i + 1]!);
      else b.removeRange(cmds[i]!, cmds[i + 1]!);
    }
  }
  isUniformMany(cmds: Float64Array, n: number): number {
    let k = 0;
    for (let i = 0; i < 3 * n; i += 3) if (this.isUniform(cmds[i]!, cmds[i + 1]!, cmds[i + 2]!)) k++;
    return k;
  }
  countRuns(start: number, end: number): number {
    let n = 0;
    this.forEachRun(start, end, () => {
      n++;
    });
    return n;
  }
  ownBytes(): number {
    return this.b.getSerializationSizeInBytes("portable");
  }
  dispose(): void {
    this.b.clear();
  }
}

export const roaring: Contender = {
  name: "roaring (private bit)",
  valueMask: 1,
  cannotHold: (s) => {
    if (s.pages > MAX_PAGES) return "32-bit page numbers: caps at 2^32 pages (16 TiB)";
    if (s.values > 2) return `1 bit per page: cannot hold ${s.values} values`;
    return undefined;
  },
  create: async () => new RoaringStore(),
};
