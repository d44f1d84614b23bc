/**
 * `MappedBacking`: what the memfd and guest_memfd backings share (Node only) — a file mapped
 * MAP_SHARED into this process, laid out by a {@link GuestLayout}, discarded with one
 * `fallocate(PUNCH_HOLE | KEEP_SIZE)` per file-contiguous piece, and touched through one
 * typed-array view of the whole mapping.
 *
 * Short names: `gfn` guest frame number (4 KiB page); a range is `gfn + npages` (half-open);
 * `filePage` a page index in the backing file; `offsetBytes` = filePage × 4096.
 */
import { MemattrDisposedError, MemattrRangeError, MemattrTypeError } from "../../core/errors.js";
import type { GfnRange } from "../../model/errors.js";
import type { Side } from "../../model/states.js";
import type { Backing, BackingStats } from "../contract.js";
import { type GuestLayout, PAGE_BYTES } from "./_layout.js";
import { KvmError } from "../../kvm/errors.js";
import { BackingError, DiscardError } from "./errors.js";

/**
 * The byte `touch` writes into page `gfn` when no fill is given: never 0 (so a read-back tells a
 * written page from a hole) and different for neighbouring pages.
 */
export function pagePattern(gfn: number): number {
  const mixed = Math.imul((gfn >>> 0) ^ Math.floor(gfn / 2 ** 32), 0x9e3779b1);
  return (mixed >>> 24) | 1;
}

function newStats(): BackingStats {
  return { discardCalls: 0, discardedPages: 0, touchCalls: 0, touchedPages: 0, copiedPages: 0, discardNs: 0 };
}

/**
 * The DiscardError of a batch whose fallocate failed after `pagesDone` pages: a piece joins
 * whole neighbouring ranges, so the pieces done are exactly the leading ranges whose pages
 * add up to at most `pagesDone`.
 */
function partialDiscard(err: KvmError, ranges: readonly GfnRange[], pagesDone: number): DiscardError {
  let done = 0;
  for (let pages = 0; done < ranges.length && pages + ranges[done]!.npages <= pagesDone; done++) pages += ranges[done]!.npages;
  return new DiscardError(err, done, ranges[done]!, ranges.length);
}

/** Base of SharedMemfdBacking and GuestMemfdBacking; not exported from the package. */
export abstract class MappedBacking implements Backing {
  abstract readonly side: Side;
  abstract readonly kind: "memfd" | "guest_memfd";
  readonly simulated = false;
  /** Where each gfn lives in the file. */
  readonly layout: GuestLayout;
  /** Whole-file view over the mapping; see the SAFETY note in the constructor. */
  #bytes: Uint8Array;
  #stats: BackingStats = newStats();
  #closed = false;
  /** close() began but releaseResources() has not yet run to its end. */
  #releasePending = false;
  /** Sum of bytes read by `touch(…, false)`, so the reads are not optimised away. */
  #sink = 0;

  protected constructor(
    layout: GuestLayout,
    bytes: Uint8Array,
    /** For messages: "SharedMemfdBacking" … */
    private readonly what: string,
  ) {
    // SAFETY: `bytes` is Mapping.bytes() of a MAP_SHARED mapping at least layout.sizeBytes
    // long. It stays valid for the life of this object: the mapping is only released by
    // Mapping.unmap(), which leaves zero pages in place, so even a stale view never faults.
    if (bytes.byteLength < layout.sizeBytes) {
      throw new MemattrRangeError(`${what}: the mapping holds ${bytes.byteLength} bytes, guest memory needs ${layout.sizeBytes}`);
    }
    this.layout = layout;
    this.#bytes = bytes;
  }

  /** Counters since bind (a copy). */
  get stats(): BackingStats {
    return { ...this.#stats };
  }

  /** True once close() ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** @throws MemattrDisposedError (EDISPOSED) after close(). */
  protected live(): void {
    if (this.#closed) throw new MemattrDisposedError(this.what);
  }

  /** One fallocate(PUNCH_HOLE | KEEP_SIZE) over a page-aligned file range already checked. */
  protected abstract punchHole(offsetBytes: number, lengthBytes: number): void;
  /** Pages were faulted in or written (touch, copy, read through the mapping). */
  protected abstract noteFilled(gfn: number, npages: number): void;
  /** File pages `filePage + npages` were hole-punched (they may span a hole in gfn space). */
  protected abstract noteDiscarded(filePage: number, npages: number): void;
  /** Releases the file, mapping and record; runs again on the next close() if it threw, so it must be safe to repeat. */
  protected abstract releaseResources(): void;

  abstract populatedRanges(): GfnRange[];

  /**
   * Hole-punches every range: one fallocate(PUNCH_HOLE | KEEP_SIZE) per file-contiguous piece
   * (ranges that touch in the file are joined first). The whole batch is checked before the
   * first syscall; if a syscall fails, the pieces already punched stay punched and recorded,
   * and the error says how many leading ranges that was (EINTR is restarted, never reported
   * unless it persists).
   * @param ranges - `{gfn, npages}` each, ascending and disjoint, wholly in guest memory
   * @throws MemattrTypeError / MemattrRangeError for malformed, unsorted or overlapping ranges
   * @throws OutsideGuestMemoryError (EOUTSIDE) for a range not in guest memory
   * @throws DiscardError (a KvmError, `code` the errno name) when a fallocate failed: its
   *   `discardedRanges` leading ranges were discarded, the rest were not
   * @throws MemattrDisposedError (EDISPOSED) after close()
   */
  discard(ranges: readonly GfnRange[]): void {
    this.live();
    const pieces = this.layout.coalesceFilePieces(ranges, "discard");
    const stats = this.#stats;
    let pagesDone = 0;
    try {
      for (let i = 0; i < pieces.length; i += 2) {
        const filePage = pieces[i]!;
        const npages = pieces[i + 1]!;
        const t0 = process.hrtime.bigint();
        this.punchHole(filePage * PAGE_BYTES, npages * PAGE_BYTES);
        stats.discardNs += Number(process.hrtime.bigint() - t0);
        stats.discardCalls++;
        stats.discardedPages += npages;
        this.noteDiscarded(filePage, npages);
        pagesDone += npages;
      }
    } catch (err) {
      throw err instanceof KvmError ? partialDiscard(err, ranges, pagesDone) : err;
    }
  }

  /**
   * A guest access to every page of `gfn + npages`: writes one byte per page (`fill`, or
   * {@link pagePattern} of the gfn) at the start of the page, or reads one byte per page. Either
   * populates the page (a refault if it had been discarded): shmem and guest_memfd both
   * allocate on a read fault.
   * @param gfn - first page
   * @param npages - pages, ≥ 1
   * @param write - write (true) or read (false)
   * @param fill - byte 0–255 to write; omitted: a non-zero per-page pattern
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError (EOUTSIDE) for a bad range or fill
   * @throws MemattrDisposedError (EDISPOSED) after close()
   */
  touch(gfn: number, npages: number, write: boolean, fill?: number): void {
    this.live();
    const filePage = this.layout.filePageOf(gfn, npages, "touch");
    if (fill !== undefined && !(Number.isInteger(fill) && fill >= 0 && fill <= 255)) {
      throw new MemattrRangeError(`touch: fill must be an integer 0–255, got ${String(fill)}`);
    }
    const u8 = this.#bytes;
    let off = filePage * PAGE_BYTES;
    const end = off + npages * PAGE_BYTES;
    if (!write) {
      let sum = 0;
      for (; off < end; off += PAGE_BYTES) sum += u8[off]!;
      this.#sink = (this.#sink + sum) | 0;
    } else if (fill !== undefined) {
      for (; off < end; off += PAGE_BYTES) u8[off] = fill;
    } else {
      for (let g = gfn; off < end; off += PAGE_BYTES, g++) u8[off] = pagePattern(g);
    }
    this.#stats.touchCalls++;
    this.#stats.touchedPages += npages;
    this.noteFilled(gfn, npages);
  }

  /**
   * In-place encryption: copies the pages of `gfn + npages` from `from` into this backing
   * through both mappings (one TypedArray.set). Refuses a copy from the private side into the
   * shared side: that is exactly the leak the project forbids.
   * @param from - a real backing over the same guest memory map
   * @throws MemattrTypeError when `from` is not a real (mapped) backing, e.g. a SimulatedBacking
   * @throws BackingError (ELEAK) for a private → shared copy; (ELAYOUT) when the memory maps differ
   * @throws MemattrRangeError / OutsideGuestMemoryError (EOUTSIDE) for a bad range, or `from === this`
   * @throws MemattrDisposedError (EDISPOSED) when either backing is closed
   */
  copyFrom(from: Backing, gfn: number, npages: number): void {
    this.live();
    if (!(from instanceof MappedBacking)) {
      throw new MemattrTypeError(`copyFrom: from must be a real memfd or guest_memfd backing, got ${from?.kind ?? typeof from} (it holds no bytes)`);
    }
    from.live();
    if (from === this) throw new MemattrRangeError("copyFrom: from is this backing");
    if (from.side === "private" && this.side === "shared") {
      throw new BackingError("ELEAK", `copyFrom: refusing to copy private pages (${from.kind}) into the shared side (${this.kind})`);
    }
    if (!this.layout.sameAs(from.layout)) throw new BackingError("ELAYOUT", "copyFrom: the two backings lay out different guest memory maps");
    const filePage = this.layout.filePageOf(gfn, npages, "copyFrom");
    const start = filePage * PAGE_BYTES;
    const end = start + npages * PAGE_BYTES;
    // SAFETY: both views span their whole mapping (≥ layout.sizeBytes, checked at construction)
    // and the range was checked against the layout; distinct files, so no overlap.
    this.#bytes.set(from.#bytes.subarray(start, end), start);
    from.noteFilled(gfn, npages); // reading through a mapping faults the source pages in
    this.#stats.copiedPages += npages;
    this.noteFilled(gfn, npages);
  }

  /**
   * A copy of page `gfn`'s 4096 bytes, read through the mapping (which faults the page in; the
   * memfd backing overrides this with pread, which does not).
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError (EOUTSIDE) for a bad gfn
   * @throws MemattrDisposedError (EDISPOSED) after close()
   */
  readPage(gfn: number): Uint8Array {
    this.live();
    const start = this.layout.filePageOf(gfn, 1, "readPage") * PAGE_BYTES;
    const out = this.#bytes.slice(start, start + PAGE_BYTES);
    this.noteFilled(gfn, 1);
    return out;
  }

  /**
   * Writes `data` (at most 4096 bytes) at the start of page `gfn` through the mapping; the rest
   * of the page is unchanged. Not part of the Backing contract: for tests and a VMM loading images.
   * @throws MemattrRangeError when data is longer than a page; as readPage for a bad gfn
   */
  writePage(gfn: number, data: Uint8Array): void {
    this.live();
    const start = this.layout.filePageOf(gfn, 1, "writePage") * PAGE_BYTES;
    if (!(data instanceof Uint8Array)) throw new MemattrTypeError("writePage: data must be a Uint8Array");
    if (data.byteLength > PAGE_BYTES) throw new MemattrRangeError(`writePage: data is ${data.byteLength} bytes, a page holds ${PAGE_BYTES}`);
    this.#bytes.set(data, start);
    this.noteFilled(gfn, 1);
  }

  /**
   * Releases the mapping and (when owned) the file. Idempotent; when a syscall of the release
   * fails (the descriptor is gone all the same), calling close() again retries what is left.
   */
  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#bytes = new Uint8Array(0);
      this.#releasePending = true;
    }
    if (!this.#releasePending) return;
    this.releaseResources();
    this.#releasePending = false;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
