/**
 * `GuestMemfdBacking`: the private side of guest memory on a guest_memfd (Node only).
 *
 * Short names: `gfn` guest frame number (4 KiB page); a range is `gfn + npages` (half-open);
 * `record` this backing's own run set of populated pages (value 1 = populated).
 *
 * The data path (touch, copyFrom, readPage) goes through the host mapping of the guest_memfd,
 * which exists only when the file was created with GUEST_MEMFD_FLAG_MMAP; its pages are
 * host-accessible only while shared, which for a whole-file mapping means
 * GUEST_MEMFD_FLAG_INIT_SHARED on a VM without private memory (this host: default VM type,
 * KVM_CAP_GUEST_MEMFD_FLAGS = MMAP | INIT_SHARED). Without MMAP there is no data path: `attach`
 * refuses the file with KvmArgumentError (EINVAL), `createRealBackings` with
 * KvmCapabilityError (ENOCAP), and `probeRealBackings` says why, so callers fall back to the
 * SimulatedBacking, labelled as such.
 *
 * guest_memfd has no llseek, so no SEEK_DATA. What is populated is the union of two sources:
 * - the backing's own record, updated by touch / copy / read (populate) and discard, and
 *   seeded at bind with what the caller knows (the tracker's populatedRuns("private"));
 * - mincore(2) over the host mapping (GuestMemfd.residentPages): guest_memfd keeps its pages
 *   in its own page cache, and mincore on a MAP_SHARED file mapping reports the file's pages
 *   whether or not this process touched them — so it sees pages KVM faulted in for a guest, or
 *   that another mapping or another backing of the same file wrote.
 * Neither alone is enough: the record cannot see what others populated, and mincore misses
 * pages that are allocated but not up to date (fallocate without a fault: measured on Linux
 * 6.18, the same holds for memfd). The union never loses what either knows; a page punched
 * behind this backing's back stays reported only if the record or the seed still claims it.
 */
import { RangeMap } from "../../core/range-map.js";
import { closeAfterFailure } from "../../kvm/_fd.js";
import type { GuestMemfd } from "../../kvm/gmem.js";
import type { Vm } from "../../kvm/vm.js";
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, sysFallocate } from "../../kvm/_syscall.js";
import { GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP } from "../../uapi/constants.js";
import { KvmArgumentError } from "../../kvm/errors.js";
import type { GfnRange } from "../../model/errors.js";
import { GuestLayout, PAGE_BYTES } from "./_layout.js";
import { MappedBacking } from "./_mapped.js";

/** Flags a guest_memfd needs for this backing: host mmap, every page starting shared. */
export const GUEST_MEMFD_BACKING_FLAGS = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

/** Options of {@link GuestMemfdBacking.attach}. */
export interface GuestMemfdAttachOptions {
  /** Close the guest_memfd when the backing closes (default false: the caller keeps it). */
  owned?: boolean;
  /**
   * Pages already populated in the file (the tracker's `populatedRuns("private")`): the record
   * starts from this. populatedRanges() adds what mincore finds resident, so the seed matters
   * for what mincore cannot see (pages allocated but never faulted in) and for callers that
   * know more than the page cache says. Default: none.
   */
  populated?: readonly GfnRange[];
}

const POPULATED = 1;

/**
 * The private side of a guest memory map, on a guest_memfd mapped into this process.
 * @remarks One thread at a time. On this host the "private" pages are host-readable through
 * the mapping (INIT_SHARED, no hardware protection): see the security test.
 * @example
 * ```ts
 * import { Kvm, GuestMemfdBacking } from "memattr/node";
 * if (Kvm.isAvailable()) {
 *   using kvm = Kvm.open();
 *   using vm = kvm.createVm();
 *   using priv = await GuestMemfdBacking.create(vm, [{ gfn: 0, npages: 256 }]);
 *   priv.touch(0x10, 1, true, 0xaa);
 *   priv.discard([{ gfn: 0x10, npages: 1 }]);
 *   console.log(priv.readPage(0x10)[0]); // 0
 * }
 * ```
 */
export class GuestMemfdBacking extends MappedBacking {
  readonly side = "private" as const;
  readonly kind = "guest_memfd" as const;
  /** The guest_memfd. */
  readonly gmem: GuestMemfd;
  readonly #owned: boolean;
  readonly #record: RangeMap;
  /** mincore output, sized for the largest region at the first populatedRanges() and reused. */
  #residentVec: Uint8Array | undefined;

  private constructor(gmem: GuestMemfd, layout: GuestLayout, record: RangeMap, owned: boolean) {
    super(layout, gmem.mmap().bytes(), "GuestMemfdBacking");
    this.gmem = gmem;
    this.#record = record;
    this.#owned = owned;
  }

  /**
   * Binds an existing guest_memfd.
   * @param gmem - created with MMAP | INIT_SHARED, at least as large as guest memory
   * @param regions - the guest memory map, laid end to end from offset 0
   * @param options - `owned`, `populated` (seed of the record)
   * @throws KvmArgumentError (EINVAL) when gmem lacks GUEST_MEMFD_FLAG_MMAP or _INIT_SHARED
   * @throws MemattrRangeError when gmem is smaller than guest memory; OutsideGuestMemoryError for a bad seed
   * @throws MemattrUnsupportedError when the Wasm core cannot load
   */
  static async attach(gmem: GuestMemfd, regions: readonly GfnRange[], options: GuestMemfdAttachOptions = {}): Promise<GuestMemfdBacking> {
    const layout = new GuestLayout(regions);
    if ((gmem.flags & GUEST_MEMFD_BACKING_FLAGS) !== GUEST_MEMFD_BACKING_FLAGS) {
      throw new KvmArgumentError(
        "GuestMemfdBacking.attach",
        "flags",
        `0x${gmem.flags.toString(16)}: needs GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED (0x3); without them the host has no data path to the pages`,
      );
    }
    const record = await RangeMap.create();
    try {
      for (const r of options.populated ?? []) {
        layout.filePageOf(r.gfn, r.npages, "attach populated");
        record.set(r.gfn, r.gfn + r.npages, POPULATED);
      }
      return new GuestMemfdBacking(gmem, layout, record, options.owned ?? false);
    } catch (err) {
      record.dispose();
      throw err;
    }
  }

  /**
   * KVM_CREATE_GUEST_MEMFD (MMAP | INIT_SHARED) on `vm`, sized for all of guest memory, then
   * bind; the file is owned by the backing.
   * @param vm - a VM whose type allows INIT_SHARED (no private memory: the default type here)
   * @param regions - the guest memory map
   * @throws KvmCapabilityError (ENOCAP) when the VM lacks KVM_CAP_GUEST_MEMFD or a flag
   * @throws MemattrTypeError / MemattrRangeError for a malformed memory map
   */
  static async create(vm: Vm, regions: readonly GfnRange[]): Promise<GuestMemfdBacking> {
    const layout = new GuestLayout(regions);
    const gmem = vm.createGuestMemfd(layout.sizeBytes, GUEST_MEMFD_BACKING_FLAGS);
    try {
      return await GuestMemfdBacking.attach(gmem, regions, { owned: true });
    } catch (err) {
      closeAfterFailure(gmem);
      throw err;
    }
  }

  /** Host address of page `gfn` in the mapping. */
  addressOf(gfn: number): bigint {
    this.live();
    return this.gmem.address + BigInt(this.layout.offsetBytesOf(gfn));
  }

  protected punchHole(offsetBytes: number, lengthBytes: number): void {
    // Checked by the layout: page aligned (guest_memfd's EINVAL rule) and inside the file.
    // `gmem.fd` throws once the file is closed, so a reused descriptor is never punched.
    sysFallocate(this.gmem.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offsetBytes, lengthBytes);
  }

  protected noteFilled(gfn: number, npages: number): void {
    this.#record.set(gfn, gfn + npages, POPULATED);
  }

  protected noteDiscarded(filePage: number, npages: number): void {
    for (const r of this.layout.gfnRangesOfFile(filePage * PAGE_BYTES, npages * PAGE_BYTES)) {
      this.#record.set(r.gfn, r.gfn + r.npages, 0);
    }
  }

  /**
   * Populated pages, ascending and coalesced: the union of the backing's record (with its seed)
   * and what mincore says is resident in the guest_memfd's page cache (see the file comment).
   * One mincore per region; O(pages) in guest memory, meant for bind time, not hot paths.
   * @throws MemattrDisposedError (EDISPOSED) after close(), or once a borrowed gmem was closed
   */
  populatedRanges(): GfnRange[] {
    this.live();
    const out: GfnRange[] = [];
    for (const region of this.layout.regions) {
      const vec = this.#residentIn(region);
      // Fold the record into the vector (bit 0), then read runs off it.
      this.#record.forEachRun(region.gfn, region.gfn + region.npages, (start, end, value) => {
        if (value === POPULATED) vec.fill(1, start - region.gfn, end - region.gfn);
      });
      let i = 0;
      while (i < region.npages) {
        while (i < region.npages && (vec[i]! & 1) === 0) i++;
        const first = i;
        while (i < region.npages && (vec[i]! & 1) !== 0) i++;
        if (i > first) out.push({ gfn: region.gfn + first, npages: i - first });
      }
    }
    return out;
  }

  /**
   * mincore over the file pages of `gfn + npages` (one region): one byte per page, bit 0 set
   * when the page is in the guest_memfd's page cache, whoever populated it.
   * @param vec - reused output buffer (a new one when missing or too small)
   * @returns the vector (only the first npages bytes are meaningful)
   * @throws KvmArgumentError (EINVAL) for a range outside the file; MemattrDisposedError after close()
   */
  residentPages(gfn: number, npages: number, vec?: Uint8Array): Uint8Array {
    this.live();
    return this.gmem.residentPages(this.layout.offsetBytesOf(gfn), npages, vec);
  }

  /** mincore over one region's file pages, into the reused vector (first region.npages bytes). */
  #residentIn(region: GfnRange): Uint8Array {
    if (this.#residentVec === undefined) {
      let most = 0;
      for (const r of this.layout.regions) most = Math.max(most, r.npages);
      this.#residentVec = new Uint8Array(most);
    }
    return this.residentPages(region.gfn, region.npages, this.#residentVec);
  }

  protected releaseResources(): void {
    this.#record.dispose();
    if (this.#owned) this.gmem.close();
  }
}
