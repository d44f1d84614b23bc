/**
 * The handle of one pending conversion: request → pending → commit | abort.
 *
 * A handle *owns* the pages it marked pending: the pages of its range that were in the other
 * attribute and not already pending. Pages already in the target attribute, or already pending
 * the same way (owned by an earlier request), are not owned: commit and abort never touch them.
 * Caveat of that rule: if the earlier owner aborts, its pages go back even though a later
 * request covered them; a VMM that wants them converted asks again.
 */
import type { GfnRange } from "./errors.js";
import type { RequestSource } from "./events.js";
import type { Attribute } from "./states.js";

/** Life cycle of a handle. */
export type ConversionStatus = "pending" | "committed" | "aborted";

/** @internal What a handle needs from its tracker. */
export interface ConversionOwner {
  settleConversion(conversion: PendingConversion, outcome: "committed" | "aborted"): void;
}

/**
 * A pending conversion returned by `Tracker.requestConversion`, `fromHypercall` or a
 * `convert` decision of `onMemoryFault`.
 *
 * Its fields are read-only to callers. A settled handle the caller hands back as `reuse`
 * (`requestConversion(req, reuse)`, `fromHypercall(args, reuse)`) becomes the new conversion
 * when that request owns at most one range of pages: the same object with a new id, range and
 * status — that is the point of handing it back (an exit handler then allocates nothing per
 * flip), so keep no copy of its fields across that call. A request that owns two ranges or more
 * gets a new handle and leaves `reuse` as it was.
 * @remarks Not thread-safe; the tracker and its handles belong to one JS thread.
 */
export class PendingConversion {
  private statusValue: ConversionStatus = "pending";
  private readonly owner: ConversionOwner;
  private idValue: number;
  private slotValue: number;
  private gfnValue: number;
  private npagesValue: number;
  private toValue: Attribute;
  private preserveValue: boolean;
  private sourceValue: RequestSource;
  private readonly owned: number[];
  private npagesOwnedValue: number;
  private leftStaleValue: boolean | undefined = undefined;

  /** @internal Use Tracker.requestConversion. */
  constructor(
    owner: ConversionOwner,
    id: number,
    slot: number,
    gfn: number,
    npages: number,
    to: Attribute,
    preserve: boolean,
    source: RequestSource,
    ownedFlat: number[],
    npagesOwned: number,
  ) {
    this.owner = owner;
    this.idValue = id;
    this.slotValue = slot;
    this.gfnValue = gfn;
    this.npagesValue = npages;
    this.toValue = to;
    this.preserveValue = preserve;
    this.sourceValue = source;
    this.owned = ownedFlat;
    this.npagesOwnedValue = npagesOwned;
  }

  /** Unique per tracker, from 1. */
  get id(): number {
    return this.idValue;
  }
  /** @internal Where the core keeps this conversion (with `id`, what commit and abort name). */
  get slot(): number {
    return this.slotValue;
  }
  /** First page of the requested range. */
  get gfn(): number {
    return this.gfnValue;
  }
  /** Pages requested. */
  get npages(): number {
    return this.npagesValue;
  }
  /** Target attribute. */
  get to(): Attribute {
    return this.toValue;
  }
  /** The conversion copies shared contents into the private page (only to private, before launch). */
  get preserve(): boolean {
    return this.preserveValue;
  }
  /** Where the request came from. */
  get source(): RequestSource {
    return this.sourceValue;
  }
  /** @internal Owned ranges, flat [start0, end0, start1, end1, ...], ascending, coalesced. */
  get ownedFlat(): readonly number[] {
    return this.owned;
  }
  /** Pages this handle owns (marked pending); the rest of the range needed no change or was joined. */
  get npagesOwned(): number {
    return this.npagesOwnedValue;
  }

  /** @internal True when `owner` made this handle. */
  ownedBy(owner: ConversionOwner): boolean {
    return this.owner === owner;
  }

  /**
   * @internal Turns this settled handle into a new pending one (`reuse` of
   * Tracker.requestConversion): same object, new id and range. When `ownedEnd > ownedStart`
   * the handle owns that one range, written into its own owned array; otherwise it owns nothing.
   */
  reuseFor(
    id: number,
    slot: number,
    gfn: number,
    npages: number,
    to: Attribute,
    preserve: boolean,
    source: RequestSource,
    ownedStart: number,
    ownedEnd: number,
  ): this {
    this.statusValue = "pending";
    this.leftStaleValue = undefined;
    this.idValue = id;
    this.slotValue = slot;
    this.gfnValue = gfn;
    this.npagesValue = npages;
    this.toValue = to;
    this.preserveValue = preserve;
    this.sourceValue = source;
    const flat = this.owned;
    if (ownedEnd > ownedStart) {
      if (flat.length !== 2) flat.length = 2;
      flat[0] = ownedStart;
      flat[1] = ownedEnd;
      this.npagesOwnedValue = ownedEnd - ownedStart;
    } else {
      if (flat.length !== 0) flat.length = 0;
      this.npagesOwnedValue = 0;
    }
    return this;
  }

  /** `pending`, `committed` or `aborted`. */
  get status(): ConversionStatus {
    return this.statusValue;
  }

  /** The owned ranges: the pages commit converts and abort restores. */
  get runs(): GfnRange[] {
    const out: GfnRange[] = [];
    for (let i = 0; i < this.ownedFlat.length; i += 2) {
      out.push({ gfn: this.ownedFlat[i]!, npages: this.ownedFlat[i + 1]! - this.ownedFlat[i]! });
    }
    return out;
  }

  /**
   * Applies the target attribute to the owned pages (after the VMM's
   * `KVM_SET_MEMORY_ATTRIBUTES` succeeded).
   * @throws ConversionSettledError (ESETTLED) when already committed or aborted; nothing changes.
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 1024 }] });
   * t.requestConversion({ gfn: 16, npages: 4, to: "private" }).commit();
   * t.isPrivate(16); // true
   * ```
   */
  commit(): void {
    this.owner.settleConversion(this, "committed");
  }

  /**
   * Restores the owned pages to exactly their state before the request (after the VMM's
   * `KVM_SET_MEMORY_ATTRIBUTES` failed, or the VMM refuses the guest).
   * @throws ConversionSettledError (ESETTLED) when already committed or aborted; nothing changes.
   * @example
   * ```ts
   * import { createTracker } from "memattr";
   * const t = await createTracker({ regions: [{ gfn: 0, npages: 1024 }] });
   * t.requestConversion({ gfn: 16, npages: 4, to: "private" }).abort();
   * t.state(16).conversion; // "shared"
   * ```
   */
  abort(): void {
    this.owner.settleConversion(this, "aborted");
  }

  /**
   * After a commit or abort: whether the owned pages held a stale page just then (populated on
   * the side their attribute does not use), when the tracker knew it without a walk — no owned
   * pages, or all of them holding one value (the common flip); `undefined` otherwise and while
   * pending. A policy reads it to skip `Tracker.hasStalePages`.
   */
  get leftStale(): boolean | undefined {
    return this.leftStaleValue;
  }

  /** @internal Called by the tracker once the state change is done. */
  markSettled(outcome: "committed" | "aborted", leftStale: boolean | undefined): void {
    this.statusValue = outcome;
    this.leftStaleValue = leftStale;
  }
}
