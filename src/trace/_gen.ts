// Shared pieces of the trace generators (internal).
//
// Short names: `gfn`/`npages` as in format.ts; `guestPages` the number of 4 KiB pages of guest
// memory, which the generators lay out as one region `[0, guestPages)`; `em` an Emitter.
import { MemattrRangeError, MemattrTypeError } from "../core/errors.js";
import { MAX_GFN } from "../core/types.js";
import { createHeader, PAGE_BYTES } from "./format.js";
import type { RequestEvent, TraceEvent, TraceHeader } from "./format.js";
import type { Prng } from "./prng.js";

/** A generated trace: its header and its events, which every iteration produces afresh and identically. */
export interface GeneratedTrace {
  header: TraceHeader;
  events: Iterable<TraceEvent>;
}

/** Options every generator takes. */
export interface CommonGeneratorOptions {
  /** Guest memory in bytes, a multiple of 4096. Default 1 GiB. */
  guestBytes?: number;
  /** PRNG seed (low 32 bits used). Default 1. */
  seed?: number;
}

export const DEFAULT_GUEST_BYTES = 2 ** 30;
export const MIB_PAGES = 2 ** 20 / PAGE_BYTES;

/** Checks `guestBytes` and returns it as a page count. */
export function guestPagesOf(guestBytes: number, minPages: number, generator: string): number {
  if (!Number.isSafeInteger(guestBytes)) throw new MemattrTypeError(`${generator}: guestBytes must be an integer, got ${guestBytes}`);
  if (guestBytes % PAGE_BYTES !== 0) throw new MemattrRangeError(`${generator}: guestBytes ${guestBytes} is not a multiple of ${PAGE_BYTES}`);
  const pages = guestBytes / PAGE_BYTES;
  if (pages < minPages || pages > MAX_GFN) {
    throw new MemattrRangeError(`${generator}: guestBytes ${guestBytes} must be between ${minPages * PAGE_BYTES} and 2^52 bytes`);
  }
  return pages;
}

/** Checks an integer parameter in `[min, max]`. */
export function intParam(generator: string, name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value)) throw new MemattrTypeError(`${generator}: ${name} must be an integer, got ${value}`);
  if (value < min || value > max) throw new MemattrRangeError(`${generator}: ${name} = ${value} is outside [${min}, ${max}]`);
  return value;
}

/** Checks a probability. */
export function rateParam(generator: string, name: string, value: number): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) throw new MemattrRangeError(`${generator}: ${name} = ${value} must be a probability in [0, 1]`);
  return value;
}

/** Builds a generated trace's header: one region, the generator's name, seed and parameters. */
export function generatedHeader(name: string, seed: number, guestPages: number, params: Record<string, number | string | boolean>): TraceHeader {
  return createHeader([{ gfn: 0, npages: guestPages }], { generator: { name, seed: seed >>> 0, params } });
}

/** Hands out transaction ids and writes request/commit/abort sequences. */
export class Emitter {
  private nextId = 1;

  constructor(
    private readonly rng: Prng,
    private readonly abortRate: number,
  ) {}

  /**
   * A conversion that ends committed: request + commit, preceded (with probability
   * `abortRate`) by an aborted attempt at the same range, as when the VMM's set-attributes
   * call fails once and the guest retries.
   */
  *convert(gfn: number, npages: number, to: "private" | "shared", preserve = false): Generator<TraceEvent> {
    if (this.abortRate > 0 && this.rng.chance(this.abortRate)) {
      const id = this.nextId++;
      yield this.request(id, gfn, npages, to, preserve);
      yield { type: "abort", id };
    }
    const id = this.nextId++;
    yield this.request(id, gfn, npages, to, preserve);
    yield { type: "commit", id };
  }

  private request(id: number, gfn: number, npages: number, to: "private" | "shared", preserve: boolean): RequestEvent {
    const ev: RequestEvent = { type: "request", id, gfn, npages, to };
    if (preserve) ev.preserve = true;
    return ev;
  }
}

/**
 * Accepts `[gfn, gfn + npages)` as private in chunks of `minPages`..`maxPages` pages, each
 * chunk start aligned to `minPages` as firmware and kernels accept in 2 MiB units.
 */
export function* acceptRange(rng: Prng, em: Emitter, gfn: number, npages: number, minPages: number, maxPages: number): Generator<TraceEvent> {
  const end = gfn + npages;
  let at = gfn;
  while (at < end) {
    const units = rng.int(1, Math.max(1, Math.floor(maxPages / minPages)));
    let next = Math.min(end, (Math.floor(at / minPages) + units) * minPages);
    if (next <= at) next = Math.min(end, at + minPages);
    yield* em.convert(at, next - at, "private");
    at = next;
  }
}

/** Wraps a generator function so that each iteration starts it again. */
export function replayable(make: () => Generator<TraceEvent>): Iterable<TraceEvent> {
  return { [Symbol.iterator]: make };
}
