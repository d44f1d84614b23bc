/**
 * Internal: the Tracker's running totals — stale pages (either side) and pages populated on both
 * sides — which the policies read after every hook, so each read must be O(1) without a sum.
 * The core reports every one-value edit's value before and after (OUT_VALUE_BEFORE/AFTER), which
 * keeps them exact; an edit over several values (-1) marks them dirty, and the next read
 * recounts them from the map's per-value totals.
 */
import { OUT_VALUE_AFTER, OUT_VALUE_BEFORE } from "../core/_abi.js";
import { DOUBLE_VALUES, STALE_ANY_VALUES } from "./states.js";

// Per value, bit 0: stale on either side, bit 1: populated on both sides.
const CLASS = (() => {
  const t = new Uint8Array(256);
  for (const v of STALE_ANY_VALUES) t[v]! |= 1;
  for (const v of DOUBLE_VALUES) t[v]! |= 2;
  return t;
})();

export class RunningTotals {
  private stale = 0;
  private double = 0;
  private dirty = true;

  /** @param sumPages - pages of the map holding any of `values` (the map's per-value totals). */
  constructor(private readonly sumPages: (values: Int32Array) => number) {}

  /** An edit the core did not report value by value: the next read recounts. */
  invalidate(): void {
    this.dirty = true;
  }

  /** `n` pages went from value `u` to `nv`. */
  changed(u: number, nv: number, n: number): void {
    if (this.dirty) return;
    const a = CLASS[u]!;
    const b = CLASS[nv]!;
    if (a === b) return;
    this.stale += n * ((b & 1) - (a & 1));
    this.double += n * ((b >> 1) - (a >> 1));
  }

  /** An edit of `n` pages the core reported in its result slots `o`. */
  edited(o: Float64Array, n: number): void {
    const before = o[OUT_VALUE_BEFORE]! | 0;
    if (before >= 0) this.changed(before, o[OUT_VALUE_AFTER]! | 0, n);
    else this.dirty = true;
  }

  /** Pages stale on either side. */
  stalePages(): number {
    if (this.dirty) this.recount();
    return this.stale;
  }

  /** Pages populated on both sides. */
  doublePages(): number {
    if (this.dirty) this.recount();
    return this.double;
  }

  private recount(): void {
    this.stale = this.sumPages(STALE_ANY_VALUES);
    this.double = this.sumPages(DOUBLE_VALUES);
    this.dirty = false;
  }
}
