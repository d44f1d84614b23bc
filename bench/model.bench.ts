// The conversion hot path, from the core up: what one OVMF-style flip (1–2 pages at a hot gfn,
// private ↔ shared) costs in the core (set/update cycling three values), in the model
// (request + commit) and with a policy's decision on top. Sizes in the titles; per-op figures
// are per conversion (or per core call where the title says so).
//
// Run alone: `node --expose-gc --import tsx bench/run.ts model` (MEMATTR_BENCH_QUICK=1 shortens).
import { RangeMap } from "../src/core/range-map.js";
import { Tracker } from "../src/model/tracker.js";
import { adaptivePolicy } from "../src/policy/adaptive.js";
import { eagerPolicy } from "../src/policy/eager.js";
import { neverPolicy } from "../src/policy/never.js";
import type { DiscardPolicy } from "../src/policy/types.js";
import { CLASS_COUNT } from "../src/viz/palette.js";
import { bucketRuns, MapViewport } from "../src/viz/map-view.js";
import { consume, type BenchCase, type BenchGroup } from "./_harness.js";

const GIB_PAGES = 2 ** 18;
const CYCLES = 1024;
/** Hot bounce-buffer gfns, as in the ovmf-dma generator (a few slots, 1–2 pages each). */
const HOT = [0x1000, 0x1002, 0x1004, 0x1006];

async function freshMap(): Promise<RangeMap> {
  return RangeMap.create();
}

/**
 * The ovmf-dma cycle as sets: private → pending-shared → shared → pending-private (1, 3, 2, 0)
 * at 4 hot gfns in 4 chunks whose other pages all hold 0, so each chunk empties every cycle.
 */
function cycleCase(map: RangeMap, npages: number): BenchCase {
  const hot = [0x10000, 0x23002, 0x31004, 0x3f006];
  return {
    name: `set(g,g+${npages},v): 4-value cycle 1,3,2,0 at 4 hot chunks`,
    opsPerSample: CYCLES * 16,
    run: () => {
      for (let i = 0; i < CYCLES; i++) {
        for (const g of hot) {
          map.set(g, g + npages, 1);
          map.set(g, g + npages, 3);
          map.set(g, g + npages, 2);
          map.set(g, g + npages, 0);
        }
      }
    },
  };
}

async function coreGroup(): Promise<BenchGroup> {
  const three = await freshMap();
  const two = await freshMap();
  const upd = await freshMap();
  upd.set(0, GIB_PAGES, 0x91);
  upd.set(50, 51, 0x81); // one other value: the chunk is a leaf
  const updWide = await freshMap();
  updWide.set(0, GIB_PAGES, 0x91);
  for (let g = 0; g < 4096; g += 7) updWide.set(g, g + 1, 0x80 | (g % 13)); // a 4-bit leaf
  const cases: BenchCase[] = [
    {
      name: "set(100,102,v): 2-value cycle 1,0",
      opsPerSample: CYCLES * 2,
      run: () => {
        for (let i = 0; i < CYCLES; i++) {
          two.set(100, 102, 1);
          two.set(100, 102, 0);
        }
      },
    },
    {
      name: "set(100,102,v): 3-value cycle 1,2,0",
      opsPerSample: CYCLES * 3,
      run: () => {
        for (let i = 0; i < CYCLES; i++) {
          three.set(100, 102, 1);
          three.set(100, 102, 2);
          three.set(100, 102, 0);
        }
      },
    },
    {
      name: "update 1 page, toggle a bit (2-value leaf)",
      opsPerSample: CYCLES * 2,
      run: () => {
        for (let i = 0; i < CYCLES; i++) {
          upd.update(100, 101, 0, 0x02);
          upd.update(100, 101, 0x02, 0);
        }
      },
    },
    {
      name: "update 2 pages, toggle a bit (4-bit leaf)",
      opsPerSample: CYCLES * 2,
      run: () => {
        for (let i = 0; i < CYCLES; i++) {
          updWide.update(100, 102, 0, 0x02);
          updWide.update(100, 102, 0x02, 0);
        }
      },
    },
    cycleCase(await freshMap(), 1),
    cycleCase(await freshMap(), 2),
  ];
  return { title: "core: edits cycling values on a hot range, per call", baseline: "set(100,102,v): 2-value cycle 1,0", cases };
}

/** A 1 GiB guest, all private, private side populated: what ovmf-dma has after acceptance. */
async function guest(): Promise<Tracker> {
  const t = new Tracker(await RangeMap.create(), { regions: [{ gfn: 0, npages: GIB_PAGES }], initial: "private" });
  t.markPopulated("private", 0, GIB_PAGES);
  return t;
}

/**
 * One transaction, as ovmf-dma does it: flip the bounce pages private → shared, the device
 * writes them (shared populated), flip back shared → private. Two conversions.
 */
function transactionCase(name: string, t: Tracker, policy: DiscardPolicy | null, touch: boolean): BenchCase {
  let k = 0;
  const ROUNDS = 256;
  return {
    name,
    opsPerSample: ROUNDS * 2,
    run: () => {
      for (let i = 0; i < ROUNDS; i++) {
        const slot = k++ & 3;
        const gfn = HOT[slot]!;
        const npages = 1 + (slot & 1);
        const a = t.requestConversion({ gfn, npages, to: "shared" });
        a.commit();
        if (policy !== null) applyBatch(t, policy.onCommit(t, a, 0));
        if (touch) t.markPopulated("shared", gfn, npages);
        const b = t.requestConversion({ gfn, npages, to: "private" });
        b.commit();
        if (policy !== null) applyBatch(t, policy.onCommit(t, b, 0));
      }
      consume(k);
    },
  };
}

function applyBatch(t: Tracker, batch: ReturnType<DiscardPolicy["onCommit"]>): void {
  if (batch === null) return;
  for (const r of batch.shared) t.markDiscarded("shared", r.gfn, r.npages);
  for (const r of batch.private) t.markDiscarded("private", r.gfn, r.npages);
}

async function modelGroup(): Promise<BenchGroup> {
  return {
    title: "model: request + commit, 1–2 pages at 4 hot gfns, 1 GiB guest, per conversion",
    baseline: "request+commit",
    note: "A transaction = private→shared, device write (markPopulated shared), shared→private; figures are per conversion (half a transaction).",
    cases: [
      transactionCase("request+commit", await guest(), null, false),
      transactionCase("request+commit + markPopulated", await guest(), null, true),
      transactionCase("+ never policy", await guest(), neverPolicy(), true),
      transactionCase("+ adaptive policy", await guest(), adaptivePolicy(), true),
      transactionCase("+ eager policy (model only, no syscalls)", await guest(), eagerPolicy(), true),
    ],
  };
}

/**
 * The visualiser's frame: a 64 TiB guest fragmented into 4 000 runs, bucketed into the cells of
 * a fitted 1000 × 430 view (bucketRuns walks runs, not pages: a per-page walk would be 2^34 steps).
 */
async function vizGroup(): Promise<BenchGroup> {
  const npages = 2 ** 34;
  const t = new Tracker(await RangeMap.create(), { regions: [{ gfn: 0, npages }] });
  for (let i = 0; i < 2000; i++) t.requestConversion({ gfn: i * 2 ** 23, npages: 2 ** 22, to: "private" }).commit();
  const vp = new MapViewport();
  vp.setExtent([{ gfn: 0, npages }]);
  vp.setSize(1000, 430);
  vp.fit();
  const w = vp.window;
  const counts = new Float64Array(w.cols * w.rows * CLASS_COUNT);
  return {
    title: `viz: one frame of a 64 TiB guest (${t.runCount()} runs) bucketed into ${w.cols} × ${w.rows} cells`,
    baseline: "bucketRuns, whole guest",
    cases: [
      {
        name: "bucketRuns, whole guest",
        opsPerSample: 1,
        run: () => {
          counts.fill(0);
          consume(bucketRuns(t, [{ gfn: 0, npages }], w, counts));
        },
      },
    ],
  };
}

async function groups(): Promise<BenchGroup[]> {
  return [await coreGroup(), await modelGroup(), await vizGroup()];
}

export default { name: "model", groups };
