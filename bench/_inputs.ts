// Seeded inputs shared by the peer suites, so every contender sees the same data.
//
// Short names: `pages` = guest size in 4 KiB pages (the guest is `[0, pages)`); `cmds` = packed
// (start, end, value) triples; values: 0 shared, 1 private (the private bit roaring holds),
// 2 pending-private, 3 pending-shared (traces only).
import { createPrng } from "../src/trace/prng.js";
import { MAP_GPA_RANGE_ENCRYPTED, type TraceEvent } from "../src/trace/format.js";
import type { Shape } from "./contenders/index.js";

export const SHARED = 0;
export const PRIVATE = 1;
export const PENDING_PRIVATE = 2;
export const PENDING_SHARED = 3;

export const GiB_PAGES = 2 ** 18;
export const TiB_PAGES = 2 ** 28;

/** "1 GiB", "64 TiB" … for a page count. */
export function sizeLabel(pages: number): string {
  const bytes = pages * 4096;
  for (const [unit, b] of [
    ["TiB", 2 ** 40],
    ["GiB", 2 ** 30],
    ["MiB", 2 ** 20],
  ] as const)
    if (bytes >= b) return `${bytes / b} ${unit}`;
  return `${bytes} B`;
}

/** Packed set commands, grown as needed. */
export class Cmds {
  a = new Float64Array(3 * 1024);
  n = 0;
  push(start: number, end: number, value: number): void {
    if (3 * this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[3 * this.n] = start;
    this.a[3 * this.n + 1] = end;
    this.a[3 * this.n + 2] = value;
    this.n++;
  }
}

/**
 * A booted guest: every page private, a shared bounce-buffer area (64 MiB at most, at a
 * quarter of the guest), then `flips` scattered 1-page conversions to shared — about
 * 2 × flips + 3 runs (flips = 5000 gives the "10 000 runs").
 */
export function bootedGuest(pages: number, flips: number, seed: number): { cmds: Cmds; shape: Shape } {
  const cmds = new Cmds();
  cmds.push(0, pages, PRIVATE);
  const bounceStart = Math.floor(pages / 4);
  const bouncePages = Math.min(16384, Math.floor(pages / 16));
  cmds.push(bounceStart, bounceStart + bouncePages, SHARED);
  const rng = createPrng(seed);
  for (let i = 0; i < flips; i++) {
    const g = rng.int(0, pages - 1);
    cmds.push(g, g + 1, SHARED);
  }
  return { cmds, shape: { pages, runs: 2 * flips + 3, touchedPages: pages, values: 2 } };
}

/** A fragmented guest: alternating runs of 1–`maxRun` pages, private and shared, over the whole guest. */
export function fragmentedGuest(pages: number, maxRun: number, seed: number): { cmds: Cmds; shape: Shape } {
  const cmds = new Cmds();
  const rng = createPrng(seed);
  let v = PRIVATE;
  let runs = 0;
  let nonZero = 0;
  for (let g = 0; g < pages; ) {
    const e = Math.min(pages, g + rng.int(1, maxRun));
    if (v !== SHARED) {
      cmds.push(g, e, v);
      nonZero += e - g;
    }
    runs++;
    g = e;
    v ^= 1;
  }
  return { cmds, shape: { pages, runs, touchedPages: nonZero, values: 2 } };
}

/** `n` random page numbers in `[0, pages)`. */
export function randomGfns(pages: number, n: number, seed: number): Float64Array {
  const rng = createPrng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(0, pages - 1);
  return out;
}

/**
 * The OVMF pattern: `n` flips at `hotSlots` hot bounce pages (`npages` each), in pairs —
 * private → shared, then back — so a whole sequence leaves the map as it found it.
 */
export function hotFlips(pages: number, n: number, npages: number, hotSlots: number, seed: number): Cmds {
  const rng = createPrng(seed);
  const base = Math.floor(pages / 2) + 1; // inside private memory, away from the bounce area
  const slots = Array.from({ length: hotSlots }, (_, i) => base + i * 64 + rng.int(0, 31));
  const cmds = new Cmds();
  for (let i = 0; i < n / 2; i++) {
    const g = slots[i % hotSlots]!;
    cmds.push(g, g + npages, SHARED);
    cmds.push(g, g + npages, PRIVATE);
  }
  return cmds;
}

/** `n` random conversions of 1–`maxPages` pages to a random value 0/1. */
export function randomConversions(pages: number, n: number, maxPages: number, seed: number): Cmds {
  const rng = createPrng(seed);
  const cmds = new Cmds();
  for (let i = 0; i < n; i++) {
    const npages = rng.int(1, maxPages);
    const g = rng.int(0, pages - npages);
    cmds.push(g, g + npages, rng.int(0, 1));
  }
  return cmds;
}

/** `n` isUniform queries over aligned ranges of `npages` pages, asking for `value`. */
export function alignedQueries(pages: number, n: number, npages: number, value: number, seed: number): Cmds {
  const rng = createPrng(seed);
  const cmds = new Cmds();
  for (let i = 0; i < n; i++) {
    const g = rng.int(0, pages / npages - 1) * npages;
    cmds.push(g, g + npages, value);
  }
  return cmds;
}

/**
 * A generated trace's conversion effects as set commands, in order: a request sets its range to
 * pending (2 to private, 3 to shared), its commit to the final value (1 or 0), an abort back to
 * the value before the request (taken as the opposite of the target: the generators only
 * request ranges that are all on the other side). Touches and launch change nothing here;
 * no syscalls.
 */
export function traceCmds(events: Iterable<TraceEvent>): Cmds {
  const open = new Map<number, { gfn: number; npages: number; toPrivate: boolean }>();
  const cmds = new Cmds();
  for (const e of events) {
    if (e.type === "request" || e.type === "hypercall") {
      const gfn = e.type === "request" ? e.gfn : Math.floor(e.gpa / 4096);
      const toPrivate = e.type === "request" ? e.to === "private" : (e.attrs & MAP_GPA_RANGE_ENCRYPTED) !== 0;
      open.set(e.id, { gfn, npages: e.npages, toPrivate });
      cmds.push(gfn, gfn + e.npages, toPrivate ? PENDING_PRIVATE : PENDING_SHARED);
    } else if (e.type === "commit" || e.type === "abort") {
      const t = open.get(e.id);
      if (!t) continue;
      open.delete(e.id);
      const committed = e.type === "commit" ? t.toPrivate : !t.toPrivate;
      cmds.push(t.gfn, t.gfn + t.npages, committed ? PRIVATE : SHARED);
    }
  }
  return cmds;
}
