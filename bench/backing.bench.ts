// Micro-measurement of a page flip on real backings (not a timed test; standalone):
//   node --import tsx bench/backing.bench.ts
//
// One flip = a page changes sides once: the side it leaves is hole-punched (one fallocate
// PUNCH_HOLE|KEEP_SIZE) and the side it enters is written (a refault: the page was punched on
// the previous flip). "Without discard" the same writes land on pages that stay populated.
// Compared with DESIGN's C figures for this host: ~19–20 µs per flip with discard,
// 0.06–0.08 µs without. Memslots are bound, so guest_memfd punches pay KVM's invalidation.
import { Bench } from "tinybench";
import { createRealBackings, probeRealBackings } from "../src/backing/real/index.js";

const probe = probeRealBackings();
if (!probe.available) {
  console.log(`backing bench skipped: ${probe.reason}`);
  process.exit(0);
}

const REGIONS = [{ gfn: 0, npages: 1024 }];
const b = await createRealBackings({ regions: REGIONS });
const { shared, private: priv } = b;

const FLIPS_WITH_DISCARD = 64; // flips per sample: keeps tinybench's ~50 ns per-sample overhead out
const FLIPS_WITHOUT = 8192;

/** One flip of `npages` pages from `gfn`; `toPrivate` alternates. */
let toPrivate = true;
function flipWithDiscard(gfn: number, npages: number): void {
  const range = [{ gfn, npages }];
  if (toPrivate) {
    shared.discard(range);
    priv.touch(gfn, npages, true);
  } else {
    priv.discard(range);
    shared.touch(gfn, npages, true);
  }
  toPrivate = !toPrivate;
}
function flipWithoutDiscard(gfn: number, npages: number): void {
  (toPrivate ? priv : shared).touch(gfn, npages, true);
  toPrivate = !toPrivate;
}

// Both sides start populated, as after the first flips of a DMA page.
shared.touch(0x10, 2, true);
priv.touch(0x10, 2, true);
shared.touch(0x20, 2, true);
priv.touch(0x20, 2, true);

const bench = new Bench({ time: 1500, warmupTime: 300 });
bench
  .add("1-page flip, punch-hole + refault (4K pages)", () => {
    for (let i = 0; i < FLIPS_WITH_DISCARD; i++) flipWithDiscard(0x10, 1);
  })
  .add("1-page flip, no discard (4K pages)", () => {
    for (let i = 0; i < FLIPS_WITHOUT; i++) flipWithoutDiscard(0x10, 1);
  })
  .add("2-page flip, punch-hole + refault (4K pages)", () => {
    for (let i = 0; i < FLIPS_WITH_DISCARD; i++) flipWithDiscard(0x20, 2);
  })
  .add("2-page flip, no discard (4K pages)", () => {
    for (let i = 0; i < FLIPS_WITHOUT; i++) flipWithoutDiscard(0x20, 2);
  });

const before = { s: shared.stats, p: priv.stats };
await bench.run();
const after = { s: shared.stats, p: priv.stats };

const perTask = [FLIPS_WITH_DISCARD, FLIPS_WITHOUT, FLIPS_WITH_DISCARD, FLIPS_WITHOUT];
const nsPerFlip = bench.tasks.map((task, i) => {
  const r = task.result;
  if (!("latency" in r)) throw new Error(`${task.name}: ${r.state}`);
  return (r.latency.mean * 1e6) / perTask[i]!;
});

console.log(`memattr backing flip cost — ${b.label}, memslots ${b.memslotCount}`);
console.log("case".padEnd(48) + "ns/flip".padStart(12));
bench.tasks.forEach((t, i) => console.log(t.name.padEnd(48) + nsPerFlip[i]!.toFixed(1).padStart(12)));
console.log(`ratio with/without discard: 1 page ${(nsPerFlip[0]! / nsPerFlip[1]!).toFixed(0)}×, 2 pages ${(nsPerFlip[2]! / nsPerFlip[3]!).toFixed(0)}×`);
const calls = after.s.discardCalls - before.s.discardCalls + after.p.discardCalls - before.p.discardCalls;
const ns = after.s.discardNs - before.s.discardNs + after.p.discardNs - before.p.discardNs;
console.log(
  `time inside fallocate (measured around each call): ${(ns / calls).toFixed(0)} ns/call over ${calls} calls ` +
    `(memfd ${((after.s.discardNs - before.s.discardNs) / (after.s.discardCalls - before.s.discardCalls)).toFixed(0)}, ` +
    `guest_memfd ${((after.p.discardNs - before.p.discardNs) / (after.p.discardCalls - before.p.discardCalls)).toFixed(0)})`,
);
console.log("C reference on this host (DESIGN / issue 5): ~19–20 µs per flip with discard, 0.06–0.08 µs without.");
b.close();
