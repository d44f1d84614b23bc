/**
 * `hotplug`: guest memory that changes while the guest runs. A virtio-mem device plugs and
 * unplugs blocks of RAM above boot memory while OVMF-style DMA bounce pages flip
 * private↔shared, and the VMM updates memslots around it as a live migration would (dirty
 * logging turned on and off on the boot slot, the slot deleted and re-created).
 *
 * Short names: `gfn`/`npages` as in format.ts; `block` one virtio-mem block of `blockBytes`;
 * `deviceGfn` where the device's memory starts (boot memory rounded up to 1 GiB).
 *
 * Shape of the trace: the header lists boot memory `[0, guestPages)` only; a `memslot` event
 * maps it (slot 0, guest_memfd); `launch`; boot memory is accepted as private; then
 * `transactions` DMA transactions (a bounce page of boot memory, or of a plugged block, flipped
 * shared and back, as in `ovmf-dma`). Every `hotplugEvery` transactions a block is plugged
 * (`memslot` + `region-add`, then accepted as private and touched) or unplugged (`memslot`
 * delete + `region-remove`, never while one of its pages is pending). At a third of the run
 * dirty logging goes on (`memslot` flags `KVM_MEM_LOG_DIRTY_PAGES`), at two thirds the boot
 * slot is deleted and re-created without it. Every memslot event changes no page state;
 * replay counts them.
 */
import { KVM_MEM_GUEST_MEMFD, KVM_MEM_LOG_DIRTY_PAGES } from "../uapi/constants.js";
import { acceptRange, DEFAULT_GUEST_BYTES, Emitter, generatedHeader, guestPagesOf, intParam, MIB_PAGES, rateParam, replayable } from "./_gen.js";
import type { CommonGeneratorOptions, GeneratedTrace } from "./_gen.js";
import { MEMSLOT_IDS, type TraceEvent } from "./format.js";
import { MAX_GFN } from "../core/types.js";
import { MemattrRangeError } from "../core/errors.js";
import { createPrng } from "./prng.js";

/** Parameters of {@link generateHotplug}; every one has a default sized for a 1 GiB guest. */
export interface HotplugOptions extends CommonGeneratorOptions {
  /** Bytes of the virtio-mem device's memory (the most that can be plugged). Default: `guestBytes`, at most 65 534 blocks (one memslot id each). */
  deviceBytes?: number;
  /** Bytes per block, a multiple of 2 MiB. Default 2 MiB (virtio-mem's default block size on x86). */
  blockBytes?: number;
  /** DMA transactions. Default 10 000. */
  transactions?: number;
  /** Transactions between two plug/unplug steps. Default 50. */
  hotplugEvery?: number;
  /** Probability that a step plugs (when a block is free and one is plugged). Default 0.6. */
  plugRate?: number;
  /** Probability that a transaction's bounce page lies in a plugged block (when one is). Default 0.3. */
  pluggedDmaRate?: number;
  /** Probability that a conversion is aborted once before it is retried and committed. Default 0. */
  abortRate?: number;
}

const NAME = "hotplug";

/**
 * Generates the hotplug workload, lazily and deterministically for a seed.
 *
 * @param options guest size, seed and workload knobs (see {@link HotplugOptions}).
 * @returns the header (boot memory, generator name, seed, parameters) and a re-iterable event
 *   sequence; every request in it is committed, and every region-remove takes a block whose
 *   pages are all settled.
 * @throws MemattrTypeError or MemattrRangeError for a bad option (a guest below 8 MiB, a block
 *   not a multiple of 2 MiB, a device beyond 2^40 pages or of more blocks than memslot ids).
 * @example
 * ```ts
 * import { generateHotplug } from "memattr";
 * const { header, events } = generateHotplug({ guestBytes: 2 ** 28, transactions: 200, seed: 3 });
 * const types = new Set([...events].map((e) => e.type));
 * console.log(header.regions, types.has("region-add"), types.has("region-remove"));
 * ```
 */
export function generateHotplug(options: HotplugOptions = {}): GeneratedTrace {
  const seed = intParam(NAME, "seed", options.seed ?? 1, 0, 2 ** 32 - 1);
  const guestBytes = options.guestBytes ?? DEFAULT_GUEST_BYTES;
  const guestPages = guestPagesOf(guestBytes, 8 * MIB_PAGES, NAME);
  const blockBytes = options.blockBytes ?? 2 * 2 ** 20;
  const blockPages = intParam(NAME, "blockBytes / 2 MiB", blockBytes / (2 * 2 ** 20), 1, MAX_GFN / (2 * MIB_PAGES)) * 2 * MIB_PAGES;
  // Default: as much as boot memory, in at most as many blocks as memslot ids allow.
  const deviceBytes = options.deviceBytes ?? Math.max(1, Math.min(Math.floor(guestBytes / blockBytes), MEMSLOT_IDS - 2)) * blockBytes;
  const blocks = intParam(NAME, "deviceBytes / blockBytes", deviceBytes / blockBytes, 1, MEMSLOT_IDS - 2);
  const transactions = intParam(NAME, "transactions", options.transactions ?? 10_000, 0, Number.MAX_SAFE_INTEGER);
  const hotplugEvery = intParam(NAME, "hotplugEvery", options.hotplugEvery ?? 50, 1, Number.MAX_SAFE_INTEGER);
  const plugRate = rateParam(NAME, "plugRate", options.plugRate ?? 0.6);
  const pluggedDmaRate = rateParam(NAME, "pluggedDmaRate", options.pluggedDmaRate ?? 0.3);
  const abortRate = rateParam(NAME, "abortRate", options.abortRate ?? 0);
  const GIB_PAGES = 1024 * MIB_PAGES;
  const deviceGfn = Math.ceil(guestPages / GIB_PAGES) * GIB_PAGES;
  if (deviceGfn + blocks * blockPages > MAX_GFN) {
    throw new MemattrRangeError(`${NAME}: the device's ${deviceBytes} bytes above ${guestBytes} bytes of boot memory end beyond 2^40 pages`);
  }

  const params = { guestBytes, deviceBytes, blockBytes, transactions, hotplugEvery, plugRate, pluggedDmaRate, abortRate };
  const header = generatedHeader(NAME, seed, guestPages, params);
  const BOOT_FLAGS = KVM_MEM_GUEST_MEMFD;

  function* events(): Generator<TraceEvent> {
    const rng = createPrng(seed);
    const em = new Emitter(rng, abortRate);
    yield { type: "memslot", slot: 0, gfn: 0, npages: guestPages, flags: BOOT_FLAGS };
    yield { type: "launch" };
    yield* acceptRange(rng, em, 0, guestPages, 2 * MIB_PAGES, 64 * MIB_PAGES);
    const plugged: number[] = []; // block numbers, in plug order
    const free: number[] = Array.from({ length: blocks }, (_v, i) => i);
    const bounce = (lo: number, hi: number) => 2 * rng.int(Math.ceil(lo / 2), Math.floor((hi - 2) / 2));

    for (let t = 0; t < transactions; t++) {
      if (t > 0 && t % hotplugEvery === 0) {
        const plug = free.length > 0 && (plugged.length === 0 || rng.chance(plugRate));
        if (plug) {
          const b = free.splice(rng.int(0, free.length - 1), 1)[0]!;
          plugged.push(b);
          const gfn = deviceGfn + b * blockPages;
          yield { type: "memslot", slot: 1 + b, gfn, npages: blockPages, flags: KVM_MEM_GUEST_MEMFD };
          yield { type: "region-add", gfn, npages: blockPages };
          yield* em.convert(gfn, blockPages, "private"); // the guest accepts the block
          yield { type: "touch", gfn, npages: rng.int(1, blockPages), side: "private", write: true };
        } else if (plugged.length > 0) {
          const b = plugged.splice(rng.int(0, plugged.length - 1), 1)[0]!;
          free.push(b);
          const gfn = deviceGfn + b * blockPages;
          yield { type: "memslot", slot: 1 + b, gfn, npages: 0, flags: 0 };
          yield { type: "region-remove", gfn, npages: blockPages };
        }
      }
      if (t === Math.floor(transactions / 3)) yield { type: "memslot", slot: 0, gfn: 0, npages: guestPages, flags: BOOT_FLAGS | KVM_MEM_LOG_DIRTY_PAGES };
      if (t === Math.floor((2 * transactions) / 3)) {
        yield { type: "memslot", slot: 0, gfn: 0, npages: 0, flags: 0 };
        yield { type: "memslot", slot: 0, gfn: 0, npages: guestPages, flags: BOOT_FLAGS };
      }
      // One DMA transaction: a bounce page of boot memory (above its first MiB) or of a plugged block.
      let gfn: number;
      if (plugged.length > 0 && rng.chance(pluggedDmaRate)) {
        const base = deviceGfn + plugged[rng.int(0, plugged.length - 1)]! * blockPages;
        gfn = bounce(base, base + blockPages);
      } else gfn = bounce(MIB_PAGES, guestPages);
      const npages = rng.chance(0.3) ? 2 : 1;
      yield* em.convert(gfn, npages, "shared");
      yield { type: "touch", gfn, npages, side: "shared", write: true }; // the device writes the payload
      yield { type: "touch", gfn, npages, side: "shared", write: false }; // the guest reads it out
      yield* em.convert(gfn, npages, "private");
      yield { type: "touch", gfn, npages, side: "private", write: false }; // accepted again
    }
  }

  return { header, events: replayable(events) };
}
