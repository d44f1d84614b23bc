/**
 * `adversarial`: a hostile guest that tries to make the host's bookkeeping and memory blow
 * up. After `launch` and bulk acceptance as private (touching all of it, so the private side
 * is fully populated), it runs up to three phases, in this order:
 * - `alternate`: converts every other page to shared, one single-page request each, leaving
 *   guestPages / 2 runs — the worst case for a run list and for the kernel's per-gfn XArray;
 * - `random`: walks all memory converting runs of 1–`maxRunPages` pages to a random side;
 * - `flood`: `floodRequests` single-page requests at random gfns to random sides.
 * Every conversion is followed by a write on the side it converted to, so a policy that never
 * discards ends up holding both copies of every page.
 *
 * Short names: `gfn`/`npages` as in format.ts; `guestPages` the guest's size in pages, one
 * region `[0, guestPages)`.
 *
 * Events for the defaults and a 1 GiB guest (262 144 pages): 3 per conversion; alternate
 * 131 072 conversions, random ~105 000, flood 65 536 — about 900 000 events.
 */
import { MemattrRangeError } from "../core/errors.js";
import { acceptRange, DEFAULT_GUEST_BYTES, Emitter, generatedHeader, guestPagesOf, intParam, MIB_PAGES, rateParam, replayable } from "./_gen.js";
import type { CommonGeneratorOptions, GeneratedTrace } from "./_gen.js";
import type { TraceEvent } from "./format.js";
import { createPrng } from "./prng.js";

/** The phases of {@link generateAdversarial}. */
export type AdversarialPhase = "alternate" | "random" | "flood";

/** Parameters of {@link generateAdversarial}; defaults are sized for a 1 GiB guest. */
export interface AdversarialOptions extends CommonGeneratorOptions {
  /** Phases to run, in the order given. Default all three: alternate, random, flood. */
  phases?: AdversarialPhase[];
  /** Single-page requests in the flood phase. Default 65 536. */
  floodRequests?: number;
  /** Longest run converted at once in the random phase. Default 4. */
  maxRunPages?: number;
  /** Probability that a conversion is aborted once before it is retried and committed. Default 0. */
  abortRate?: number;
}

const NAME = "adversarial";
const PHASES: readonly AdversarialPhase[] = ["alternate", "random", "flood"];

/**
 * Generates the hostile-guest workload, lazily and deterministically for a seed. Iterating
 * it for a 64 TiB guest is possible (events are made one at a time); storing it is not.
 *
 * @param options guest size, seed, phases and sizes (see {@link AdversarialOptions}).
 * @returns the header and a re-iterable event sequence; every request is committed or aborted.
 * @throws MemattrTypeError or MemattrRangeError for a bad option (an unknown phase, a guest below 2 MiB).
 * @example
 * ```ts
 * import { generateAdversarial } from "memattr";
 * const { events } = generateAdversarial({ guestBytes: 2 ** 21, phases: ["alternate"] });
 * console.log([...events].filter((e) => e.type === "request" && e.to === "shared").length); // 256
 * ```
 */
export function generateAdversarial(options: AdversarialOptions = {}): GeneratedTrace {
  const seed = intParam(NAME, "seed", options.seed ?? 1, 0, 2 ** 32 - 1);
  const guestBytes = options.guestBytes ?? DEFAULT_GUEST_BYTES;
  const guestPages = guestPagesOf(guestBytes, 2 * MIB_PAGES, NAME);
  const phases = options.phases ?? [...PHASES];
  for (const p of phases) if (!PHASES.includes(p)) throw new MemattrRangeError(`${NAME}: unknown phase ${JSON.stringify(p)} (phases: ${PHASES.join(", ")})`);
  const floodRequests = intParam(NAME, "floodRequests", options.floodRequests ?? 65_536, 0, Number.MAX_SAFE_INTEGER);
  const maxRunPages = intParam(NAME, "maxRunPages", options.maxRunPages ?? 4, 1, 2 ** 20);
  const abortRate = rateParam(NAME, "abortRate", options.abortRate ?? 0);

  const params = { guestBytes, phases: phases.join(","), floodRequests, maxRunPages, abortRate };
  const header = generatedHeader(NAME, seed, guestPages, params);

  function* events(): Generator<TraceEvent> {
    const rng = createPrng(seed);
    const em = new Emitter(rng, abortRate);
    function* convertAndWrite(gfn: number, npages: number, to: "private" | "shared"): Generator<TraceEvent> {
      yield* em.convert(gfn, npages, to);
      yield { type: "touch", gfn, npages, side: to, write: true };
    }
    yield { type: "launch" };
    yield* acceptRange(rng, em, 0, guestPages, 2 * MIB_PAGES, 64 * MIB_PAGES);
    for (let gfn = 0; gfn < guestPages; gfn += 2 * MIB_PAGES) {
      yield { type: "touch", gfn, npages: Math.min(2 * MIB_PAGES, guestPages - gfn), side: "private", write: true };
    }
    for (const phase of phases) {
      if (phase === "alternate") {
        for (let gfn = 1; gfn < guestPages; gfn += 2) yield* convertAndWrite(gfn, 1, "shared");
      } else if (phase === "random") {
        for (let gfn = 0; gfn < guestPages; ) {
          const npages = Math.min(rng.int(1, maxRunPages), guestPages - gfn);
          yield* convertAndWrite(gfn, npages, rng.chance(0.5) ? "shared" : "private");
          gfn += npages;
        }
      } else {
        for (let i = 0; i < floodRequests; i++) yield* convertAndWrite(rng.int(0, guestPages - 1), 1, rng.chance(0.5) ? "shared" : "private");
      }
    }
  }

  return { header, events: replayable(events) };
}
