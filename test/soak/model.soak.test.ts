// Soak: a long random workload through the Tracker (the Wasm core's state machine) against the
// per-page reference state machine (test/support/ref-tracker.ts), with memory sampled as it
// goes. `npm test` runs 2·10^5 operations; `npm run test:long` (MEMATTR_LONG=1) runs 10^7, and
// a mini-VMM run of 100 000 transactions on /dev/kvm where it is usable.
//
// Every operation's outcome (accepted or the error code) and result is compared at once; every
// page's value at checkpoints. Memory: the Wasm instance's linear memory, the tree's live bytes
// and the process RSS are sampled; after the warm-up (the first fifth) they must stay flat.
import { describe, expect, it } from "vitest";
import { RangeMap } from "../../src/core/range-map.js";
import { type PendingConversion, Tracker } from "../../src/model/index.js";
import { runVmmInChild } from "../../src/vmm/child.js";
import { kvmMissing } from "../kvm/_support.js";
import { type Code, type RefHandle, RefModel } from "../support/ref-tracker.js";

const LONG = process.env.MEMATTR_LONG === "1";
const OPS = LONG ? 10_000_000 : 200_000;
const CHECK_EVERY = LONG ? 20_000 : 5_000;
const SAMPLES = 50;
// 256 MiB + 64 MiB of guest memory with a hole between; the model's arrays cover [0, LIMIT).
const REGIONS = [
  { gfn: 0, npages: 65_536 },
  { gfn: 70_000, npages: 16_384 },
];
const LIMIT = 90_000;
const MAX_OPEN = 64;

/** splitmix32: seeded, so a failure names the seed and replays. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
}

function codeOf(fn: () => unknown): [Code, unknown] {
  try {
    return [null, fn()];
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === undefined) throw err;
    return [code, undefined];
  }
}

interface Sample {
  op: number;
  linear: number;
  live: number;
  rss: number;
}

describe("soak: the Tracker against the reference state machine", () => {
  it(`${OPS.toLocaleString("en")} random operations agree, and memory stays flat after the warm-up`, async () => {
    const seed = Number(process.env.MEMATTR_SEED ?? 20261203);
    const rand = rng(seed);
    const pick = (n: number) => Math.floor(rand() * n);
    const map = await RangeMap.create();
    using t = new Tracker(map, { regions: REGIONS });
    const m = new RefModel(REGIONS, LIMIT);
    const open: { c: PendingConversion; h: RefHandle }[] = [];
    const samples: Sample[] = [];
    const outcomes = new Map<string, number>();
    const fail = (i: number, what: string) => expect.fail(`seed ${seed}, operation ${i}: ${what}`);

    // hot spots where requests overlap and conflict, plus anywhere (hole and beyond included)
    const gfnOf = () => (rand() < 0.7 ? pick(2048) * 4 : pick(LIMIT));
    const npagesOf = () => (rand() < 0.8 ? 1 + pick(8) : rand() < 0.9 ? 1 + pick(512) : 1 + pick(8192));

    for (let i = 0; i < OPS; i++) {
      const r = rand();
      let code: Code;
      let want: Code;
      if (r < 0.3) {
        if (open.length >= MAX_OPEN) {
          const k = pick(open.length);
          const { c, h } = open.splice(k, 1)[0]!;
          c.commit();
          m.settle(h, "committed");
          continue;
        }
        const gfn = gfnOf();
        const npages = npagesOf();
        const to = rand() < 0.5 ? "private" : "shared";
        const preserve = !m.launched && rand() < 0.02;
        const [c1, got] = codeOf(() => t.requestConversion({ gfn, npages, to, preserve }));
        const e = m.requestApi(gfn, npages, to, preserve);
        [code, want] = [c1, typeof e === "string" ? e : null];
        if (code === null && typeof e === "object" && e !== null) {
          const c = got as PendingConversion;
          if (c.id !== e.id || c.npagesOwned !== e.owned.length) fail(i, `request: handle #${c.id}/${c.npagesOwned}, model #${e.id}/${e.owned.length}`);
          open.push({ c, h: e });
        }
      } else if (r < 0.55) {
        if (open.length === 0) continue;
        const { c, h } = open.splice(pick(open.length), 1)[0]!;
        const outcome = rand() < 0.8 ? "committed" : "aborted";
        [code] = codeOf(() => (outcome === "committed" ? c.commit() : c.abort()));
        want = m.settle(h, outcome);
      } else if (r < 0.62) {
        const gfn = gfnOf();
        const size = 4096 * (1 + pick(4));
        const priv = rand() < 0.5;
        const [c1, got] = codeOf(() => t.onMemoryFault({ gpa: gfn * 4096, size, private: priv }));
        const e = m.fault(gfn * 4096, size, priv);
        [code, want] = [c1, typeof e === "string" ? e : null];
        const d = got as ReturnType<Tracker["onMemoryFault"]> | undefined;
        if (d !== undefined && typeof e === "object" && e !== null) {
          if (e.kind !== d.kind) fail(i, `fault ${d.gfn}+${d.npages}: tracker ${d.kind}, model ${e.kind}`);
          if (d.kind === "convert" && e.handle) open.push({ c: d.conversion, h: e.handle });
        }
      } else if (r < 0.99) {
        const op = rand() < 0.6 ? "pop" : "disc";
        const side = rand() < 0.5 ? 0 : 1;
        const gfn = gfnOf();
        const npages = npagesOf();
        const name = side === 0 ? "shared" : "private";
        const [c1, got] = codeOf(() => (op === "pop" ? t.markPopulated(name, gfn, npages) : t.markDiscarded(name, gfn, npages)));
        const e = m.backing(op, side, gfn, npages);
        [code, want] = [c1, typeof e === "string" ? e : null];
        if (code === null && Array.isArray(e)) {
          const g = got as { npagesNew?: number; npagesRefault?: number; npagesFreed?: number };
          const counts = op === "pop" ? [g.npagesNew, g.npagesRefault] : [g.npagesFreed];
          if (counts.join() !== e.join()) fail(i, `${op} ${name} ${gfn}+${npages}: tracker ${counts}, model ${e}`);
        }
      } else {
        if (m.launched || rand() < 0.9) continue;
        [code] = codeOf(() => t.launch());
        want = m.launch();
      }
      if (code !== want) fail(i, `tracker ${code}, model ${want}`);
      const key = code ?? "ok";
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);

      if (i % CHECK_EVERY === CHECK_EVERY - 1) {
        const got = new Uint8Array(LIMIT);
        t.forEachRawRun((g, n, v) => got.fill(v, g, Math.min(g + n, LIMIT)));
        for (let g = 0; g < LIMIT; g++) if (got[g] !== m.value(g)) fail(i, `page ${g}: tracker 0x${got[g]!.toString(16)}, model 0x${m.value(g).toString(16)}`);
        if (t.pendingConversions().length !== open.length) fail(i, `${t.pendingConversions().length} open, expected ${open.length}`);
        map.checkInvariants();
        m.handles = m.handles.filter((h) => h.status === "pending"); // settled ones are done with
      }
      if (i % Math.floor(OPS / SAMPLES) === 0) {
        samples.push({ op: i, linear: map.linearMemoryBytes(), live: map.memoryBytes(), rss: process.memoryUsage().rss });
      }
    }

    const warm = samples.slice(Math.floor(samples.length / 5));
    const first = warm[0]!;
    const last = warm[warm.length - 1]!;
    const maxOf = (k: keyof Sample) => Math.max(...warm.map((s) => s[k]));
    console.log(
      `[soak] seed ${seed}: ${OPS.toLocaleString("en")} operations; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}; ` +
        `after warm-up: linear memory ${first.linear} → ${last.linear} B (max ${maxOf("linear")}), tree ${first.live} → ${last.live} B (max ${maxOf("live")}), ` +
        `RSS ${(first.rss / 2 ** 20).toFixed(1)} → ${(last.rss / 2 ** 20).toFixed(1)} MiB (max ${(maxOf("rss") / 2 ** 20).toFixed(1)})`,
    );
    // The workload is stationary, so after the warm-up memory must not keep growing: linear
    // memory only grows for a new peak of the tree, which is bounded by the guest's pages.
    expect(maxOf("linear")).toBeLessThanOrEqual(first.linear * 1.25 + 2 * 65536);
    const warmUpLive = Math.max(...samples.slice(0, samples.length - warm.length).map((s) => s.live));
    expect(maxOf("live")).toBeLessThanOrEqual(2 * warmUpLive + 65536);
    expect(maxOf("rss")).toBeLessThanOrEqual(first.rss * 1.5 + 64 * 2 ** 20);
    for (const k of ["ok", "ECONFLICT", "EOUTSIDE"]) expect(outcomes.get(k) ?? 0, k).toBeGreaterThan(0);
  }, 3_600_000);
});

describe.skipIf(!LONG || kvmMissing !== undefined)("soak: the mini-VMM on /dev/kvm (npm run test:long)", () => {
  it("runs 100 000 DMA transactions under the adaptive policy, every payload read back, nothing private seen shared", async () => {
    const r = await runVmmInChild({ guest: { kind: "dma" }, policy: "adaptive", transactions: 100_000, ramBytes: 64 * 2 ** 20 }, 3_000_000);
    if (!r.ok) expect.fail(`${r.reason}: ${r.detail}`);
    const rep = r.report;
    console.log(
      `[soak] mini-VMM: ${rep.transactionsDone} transactions in ${(r.wallMs / 1000).toFixed(1)} s; tracker ${rep.trackerMemoryBytes} B, ${rep.trackerRuns} runs; peak double allocation ${rep.peakDoubleAllocatedBytes} B`,
    );
    expect([rep.end, rep.transactionsDone, rep.payloadsChecked, rep.payloadsBad, rep.leakedWords, rep.staleSharedPages]).toEqual([
      "halted",
      100_000,
      100_000,
      0,
      0,
      0,
    ]);
    expect(rep.vmmErrors).toEqual([]);
  }, 3_600_000);
});
