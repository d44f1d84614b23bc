/**
 * The Tracker's argument and result types (src/model/tracker.ts).
 */
import type { MemattrError } from "../core/errors.js";
import type { PendingConversion } from "./conversion.js";
import type { GfnRange } from "./errors.js";
import type { Attribute, PageState } from "./states.js";

/** Options of a tracker. */
export interface TrackerOptions {
  /** Guest memory map: one or more non-overlapping `{gfn, npages}` regions. */
  regions: readonly GfnRange[];
  /** Attribute of every page at start (default `shared`, KVM's default attribute). */
  initial?: Attribute;
}

/** A conversion request from the VMM's side. */
export interface ConversionRequest {
  /** First page. */
  gfn: number | bigint;
  /** Pages, ≥ 1. */
  npages: number | bigint;
  /** Target attribute. */
  to: Attribute;
  /** Copy the shared contents into the private page (in-place encryption); only before launch. */
  preserve?: boolean;
}

/** What a memory fault means; returned by `onMemoryFault`. */
export type FaultDecision =
  /** The access needs the other attribute: an implicit conversion request, now pending. */
  | { kind: "convert"; gfn: number; npages: number; to: Attribute; conversion: PendingConversion }
  /** A conversion towards the access is already pending: complete it, then re-enter the guest. */
  | { kind: "in-flight"; gfn: number; npages: number; to: Attribute }
  /** The state already matches the access (a race with another vCPU): re-enter the guest. */
  | { kind: "spurious"; gfn: number; npages: number; to: Attribute }
  /** The guest may not make this access; nothing changed. */
  | {
      kind: "violation";
      gfn: number;
      npages: number;
      to: Attribute;
      reason: "outside-guest-memory" | "pending-opposite";
      error: MemattrError;
    };

/** What `Tracker.markPopulated` found: pages that were empty, and pages discarded before (refaults). */
export interface PopulateCounts {
  npagesNew: number;
  npagesRefault: number;
}

/** Page totals by state, all O(1) from the core's per-value counts. */
export interface PageTotals {
  /** Pages of guest memory. */
  guest: number;
  shared: number;
  private: number;
  pendingPrivate: number;
  pendingShared: number;
  /** Pages pending to private with PRESERVE. */
  preserving: number;
  sharedPopulated: number;
  privatePopulated: number;
  /** Pages populated on both sides. */
  doubleAllocated: number;
  /** Shared side populated on a private page not pending back (a discard candidate). */
  sharedStale: number;
  /** Private side populated on a shared page not pending back (a discard candidate). */
  privateStale: number;
  sharedDiscarded: number;
  privateDiscarded: number;
}

/** One run for display. */
export interface StateRun {
  gfn: number;
  npages: number;
  /** Raw page value (see the bit layout in states.ts). */
  value: number;
  state: PageState;
}

/** What `Tracker.removeRegion` removed. */
export interface RemovedRegion {
  gfn: number;
  npages: number;
  /** Ranges populated on each side when it was removed: the backing the caller drops. */
  populated: { shared: GfnRange[]; private: GfnRange[] };
}
