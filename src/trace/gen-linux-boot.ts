/**
 * `linux-boot`: a confidential Linux guest booting. The VMM writes the kernel image into
 * shared memory and encrypts it in place (`preserve`, before launch); `launch`; the guest
 * accepts all memory as private in chunks of 2 MiB to 256 MiB; makes a 64 MiB swiotlb
 * buffer shared; then drivers make scattered allocate-and-convert calls (a TDX
 * grub boot made about 5 000, most under 32 KiB), some freed again (converted back), with
 * DMA traffic through the swiotlb and private-side work in between.
 *
 * Short names: `gfn`/`npages` as in format.ts; `cell` an 8-page (32 KiB) unit of the
 * allocator this generator models (an allocation takes whole cells, so two live allocations
 * never overlap and every touch knows the state of its pages); `guestPages` the guest's
 * size in pages, one region `[0, guestPages)`.
 *
 * Events for the defaults and a 1 GiB guest: ~25 acceptance chunks, then per conversion
 * about 2 (request, commit) + 1 shared touch + 0.3 × 2 frees + 0.5 DMA touches + 0.5 private
 * touches — roughly 20 000 events in all.
 */
import { acceptRange, DEFAULT_GUEST_BYTES, Emitter, generatedHeader, guestPagesOf, intParam, MIB_PAGES, rateParam, replayable } from "./_gen.js";
import type { CommonGeneratorOptions, GeneratedTrace } from "./_gen.js";
import type { TraceEvent } from "./format.js";
import { createPrng } from "./prng.js";
import type { Prng } from "./prng.js";

/** Parameters of {@link generateLinuxBoot}; defaults are sized for a 1 GiB guest. */
export interface LinuxBootOptions extends CommonGeneratorOptions {
  /** Allocate-and-convert (private→shared) calls after the swiotlb. Default 5 000. */
  conversions?: number;
  /** The swiotlb bounce buffer made shared in one call. Default 64 MiB (at most guest / 4). */
  swiotlbBytes?: number;
  /** Kernel image encrypted in place before launch. Default 16 MiB (at most guest / 8). */
  kernelBytes?: number;
  /** Largest acceptance chunk; chunks are 2 MiB multiples up to this. Default 256 MiB. */
  acceptChunkBytes?: number;
  /** Probability that, after a conversion, one live allocation is freed (converted back to private). Default 0.3. */
  freeRate?: number;
  /** Probability of a DMA touch (shared write, 1–16 pages) inside the swiotlb after each conversion. Default 0.5. */
  dmaTouchRate?: number;
  /** Probability of a private touch (1–8 pages) after each conversion. Default 0.5. */
  privateTouchRate?: number;
  /** Probability that a conversion is aborted once before it is retried and committed. Default 0. */
  abortRate?: number;
}

const NAME = "linux-boot";
const CELL_PAGES = 8;

/** Picks an allocation size in pages: 90 % under 32 KiB, the rest up to 2 MiB. */
function allocationPages(rng: Prng): number {
  const r = rng.float();
  if (r < 0.75) return 1;
  if (r < 0.9) return rng.int(2, 7);
  if (r < 0.97) return rng.int(8, 64);
  return rng.int(65, 512);
}

/**
 * Generates the Linux boot workload, lazily and deterministically for a seed.
 *
 * @param options guest size, seed and workload knobs (see {@link LinuxBootOptions}).
 * @returns the header and a re-iterable event sequence; every request is committed or aborted.
 * @throws MemattrTypeError or MemattrRangeError for a bad option (a guest below 64 MiB, a rate outside [0, 1]).
 * @example
 * ```ts
 * import { generateLinuxBoot } from "memattr";
 * const { events } = generateLinuxBoot({ guestBytes: 2 ** 30, conversions: 100, seed: 3 });
 * let shared = 0;
 * for (const ev of events) if (ev.type === "request" && ev.to === "shared") shared++;
 * console.log(shared); // 101: the swiotlb, then 100 allocations
 * ```
 */
export function generateLinuxBoot(options: LinuxBootOptions = {}): GeneratedTrace {
  const seed = intParam(NAME, "seed", options.seed ?? 1, 0, 2 ** 32 - 1);
  const guestBytes = options.guestBytes ?? DEFAULT_GUEST_BYTES;
  const guestPages = guestPagesOf(guestBytes, 64 * MIB_PAGES, NAME);
  const conversions = intParam(NAME, "conversions", options.conversions ?? 5000, 0, Number.MAX_SAFE_INTEGER);
  const swiotlbBytes = Math.min(options.swiotlbBytes ?? 64 * 2 ** 20, Math.floor(guestBytes / 4 / 2 ** 21) * 2 ** 21);
  const swiotlbPages = intParam(NAME, "swiotlbBytes / 4096", swiotlbBytes / 4096, 1, guestPages);
  const kernelBytes = Math.min(options.kernelBytes ?? 16 * 2 ** 20, Math.floor(guestBytes / 8 / 4096) * 4096);
  const kernelPages = intParam(NAME, "kernelBytes / 4096", kernelBytes / 4096, 0, guestPages);
  const acceptChunkBytes = options.acceptChunkBytes ?? 256 * 2 ** 20;
  const acceptChunkPages = intParam(NAME, "acceptChunkBytes / 4096", acceptChunkBytes / 4096, 2 * MIB_PAGES, 2 ** 40);
  const freeRate = rateParam(NAME, "freeRate", options.freeRate ?? 0.3);
  const dmaTouchRate = rateParam(NAME, "dmaTouchRate", options.dmaTouchRate ?? 0.5);
  const privateTouchRate = rateParam(NAME, "privateTouchRate", options.privateTouchRate ?? 0.5);
  const abortRate = rateParam(NAME, "abortRate", options.abortRate ?? 0);

  const params = { guestBytes, conversions, swiotlbBytes, kernelBytes, acceptChunkBytes, freeRate, dmaTouchRate, privateTouchRate, abortRate };
  const header = generatedHeader(NAME, seed, guestPages, params);

  function* events(): Generator<TraceEvent> {
    const rng = createPrng(seed);
    const em = new Emitter(rng, abortRate);
    // Layout: [0, 1 MiB) low memory | kernel | ... swiotlb (2 MiB aligned) ...
    const kernelGfn = MIB_PAGES;
    const kernelEnd = kernelGfn + kernelPages;
    if (kernelPages > 0) {
      yield { type: "touch", gfn: kernelGfn, npages: kernelPages, side: "shared", write: true };
      yield* em.convert(kernelGfn, kernelPages, "private", true);
    }
    yield { type: "launch" };
    yield* acceptRange(rng, em, 0, kernelGfn, MIB_PAGES, MIB_PAGES);
    yield* acceptRange(rng, em, kernelEnd, guestPages - kernelEnd, 2 * MIB_PAGES, acceptChunkPages);

    const align = 2 * MIB_PAGES;
    const swiotlbGfn = align * rng.int(Math.ceil(kernelEnd / align), Math.floor((guestPages - swiotlbPages) / align));
    const swiotlbEnd = swiotlbGfn + swiotlbPages;
    yield* em.convert(swiotlbGfn, swiotlbPages, "shared");

    // Allocator cells in use, by cell index; the swiotlb's cells count as used.
    const used = new Set<number>();
    const cellCount = Math.floor(guestPages / CELL_PAGES);
    const firstCell = Math.ceil(kernelEnd / CELL_PAGES);
    const isFree = (cell: number, n: number): boolean => {
      for (let c = cell; c < cell + n; c++) {
        const gfn = c * CELL_PAGES;
        if (c >= cellCount || used.has(c) || (gfn < swiotlbEnd && gfn + CELL_PAGES > swiotlbGfn)) return false;
      }
      return true;
    };
    const live: { gfn: number; npages: number }[] = [];

    for (let i = 0; i < conversions; i++) {
      const npages = allocationPages(rng);
      const cells = Math.ceil(npages / CELL_PAGES);
      // Random placement, then first fit from there: a multi-cell allocation rarely lands
      // on a free run at random once memory is sprinkled with small ones.
      let cell = -1;
      const maxCell = cellCount - cells;
      for (let tries = 0, c = rng.int(firstCell, maxCell); tries < 65_536 && cell < 0; tries++, c = c >= maxCell ? firstCell : c + 1) {
        if (isFree(c, cells)) cell = c;
      }
      if (cell >= 0) {
        for (let c = cell; c < cell + cells; c++) used.add(c);
        const gfn = cell * CELL_PAGES;
        live.push({ gfn, npages });
        yield* em.convert(gfn, npages, "shared");
        yield { type: "touch", gfn, npages, side: "shared", write: true };
      }
      if (live.length > 0 && rng.chance(freeRate)) {
        const k = rng.int(0, live.length - 1);
        const victim = live[k]!;
        live[k] = live[live.length - 1]!;
        live.pop();
        const first = victim.gfn / CELL_PAGES;
        for (let c = first; c < first + Math.ceil(victim.npages / CELL_PAGES); c++) used.delete(c);
        yield* em.convert(victim.gfn, victim.npages, "private");
      }
      if (rng.chance(dmaTouchRate)) {
        const n = rng.int(1, 16);
        yield { type: "touch", gfn: rng.int(swiotlbGfn, swiotlbEnd - n), npages: n, side: "shared", write: rng.chance(0.5) };
      }
      if (rng.chance(privateTouchRate)) {
        // A free cell (not swiotlb, not a live allocation) is private: touch inside one.
        for (let tries = 0; tries < 8; tries++) {
          const c = rng.int(0, cellCount - 1);
          if (!isFree(c, 1)) continue;
          const n = rng.int(1, CELL_PAGES);
          yield { type: "touch", gfn: c * CELL_PAGES + rng.int(0, CELL_PAGES - n), npages: n, side: "private", write: rng.chance(0.5) };
          break;
        }
      }
    }
  }

  return { header, events: replayable(events) };
}
