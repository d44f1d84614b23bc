/**
 * `ovmf-dma`: the pattern that makes private memory slow in OVMF. For every DMA transaction
 * the firmware's IOMMU protocol maps a bounce buffer of one or two pages at one of a few hot
 * gfns private→shared, the device writes the payload on the shared side, the guest copies it
 * into a private buffer, and Unmap flips the bounce pages back shared→private, after which the
 * guest validates them (SNP PVALIDATE, TDX TDG.MEM.PAGE.ACCEPT) — an access through the
 * private mapping that faults the private side in. Each flip costs a discard and a refault
 * (on the side the page returns to) when discard is eager (docs/design.md: a 1 GiB SNP boot took
 * 1 m 43 s with private memory against 32 s without).
 *
 * Short names: `gfn`/`npages` as in format.ts; `slot` one hot bounce-buffer position;
 * `guestPages` the guest's size in 4 KiB pages, laid out as one region `[0, guestPages)`.
 *
 * Shape of the trace: the VMM writes the firmware image into shared memory and converts it
 * to private with `preserve` (in-place encryption, before launch); `launch`; the rest of
 * memory is accepted as private in 2–64 MiB chunks; then `transactions` transactions.
 * Events: about 2 × (guest MiB / 33) for acceptance + 8 + `privateTouches` per transaction
 * (for the defaults, ~100 000 events).
 */
import { acceptRange, DEFAULT_GUEST_BYTES, Emitter, generatedHeader, guestPagesOf, intParam, MIB_PAGES, rateParam, replayable } from "./_gen.js";
import type { CommonGeneratorOptions, GeneratedTrace } from "./_gen.js";
import type { TraceEvent } from "./format.js";
import { createPrng } from "./prng.js";
import type { Prng } from "./prng.js";

/** Parameters of {@link generateOvmfDma}; every one has a default sized for a 1 GiB guest. */
export interface OvmfDmaOptions extends CommonGeneratorOptions {
  /** DMA transactions (each: two conversions, four touches, plus private touches). Default 10 000. */
  transactions?: number;
  /** Hot bounce-buffer positions the transactions rotate over. Default 4. */
  hotSlots?: number;
  /** Probability that a transaction bounces two pages rather than one. Default 0.3. */
  twoPageRate?: number;
  /** Private-side touches between transactions (guest work), each 1–16 pages. Default 2. */
  privateTouches?: number;
  /** Probability that a conversion is aborted once before it is retried and committed. Default 0. */
  abortRate?: number;
  /** Firmware image written by the VMM and encrypted in place before launch. Default 4 MiB. */
  firmwareBytes?: number;
}

const NAME = "ovmf-dma";

/**
 * Generates the OVMF DMA bounce-buffer workload, lazily and deterministically for a seed.
 *
 * @param options guest size, seed and workload knobs (see {@link OvmfDmaOptions}).
 * @returns the header (one region of `guestBytes`, generator name, seed, parameters) and a
 *   re-iterable event sequence; every request in it is committed or aborted.
 * @throws MemattrTypeError or MemattrRangeError for a bad option (a guest below 8 MiB, a rate outside [0, 1]).
 * @example
 * ```ts
 * import { generateOvmfDma } from "memattr";
 * const { header, events } = generateOvmfDma({ guestBytes: 64 * 2 ** 20, transactions: 10, seed: 7 });
 * console.log(header.regions[0].npages, [...events].length);
 * ```
 */
export function generateOvmfDma(options: OvmfDmaOptions = {}): GeneratedTrace {
  const seed = intParam(NAME, "seed", options.seed ?? 1, 0, 2 ** 32 - 1);
  const guestBytes = options.guestBytes ?? DEFAULT_GUEST_BYTES;
  const guestPages = guestPagesOf(guestBytes, 8 * MIB_PAGES, NAME);
  const transactions = intParam(NAME, "transactions", options.transactions ?? 10_000, 0, Number.MAX_SAFE_INTEGER);
  const hotSlots = intParam(NAME, "hotSlots", options.hotSlots ?? 4, 1, 64);
  const twoPageRate = rateParam(NAME, "twoPageRate", options.twoPageRate ?? 0.3);
  const privateTouches = intParam(NAME, "privateTouches", options.privateTouches ?? 2, 0, 1000);
  const abortRate = rateParam(NAME, "abortRate", options.abortRate ?? 0);
  const firmwareBytes = options.firmwareBytes ?? 4 * 2 ** 20;
  const firmwarePages = intParam(NAME, "firmwareBytes / 4096", firmwareBytes / 4096, 0, Math.floor(guestPages / 2));

  const params = { guestBytes, transactions, hotSlots, twoPageRate, privateTouches, abortRate, firmwareBytes };
  const header = generatedHeader(NAME, seed, guestPages, params);

  function* events(): Generator<TraceEvent> {
    const rng = createPrng(seed);
    const em = new Emitter(rng, abortRate);
    const firmwareGfn = guestPages - firmwarePages; // the image sits at the top, below where a flash would map
    if (firmwarePages > 0) {
      yield { type: "touch", gfn: firmwareGfn, npages: firmwarePages, side: "shared", write: true };
      yield* em.convert(firmwareGfn, firmwarePages, "private", true);
    }
    yield { type: "launch" };
    yield* acceptRange(rng, em, 0, firmwareGfn, 2 * MIB_PAGES, 64 * MIB_PAGES);

    // Hot bounce buffers: distinct 2-page-aligned slots above the first MiB (below it sit
    // legacy areas firmware does not allocate from).
    const slots: number[] = [];
    while (slots.length < hotSlots) {
      const gfn = 2 * rng.int(MIB_PAGES / 2, Math.floor((firmwareGfn - 2) / 2));
      if (!slots.includes(gfn)) slots.push(gfn);
    }
    for (let t = 0; t < transactions; t++) {
      const gfn = slots[rng.int(0, hotSlots - 1)]!;
      const npages = rng.chance(twoPageRate) ? 2 : 1;
      yield* em.convert(gfn, npages, "shared");
      yield { type: "touch", gfn, npages, side: "shared", write: true }; // the device writes the payload
      yield { type: "touch", gfn, npages, side: "shared", write: false }; // the guest reads it out...
      yield randomPrivateTouch(rng, firmwareGfn, 8, true, gfn, npages); // ...into a private buffer
      yield* em.convert(gfn, npages, "private");
      // SNP PVALIDATE / TDX TDG.MEM.PAGE.ACCEPT of the pages taken back: the guest accesses
      // them through the private mapping, so the host faults their private side in.
      yield { type: "touch", gfn, npages, side: "private", write: false };
      for (let k = 0; k < privateTouches; k++) yield randomPrivateTouch(rng, firmwareGfn, 16, rng.chance(0.5));
    }
  }

  // Outside the one bounce range shared right now (`busyGfn + busyPages`), every page below
  // the firmware is private: acceptance covered it and each transaction flips its slot back.
  function randomPrivateTouch(rng: Prng, limitGfn: number, maxPages: number, write: boolean, busyGfn = 0, busyPages = 0): TraceEvent {
    const npages = rng.int(1, maxPages);
    let gfn = rng.int(0, limitGfn - npages);
    if (gfn < busyGfn + busyPages && busyGfn < gfn + npages) gfn = busyGfn >= npages ? busyGfn - npages : busyGfn + busyPages;
    return { type: "touch", gfn, npages, side: "private", write };
  }

  return { header, events: replayable(events) };
}
