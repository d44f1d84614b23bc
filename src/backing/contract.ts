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
  /** Hole-punches each range (one syscall per range); ranges must be ascending and disjoint. */
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
