/**
 * `eager`: discard the side a page no longer uses on every committed conversion — what QEMU
 * does today (`kvm_convert_memory` sets the attribute, then `ram_block_discard_range` /
 * `fallocate(PUNCH_HOLE)` on the other side for the whole converted range).
 */
import type { Tracker } from "../model/tracker.js";
import { coalesceFlat, sideLeft } from "./_ranges.js";
import type { DiscardBatch, DiscardPolicy, SettledConversion } from "./types.js";

/**
 * Creates the eager policy.
 *
 * **Guarantee:** right after each committed conversion's batch is carried out, no page of that
 * conversion is populated on the side it left; hence, when guest touches only land on the side
 * a page is on, no page is ever stale after a commit and double allocation is bounded by the
 * pages of conversions still pending. Cost: one discard per owned range of every conversion,
 * populated or not (as QEMU does), and a refault on every flip back.
 * @returns a fresh policy (it keeps no state).
 * @example
 * ```ts
 * import { createTracker, eagerPolicy } from "memattr";
 * const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
 * const c = t.requestConversion({ gfn: 8, npages: 4, to: "private" });
 * c.commit();
 * eagerPolicy().onCommit(t, c, 0); // { shared: [{ gfn: 8, npages: 4 }], private: [] }
 * ```
 */
export function eagerPolicy(): DiscardPolicy {
  return new EagerPolicy();
}

class EagerPolicy implements DiscardPolicy {
  readonly name = "eager";

  onCommit(_tracker: Tracker, c: SettledConversion): DiscardBatch | null {
    if (c.ownedFlat.length === 0) return null;
    const ranges = coalesceFlat(c.ownedFlat);
    return sideLeft(c.to) === "shared" ? { shared: ranges, private: [] } : { shared: [], private: ranges };
  }

  onAbort(): DiscardBatch | null {
    return null;
  }

  onPopulate(): DiscardBatch | null {
    return null;
  }

  flush(): DiscardBatch | null {
    return null;
  }
}
