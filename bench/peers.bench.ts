// memattr against its peers (flat Uint8Array, per-page Map, sorted-btree run map, two interval
// trees, roaring) on identical, seeded inputs in one process: point lookups, OVMF-style hot
// flips, random conversions, isUniform over 2 MiB and 1 GiB, run iteration, whole-guest
// conversion, and the ovmf-dma / linux-boot traces replayed as sets. Each group builds every
// contender on the same commands, checks they all answer alike, then times them.
// Sizes in the titles; "10 000 runs" = a booted guest with 5 000 scattered 1-page flips.
import { generateLinuxBoot } from "../src/trace/gen-linux-boot.js";
import { generateOvmfDma } from "../src/trace/gen-ovmf-dma.js";
import { lazyGroup, QUICK, type BenchCase, type BenchGroup } from "./_harness.js";
import {
  alignedQueries,
  bootedGuest,
  fragmentedGuest,
  GiB_PAGES,
  hotFlips,
  PRIVATE,
  randomConversions,
  randomGfns,
  SHARED,
  traceCmds,
  type Cmds,
} from "./_inputs.js";
import { buildAll, repeatCase, skipCase, verify, type Built } from "./_setup.js";
import { CONTENDERS, type Shape } from "./contenders/index.js";

const BASELINE = "memattr, per call";
const SAMPLE_MS = QUICK ? 0.5 : 2;
const FLIPS_10K_RUNS = 5000;
const OPS = 4096;

/** Gfns checked on every contender before timing. */
function sampleGfns(pages: number): Float64Array {
  return randomGfns(pages, 2000, 99);
}

function cases(built: Built[], make: (b: Built) => BenchCase): BenchCase[] {
  return built.map((b) => (b.store ? make(b) : skipCase(b)));
}

async function booted1GiB(): Promise<{ built: Built[]; shape: Shape; cmds: Cmds }> {
  const { cmds, shape } = bootedGuest(GiB_PAGES, FLIPS_10K_RUNS, 1);
  const built = await buildAll(CONTENDERS, shape, cmds);
  verify(built, sampleGfns(GiB_PAGES), alignedQueries(GiB_PAGES, 200, 512, PRIVATE, 5), 0, GiB_PAGES);
  return { built, shape, cmds };
}

const TEN_K = "1 GiB guest (2^18 4K pages, 10 000 runs)";

function getGroup(): BenchGroup {
  return lazyGroup(`random point lookups, ${TEN_K}`, BASELINE, async () => {
    const { built } = await booted1GiB();
    const pool = randomGfns(GiB_PAGES, 2 ** 20, 7);
    return {
      title: `random point lookups, ${TEN_K}`,
      baseline: BASELINE,
      note: `${OPS} gets per call, from a pool of 2^20 random pages.`,
      cases: cases(built, (b) => {
        let at = 0;
        const s = b.store!;
        return repeatCase(b.contender.name, () => s.getMany(pool, (at = (at + OPS) & (2 ** 20 - 1)), OPS), OPS, b, SAMPLE_MS);
      }),
    };
  });
}

function setGroup(title: string, note: string, makeCmds: () => Cmds): BenchGroup {
  return lazyGroup(title, BASELINE, async () => {
    const { built } = await booted1GiB();
    const ops = makeCmds();
    // one pass on every contender, then the same answers everywhere
    for (const b of built) b.store?.setMany(ops.a, ops.n);
    verify(built, sampleGfns(GiB_PAGES), undefined, 0, GiB_PAGES);
    return {
      title,
      baseline: BASELINE,
      note,
      cases: cases(built, (b) => {
        const s = b.store!;
        return repeatCase(b.contender.name, () => s.setMany(ops.a, ops.n), ops.n, b, SAMPLE_MS);
      }),
    };
  });
}

function isUniformGroup(kind: "fragmented" | "mostly uniform", npages: number, label: string): BenchGroup {
  const pages = 4 * GiB_PAGES;
  const title = `isUniform over aligned ${label} (${npages} pages), ${kind} map, 4 GiB guest (2^20 4K pages)`;
  return lazyGroup(title, BASELINE, async () => {
    const { cmds, shape } = kind === "fragmented" ? fragmentedGuest(pages, 256, 21) : bootedGuest(pages, 1000, 22);
    const built = await buildAll(CONTENDERS, shape, cmds);
    const n = npages >= GiB_PAGES ? 4 : 1024;
    const queries = alignedQueries(pages, n, npages, PRIVATE, 23);
    verify(built, sampleGfns(pages), queries, 0, Math.min(pages, 2 ** 16));
    let held = 0;
    for (let i = 0; i < n; i++) if (built[0]!.store!.isUniform(queries.a[3 * i]!, queries.a[3 * i + 1]!, PRIVATE)) held++;
    return {
      title,
      baseline: BASELINE,
      note: `${shape.runs} runs; ${n} queries for "all private", ${held} of them true.`,
      cases: cases(built, (b) => {
        const s = b.store!;
        return repeatCase(b.contender.name, () => s.isUniformMany(queries.a, queries.n), queries.n, b, SAMPLE_MS);
      }),
    };
  });
}

function runsGroup(): BenchGroup {
  return lazyGroup(`iterate all runs, ${TEN_K}`, BASELINE, async () => {
    const { built } = await booted1GiB();
    const runs = built[0]!.store!.countRuns(0, GiB_PAGES);
    return {
      title: `iterate all runs, ${TEN_K}`,
      baseline: BASELINE,
      note: `One op = one run visited; a call walks all ${runs} runs of the guest (per-page stores scan every page; roaring pages through its members).`,
      cases: cases(built, (b) => {
        const s = b.store!;
        return repeatCase(b.contender.name, () => s.countRuns(0, GiB_PAGES), runs, b, SAMPLE_MS);
      }),
    };
  });
}

function wholeGuestFromUniformGroup(): BenchGroup {
  const title = "convert the whole guest from uniform, 1 GiB guest (2^18 4K pages)";
  return lazyGroup(title, BASELINE, async () => {
    const { built } = await booted1GiB();
    for (const b of built) b.store?.set(0, GiB_PAGES, PRIVATE);
    verify(built, sampleGfns(GiB_PAGES), undefined, 0, GiB_PAGES);
    return {
      title,
      baseline: BASELINE,
      note: "Each op sets all 2^18 pages, alternately shared and private (uniform → uniform). The sweep repeats this from 1 GiB to 64 TiB.",
      cases: cases(built, (b) => {
        const s = b.store!;
        let v = 0;
        return repeatCase(b.contender.name, () => s.set(0, GiB_PAGES, (v ^= 1)), 1, b, SAMPLE_MS);
      }),
    };
  });
}

function wholeGuestFromRunsGroup(): BenchGroup {
  const title = `convert the whole guest from 10 000 runs, ${TEN_K}`;
  return lazyGroup(title, BASELINE, async () => {
    const { built, cmds } = await booted1GiB();
    return {
      title,
      baseline: BASELINE,
      note: "Each op sets all 2^18 pages shared; before each (untimed) the 10 000-run state is rebuilt.",
      cases: cases(built, (b) => {
        const s = b.store!;
        return {
          name: b.contender.name,
          opsPerSample: 1,
          memoryBytes: b.memoryBytes,
          setupMs: b.setupMs,
          beforeEach: () => s.setMany(cmds.a, cmds.n),
          run: () => s.set(0, GiB_PAGES, SHARED),
        };
      }),
    };
  });
}

function traceGroup(name: string, make: () => Cmds, what: string): BenchGroup {
  const title = `replay ${name} as sets, 1 GiB guest (2^18 4K pages)`;
  return lazyGroup(title, BASELINE, async () => {
    const cmds = make();
    // values 0–3 here, but roaring's bit 0 is the committed attribute, which the trace does
    // hold: a request leaves it as it was, a commit sets it. So roaring takes part (values: 2).
    const shape: Shape = { pages: GiB_PAGES, runs: 4 * cmds.n, touchedPages: GiB_PAGES, values: 2 };
    const built = await buildAll(CONTENDERS, shape, cmds);
    verify(built, sampleGfns(GiB_PAGES), undefined, 0, GiB_PAGES, false);
    return {
      title,
      baseline: BASELINE,
      note: `${what}: ${cmds.n} sets per replay (request → pending value, commit → final value); one op = one set; a sample replays the whole trace over the state the last one left. Roaring holds only the private bit (requests leave it unchanged).`,
      cases: cases(built, (b) => {
        const s = b.store!;
        return repeatCase(b.contender.name, () => s.setMany(cmds.a, cmds.n), cmds.n, b, SAMPLE_MS);
      }),
    };
  });
}

/** Quick runs shorten every case further: 13 groups × 8 contenders must fit CI time. */
const TIMING = QUICK ? { timeMs: 60, warmupMs: 20, minSamples: 4 } : { minSamples: 8 };

export async function groups(): Promise<BenchGroup[]> {
  const transactions = QUICK ? 2000 : 10_000;
  const conversions = QUICK ? 1000 : 5000;
  const all = [
    getGroup(),
    setGroup(`1-page flips at 4 hot pages (OVMF pattern), ${TEN_K}`, `${OPS} flips per call, private → shared → private at 4 hot gfns.`, () =>
      hotFlips(GiB_PAGES, OPS, 1, 4, 31),
    ),
    setGroup(`2-page flips at 4 hot pages (OVMF pattern), ${TEN_K}`, `${OPS} flips per call, 2 pages each.`, () => hotFlips(GiB_PAGES, OPS, 2, 4, 32)),
    setGroup(`random conversions of 1–512 pages, ${TEN_K}`, "1024 conversions per call: random start, 1–512 pages, to shared or private at random.", () =>
      randomConversions(GiB_PAGES, 1024, 512, 33),
    ),
    isUniformGroup("fragmented", 512, "2 MiB"),
    isUniformGroup("mostly uniform", 512, "2 MiB"),
    isUniformGroup("fragmented", GiB_PAGES, "1 GiB"),
    isUniformGroup("mostly uniform", GiB_PAGES, "1 GiB"),
    runsGroup(),
    wholeGuestFromUniformGroup(),
    wholeGuestFromRunsGroup(),
    traceGroup("ovmf-dma", () => traceCmds(generateOvmfDma({ guestBytes: 2 ** 30, transactions, seed: 1 }).events), `ovmf-dma, ${transactions} transactions`),
    traceGroup(
      "linux-boot",
      () => traceCmds(generateLinuxBoot({ guestBytes: 2 ** 30, conversions, seed: 1 }).events),
      `linux-boot, ${conversions} conversions`,
    ),
  ];
  return all.map((g) => ({ ...g, ...TIMING }));
}

export default { name: "peers", groups };
