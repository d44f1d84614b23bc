/**
 * `SimulatedBacking`: the browser-safe {@link Backing} that only counts. No memory stands
 * behind it (`simulated: true`), so every output it feeds must say "simulated backing".
 *
 * Optionally (`trackContents: true`, for tests and small guests) it keeps one content tag per
 * populated page — a byte the page is notionally filled with — so `readPage` can show what
 * the host would read, and the no-leak invariant can be checked without /dev/kvm. That mode
 * costs O(pages) per call; the default mode is O(ranges).
 */
import { MemattrDisposedError, MemattrRangeError } from "../core/errors.js";
import type { GfnRange } from "../model/errors.js";
import { PAGE_BYTES, type Side } from "../model/states.js";
import type { Backing, BackingStats } from "./contract.js";

/** Options of a {@link SimulatedBacking}. */
export interface SimulatedBackingOptions {
  /** Keep a content tag per populated page (tests; O(pages) per call). Default false. */
  trackContents?: boolean;
  /**
   * Where `populatedRanges()` comes from when contents are not tracked — typically
   * `() => tracker.populatedRuns(side)`, the same record a guest_memfd backing uses. Default: none (`[]`).
   */
  populatedSource?: () => GfnRange[];
}

/**
 * A backing that counts calls and pages and, optionally, tracks page contents as tags.
 * @remarks Single-threaded.
 * @example
 * ```ts
 * import { SimulatedBacking } from "memattr";
 * const shared = new SimulatedBacking("shared");
 * shared.touch(0, 4, true);
 * shared.discard([{ gfn: 0, npages: 4 }]);
 * console.log(shared.stats.discardCalls, shared.simulated); // 1 true
 * ```
 */
export class SimulatedBacking implements Backing {
  readonly kind = "simulated" as const;
  readonly simulated = true;
  readonly stats: BackingStats = { discardCalls: 0, discardedPages: 0, touchCalls: 0, touchedPages: 0, copiedPages: 0, discardNs: 0 };
  private readonly contents: Map<number, number> | null;
  private readonly populatedSource: (() => GfnRange[]) | undefined;
  private closed = false;
  private nextFill = 1;

  /**
   * @param side - the side this backing holds.
   * @param options - content tracking and the source of `populatedRanges()`.
   * @throws MemattrRangeError for a side other than `shared` / `private`.
   */
  constructor(
    readonly side: Side,
    options: SimulatedBackingOptions = {},
  ) {
    if (side !== "shared" && side !== "private") throw new MemattrRangeError(`side must be "shared" or "private", got ${JSON.stringify(side)}`);
    this.contents = options.trackContents === true ? new Map() : null;
    this.populatedSource = options.populatedSource;
  }

  private live(op: string): void {
    if (this.closed) throw new MemattrDisposedError(`SimulatedBacking(${this.side}).${op}`);
  }

  /** Ascending, coalesced populated ranges: from the tracked contents, else from `populatedSource`. */
  populatedRanges(): GfnRange[] {
    this.live("populatedRanges");
    if (this.contents === null) return this.populatedSource?.() ?? [];
    const gfns = [...this.contents.keys()].sort((a, b) => a - b);
    const out: GfnRange[] = [];
    for (const g of gfns) {
      const last = out[out.length - 1];
      if (last !== undefined && last.gfn + last.npages === g) last.npages++;
      else out.push({ gfn: g, npages: 1 });
    }
    return out;
  }

  /**
   * Counts one discard call per range (the real backings make one `fallocate` per range).
   * @throws MemattrRangeError when the ranges are not ascending and disjoint, or one is empty.
   */
  discard(ranges: readonly GfnRange[]): void {
    this.live("discard");
    let end = -1;
    for (const r of ranges) {
      if (!(r.npages >= 1) || r.gfn < end) {
        throw new MemattrRangeError(`discard ranges must be ascending, disjoint and non-empty: got gfn ${r.gfn} + npages ${r.npages} after end ${end}`);
      }
      end = r.gfn + r.npages;
    }
    for (const r of ranges) {
      this.stats.discardCalls++;
      this.stats.discardedPages += r.npages;
      if (this.contents !== null) this.dropContents(r.gfn, r.npages);
    }
  }

  private dropContents(gfn: number, npages: number): void {
    const c = this.contents!;
    if (npages <= c.size) {
      for (let g = gfn; g < gfn + npages; g++) c.delete(g);
    } else {
      for (const g of [...c.keys()]) if (g >= gfn && g < gfn + npages) c.delete(g);
    }
  }

  /** Counts a guest access; with tracked contents a write stores `fill` (default: a fresh tag 1..255). */
  touch(gfn: number, npages: number, write: boolean, fill?: number): void {
    this.live("touch");
    this.stats.touchCalls++;
    this.stats.touchedPages += npages;
    const c = this.contents;
    if (c === null) return;
    const tag = fill ?? this.freshTag();
    for (let g = gfn; g < gfn + npages; g++) {
      if (write) c.set(g, tag & 0xff);
      else if (!c.has(g)) c.set(g, 0); // a read fault populates a zero page
    }
  }

  private freshTag(): number {
    const t = this.nextFill;
    this.nextFill = t === 255 ? 1 : t + 1;
    return t;
  }

  /** Copies `from`'s pages (tags, when both track contents) into this backing. */
  copyFrom(from: Backing, gfn: number, npages: number): void {
    this.live("copyFrom");
    this.stats.copiedPages += npages;
    const c = this.contents;
    if (c === null) return;
    const src = from instanceof SimulatedBacking ? from.contents : null;
    for (let g = gfn; g < gfn + npages; g++) {
      if (src !== null) c.set(g, src.get(g) ?? 0);
      else {
        const page = from.readPage(g);
        c.set(g, page === null ? 0 : page[0]!);
      }
    }
  }

  /** The page's bytes (its tag repeated; zeros for a hole) with tracked contents, else null. */
  readPage(gfn: number): Uint8Array | null {
    this.live("readPage");
    if (this.contents === null) return null;
    return new Uint8Array(PAGE_BYTES).fill(this.contents.get(gfn) ?? 0);
  }

  /** The content tag of a page (0 for a zero page), undefined for a hole or without tracking. */
  tagAt(gfn: number): number | undefined {
    return this.contents?.get(gfn);
  }

  /** Idempotent; later calls throw MemattrDisposedError. */
  close(): void {
    this.closed = true;
    this.contents?.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
