/**
 * @internal The conversion model's way into the core: the exports of assembly/conv.ts (request,
 * commit, abort, fault, launch, populate, discard) and the f64 result slots they fill
 * (`OUT_*` of assembly/abi.ts). `src/model/tracker.ts` is its one user; it gets it from
 * `RangeMap.modelCore()`, so the model never reaches into the map's exports itself.
 */
import { OUT_SLOTS } from "./_abi.js";
import type { CoreExports } from "./load.js";

/** Owned ranges copied per convOwnedRanges call (f64 pairs at batchIn()). */
const OWNED_RANGES_PER_CALL = 1024;

/** @internal */
export class ModelCore {
  /** The exports (stubs that throw EDISPOSED once the map is disposed). */
  x: CoreExports;
  private view: Float64Array;

  constructor(exports: CoreExports) {
    this.x = exports;
    this.view = new Float64Array(exports.memory.buffer, exports.convOut(), OUT_SLOTS);
  }

  /** The result slots of the last call; a view rebuilt when memory.grow detached the old one. */
  out(): Float64Array {
    // A detached view reads undefined everywhere: one element load, where `byteLength` costs
    // a builtin call on every use (Node 20).
    const v = this.view;
    if (v[0] !== undefined) return v;
    return (this.view = new Float64Array(this.x.memory.buffer, this.x.convOut(), OUT_SLOTS));
  }

  /** The owned ranges of open conversion (slot, id) as flat [start0, end0, start1, end1, …]. */
  ownedRanges(slot: number, id: number, nranges: number): number[] {
    const flat: number[] = [];
    for (let first = 0; first < nranges; ) {
      const n = this.x.convOwnedRanges(slot, id, first, OWNED_RANGES_PER_CALL);
      if (n <= 0) break;
      const pairs = new Float64Array(this.x.memory.buffer, this.x.batchIn(), 2 * n);
      for (let i = 0; i < 2 * n; i++) flat.push(pairs[i]!);
      first += n;
    }
    return flat;
  }

  /** Called by RangeMap.dispose(): every later call throws EDISPOSED. */
  dispose(dead: CoreExports): void {
    this.x = dead;
  }
}
