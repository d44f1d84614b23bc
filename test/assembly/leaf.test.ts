// Leaves (assembly/leaf.ts): palette widths, re-encoding, and the memory bounds a hostile guest
// must not break. The bound tests print the measured figures.
import { describe, expect, test } from "vitest";
import { RangeMap } from "../../src/core/range-map.js";

const GUEST_PAGES = 2 ** 24; // a 64 GiB guest
const CHUNK = 4096;

function bitsPerPage(bytes: number, pages: number): number {
  return (bytes * 8) / pages;
}

/** Sets every page of [0, pages) for which pick(g) is nonzero, through the batch. */
function paint(map: RangeMap, pages: number, pick: (g: number) => number): void {
  const batch = map.batch();
  for (let g = 0; g < pages; g++) {
    const v = pick(g);
    if (v !== 0) batch.set(g, g + 1, v);
    if (batch.size === 4096) batch.run();
  }
  batch.run();
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16;
}

describe("palette widths", () => {
  test("widens a chunk to 8 bits per page past 16 values and reads every value back", async () => {
    using map = await RangeMap.create();
    for (let v = 0; v < 256; v++) map.set(CHUNK + v * 3, CHUNK + v * 3 + 2, v);
    for (let v = 0; v < 256; v++) expect(map.get(CHUNK + v * 3 + 1)).toBe(v);
    map.checkInvariants();
    expect(map.memoryBytes()).toBe(536 + 4632); // one node, one 8-bit leaf
    map.set(CHUNK, 2 * CHUNK, 9);
    expect(map.memoryBytes()).toBe(536); // the leaf is gone; the node keeps chunk 1 at 9
    map.set(CHUNK, 2 * CHUNK, 0);
    expect(map.memoryBytes()).toBe(0);
    map.checkInvariants();
  });

  test("re-encodes narrower when a long range set leaves few values", async () => {
    using map = await RangeMap.create();
    for (let v = 1; v <= 5; v++) map.set(v * 10, v * 10 + 1, v); // 6 values: 4 bits
    expect(map.memoryBytes()).toBe(2104);
    map.set(0, 1000, 1); // one range of ≥ 64 pages: 2 values left, back to 1 bit
    expect(map.memoryBytes()).toBe(536);
    map.checkInvariants();
  });

  test("remaps only the palette when an update covers a whole chunk", async () => {
    using map = await RangeMap.create();
    paint(map, CHUNK, (g) => g & 1);
    map.update(0, CHUNK, 0, 4); // 0→4, 1→5: one-to-one
    expect(map.get(0)).toBe(4);
    expect(map.get(1)).toBe(5);
    map.update(0, CHUNK, 1, 0); // 4→4, 5→4: merges, the chunk becomes uniform
    expect(map.memoryBytes()).toBe(0);
    expect(map.runCount()).toBe(2);
    map.checkInvariants();
  });
});

describe("memory bounds against a hostile guest", () => {
  test("two values alternating page by page over 2^24 pages stay within 1.1 bits per page", async () => {
    using map = await RangeMap.create();
    paint(map, GUEST_PAGES, (g) => g & 1);
    expect(map.runCount()).toBe(GUEST_PAGES + 1);
    const bits = bitsPerPage(map.memoryBytes(), GUEST_PAGES);
    console.log(
      `alternating 2 values over 2^24 pages: ${map.memoryBytes()} B of tree data = ${bits.toFixed(3)} bits/page; ` +
        `whole linear memory ${map.linearMemoryBytes()} B = ${bitsPerPage(map.linearMemoryBytes(), GUEST_PAGES).toFixed(3)} bits/page`,
    );
    expect(bits).toBeLessThanOrEqual(1.1);
    expect(map.linearMemoryBytes()).toBeLessThanOrEqual(2.4e6);
    map.checkInvariants();
  });

  test("four values at random over 2^24 pages stay within 2.2 bits per page", async () => {
    using map = await RangeMap.create();
    const rnd = lcg(42);
    paint(map, GUEST_PAGES, () => rnd() & 3);
    const bits = bitsPerPage(map.memoryBytes(), GUEST_PAGES);
    console.log(
      `4 random values over 2^24 pages: ${map.memoryBytes()} B of tree data = ${bits.toFixed(3)} bits/page; ` +
        `whole linear memory ${map.linearMemoryBytes()} B = ${bitsPerPage(map.linearMemoryBytes(), GUEST_PAGES).toFixed(3)} bits/page`,
    );
    expect(bits).toBeLessThanOrEqual(2.2);
    map.checkInvariants();
  });

  test("a handful of runs anywhere in the page space stays under 64 KiB", async () => {
    using map = await RangeMap.create();
    const starts = [5, 70_001, 2 ** 20 + 17, 2 ** 30 + 3, 2 ** 39 + 11, 2 ** 40 - 9];
    starts.forEach((s, i) => map.set(s, Math.min(2 ** 40, s + 1000 + i), 1 + (i % 3)));
    console.log(`${map.runCount()} runs: ${map.memoryBytes()} B of tree data, linear memory ${map.linearMemoryBytes()} B`);
    expect(map.memoryBytes()).toBeLessThan(64 * 1024);
    map.checkInvariants();
  });

  test("converting a fragmented area back to uniform frees its memory for reuse", async () => {
    using map = await RangeMap.create();
    const pages = 2 ** 20;
    paint(map, pages, (g) => g & 1);
    const fragmentedBytes = map.memoryBytes();
    const linearBytes = map.linearMemoryBytes();
    map.set(0, pages, 0);
    console.log(`fragmented 2^20 pages: ${fragmentedBytes} B; after converting back to uniform: ${map.memoryBytes()} B`);
    expect(map.memoryBytes()).toBe(0);
    paint(map, pages, (g) => 1 - (g & 1));
    expect(map.memoryBytes()).toBe(fragmentedBytes);
    expect(map.linearMemoryBytes()).toBe(linearBytes); // reused, not grown
    map.checkInvariants();
  });
});

describe("values cycling at hot pages", () => {
  /** The flat model's runs over [0, pages). */
  function flatRuns(flat: Uint8Array): number {
    let n = 1;
    for (let g = 1; g < flat.length; g++) if (flat[g] !== flat[g - 1]) n++;
    return n;
  }

  test("a cycle 1 → 3 → 2 → 0 at 1–2 pages of 4 chunks matches a flat model after every step", async () => {
    using map = await RangeMap.create();
    const pages = 8 * CHUNK;
    const flat = new Uint8Array(pages);
    const hot = [CHUNK + 5, 3 * CHUNK + 4094, 4 * CHUNK + 63, 6 * CHUNK + 100];
    const cycle = [1, 3, 2, 0];
    for (let round = 0; round < 12; round++) {
      for (const [i, g] of hot.entries()) {
        const np = 1 + ((round + i) & 1);
        // every other round the rest of the chunk is not uniform: a second value nearby
        if (round === 6) {
          map.set(g - 3, g - 2, 7);
          flat[g - 3] = 7;
        }
        for (const v of cycle) {
          map.set(g, g + np, v);
          flat.fill(v, g, g + np);
          map.checkInvariants();
          for (let o = g - 2; o < g + 3; o++) expect(map.get(o)).toBe(flat[o]);
          for (const x of [0, 1, 2, 3, 7]) expect(map.countInRange(0, pages, x)).toBe(flat.filter((y) => y === x).length);
          expect(map.runCount()).toBe(flatRuns(flat));
        }
      }
    }
  });

  test("the cycle allocates nothing once warm (the heap stays flat)", async () => {
    using map = await RangeMap.create();
    map.set(0, 2 ** 18, 1);
    const hot = [0x10000, 0x23002, 0x31004, 0x3f006];
    const round = (np: number): void => {
      for (const g of hot) for (const v of [0, 3, 2, 1]) map.set(g, g + np, v);
    };
    round(1);
    round(2);
    const heap = map.heapBytes();
    for (let i = 0; i < 200; i++) round(1 + (i & 1));
    expect(map.heapBytes()).toBe(heap);
    map.checkInvariants();
  });

  test("widening a leaf (word-wise spread) keeps every page at widths 1 → 2 → 4 → 8", async () => {
    using map = await RangeMap.create();
    const flat = new Uint8Array(2 * CHUNK);
    const rand = lcg(5);
    for (let g = CHUNK; g < 2 * CHUNK; g++) if (rand() & 1) flat[g] = 1;
    paint(map, 2 * CHUNK, (g) => flat[g]!);
    for (const v of [2, 5, 40]) {
      // a third, fifth and seventeenth value: each widens the leaf once
      const g = CHUNK + ((rand() * 7) % CHUNK);
      map.set(g, g + 1, v);
      flat[g] = v;
      if (v === 40) for (let k = 6; k < 20; k++) map.set(CHUNK + 4000 + k, CHUNK + 4001 + k, (flat[CHUNK + 4000 + k] = 100 + k));
      map.checkInvariants();
      for (let o = CHUNK; o < 2 * CHUNK; o++) expect(map.get(o)).toBe(flat[o]);
    }
  });
});
