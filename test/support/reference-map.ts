// A deliberately simple range map: a sorted array of boundaries, no cleverness.
// Property tests compare the Wasm core and the model against it.
import { MAX_GFN, type RangeMapLike, type Run } from "../../src/core/types.js";

export class ReferenceMap implements RangeMapLike {
  // starts[i] begins a run of values[i] that ends at starts[i + 1] (or MAX_GFN).
  private starts: number[] = [0];
  private values: number[] = [0];

  private indexOf(gfn: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= gfn) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private endOf(i: number): number {
    return i + 1 < this.starts.length ? this.starts[i + 1]! : MAX_GFN;
  }

  set(start: number, end: number, value: number): void {
    const pieces: Run[] = [];
    this.forEachRun(start, end, (s, e, v) => {
      pieces.push({ start: s, end: e, value: v });
    });
    for (const p of pieces) this.assign(p.start, p.end, value);
  }

  update(start: number, end: number, clearMask: number, setMask: number): void {
    const pieces = this.runs(start, end);
    for (const p of pieces) this.assign(p.start, p.end, ((p.value & ~clearMask) | setMask) & 0xff);
  }

  /** update() of the pages whose value v has (v & testMask) === testValue. */
  updateWhere(start: number, end: number, testMask: number, testValue: number, clearMask: number, setMask: number): void {
    for (const p of this.runs(start, end)) {
      if ((p.value & testMask) === testValue) this.assign(p.start, p.end, ((p.value & ~clearMask) | setMask) & 0xff);
    }
  }

  private assign(start: number, end: number, value: number): void {
    const all: Run[] = this.runs(0, MAX_GFN).flatMap((r) => {
      const out: Run[] = [];
      if (r.start < start) out.push({ start: r.start, end: Math.min(r.end, start), value: r.value });
      if (r.end > end) out.push({ start: Math.max(r.start, end), end: r.end, value: r.value });
      return out;
    });
    all.push({ start, end, value });
    all.sort((a, b) => a.start - b.start);
    this.starts = [];
    this.values = [];
    for (const r of all) {
      if (this.values.length > 0 && this.values[this.values.length - 1] === r.value) continue;
      this.starts.push(r.start);
      this.values.push(r.value);
    }
  }

  get(gfn: number): number {
    return this.values[this.indexOf(gfn)]!;
  }

  isUniform(start: number, end: number, value: number): boolean {
    return this.uniformValue(start, end) === value;
  }

  uniformValue(start: number, end: number): number {
    const i = this.indexOf(start);
    return this.endOf(i) >= end ? this.values[i]! : -1;
  }

  updateIfUniform(start: number, end: number, testMask: number, testValue: number, clearMask: number, setMask: number): number {
    const u = this.uniformValue(start, end);
    if (u >= 0 && (u & testMask) === testValue && ((u & ~clearMask) | setMask) !== u) this.set(start, end, (u & ~clearMask) | setMask);
    return u;
  }

  runs(start: number, end: number): Run[] {
    const out: Run[] = [];
    this.forEachRun(start, end, (s, e, v) => {
      out.push({ start: s, end: e, value: v });
    });
    return out;
  }

  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void | boolean): void {
    for (let i = this.indexOf(start); i < this.starts.length && this.starts[i]! < end; i++) {
      const s = Math.max(this.starts[i]!, start);
      const e = Math.min(this.endOf(i), end);
      if (fn(s, e, this.values[i]!) === false) return;
    }
  }

  pages(value: number): number {
    return this.countInRange(0, MAX_GFN, value);
  }

  countInRange(start: number, end: number, value: number): number {
    let n = 0;
    this.forEachRun(start, end, (s, e, v) => {
      if (v === value) n += e - s;
    });
    return n;
  }

  runCount(): number {
    return this.starts.length;
  }

  clear(): void {
    this.starts = [0];
    this.values = [0];
  }
}
