// The core against a flat per-page Uint8Array (the speed limit for point lookups) doing the
// same work in the same run: get, a 1-page flip, a 512-page (2 MiB) uniform check — each per
// call and batched. Sizes in the titles; a guest looks like a booted CVM: private memory, a
// 64 MiB shared bounce-buffer area, and scattered 4 KiB flips.
import { RangeMap } from "../src/core/range-map.js";
import type { CoreExports } from "../src/core/load.js";
import { consume, QUICK, type BenchCase, type BenchGroup } from "./_harness.js";

const PRIVATE = 1;
const SHARED = 0;
const PENDING = 2;
const OPS = 4096;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

interface Guest {
  pages: number;
  map: RangeMap;
  flat: Uint8Array;
}

/** A booted guest: private, a shared bounce-buffer area, `flips` scattered shared/pending pages. */
async function buildGuest(pages: number, flips: number, seed: number): Promise<Guest> {
  const map = await RangeMap.create();
  const flat = new Uint8Array(pages);
  map.set(0, pages, PRIVATE);
  flat.fill(PRIVATE);
  const bounceStart = pages / 4;
  const bounceEnd = bounceStart + Math.min(16384, pages / 16);
  map.set(bounceStart, bounceEnd, SHARED);
  flat.fill(SHARED, bounceStart, bounceEnd);
  const rnd = lcg(seed);
  const batch = map.batch();
  for (let i = 0; i < flips; i++) {
    const g = Math.floor(rnd() * pages);
    const v = i % 8 === 0 ? PENDING : SHARED;
    batch.set(g, g + 1, v);
    flat[g] = v;
  }
  batch.run();
  return { pages, map, flat };
}

function randomGfns(pages: number, seed: number, align = 1): Float64Array {
  const rnd = lcg(seed);
  return Float64Array.from({ length: OPS }, () => Math.floor((rnd() * pages) / align) * align);
}

/**
 * Random gets from a pool of POOL_GFNS distinct gfns, OPS per sample, a new window each sample:
 * a pool much larger than OPS keeps the flat array from living in cache when it is big.
 */
const POOL_GFNS = 2 ** 20;

function getGroup(title: string, guest: Guest): BenchGroup {
  const { map, flat } = guest;
  const pool = Float64Array.from({ length: POOL_GFNS }, lcgGfns(guest.pages, 7));
  const pool32 = Uint32Array.from(pool); // only used when every gfn is below 2^32
  const out = new Uint8Array(OPS);
  const raw: CoreExports = map.exports();
  let window = 0;
  const next = (): number => (window = (window + OPS) & (POOL_GFNS - 1));
  const cases: BenchCase[] = [
    {
      name: "flat Uint8Array",
      opsPerSample: OPS,
      run: () => {
        const base = next();
        let s = 0;
        for (let i = 0; i < OPS; i++) s += flat[pool[base + i]!]!;
        consume(s);
      },
    },
    {
      name: "RangeMap.get, per call",
      opsPerSample: OPS,
      run: () => {
        const base = next();
        let s = 0;
        for (let i = 0; i < OPS; i++) s += map.get(pool[base + i]!);
        consume(s);
      },
    },
    {
      name: "Wasm export get, per call (no validation)",
      opsPerSample: OPS,
      run: () => {
        const base = next();
        let s = 0;
        for (let i = 0; i < OPS; i++) s += raw.get(pool[base + i]!);
        consume(s);
      },
    },
    {
      name: "RangeMap.getMany, batched",
      opsPerSample: OPS,
      run: () => {
        const base = next();
        map.getMany(pool.subarray(base, base + OPS), out);
        consume(out[OPS - 1]!);
      },
    },
    ...(guest.pages <= 2 ** 32
      ? [
          {
            name: "RangeMap.getMany, batched, Uint32Array gfns",
            opsPerSample: OPS,
            run: () => {
              const base = next();
              map.getMany(pool32.subarray(base, base + OPS), out);
              consume(out[OPS - 1]!);
            },
          },
        ]
      : []),
  ];
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  return {
    title,
    baseline: "flat Uint8Array",
    cases,
    note: `${map.runCount()} runs; ${mib(map.memoryBytes())} MiB of tree data vs ${mib(flat.length)} MiB flat; gets drawn from ${POOL_GFNS} random pages.`,
  };
}

function lcgGfns(pages: number, seed: number): () => number {
  const rnd = lcg(seed);
  return () => Math.floor(rnd() * pages);
}

function flipGroup(title: string, guest: Guest): BenchGroup {
  const { map, flat } = guest;
  const gfns = randomGfns(guest.pages, 11);
  let pass = 0;
  const batch = map.batch();
  const cases: BenchCase[] = [
    {
      name: "flat Uint8Array",
      opsPerSample: OPS,
      run: () => {
        const v = pass++ & 1 ? PRIVATE : SHARED;
        for (let i = 0; i < OPS; i++) flat[gfns[i]!] = v;
      },
    },
    {
      name: "RangeMap.set, per call",
      opsPerSample: OPS,
      run: () => {
        const v = pass++ & 1 ? PRIVATE : SHARED;
        for (let i = 0; i < OPS; i++) {
          const g = gfns[i]!;
          map.set(g, g + 1, v);
        }
      },
    },
    {
      name: "RangeMapBatch.set, batched",
      opsPerSample: OPS,
      run: () => {
        const v = pass++ & 1 ? PRIVATE : SHARED;
        for (let i = 0; i < OPS; i++) {
          const g = gfns[i]!;
          batch.set(g, g + 1, v);
        }
        batch.run();
      },
    },
  ];
  return { title, baseline: "flat Uint8Array", cases, note: "4096 random pages flipped shared ↔ private, alternately, so leaves are created and freed." };
}

function isUniformGroup(title: string, map: RangeMap, flat: Uint8Array, from: number, to: number, value: number, note: string): BenchGroup {
  const rnd = lcg(3);
  const starts = Float64Array.from({ length: OPS }, () => from + Math.floor((rnd() * (to - from)) / 512) * 512);
  const batch = map.batch();
  const triples = new Float64Array(3 * OPS);
  for (let i = 0; i < OPS; i++) triples.set([starts[i]!, starts[i]! + 512, value], 3 * i);
  const uniformOut = new Uint8Array(OPS);
  const cases: BenchCase[] = [
    {
      name: "flat Uint8Array",
      opsPerSample: OPS,
      run: () => {
        let n = 0;
        for (let i = 0; i < OPS; i++) {
          const s = starts[i]!;
          let ok = 1;
          for (let g = s; g < s + 512; g++) {
            if (flat[g] !== value) {
              ok = 0;
              break;
            }
          }
          n += ok;
        }
        consume(n);
      },
    },
    {
      name: "RangeMap.isUniform, per call",
      opsPerSample: OPS,
      run: () => {
        let n = 0;
        for (let i = 0; i < OPS; i++) if (map.isUniform(starts[i]!, starts[i]! + 512, value)) n++;
        consume(n);
      },
    },
    {
      name: "RangeMapBatch.isUniform, batched",
      opsPerSample: OPS,
      run: () => {
        for (let i = 0; i < OPS; i++) batch.isUniform(starts[i]!, starts[i]! + 512, value);
        consume(batch.run()[OPS - 1]!);
      },
    },
    {
      name: "RangeMap.isUniformMany, batched (f64 triples)",
      opsPerSample: OPS,
      run: () => {
        consume(map.isUniformMany(triples, uniformOut)[OPS - 1]!);
      },
    },
  ];
  return { title, baseline: "flat Uint8Array", cases, note };
}

/** Setting a whole guest from a uniform map: constant in guest size (a slot per tree level). */
async function wholeGuestGroup(): Promise<BenchGroup> {
  const map = await RangeMap.create();
  const flat = new Uint8Array(2 ** 18);
  const REPS = 256;
  let pass = 0;
  const sized = (label: string, pages: number): BenchCase => ({
    name: `RangeMap.set(0, ${label}), uniform → uniform`,
    opsPerSample: REPS,
    run: () => {
      for (let i = 0; i < REPS; i++) map.set(0, pages, pass++ & 1);
    },
  });
  return {
    title: "set a whole guest from uniform (1 GiB → 64 TiB)",
    baseline: "RangeMap.set(0, 1 GiB), uniform → uniform",
    note: "Each op rewrites every page of the guest; the map holds only the guest's range and the rest of the page space.",
    cases: [
      {
        name: "flat Uint8Array.fill, 1 GiB",
        opsPerSample: REPS,
        run: () => {
          for (let i = 0; i < REPS; i++) flat.fill(pass++ & 1);
        },
      },
      sized("1 GiB", 2 ** 18),
      sized("1 TiB", 2 ** 28),
      sized("64 TiB", 2 ** 34),
    ],
  };
}

/** The groups of this suite, built fresh (maps and arrays allocated here). */
export async function groups(): Promise<BenchGroup[]> {
  const GiB = 2 ** 18; // pages
  const TiB = 2 ** 28;
  const small = await buildGuest(GiB, 2000, 1);
  const out: BenchGroup[] = [getGroup("get, 1 GiB guest (2^18 4K pages, 2 000 scattered flips)", small)];
  if (!QUICK || process.env.MEMATTR_BENCH_TIB === "1") {
    const big = await buildGuest(TiB, 20_000, 2);
    out.push(getGroup("get, 1 TiB guest (2^28 4K pages, 20 000 scattered flips)", big));
  }
  out.push(flipGroup("set 1 page (flip), 1 GiB guest", await buildGuest(GiB, 2000, 1)));

  // isUniform: first half uniform private, second half alternating page by page
  const map = await RangeMap.create();
  const flat = new Uint8Array(GiB).fill(PRIVATE);
  map.set(0, GiB, PRIVATE);
  const b = map.batch();
  for (let g = GiB / 2; g < GiB; g += 2) {
    b.set(g, g + 1, SHARED);
    flat[g] = SHARED;
  }
  b.run();
  out.push(
    isUniformGroup(
      "isUniform 512 pages (2 MiB), uniform area, 1 GiB guest",
      map,
      flat,
      0,
      GiB / 2,
      PRIVATE,
      "Every range is uniform: the flat array reads all 512 bytes.",
    ),
  );
  out.push(
    isUniformGroup(
      "isUniform 512 pages (2 MiB), fragmented area, 1 GiB guest",
      map,
      flat,
      GiB / 2,
      GiB,
      SHARED,
      "Pages alternate: both stop at the second page.",
    ),
  );
  out.push(await wholeGuestGroup());
  return out;
}

export default { name: "core", groups };
