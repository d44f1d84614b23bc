// The adversarial fragmentation case: a guest that fragments its memory on purpose. Two values
// alternating page by page, and four values at random, over 2^24 pages (64 GiB; quick runs:
// 2^18, where fixed costs weigh a little more per page).
// Shows memory per page (bits/page) for each contender, plus setup time and random gets.
// The maps are built run by run, in chunks, so the command list never exists whole.
import { createPrng } from "../src/trace/prng.js";
import { lazyGroup, QUICK, type BenchCase, type BenchGroup } from "./_harness.js";
import { Cmds, PRIVATE, randomGfns, sizeLabel } from "./_inputs.js";
import { buildAll, repeatCase, skipCase, verify, type CmdSource } from "./_setup.js";
import { CONTENDERS, type Shape } from "./contenders/index.js";

const BASELINE = "memattr, per call";
const SAMPLE_MS = QUICK ? 0.5 : 2;
const OPS = 4096;
export const ADVERSARIAL_PAGES = QUICK ? 2 ** 18 : 2 ** 24;
const CHUNK_RUNS = 2 ** 16;
const TIMING = QUICK ? { timeMs: 60, warmupMs: 20, minSamples: 4 } : { minSamples: 8 };

/** Every odd page private. */
function alternating(pages: number): CmdSource {
  return {
    *chunks() {
      for (let g = 1; g < pages; ) {
        const c = new Cmds();
        for (let i = 0; i < CHUNK_RUNS && g < pages; i++, g += 2) c.push(g, g + 1, PRIVATE);
        yield c;
      }
    },
  };
}

/** Each page a random value 0–3; equal neighbours set as one run. Returns the run count too. */
function fourRandom(pages: number, seed: number): { source: CmdSource; runs: number; touched: number } {
  const values = new Uint8Array(pages);
  const rng = createPrng(seed);
  for (let g = 0; g < pages; g += 16) {
    const r = rng.nextU32();
    for (let k = 0; k < 16; k++) values[g + k] = (r >>> (2 * k)) & 3;
  }
  let runs = 1;
  let touched = 0;
  for (let g = 0; g < pages; g++) {
    if (g > 0 && values[g] !== values[g - 1]) runs++;
    if (values[g] !== 0) touched++;
  }
  const source: CmdSource = {
    *chunks() {
      let c = new Cmds();
      for (let g = 0; g < pages; ) {
        let e = g + 1;
        while (e < pages && values[e] === values[g]) e++;
        if (values[g] !== 0) c.push(g, e, values[g]!);
        if (c.n === CHUNK_RUNS) {
          yield c;
          c = new Cmds();
        }
        g = e;
      }
      yield c;
    },
  };
  return { source, runs, touched };
}

function group(kind: string, make: () => { source: CmdSource; shape: Shape }): BenchGroup {
  const pages = ADVERSARIAL_PAGES;
  const title = `adversarial fragmentation, ${kind}, ${sizeLabel(pages)} guest (2^${Math.log2(pages)} 4K pages)`;
  return lazyGroup(
    title,
    BASELINE,
    async () => {
      const { source, shape } = make();
      const built = await buildAll(CONTENDERS, shape, source);
      verify(built, randomGfns(pages, 4000, 96), undefined, 0, Math.min(pages, 2 ** 16), shape.values <= 2);
      const pool = randomGfns(pages, 2 ** 20, 7);
      return {
        title,
        baseline: BASELINE,
        pages,
        note: `${shape.runs} runs over ${pages} pages. Memory: memattr's heap in linear memory, roaring's serialized size, the JS heap growth for the others. Gets: ${OPS} per call from 2^20 random pages.`,
        cases: built.map((b): BenchCase => {
          if (!b.store) return skipCase(b);
          let at = 0;
          const s = b.store;
          return repeatCase(b.contender.name, () => s.getMany(pool, (at = (at + OPS) & (2 ** 20 - 1)), OPS), OPS, b, SAMPLE_MS);
        }),
      };
    },
    { ...TIMING, pages },
  );
}

export async function groups(): Promise<BenchGroup[]> {
  const pages = ADVERSARIAL_PAGES;
  return [
    group("two values alternating page by page", () => ({
      source: alternating(pages),
      shape: { pages, runs: pages, touchedPages: pages / 2, values: 2 },
    })),
    group("four values at random", () => {
      const { source, runs, touched } = fourRandom(pages, 5);
      return { source, shape: { pages, runs, touchedPages: touched, values: 4 } };
    }),
  ];
}

export default { name: "adversarial", groups };
