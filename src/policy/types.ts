/**
 * The one small interface every discard policy implements.
 *
 * A policy is a pure decision over the tracker's state: the replay loop (or a VMM) tells it
 * what just happened — a committed or aborted conversion, pages a backing populated — and it
 * answers with a {@link DiscardBatch} (or `null`: nothing to discard now). The caller carries
 * the batch out (`backing.discard(ranges)` per side, then `tracker.markDiscarded`) before it
 * tells the policy anything else. Policies never mutate the tracker and never touch a backing.
 *
 * Short names: `gfn` guest frame number (4 KiB page); a range is `gfn + npages`, half-open;
 * `side` the backing (`shared` memfd, `private` guest_memfd); a page is *stale* on a side when
 * that side is populated but the page's committed attribute is the other one and no conversion
 * back is pending (`Tracker.staleRuns`): a discard candidate. *Double-allocated* pages are
 * populated on both sides (`Tracker.doubleAllocatedBytes`).
 */
import type { GfnRange } from "../model/errors.js";
import type { Attribute } from "../model/states.js";
import type { Tracker } from "../model/tracker.js";

/**
 * Ranges to hole-punch, per side: each list ascending, disjoint and coalesced (no two ranges
 * touch), so a backing makes one syscall per range.
 */
export interface DiscardBatch {
  shared: GfnRange[];
  private: GfnRange[];
}

/**
 * What a policy needs of a settled conversion. A `PendingConversion` handle satisfies it
 * directly, so a VMM passes the handle it just committed.
 */
export interface SettledConversion {
  /** Target attribute of the conversion. */
  readonly to: Attribute;
  /** Owned ranges, flat `[start0, end0, start1, end1, …]` (end exclusive), ascending, coalesced. */
  readonly ownedFlat: readonly number[];
  /** Pages owned (the sum of the owned ranges). */
  readonly npagesOwned: number;
  /**
   * Whether the owned pages held a stale page just after the settle, when known without a walk
   * (`PendingConversion.leftStale`); `undefined`: ask `tracker.hasStalePages`.
   */
  readonly leftStale?: boolean | undefined;
}

/** Names of the built-in policies. */
export type PolicyName = "eager" | "never" | "batched" | "adaptive";

/**
 * A discard policy. Every method runs in O(ranges it is told about) plus the ranges it
 * returns — never a loop over the whole guest on the hot path.
 * @remarks Single-threaded, like the tracker it reads. One policy instance serves one tracker.
 */
export interface DiscardPolicy {
  /** The policy's name, as the CLI and tables print it. */
  readonly name: PolicyName | (string & {});
  /**
   * A conversion was committed (its owned pages now have attribute `conversion.to`).
   * @param tracker - the tracker after the commit.
   * @param conversion - the committed handle (or its `to` / `ownedFlat` / `npagesOwned`). Read
   *   it during the call only, never keep it or its `ownedFlat`: the caller may hand the handle
   *   back to the tracker for its next request (`requestConversion(…, reuse)`).
   * @param nowMs - a monotonic clock in milliseconds (for time-based flushes).
   * @returns ranges to discard now, or null.
   */
  onCommit(tracker: Tracker, conversion: SettledConversion, nowMs: number): DiscardBatch | null;
  /**
   * A conversion was aborted (its owned pages are back to their previous attribute). As for
   * `onCommit`, read `conversion` during the call only.
   * @returns ranges to discard now, or null.
   */
  onAbort(tracker: Tracker, conversion: SettledConversion, nowMs: number): DiscardBatch | null;
  /**
   * A backing populated `gfn + npages` on `side` (a guest touch, a copy, a refault).
   * @returns ranges to discard now, or null.
   */
  onPopulate(tracker: Tracker, side: "shared" | "private", gfn: number, npages: number, nowMs: number): DiscardBatch | null;
  /**
   * Discards whatever the policy has been holding back that it would discard eventually
   * (end of a replay, the VMM going idle). Never discards pages in use.
   * @returns ranges to discard now, or null.
   */
  flush(tracker: Tracker, nowMs: number): DiscardBatch | null;
}
