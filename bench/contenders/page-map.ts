// A per-page Map<gfn, value> with one entry per page ever set: what per-GFN entries cost. Like
// the kernel's attribute XArray (`xa_store` of `xa_mk_value(attrs)` per page, in a loop over the
// range; a 0 attribute is still an entry), a set never deletes. (Deleting on 0 was tried: with
// the live count just under a power of two, V8 rehashes the table every few delete/insert pairs
// and a 1-page flip took ~15 µs.)
// Estimate: ≈ 40 bytes per entry (V8 OrderedHashMap: key, value, chain link, bucket, with
// load slack; measured here: 40 B/entry at 2^17 entries), and V8 caps a Map at 2^24 entries
// (checked on Node 20 here: entry 16 777 217 throws "RangeError: Map maximum size exceeded").
import { overBudget, type Contender, type Store } from "./_contender.js";

const BYTES_PER_ENTRY = 40;
const MAX_MAP_ENTRIES = 2 ** 24;

class PageMapStore implements Store {
  readonly m = new Map<number, number>();
  get(gfn: number): number {
    return this.m.get(gfn) ?? 0;
  }
  set(start: number, end: number, value: number): void {
    const m = this.m;
    for (let g = start; g < end; g++) m.set(g, value);
  }
  isUniform(start: number, end: number, value: number): boolean {
    const m = this.m;
    for (let g = start; g < end; g++) if ((m.get(g) ?? 0) !== value) return false;
    return true;
  }
  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void): void {
    const m = this.m;
    let runStart = start;
    let runValue = m.get(start) ?? 0;
    for (let g = start + 1; g < end; g++) {
      const v = m.get(g) ?? 0;
      if (v !== runValue) {
        fn(runStart, g, runValue);
        runStart = g;
        runValue = v;
      }
    }
    fn(runStart, end, runValue);
  }
  getMany(gfns: Float64Array, from: number, n: number): number {
    const m = this.m;
    let s = 0;
    for (let i = from; i < from + n; i++) s += m.get(gfns[i]!) ?? 0;
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
    const m = this.m;
    let n = 1;
    let prev = m.get(start) ?? 0;
    for (let g = start + 1; g < end; g++) {
      const v = m.get(g) ?? 0;
      if (v !== prev) n++;
      prev = v;
    }
    return n;
  }
}

export const pageMap: Contender = {
  name: "per-page Map",
  valueMask: 255,
  cannotHold: (s) => {
    if (s.touchedPages > MAX_MAP_ENTRIES) return `${s.touchedPages} entries > V8 Map limit 2^24`;
    return overBudget(s.touchedPages * BYTES_PER_ENTRY, `${BYTES_PER_ENTRY} B per page set`);
  },
  create: async () => new PageMapStore(),
};
