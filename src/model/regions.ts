/**
 * The guest memory map: the gfn ranges that are guest RAM. Requests outside it are refused.
 * Regions are given as `gfn + npages`; they are sorted and adjacent ones merged, so a range
 * is accepted when it lies wholly inside one merged region (it may not span a hole). The
 * tracker changes it at runtime (`addRegion` / `removeRegion`: memory hotplug and unplug).
 */
import { MemattrRangeError } from "../core/errors.js";
import { MAX_GFN } from "../core/types.js";
import { checkGfn, checkInteger, checkNpages, checkObject } from "./_check.js";
import { type GfnRange, OutsideGuestMemoryError } from "./errors.js";
import { PAGE_BYTES } from "./states.js";

/** 3 GiB: where x86 VMMs (QEMU's pc machine) end low RAM, below the PCI hole. */
export const LOW_RAM_LIMIT_BYTES = 3 * 2 ** 30;
/** 4 GiB: where high RAM starts. */
export const HIGH_RAM_START_BYTES = 4 * 2 ** 30;

/**
 * Splits `ramBytes` of guest RAM the way an x86 VMM lays it out: up to `lowLimitBytes`
 * (default 3 GiB) from gpa 0, the rest from 4 GiB.
 * @param ramBytes - guest RAM in bytes, a positive multiple of 4096.
 * @param lowLimitBytes - end of low RAM in bytes (default 3 GiB), a multiple of 4096, ≤ 4 GiB.
 * @returns one or two regions in pages.
 * @throws MemattrTypeError when an argument is not an integer.
 * @throws MemattrRangeError when an argument is out of range or not page-aligned.
 * @example
 * ```ts
 * import { ramRegions } from "memattr";
 * ramRegions(8 * 2 ** 30); // [{ gfn: 0, npages: 786432 }, { gfn: 1048576, npages: 1310720 }]
 * ```
 */
export function ramRegions(ramBytes: number, lowLimitBytes = LOW_RAM_LIMIT_BYTES): GfnRange[] {
  const ram = checkInteger(ramBytes, "ramBytes", PAGE_BYTES, MAX_GFN * PAGE_BYTES - HIGH_RAM_START_BYTES);
  const low = checkInteger(lowLimitBytes, "lowLimitBytes", PAGE_BYTES, HIGH_RAM_START_BYTES);
  if (ram % PAGE_BYTES !== 0) throw new MemattrRangeError(`ramBytes must be a multiple of 4096, got ${ramBytes}`);
  if (low % PAGE_BYTES !== 0) throw new MemattrRangeError(`lowLimitBytes must be a multiple of 4096, got ${lowLimitBytes}`);
  if (ram <= low) return [{ gfn: 0, npages: ram / PAGE_BYTES }];
  return [
    { gfn: 0, npages: low / PAGE_BYTES },
    { gfn: HIGH_RAM_START_BYTES / PAGE_BYTES, npages: (ram - low) / PAGE_BYTES },
  ];
}

/** A validated, sorted, merged guest memory map. */
export class GuestMemoryMap {
  /** Merged regions, ascending: starts[i] .. ends[i] (half-open). */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private total = 0;

  /**
   * @param regions - one or more `{gfn, npages}` ranges; they may not overlap.
   * @throws MemattrTypeError / MemattrRangeError for a malformed, empty or overlapping map.
   */
  constructor(regions: readonly GfnRange[]) {
    if (!Array.isArray(regions) || regions.length === 0) {
      throw new MemattrRangeError("regions must be a non-empty array of { gfn, npages }");
    }
    const checked = regions.map((r, i) => {
      const o = checkObject(r, `regions[${i}]`);
      const gfn = checkGfn(o.gfn, `regions[${i}].gfn`);
      const npages = checkNpages(o.npages, `regions[${i}].npages`);
      if (gfn + npages > MAX_GFN) throw new MemattrRangeError(`regions[${i}] ends beyond 2^40 pages`);
      return { gfn, npages };
    });
    checked.sort((a, b) => a.gfn - b.gfn);
    let total = 0;
    for (const r of checked) {
      const last = this.ends.length - 1;
      if (last >= 0 && r.gfn < this.ends[last]!) {
        throw new MemattrRangeError(`regions overlap at gfn 0x${r.gfn.toString(16)}`);
      }
      if (last >= 0 && r.gfn === this.ends[last]) this.ends[last] = r.gfn + r.npages;
      else {
        this.starts.push(r.gfn);
        this.ends.push(r.gfn + r.npages);
      }
      total += r.npages;
    }
    this.total = total;
  }

  /** Total guest pages. */
  get npages(): number {
    return this.total;
  }

  /**
   * @internal Adds `[gfn, gfn + npages)`, which the caller checked is no guest memory yet;
   * merges it with the regions it touches.
   */
  add(gfn: number, npages: number): void {
    const end = gfn + npages;
    let i = 0;
    while (i < this.starts.length && this.starts[i]! < gfn) i++;
    this.starts.splice(i, 0, gfn);
    this.ends.splice(i, 0, end);
    // merge with the region before and the one after when they touch
    if (i + 1 < this.starts.length && this.starts[i + 1] === end) {
      this.ends[i] = this.ends[i + 1]!;
      this.starts.splice(i + 1, 1);
      this.ends.splice(i + 1, 1);
    }
    if (i > 0 && this.ends[i - 1] === gfn) {
      this.ends[i - 1] = this.ends[i]!;
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
    }
    this.total += npages;
  }

  /** @internal Removes `[gfn, gfn + npages)`, which the caller checked lies inside one region (it may split it). */
  remove(gfn: number, npages: number): void {
    const i = this.regionOf(gfn);
    const end = gfn + npages;
    const [s, e] = [this.starts[i]!, this.ends[i]!];
    const pieces: number[] = [];
    if (s < gfn) pieces.push(s, gfn);
    if (end < e) pieces.push(end, e);
    this.starts.splice(i, 1, ...pieces.filter((_v, k) => k % 2 === 0));
    this.ends.splice(i, 1, ...pieces.filter((_v, k) => k % 2 === 1));
    this.total -= npages;
  }

  /** The merged regions, ascending. */
  regions(): GfnRange[] {
    return this.starts.map((s, i) => ({ gfn: s, npages: this.ends[i]! - s }));
  }

  /** Index of the merged region holding `gfn`, or -1. */
  regionOf(gfn: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (gfn < this.starts[mid]!) hi = mid - 1;
      else if (gfn >= this.ends[mid]!) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** True when `[gfn, gfn + npages)` lies wholly inside one merged region. */
  contains(gfn: number, npages: number): boolean {
    if (this.starts.length === 1) return gfn >= this.starts[0]! && gfn + npages <= this.ends[0]!;
    const i = this.regionOf(gfn);
    return i >= 0 && gfn + npages <= this.ends[i]!;
  }

  /** Throws OutsideGuestMemoryError naming `what` unless `[gfn, gfn + npages)` lies wholly inside one merged region. */
  require(gfn: number, npages: number, what: string): void {
    if (!this.contains(gfn, npages)) throw new OutsideGuestMemoryError(gfn, npages, what);
  }

  /** Calls `fn(start, end)` for each merged region (half-open). */
  forEach(fn: (start: number, end: number) => void): void {
    for (let i = 0; i < this.starts.length; i++) fn(this.starts[i]!, this.ends[i]!);
  }
}
