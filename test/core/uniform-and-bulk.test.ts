// isUniform's one-descent path (a range inside one chunk: uniform slot or word-wise leaf compare)
// and the lazy freeing of nodes a whole-range set detaches (the garbage stack in alloc.ts):
// answers against a byte-per-page model, exact memory accounting, bounded memory.
import { describe, expect, test } from "vitest";
import { RangeMap } from "../../src/core/range-map.js";
import { MemattrMemoryError } from "../../src/core/errors.js";

const CHUNK = 4096;

/** A deterministic generator (xorshift32), so failures reproduce. */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

function modelUniform(model: Uint8Array, s: number, e: number, v: number): boolean {
  for (let g = s; g < e; g++) if (model[g] !== v) return false;
  return true;
}

/** Fragments [0, pages) with `runs` random runs of values below `values`, on map and model. */
function fragment(map: RangeMap, model: Uint8Array, runs: number, values: number, seed: number): void {
  const rnd = prng(seed);
  for (let i = 0; i < runs; i++) {
    const s = rnd(model.length);
    const e = Math.min(model.length, s + 1 + rnd(300));
    const v = rnd(values);
    map.set(s, e, v);
    model.fill(v, s, e);
  }
}

/** Queries at chunk edges, inside chunks, across chunks, of 1…4096 pages; single and batched. */
function checkQueries(map: RangeMap, model: Uint8Array, seed: number, values: number): void {
  const rnd = prng(seed);
  const q: number[] = [];
  const pages = model.length;
  for (let i = 0; i < 600; i++) {
    const chunk = rnd(pages / CHUNK) * CHUNK;
    let s: number, e: number;
    switch (i % 6) {
      case 0:
        s = chunk;
        e = chunk + CHUNK;
        break; // one whole chunk
      case 1:
        s = chunk + CHUNK - 1 - rnd(64);
        e = chunk + CHUNK;
        break; // ends at the chunk edge
      case 2:
        s = chunk;
        e = chunk + 1 + rnd(64);
        break; // starts at the chunk edge
      case 3:
        s = chunk + rnd(CHUNK);
        e = s + 1 + rnd(chunk + CHUNK - s);
        break; // inside one chunk
      case 4:
        s = chunk + (rnd(8) << 9);
        e = s + 512;
        break; // aligned 2 MiB
      default:
        s = rnd(pages - 1);
        e = Math.min(pages, s + 1 + rnd(3 * CHUNK)); // maybe across chunks
    }
    // the value: the first page's (often true) or another
    const v = i % 3 === 0 ? rnd(values) : model[s]!;
    q.push(s, e, v);
  }
  const batched = map.isUniformMany(Float64Array.from(q));
  for (let i = 0; i < q.length / 3; i++) {
    const [s, e, v] = [q[3 * i]!, q[3 * i + 1]!, q[3 * i + 2]!];
    const want = modelUniform(model, s, e, v);
    expect(map.isUniform(s, e, v), `isUniform(${s}, ${e}, ${v})`).toBe(want);
    expect(batched[i], `isUniformMany[${i}] (${s}, ${e}, ${v})`).toBe(want ? 1 : 0);
    const u = map.uniformValue(s, e);
    expect(u).toBe(modelUniform(model, s, e, model[s]!) ? model[s]! : -1);
  }
}

describe("isUniform inside one chunk", () => {
  for (const values of [2, 3, 5, 17]) {
    // 2 values: 1-bit leaves; 3: 2-bit; 5: 4-bit; 17: 8-bit
    test(`matches the model on leaves of ${values} values`, async () => {
      using map = await RangeMap.create();
      const model = new Uint8Array(16 * CHUNK);
      fragment(map, model, 400, values, values);
      map.checkInvariants();
      checkQueries(map, model, 100 + values, values);
    });
  }

  test("uniform slots, the tail and ranges beyond the tree answer in O(1) and correctly", async () => {
    using map = await RangeMap.create();
    map.set(0, 8 * CHUNK, 3);
    map.set(CHUNK + 5, CHUNK + 6, 4); // chunk 1 a leaf, the rest uniform
    expect(map.isUniform(0, CHUNK, 3)).toBe(true);
    expect(map.isUniform(2 * CHUNK, 3 * CHUNK, 3)).toBe(true);
    expect(map.isUniform(2 * CHUNK, 3 * CHUNK, 4)).toBe(false);
    expect(map.isUniform(CHUNK, CHUNK + 5, 3)).toBe(true);
    expect(map.isUniform(CHUNK + 5, CHUNK + 6, 4)).toBe(true);
    expect(map.isUniform(CHUNK + 4, CHUNK + 6, 3)).toBe(false);
    expect(map.isUniform(CHUNK + 6, 2 * CHUNK, 3)).toBe(true);
    expect(map.isUniform(2 ** 39, 2 ** 39 + 512, 0)).toBe(true); // the tail
    expect(map.isUniform(2 ** 40 - 512, 2 ** 40, 0)).toBe(true);
    expect(map.isUniform(2 ** 40 - 512, 2 ** 40, 3)).toBe(false);
    expect(Array.from(map.isUniformMany(Float64Array.of(0, CHUNK, 3, CHUNK, 2 * CHUNK, 3, 2 ** 39, 2 ** 39 + 1, 0)))).toEqual([1, 0, 1]);
  });

  test("a bad query in a batch throws", async () => {
    using map = await RangeMap.create();
    expect(() => map.isUniformMany(Float64Array.of(0, 512, 0, 5, 5, 0, 0, 1, 0))).toThrow();
    // the answers before the bad query are written, the rest of `out` is left alone
    const out = new Uint8Array([9, 9, 9, 9]);
    expect(() => map.isUniformMany(Float64Array.of(0, 512, 0, 0, 1, 7, 5, 5, 0, 0, 1, 0), out)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(Array.from(out)).toEqual([1, 0, 9, 9]);
    expect(() => map.isUniformMany(Float64Array.of(0, 512, 256))).toThrow();
    expect(() => map.isUniformMany(Float64Array.of(0, 2 ** 40 + 1, 0))).toThrow();
    expect(() => map.isUniformMany(Float64Array.of(0.5, 2, 0))).toThrow();
  });
});

describe("whole-range sets over fragmented guests", () => {
  test("a whole-guest set frees the dropped subtrees exactly (memoryBytes, invariants)", async () => {
    using map = await RangeMap.create();
    for (const pages of [64 * CHUNK, 1024 * CHUNK, 2 ** 28]) {
      const model = new Uint8Array(Math.min(pages, 64 * CHUNK));
      const rnd = prng(pages % 97);
      for (let i = 0; i < 3000; i++) {
        const g = rnd(pages);
        map.set(g, g + 1, 1 + rnd(2));
      }
      map.set(0, pages, 0);
      map.checkInvariants();
      expect(map.memoryBytes()).toBe(0);
      expect(map.runCount()).toBe(1);
      expect(map.isUniform(0, pages, 0)).toBe(true);
      // partly covered chunks at both ends keep their leaves
      fragment(map, model, 300, 3, 7);
      map.set(100, model.length - 100, 2);
      model.fill(2, 100, model.length - 100);
      map.checkInvariants();
      checkQueries(map, model, 9, 3);
      map.set(0, 2 ** 40, 0);
      map.checkInvariants();
      expect(map.memoryBytes()).toBe(0);
    }
  });

  test("alternating fragment and whole-guest set keeps memory bounded", async () => {
    using map = await RangeMap.create();
    const pages = 256 * CHUNK;
    const heaps: number[] = [];
    for (let cycle = 0; cycle < 40; cycle++) {
      const rnd = prng(cycle + 1);
      for (let i = 0; i < 2000; i++) {
        const g = rnd(pages);
        map.set(g, g + 1 + rnd(3), 1 + rnd(cycle % 4 === 0 ? 20 : 2)); // some cycles widen leaves
      }
      map.set(0, pages, cycle & 1);
      heaps.push(map.heapBytes());
      if (cycle % 8 === 0) map.checkInvariants();
    }
    map.checkInvariants();
    // dropped blocks are reused: the heap stays near its first peak, below every chunk an 8-bit leaf
    expect(Math.max(...heaps.slice(8))).toBeLessThan(heaps[8]! * 1.1);
    expect(Math.max(...heaps)).toBeLessThan(256 * 4632 + 64 * 1024);
  });

  test("under a memory cap: cycles reuse the dropped blocks (no ENOMEM); ENOMEM leaves the map unchanged", async () => {
    const pages = 512 * CHUNK;
    {
      using map = await RangeMap.create();
      map.setMemoryLimit(4 * 1024 * 1024); // room for 512 8-bit leaves once, not twice
      for (let cycle = 0; cycle < 12; cycle++) {
        const rnd = prng(cycle + 50);
        for (let i = 0; i < 3000; i++) {
          const g = rnd(pages);
          map.set(g, g + 1, 1 + rnd(200));
        }
        map.set(0, pages, 0);
        if (cycle % 4 === 0) map.checkInvariants();
      }
      map.checkInvariants();
      expect(map.memoryBytes()).toBe(0);
    }
    {
      using map = await RangeMap.create();
      map.setMemoryLimit(1024 * 1024);
      const rnd = prng(77);
      let failed = 0;
      for (let i = 0; i < 3000; i++) {
        const g = rnd(pages);
        const before = map.get(g);
        try {
          map.set(g, g + 1, 1 + rnd(200));
        } catch (err) {
          expect(err).toBeInstanceOf(MemattrMemoryError);
          expect(map.get(g)).toBe(before);
          failed++;
        }
      }
      expect(failed).toBeGreaterThan(0); // 8-bit leaves over 512 chunks do not fit in 1 MiB
      map.checkInvariants();
    }
  });
});
