/**
 * `GuestLayout`: where each guest page lives in a backing file (Node-only layer, pure code).
 *
 * Short names: `gfn` guest frame number (4 KiB page); a range is `gfn + npages` (half-open);
 * `offsetBytes` a byte offset in the backing file; `filePage` that offset / 4096.
 *
 * The regions of the guest memory map are sorted, gfn-adjacent ones merged, and laid end to
 * end in the file in ascending gfn order (as QEMU lays low and high RAM into one RAM block):
 *
 * ```
 *   gfn:   [0 ........ A) hole [B ............ C)
 *   file:  [0 ........ A)[A ......... A + C - B)
 * ```
 *
 * A range must lie wholly in guest memory (a range over a hole is refused, as the tracker
 * refuses it), so a valid range is always one file-contiguous piece. Neighbouring ranges of
 * a batch may still be file-contiguous across a hole (the last page of one region and the
 * first of the next): `coalesceFilePieces` joins those into one piece, one syscall.
 */
import { PAGE_BYTES } from "../../core/_abi.js";
import { MemattrRangeError, MemattrTypeError } from "../../core/errors.js";
import { GuestMemoryMap } from "../../model/regions.js";
import { OutsideGuestMemoryError, type GfnRange } from "../../model/errors.js";

/** Bytes per guest page. */
export { PAGE_BYTES };

/** Slow path of argument checks: builds the typed error for a bad gfn/npages pair. */
function badRange(gfn: unknown, npages: unknown, what: string): never {
  if (typeof gfn !== "number" || !Number.isInteger(gfn)) throw new MemattrTypeError(`${what}: gfn must be an integer, got ${String(gfn)}`);
  if (typeof npages !== "number" || !Number.isInteger(npages)) {
    throw new MemattrTypeError(`${what}: npages must be an integer, got ${String(npages)}`);
  }
  throw new MemattrRangeError(`${what}: gfn must be ≥ 0 and npages ≥ 1, got gfn ${gfn}, npages ${npages}`);
}

/** The gfn → file offset mapping of one guest memory map. Immutable. */
export class GuestLayout {
  /** Merged regions, ascending. */
  readonly regions: readonly GfnRange[];
  /** Guest pages = file pages. */
  readonly npages: number;
  /** File size, bytes. */
  readonly sizeBytes: number;
  readonly #starts: Float64Array;
  readonly #ends: Float64Array;
  /** First file page of each merged region. */
  readonly #fileStarts: Float64Array;
  /** Region index of the last lookup: flips hit the same region again and again. */
  #hint = 0;

  /**
   * @param regions - the guest memory map, `{gfn, npages}` each; sorted and merged here
   * @throws MemattrTypeError / MemattrRangeError for a malformed, empty or overlapping map
   */
  constructor(regions: readonly GfnRange[]) {
    const merged = new GuestMemoryMap(regions).regions();
    this.regions = Object.freeze(merged.map((r) => Object.freeze({ ...r })));
    this.#starts = new Float64Array(merged.length);
    this.#ends = new Float64Array(merged.length);
    this.#fileStarts = new Float64Array(merged.length);
    let filePage = 0;
    merged.forEach((r, i) => {
      this.#starts[i] = r.gfn;
      this.#ends[i] = r.gfn + r.npages;
      this.#fileStarts[i] = filePage;
      filePage += r.npages;
    });
    this.npages = filePage;
    this.sizeBytes = filePage * PAGE_BYTES;
  }

  /** True when `other` lays out the same regions (so the same gfn sits at the same offset). */
  sameAs(other: GuestLayout): boolean {
    if (other === this) return true;
    if (other.regions.length !== this.regions.length) return false;
    return this.regions.every((r, i) => r.gfn === other.regions[i]!.gfn && r.npages === other.regions[i]!.npages);
  }

  /** Index of the merged region holding `gfn`, or -1. */
  #regionOf(gfn: number): number {
    const h = this.#hint;
    if (gfn >= this.#starts[h]! && gfn < this.#ends[h]!) return h;
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (gfn < this.#starts[mid]!) hi = mid - 1;
      else if (gfn >= this.#ends[mid]!) lo = mid + 1;
      else return (this.#hint = mid);
    }
    return -1;
  }

  /**
   * File page of `gfn`, after checking that every page of `gfn + npages` is guest memory.
   * @param what - the operation, for messages ("discard")
   * @returns the file page of `gfn` (the range continues file-contiguously)
   * @throws MemattrTypeError when gfn or npages is not an integer
   * @throws MemattrRangeError when gfn < 0 or npages < 1
   * @throws OutsideGuestMemoryError (EOUTSIDE) when a page of the range is not guest memory
   */
  filePageOf(gfn: number, npages: number, what: string): number {
    if (!(Number.isInteger(gfn) && Number.isInteger(npages) && gfn >= 0 && npages >= 1)) badRange(gfn, npages, what);
    const i = this.#regionOf(gfn);
    if (i < 0 || gfn + npages > this.#ends[i]!) throw new OutsideGuestMemoryError(gfn, npages, what);
    return this.#fileStarts[i]! + (gfn - this.#starts[i]!);
  }

  /**
   * Byte offset of page `gfn` in the file.
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError as {@link filePageOf}
   */
  offsetBytesOf(gfn: number): number {
    return this.filePageOf(gfn, 1, "offsetBytesOf") * PAGE_BYTES;
  }

  /**
   * The gfn stored at byte `offsetBytes` of the file.
   * @param offsetBytes - bytes, a multiple of 4096 inside the file
   * @throws MemattrTypeError when not an integer
   * @throws MemattrRangeError when misaligned, negative or past the end of the file
   */
  gfnAtOffset(offsetBytes: number): number {
    if (typeof offsetBytes !== "number" || !Number.isInteger(offsetBytes)) {
      throw new MemattrTypeError(`gfnAtOffset: offsetBytes must be an integer, got ${String(offsetBytes)}`);
    }
    if (offsetBytes < 0 || offsetBytes >= this.sizeBytes) {
      throw new MemattrRangeError(`gfnAtOffset: offsetBytes ${offsetBytes} is outside the file's [0, ${this.sizeBytes})`);
    }
    if (offsetBytes % PAGE_BYTES !== 0) {
      throw new MemattrRangeError(`gfnAtOffset: offsetBytes 0x${offsetBytes.toString(16)} is not a multiple of 4096`);
    }
    const page = offsetBytes / PAGE_BYTES;
    let lo = 0;
    let hi = this.#fileStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#fileStarts[mid]! <= page) lo = mid;
      else hi = mid - 1;
    }
    return this.#starts[lo]! + (page - this.#fileStarts[lo]!);
  }

  /**
   * Gfn ranges held by a file byte range, split at region boundaries (a file-contiguous range
   * may cross from one region into the next across a hole in gfn space). Partial pages count.
   * @param offsetBytes - bytes, ≥ 0
   * @param lengthBytes - bytes, > 0
   */
  gfnRangesOfFile(offsetBytes: number, lengthBytes: number): GfnRange[] {
    const out: GfnRange[] = [];
    let page = Math.floor(offsetBytes / PAGE_BYTES);
    const endPage = Math.min(Math.ceil((offsetBytes + lengthBytes) / PAGE_BYTES), this.npages);
    while (page < endPage) {
      const gfn = this.gfnAtOffset(page * PAGE_BYTES);
      const i = this.#regionOf(gfn);
      const n = Math.min(endPage - page, this.#ends[i]! - gfn);
      out.push({ gfn, npages: n });
      page += n;
    }
    return out;
  }

  /**
   * Checks a batch of ranges (ascending, disjoint, all guest memory) and returns file pieces as
   * flat pairs `[filePage, npages, …]`, joining file-contiguous neighbours. Validates the whole
   * batch before returning, so a caller that acts afterwards acts on all or nothing.
   * @param what - the operation, for messages
   * @throws MemattrTypeError / MemattrRangeError for malformed, unsorted or overlapping ranges
   * @throws OutsideGuestMemoryError (EOUTSIDE) for a range not wholly in guest memory
   */
  coalesceFilePieces(ranges: readonly GfnRange[], what: string): number[] {
    if (!Array.isArray(ranges)) throw new MemattrTypeError(`${what}: ranges must be an array of { gfn, npages }`);
    const out: number[] = [];
    let prevEnd = -1;
    for (let k = 0; k < ranges.length; k++) {
      const r = ranges[k];
      if (typeof r !== "object" || r === null) throw new MemattrTypeError(`${what}: ranges[${k}] must be { gfn, npages }`);
      const { gfn, npages } = r;
      const filePage = this.filePageOf(gfn, npages, what);
      if (gfn < prevEnd) {
        throw new MemattrRangeError(
          `${what}: ranges must be ascending and disjoint; ranges[${k}] starts at gfn 0x${gfn.toString(16)} before 0x${prevEnd.toString(16)}`,
        );
      }
      prevEnd = gfn + npages;
      const last = out.length - 2;
      if (last >= 0 && out[last]! + out[last + 1]! === filePage) out[last + 1] = out[last + 1]! + npages;
      else out.push(filePage, npages);
    }
    return out;
  }
}
