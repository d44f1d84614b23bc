// A flat per-page RangeMapLike for small guests in tests: one byte per page below `limitGfn`,
// every page at or above it is 0 and may not be set to anything else. Per-value totals are
// kept in a counter array, so pages(value) is O(1) like the Wasm core's. Range operations
// cost O(pages in the range) — fast for the few hundred pages the property tests use, where
// ReferenceMap's O(runs) rebuild per assignment is too slow for 10^5 steps.
import { MAX_GFN, type RangeMapLike, type Run } from "../../src/core/types.js";

export class ArrayMap implements RangeMapLike {
  private readonly pagesArr: Uint8Array;
  private readonly counts = new Float64Array(256);

  constructor(readonly limitGfn: number) {
    this.pagesArr = new Uint8Array(limitGfn);
    this.counts[0] = MAX_GFN;
  }

  private check(start: number, end: number, value = 0): void {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= MAX_GFN)) {
      throw new RangeError(`bad range [${start}, ${end})`);
    }
    if (value !== 0 && end > this.limitGfn) throw new RangeError(`ArrayMap holds only pages below ${this.limitGfn}`);
  }

  set(start: number, end: number, value: number): void {
    this.check(start, end, value);
    const e = Math.min(end, this.limitGfn);
    for (let g = start; g < e; g++) {
      this.counts[this.pagesArr[g]!]--;
      this.pagesArr[g] = value;
    }
    this.counts[value] += e - start;
  }

  update(start: number, end: number, clearMask: number, setMask: number): void {
    this.check(start, end, setMask);
    const e = Math.min(end, this.limitGfn);
    for (let g = start; g < e; g++) {
      const v = this.pagesArr[g]!;
      const nv = ((v & ~clearMask) | setMask) & 0xff;
      this.counts[v]--;
      this.counts[nv]++;
      this.pagesArr[g] = nv;
    }
  }

  get(gfn: number): number {
    return gfn < this.limitGfn ? this.pagesArr[gfn]! : 0;
  }

  isUniform(start: number, end: number, value: number): boolean {
    return this.uniformValue(start, end) === value;
  }

  uniformValue(start: number, end: number): number {
    const v = this.get(start);
    let result = v;
    this.forEachRun(start, end, (_s, _e, value) => {
      if (value !== v) result = -1;
      return result !== -1;
    });
    return result;
  }

  updateIfUniform(start: number, end: number, testMask: number, testValue: number, clearMask: number, setMask: number): number {
    const u = this.uniformValue(start, end);
    if (u >= 0 && (u & testMask) === testValue && ((u & ~clearMask) | setMask) !== u) this.set(start, end, (u & ~clearMask) | setMask);
    return u;
  }

  runs(start: number, end: number): Run[] {
    const out: Run[] = [];
    this.forEachRun(start, end, (s, e, value) => void out.push({ start: s, end: e, value }));
    return out;
  }

  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void | boolean): void {
    let s = start;
    const e = Math.min(end, this.limitGfn);
    while (s < e) {
      const v = this.pagesArr[s]!;
      let g = s + 1;
      while (g < e && this.pagesArr[g] === v) g++;
      if (g === e && e < end && v === 0) g = end; // the zero tail beyond the limit
      if (fn(s, g, v) === false) return;
      s = g;
    }
    if (s < end) fn(s, end, 0);
  }

  pages(value: number): number {
    return this.counts[value]!;
  }

  countInRange(start: number, end: number, value: number): number {
    let n = 0;
    this.forEachRun(start, end, (s, e, v) => {
      if (v === value) n += e - s;
    });
    return n;
  }

  runCount(): number {
    let n = 0;
    this.forEachRun(0, MAX_GFN, () => {
      n++;
    });
    return n;
  }

  clear(): void {
    this.pagesArr.fill(0);
    this.counts.fill(0);
    this.counts[0] = MAX_GFN;
  }
}
