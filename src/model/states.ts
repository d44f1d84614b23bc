/**
 * Page states of the conversion model and how they pack into one 8-bit range-map value.
 *
 * Short names used across src/model:
 * - `gfn`: guest frame number (4 KiB page index); a range is `gfn + npages` (half-open).
 * - `attr`: the page's committed attribute, `shared` or `private` (KVM_MEMORY_ATTRIBUTE_PRIVATE).
 * - `side`: one of the two backings of a page: `shared` (memfd / anonymous memory) or
 *   `private` (guest_memfd).
 * - `pending`: a conversion the guest asked for that the VMM has not yet committed or aborted.
 *
 * ## States and legal transitions (the whole state machine)
 *
 * Conversion state of a page (bits PRIVATE | PENDING | PRESERVE):
 *
 * | state             | PRIVATE | PENDING | PRESERVE | meaning                                        |
 * |-------------------|---------|---------|----------|------------------------------------------------|
 * | `shared`          | 0       | 0       | 0        | host-readable, backed by the shared side       |
 * | `private`         | 1       | 0       | 0        | guest-only, backed by guest_memfd              |
 * | `pending-private` | 0       | 1       | 0 or 1   | shared, conversion to private requested        |
 * | `pending-shared`  | 1       | 1       | 0        | private, conversion to shared requested        |
 *
 * | from              | step                       | to                | notes                                  |
 * |-------------------|----------------------------|-------------------|----------------------------------------|
 * | `shared`          | request → private          | `pending-private` | PRESERVE only before launch()          |
 * | `private`         | request → shared           | `pending-shared`  | never PRESERVE                         |
 * | `shared`          | request → shared           | `shared`          | already there: not owned, not counted  |
 * | `private`         | request → private          | `private`         | already there: not owned, not counted  |
 * | `pending-private` | request → private          | `pending-private` | joined: owned by the first request     |
 * | `pending-shared`  | request → shared           | `pending-shared`  | joined: owned by the first request     |
 * | `pending-private` | request → shared           | —                 | ConversionConflictError (ECONFLICT)    |
 * | `pending-shared`  | request → private          | —                 | ConversionConflictError (ECONFLICT)    |
 * | `pending-private` | join with other PRESERVE   | —                 | ConversionConflictError (ECONFLICT)    |
 * | `pending-private` | commit                     | `private`         | PRESERVE cleared                       |
 * | `pending-shared`  | commit                     | `shared`          |                                        |
 * | `pending-private` | abort                      | `shared`          | exactly the state before the request   |
 * | `pending-shared`  | abort                      | `private`         | exactly the state before the request   |
 * | settled handle    | commit / abort again       | —                 | ConversionSettledError (ESETTLED)      |
 * | any               | request → shared, preserve | —                 | ConversionError (EPRESERVE)            |
 * | any, launched     | request → private, preserve| —                 | LaunchGateError (ELAUNCHED)            |
 *
 * Backing state of each side (bits S_POP/S_DISC and P_POP/P_DISC), independent of the above:
 *
 * | from                 | step     | to          | notes                                    |
 * |----------------------|----------|-------------|------------------------------------------|
 * | `empty`              | populate | `populated` | counted as new                           |
 * | `discarded`          | populate | `populated` | counted as a refault                     |
 * | `populated`          | populate | `populated` | no change                                |
 * | `populated`          | discard  | `discarded` | counted as freed                         |
 * | `empty`/`discarded`  | discard  | unchanged   | punching a hole in a hole frees nothing  |
 *
 * Guest memory itself changes at runtime (memory hotplug; GUEST bit):
 *
 * | from                     | step           | to                        | notes                                            |
 * |--------------------------|----------------|---------------------------|--------------------------------------------------|
 * | not guest memory         | addRegion      | `shared` (or `private`), both sides `empty` | as memory present from the start; merges with a region it touches |
 * | guest memory             | addRegion      | —                         | RegionError (EOVERLAP), nothing changes          |
 * | settled (any attribute)  | removeRegion   | not guest memory (value 0)| returns what was populated; both sides forgotten: re-adding starts clean |
 * | `pending-*`              | removeRegion   | —                         | RegionError (EBUSY): settle the conversion first |
 * | not guest memory         | removeRegion   | —                         | OutsideGuestMemoryError (EOUTSIDE)               |
 *
 * Memslot changes (deleting and re-creating a slot, toggling dirty logging) are not memory-map
 * changes: they touch no page's state.
 *
 * ## Bit layout of a page value
 *
 * ```
 *   7       6        5        4        3        2          1         0
 * +-------+--------+--------+--------+--------+----------+---------+---------+
 * | GUEST | P_DISC | S_DISC | P_POP  | S_POP  | PRESERVE | PENDING | PRIVATE |
 * +-------+--------+--------+--------+--------+----------+---------+---------+
 * ```
 * - GUEST: the page is guest memory. Pages outside every region keep value 0, so per-value
 *   totals of the core count guest pages only and a stray write outside shows in `snapshot()`.
 * - PRIVATE: committed attribute (1 = private).
 * - PENDING: a conversion is pending; its direction is always the opposite of PRIVATE
 *   (pages already in the target state are never marked), so no direction bit is needed.
 * - PRESERVE: the pending conversion to private copies the shared contents (in-place
 *   encryption). Only ever set together with PENDING and PRIVATE = 0.
 * - S_POP / P_POP: the shared / private backing holds a page here.
 * - S_DISC / P_DISC: that backing's page was discarded after being populated; populating it
 *   again is a refault. POP and DISC of one side are never both set.
 *
 * The bit values are defined once, as PAGE_* in assembly/abi.ts (the core applies the state
 * machine); this file gives them their TypeScript names.
 *
 * Of the 256 values, 45 are reachable: 5 conversion states (counting PRESERVE) × 3 × 3 backing
 * states. Totals are sums of the core's O(1) per-value page counts over those 45 values.
 */
import {
  PAGE_BYTES as ABI_PAGE_BYTES,
  PAGE_CONVERSION_MASK,
  PAGE_GUEST,
  PAGE_PENDING,
  PAGE_PRESERVE,
  PAGE_PRIVATE,
  PAGE_PRIVATE_DISCARDED,
  PAGE_PRIVATE_POPULATED,
  PAGE_SHARED_DISCARDED,
  PAGE_SHARED_POPULATED,
  PAGE_SHIFT as ABI_PAGE_SHIFT,
} from "../core/_abi.js";

/** Page is guest memory (set on every page inside a region). */
export const GUEST = PAGE_GUEST;
/** Committed attribute is private. */
export const PRIVATE = PAGE_PRIVATE;
/** A conversion to the opposite attribute is pending. */
export const PENDING = PAGE_PENDING;
/** The pending conversion to private preserves contents (in-place encryption). */
export const PRESERVE = PAGE_PRESERVE;
/** Shared backing populated. */
export const SHARED_POPULATED = PAGE_SHARED_POPULATED;
/** Private backing populated. */
export const PRIVATE_POPULATED = PAGE_PRIVATE_POPULATED;
/** Shared backing discarded after having been populated. */
export const SHARED_DISCARDED = PAGE_SHARED_DISCARDED;
/** Private backing discarded after having been populated. */
export const PRIVATE_DISCARDED = PAGE_PRIVATE_DISCARDED;

/** The bits that make up the conversion state. */
export const CONVERSION_MASK = PAGE_CONVERSION_MASK;

/** Bytes in one guest page. */
export const PAGE_BYTES = ABI_PAGE_BYTES;
/** log2(PAGE_BYTES). */
export const PAGE_SHIFT = ABI_PAGE_SHIFT;

/** Committed attribute of a page, and the target of a conversion. */
export type Attribute = "shared" | "private";
/** One of the two backings of a page. */
export type Side = "shared" | "private";
/** Conversion state of a page (see the state table). */
export type ConversionState = "shared" | "private" | "pending-private" | "pending-shared";
/** State of one backing of a page. */
export type BackingState = "empty" | "populated" | "discarded";

/** A decoded page value. */
export interface PageState {
  /** Conversion state. */
  conversion: ConversionState;
  /** Committed attribute (for a pending page: the attribute before the conversion). */
  attribute: Attribute;
  /** Target of the pending conversion, or null. */
  pending: Attribute | null;
  /** The pending conversion to private preserves contents. */
  preserve: boolean;
  /** Shared backing. */
  shared: BackingState;
  /** Private backing. */
  private: BackingState;
}

/** The POP bit of `side`. */
export function populatedBit(side: Side): number {
  return side === "shared" ? SHARED_POPULATED : PRIVATE_POPULATED;
}

/** The DISC bit of `side`. */
export function discardedBit(side: Side): number {
  return side === "shared" ? SHARED_DISCARDED : PRIVATE_DISCARDED;
}

/** Conversion state encoded in `value`. */
export function conversionStateOf(value: number): ConversionState {
  if ((value & PENDING) !== 0) return (value & PRIVATE) !== 0 ? "pending-shared" : "pending-private";
  return (value & PRIVATE) !== 0 ? "private" : "shared";
}

/** Conversion bits (PRIVATE | PENDING) of a state; PRESERVE is left to the caller. */
export function conversionBitsOf(state: ConversionState): number {
  switch (state) {
    case "shared":
      return 0;
    case "private":
      return PRIVATE;
    case "pending-private":
      return PENDING;
    case "pending-shared":
      return PRIVATE | PENDING;
  }
}

function backingStateOf(value: number, pop: number, disc: number): BackingState {
  if ((value & pop) !== 0) return "populated";
  return (value & disc) !== 0 ? "discarded" : "empty";
}

/**
 * Decodes a page value into its parts.
 * @param value - a value read from the tracker's range map (must have GUEST set).
 * @returns the decoded state.
 * @example
 * ```ts
 * import { decodePageValue, GUEST, PRIVATE, SHARED_POPULATED } from "memattr";
 * decodePageValue(GUEST | PRIVATE | SHARED_POPULATED).conversion; // "private"
 * ```
 */
export function decodePageValue(value: number): PageState {
  const conversion = conversionStateOf(value);
  const attribute: Attribute = (value & PRIVATE) !== 0 ? "private" : "shared";
  return {
    conversion,
    attribute,
    pending: (value & PENDING) !== 0 ? (attribute === "private" ? "shared" : "private") : null,
    preserve: (value & PRESERVE) !== 0,
    shared: backingStateOf(value, SHARED_POPULATED, SHARED_DISCARDED),
    private: backingStateOf(value, PRIVATE_POPULATED, PRIVATE_DISCARDED),
  };
}

/** Every value a tracker can hold on a guest page (45 of them), ascending. */
export const REACHABLE_VALUES: readonly number[] = (() => {
  const out: number[] = [];
  const conversions = [0, PRIVATE, PENDING, PENDING | PRESERVE, PRIVATE | PENDING];
  const shared = [0, SHARED_POPULATED, SHARED_DISCARDED];
  const priv = [0, PRIVATE_POPULATED, PRIVATE_DISCARDED];
  for (const c of conversions) for (const s of shared) for (const p of priv) out.push(GUEST | c | s | p);
  return out.sort((a, b) => a - b);
})();

/** The reachable values `v` with `(v & mask) === match`. */
export function valuesMatching(mask: number, match: number): Int32Array {
  return Int32Array.from(REACHABLE_VALUES.filter((v) => (v & mask) === match));
}

// ---- value sets: which page values a total or a test counts ---------------------------------

/** Populated on `side` while the committed attribute is the other one and no conversion back to `side` is pending: a discard candidate. */
export function isStale(value: number, side: Side): boolean {
  if (side === "shared") return (value & (SHARED_POPULATED | PENDING | PRIVATE)) === (SHARED_POPULATED | PRIVATE);
  return (value & (PRIVATE_POPULATED | PENDING | PRIVATE)) === PRIVATE_POPULATED;
}

/** Stale on either side: populated on the side the page's attribute does not use. */
export function isStaleEitherSide(value: number): boolean {
  return isStale(value, "shared") || isStale(value, "private");
}

/** Populated on both sides (memory held twice). */
export function isDoubleAllocated(value: number): boolean {
  return (value & (SHARED_POPULATED | PRIVATE_POPULATED)) === (SHARED_POPULATED | PRIVATE_POPULATED);
}

/** The reachable values in each conversion state (backing bits any). */
export const STATE_VALUES: Readonly<Record<ConversionState, Int32Array>> = {
  shared: valuesMatching(PRIVATE | PENDING, 0),
  private: valuesMatching(PRIVATE | PENDING, PRIVATE),
  "pending-private": valuesMatching(PRIVATE | PENDING, PENDING),
  "pending-shared": valuesMatching(PRIVATE | PENDING, PRIVATE | PENDING),
};

/** The reachable values populated on each side. */
export const POPULATED_VALUES: Readonly<Record<Side, Int32Array>> = {
  shared: valuesMatching(SHARED_POPULATED, SHARED_POPULATED),
  private: valuesMatching(PRIVATE_POPULATED, PRIVATE_POPULATED),
};

/** The reachable values stale on each side (isStale). */
export const STALE_VALUES: Readonly<Record<Side, Int32Array>> = {
  shared: Int32Array.from(REACHABLE_VALUES.filter((v) => isStale(v, "shared"))),
  private: Int32Array.from(REACHABLE_VALUES.filter((v) => isStale(v, "private"))),
};

/** The reachable values stale on either side (a page is stale on one side at most). */
export const STALE_ANY_VALUES: Int32Array = Int32Array.from([...STALE_VALUES.shared, ...STALE_VALUES.private]);

/** The reachable values populated on both sides. */
export const DOUBLE_VALUES: Int32Array = Int32Array.from(REACHABLE_VALUES.filter(isDoubleAllocated));
