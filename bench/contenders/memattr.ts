// memattr itself, two ways: one Wasm call per operation ("per call"), and the bulk paths
// ("batched"): the command buffer `map.batch()` for sets, `getMany` for gets (Float64Array gfns,
// the input every contender gets; a Uint32Array path exists for gfns < 2^32), `isUniformMany`.
// Bytes held = the map's heap in linear memory (`heapBytes()`: every block ever handed out,
// live or free), i.e. what the map holds beyond the fixed instance (static buffers, 128 KiB),
// as the JS contenders' figure is beyond the heap baseline. Linear memory itself grows in
// 64 KiB Wasm pages, too coarse for small maps.
import { RangeMap } from "../../src/core/range-map.js";
import type { Contender, Store } from "./_contender.js";

class MemattrStore implements Store {
  constructor(readonly map: RangeMap) {}
  get(gfn: number): number {
    return this.map.get(gfn);
  }
  set(start: number, end: number, value: number): void {
    this.map.set(start, end, value);
  }
  isUniform(start: number, end: number, value: number): boolean {
    return this.map.isUniform(start, end, value);
  }
  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void): void {
    this.map.forEachRun(start, end, fn);
  }
  getMany(gfns: Float64Array, from: number, n: number): number {
    const map = this.map;
    let s = 0;
    for (let i = from; i < from + n; i++) s += map.get(gfns[i]!);
    return s;
  }
  setMany(cmds: Float64Array, n: number): void {
    const map = this.map;
    for (let i = 0; i < 3 * n; i += 3) map.set(cmds[i]!, cmds[i + 1]!, cmds[i + 2]!);
  }
  isUniformMany(cmds: Float64Array, n: number): number {
    const map = this.map;
    let k = 0;
    for (let i = 0; i < 3 * n; i += 3) if (map.isUniform(cmds[i]!, cmds[i + 1]!, cmds[i + 2]!)) k++;
    return k;
  }
  countRuns(start: number, end: number): number {
    let n = 0;
    this.map.forEachRun(start, end, () => {
      n++;
    });
    return n;
  }
  ownBytes(): number {
    return this.map.heapBytes();
  }
  dispose(): void {
    this.map.dispose();
  }
}

/** The same map; bulk methods go through the batch buffer and getMany. */
class MemattrBatchedStore extends MemattrStore {
  private out = new Uint8Array(4096);
  override getMany(gfns: Float64Array, from: number, n: number): number {
    if (this.out.length < n) this.out = new Uint8Array(n);
    const out = this.map.getMany(gfns.subarray(from, from + n), this.out);
    let s = 0;
    for (let i = 0; i < n; i++) s += out[i]!;
    return s;
  }
  override setMany(cmds: Float64Array, n: number): void {
    const batch = this.map.batch();
    for (let i = 0; i < 3 * n; i += 3) batch.set(cmds[i]!, cmds[i + 1]!, cmds[i + 2]!);
    batch.run();
  }
  override isUniformMany(cmds: Float64Array, n: number): number {
    // the triples are already in the core's query layout: one copy, checked in Wasm
    if (this.out.length < n) this.out = new Uint8Array(n);
    const r = this.map.isUniformMany(cmds.length === 3 * n ? cmds : cmds.subarray(0, 3 * n), this.out);
    let k = 0;
    for (let i = 0; i < n; i++) k += r[i]!;
    return k;
  }
}

async function create(batched: boolean): Promise<Store> {
  const map = await RangeMap.create();
  return batched ? new MemattrBatchedStore(map) : new MemattrStore(map);
}

export const memattrPerCall: Contender = {
  name: "memattr, per call",
  valueMask: 255,
  cannotHold: () => undefined, // 2^40 pages; memory bounded by runs (docs/design.md)
  create: () => create(false),
};

export const memattrBatched: Contender = {
  name: "memattr, batched",
  valueMask: 255,
  cannotHold: () => undefined,
  create: () => create(true),
};
