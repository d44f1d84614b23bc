/**
 * The contract between the replay/VMM loop and a backing of guest memory. One backing holds one
 * side (`shared`: memfd or anonymous memory the host may read; `private`: guest_memfd) for the
 * whole guest memory map. Real backings live in `src/backing/real/` (Node-only, real syscalls); the
 * browser-safe `SimulatedBacking` only counts, and says so through `simulated`.
 *
 * Short names: `gfn` guest frame number (4 KiB page); a range is `gfn + npages` (half-open);
 * `offsetBytes` a byte offset in the backing file. The gfn → file offset mapping is the
 * backing's own (regions of the guest memory map laid end to end in the file).
 */
import type { GfnRange } from "../model/errors.js";
import type { Side } from "../model/states.js";

/** What a backing has done since it was bound; every counter is cumulative. */
export interface BackingStats {
  /** Discard syscalls made (one `fallocate(PUNCH_HOLE)` per coalesced range). */
  discardCalls: number;
  /** Pages covered by those discards. */
  discardedPages: number;
  /** Guest touches carried out (writes/reads through the mapping). */
  touchCalls: number;
  /** Pages touched. */
  touchedPages: number;
  /** Pages copied in by in-place encryption (`copyFrom`). */
  copiedPages: number;
  /** Nanoseconds spent in discard syscalls (wall time measured around them). */
  discardNs: number;
}

/** One side of guest memory. */
export interface Backing extends Disposable {
  /** Which side this backing holds. */
  readonly side: Side;
  /** `memfd`, `guest_memfd`, or `simulated`. */
  readonly kind: "memfd" | "guest_memfd" | "simulated";
  /** True when no real memory stands behind it: every output fed by it must say so. */
  readonly simulated: boolean;
  /** Counters since bind. */
  readonly stats: BackingStats;
  /**
   * Pages that hold data right now, found without replaying notifications (memfd: lseek
   * SEEK_DATA/SEEK_HOLE; guest_memfd, which has no SEEK_DATA: mincore over its host mapping,
   * united with the backing's own record of what it populated — fallocate-reserved pages that
   * were never touched are not resident).
   * Ascending, coalesced.
   */
  populatedRanges(): GfnRange[];
  /**
   * Hole-punches each range (one syscall per range), in order; ranges must be ascending and
   * disjoint. A syscall that fails stops the batch: the error carries `discardedRanges` (see
   * {@link PartialDiscard}), the ranges before it are discarded and the rest untouched, so the
   * caller records exactly those ({@link discardedRangesOf}) and may retry the others.
   */
  discard(ranges: readonly GfnRange[]): void;
  /**
   * A guest access: writes `fill` (or a per-page pattern when omitted) into every page of the
   * range, populating it (a refault if it had been discarded). `write: false` reads instead.
   */
  touch(gfn: number, npages: number, write: boolean, fill?: number): void;
  /** Copies the pages' contents from `from` into this backing (in-place encryption before launch). */
  copyFrom(from: Backing, gfn: number, npages: number): void;
  /** Reads one page's bytes (tests: the no-leak invariant), or null for a simulated backing. */
  readPage(gfn: number): Uint8Array | null;
  /** Releases the fd and mapping; idempotent. */
  close(): void;
}

/**
 * What the error of a discard that stopped part-way says: its first `discardedRanges` ranges
 * were discarded, the others were not touched. The real backings' `DiscardError` carries it;
 * an error without it (a refused argument, a closed backing) discarded nothing.
 */
export interface PartialDiscard {
  readonly discardedRanges: number;
}

/**
 * How many leading ranges of a failed `discard(ranges)` were discarded: the error's
 * `discardedRanges` (see {@link PartialDiscard}), clamped to the batch, or 0 when it says nothing.
 * @param err - what `discard` threw
 * @param nranges - the batch's length
 * @returns ranges discarded, 0 … nranges
 * @example
 * ```ts
 * import { discardedRangesOf } from "memattr";
 * const err = Object.assign(new Error("fallocate failed: EIO (5)"), { discardedRanges: 2 });
 * console.log(discardedRangesOf(err, 5), discardedRangesOf(new Error("closed"), 5)); // 2 0
 * ```
 */
export function discardedRangesOf(err: unknown, nranges: number): number {
  const n = (err as Partial<PartialDiscard> | null | undefined)?.discardedRanges;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? Math.min(n, nranges) : 0;
}
