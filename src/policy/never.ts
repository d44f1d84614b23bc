/**
 * `never`: never discard. The fastest conversions (no punch-hole, no refault) and the worst
 * memory: a guest that touches every page on both sides makes the host hold all of its memory
 * twice (the seed's "discard disabled" measurement, 1 m 08 s against 1 m 43 s).
 */
import type { DiscardBatch, DiscardPolicy } from "./types.js";

/**
 * Creates the never-discard policy.
 *
 * **Guarantee:** returns no discard, ever (every method returns null). Double allocation is
 * unbounded up to the whole guest memory.
 * @returns a fresh policy.
 * @example
 * ```ts
 * import { createTracker, neverPolicy } from "memattr";
 * const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
 * const c = t.requestConversion({ gfn: 8, npages: 4, to: "private" });
 * c.commit();
 * neverPolicy().onCommit(t, c, 0); // null
 * ```
 */
export function neverPolicy(): DiscardPolicy {
  return new NeverPolicy();
}

class NeverPolicy implements DiscardPolicy {
  readonly name = "never";

  onCommit(): DiscardBatch | null {
    return null;
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
