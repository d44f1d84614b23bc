// Micro-measurement of the model's hot conversion (standalone, not in run.ts):
//   node --import tsx bench/short-update.bench.ts [label=path/to/memattr.wasm …]
//
// One conversion = the two calls the model makes per page flip: the request
// updateIfUniform(g, g+n, 3, toPrivate ? 0 : 1, 0, 2) and the commit
// update(g, g+n, toPrivate ? 2 : 3, toPrivate ? 1 : 0), so a page cycles
// shared 0 → pending 2 → private 1 → pending 3 → shared 0. Cases by size (1 and 2 pages):
// the same pages over and over (pages 1000–1001), and random aligned gfns over a 4 GiB guest
// (1 Mi pages, private, with scattered shared pages so every chunk is a leaf); then a page alone
// in a chunk above the guest, whose chunk splits and collapses on every cycle (the short edit's
// fallback to the general path on half of the calls). Several .wasm
// files given as label=path (a copy of an older build, say) run side by side, each in its own
// processes. MEMATTR_BENCH_CONVERSIONS / MEMATTR_BENCH_ROUNDS shorten or lengthen it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RangeMap } from "../src/core/range-map.js";

const GUEST_PAGES = 1 << 20;
const CONVERSIONS = Number(process.env.MEMATTR_BENCH_CONVERSIONS ?? 1_000_000);
const ROUNDS = Number(process.env.MEMATTR_BENCH_ROUNDS ?? 5);

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/** A private guest with a shared page every 512 pages (so each 4096-page chunk is a leaf). */
async function buildGuest(wasm: Uint8Array): Promise<RangeMap> {
  const map = await RangeMap.create({ wasm });
  map.set(0, GUEST_PAGES, 1);
  for (let g = 7; g < GUEST_PAGES; g += 512) map.set(g, g + 1, 0);
  return map;
}

interface Case {
  name: string;
  /** Runs CONVERSIONS conversions; returns ns per conversion. */
  run: (map: RangeMap, state: Uint8Array) => number;
}

/** `CONVERSIONS` flips of `npages` pages at gfns from `gfnAt(i)`; state[g] = 1 when private. */
function flips(npages: number, gfnAt: (i: number) => number) {
  return (map: RangeMap, state: Uint8Array): number => {
    const t0 = performance.now();
    for (let i = 0; i < CONVERSIONS; i++) {
      const g = gfnAt(i);
      const toPrivate = state[g] === 0;
      const u = map.updateIfUniform(g, g + npages, 3, toPrivate ? 0 : 1, 0, 2);
      if (u !== (toPrivate ? 0 : 1)) throw new Error(`request of ${g} saw ${u}`);
      map.update(g, g + npages, toPrivate ? 2 : 3, toPrivate ? 1 : 0);
      state[g] = toPrivate ? 1 : 0;
    }
    return ((performance.now() - t0) * 1e6) / CONVERSIONS;
  };
}

const RANDOM_GFNS = 1 << 16;
// multiples of 8: a 2-page range stays in one leaf and never holds a shared page g ≡ 7 (mod 512)
const rnd = lcg(42);
const random = Int32Array.from({ length: RANDOM_GFNS }, () => Math.floor(rnd() * (GUEST_PAGES / 8)) * 8);

const CASES: Case[] = [
  { name: "1 page, same gfn", run: flips(1, () => 1000) },
  { name: "2 pages, same gfns", run: flips(2, () => 1000) },
  { name: "1 page, random gfn", run: flips(1, (i) => random[i & (RANDOM_GFNS - 1)]) },
  { name: "2 pages, random gfns", run: flips(2, (i) => random[i & (RANDOM_GFNS - 1)]) },
  { name: "1 page alone in its chunk", run: flips(1, () => GUEST_PAGES + 1000) },
];

/** One build in this process: warm up, then one timed run per case; prints ns per case as JSON. */
async function runChild(path: string): Promise<void> {
  const wasm = new Uint8Array(readFileSync(path));
  const out: Record<string, number> = {};
  for (const c of CASES) {
    const map = await buildGuest(wasm);
    const state = new Uint8Array(2 * GUEST_PAGES).fill(1, 0, GUEST_PAGES); // shared above the guest
    for (let g = 7; g < GUEST_PAGES; g += 512) state[g] = 0;
    c.run(map, state); // warm-up: JIT, tier-up, the leaves' palettes
    out[c.name] = c.run(map, state);
    map.checkInvariants();
    map.dispose();
  }
  console.log(JSON.stringify(out));
}

const child = process.env.MEMATTR_BENCH_CHILD;
if (child !== undefined) {
  await runChild(child);
} else {
  // each build in processes of its own (one build per process keeps the facade's call sites
  // monomorphic), alternating round by round so a busy machine skews them alike
  const args = process.argv.slice(2);
  const builds = (args.length > 0 ? args : ["current=wasm/memattr.wasm"]).map((arg) => {
    const [label, path] = arg.includes("=") ? arg.split("=", 2) : [arg, arg];
    return { label, path };
  });
  const results = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const b of builds) {
      const stdout = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
        env: { ...process.env, MEMATTR_BENCH_CHILD: b.path },
        encoding: "utf8",
      });
      for (const [name, ns] of Object.entries(JSON.parse(stdout) as Record<string, number>)) {
        const key = `${name}|${b.label}`;
        results.set(key, [...(results.get(key) ?? []), ns]);
      }
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`ns per conversion (request + commit through RangeMap), ${CONVERSIONS} conversions, ${ROUNDS} rounds: median (min)\n`);
  console.log(`| case | ${builds.map((b) => b.label).join(" | ")} |`);
  console.log(`|---|${builds.map(() => "---:").join("|")}|`);
  for (const c of CASES) {
    const cells = builds.map((b) => {
      const xs = results.get(`${c.name}|${b.label}`)!;
      return `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)})`;
    });
    console.log(`| ${c.name} | ${cells.join(" | ")} |`);
  }
}
