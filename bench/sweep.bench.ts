// How cost grows with guest size: 1 GiB, 64 GiB (full runs only), 1 TiB and 64 TiB guests, each booted with
// 10 000 runs, every contender built on the same commands. Per size: setup time, memory held
// and random point lookups (one group), then whole-guest conversion from uniform (another).
// A contender that cannot hold a size says so (decided from its documented estimate in
// bench/contenders/*.ts, never by trying).
import { lazyGroup, QUICK, type BenchCase, type BenchGroup } from "./_harness.js";
import { bootedGuest, PRIVATE, randomGfns, sizeLabel } from "./_inputs.js";
import { build, buildAll, repeatCase, skipCase, verify, type Built } from "./_setup.js";
import { CONTENDERS, type Shape } from "./contenders/index.js";
import { Cmds } from "./_inputs.js";

const BASELINE = "memattr, per call";
const SAMPLE_MS = QUICK ? 0.5 : 2;
const OPS = 4096;
const POOL = 2 ** 20;
// quick runs leave out 64 GiB: the per-page Map holds it (2^24 entries, V8's limit) but takes
// ~4 s to build and ~2 s per whole-guest op, more than CI time allows
export const SWEEP_PAGES = QUICK ? [2 ** 18, 2 ** 28, 2 ** 34] : [2 ** 18, 2 ** 24, 2 ** 28, 2 ** 34];
// a per-page Map at 64 GiB rewrites the guest in ~2 s per op: few samples
const TIMING = QUICK ? { timeMs: 60, warmupMs: 20, minSamples: 2 } : { minSamples: 5 };

function cases(built: Built[], make: (b: Built) => BenchCase): BenchCase[] {
  return built.map((b) => (b.store ? make(b) : skipCase(b)));
}

function title(kind: string, pages: number, runs = true): string {
  return `sweep: ${kind}, ${sizeLabel(pages)} guest (2^${Math.log2(pages)} 4K pages${runs ? ", 10 000 runs" : ""})`;
}

function getGroup(pages: number): BenchGroup {
  const t = title("setup, memory and random point lookups", pages);
  return lazyGroup(
    t,
    BASELINE,
    async () => {
      const { cmds, shape } = bootedGuest(pages, 5000, 1);
      const built = await buildAll(CONTENDERS, shape, cmds);
      verify(built, randomGfns(pages, 2000, 98), undefined, 0, Math.min(pages, 2 ** 20));
      const pool = randomGfns(pages, POOL, 7);
      return {
        title: t,
        baseline: BASELINE,
        note: `Setup = building the booted guest (all private, a 64 MiB shared area, 5 000 scattered shared pages) with the contender's own bulk path. Gets: ${OPS} per call from a pool of 2^20 random pages.`,
        cases: cases(built, (b) => {
          let at = 0;
          const s = b.store!;
          return repeatCase(b.contender.name, () => s.getMany(pool, (at = (at + OPS) & (POOL - 1)), OPS), OPS, b, SAMPLE_MS);
        }),
      };
    },
    TIMING,
  );
}

function wholeGuestGroup(pages: number): BenchGroup {
  const t = title("convert the whole guest from uniform", pages, false);
  return lazyGroup(
    t,
    BASELINE,
    async () => {
      const cmds = new Cmds();
      cmds.push(0, pages, PRIVATE);
      const shape: Shape = { pages, runs: 1, touchedPages: pages, values: 2 };
      const built: Built[] = [];
      for (const c of CONTENDERS) built.push(await build(c, shape, cmds));
      verify(built, randomGfns(pages, 200, 97));
      return {
        title: t,
        baseline: BASELINE,
        note: "Each op sets every page of the guest, alternately shared and private (uniform → uniform).",
        cases: cases(built, (b) => {
          const s = b.store!;
          let v = PRIVATE;
          return repeatCase(b.contender.name, () => s.set(0, pages, (v ^= 1)), 1, b, SAMPLE_MS);
        }),
      };
    },
    TIMING,
  );
}

export async function groups(): Promise<BenchGroup[]> {
  return SWEEP_PAGES.flatMap((p) => [getGroup(p), wholeGuestGroup(p)]);
}

export default { name: "sweep", groups };
