/**
 * `SharedMemfdBacking`: the shared side of guest memory on a memfd (Node only).
 *
 * Short names: `gfn` guest frame number (4 KiB page); a range is `gfn + npages` (half-open).
 * What is populated is read back from the kernel with lseek(SEEK_DATA / SEEK_HOLE), so pages
 * written before bind are found without replaying notifications.
 */
import { closeAfterFailure } from "../../kvm/_fd.js";
import { SharedMemfd } from "../../kvm/memfd.js";
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, sysFallocate } from "../../kvm/_syscall.js";
import type { GfnRange } from "../../model/errors.js";
import { GuestLayout, PAGE_BYTES } from "./_layout.js";
import { MappedBacking } from "./_mapped.js";

/** Options of {@link SharedMemfdBacking.attach}. */
export interface SharedMemfdAttachOptions {
  /** Close the memfd when the backing closes (default false: the caller keeps it). */
  owned?: boolean;
}

/**
 * The shared side of a guest memory map, on a memfd mapped MAP_SHARED.
 * @remarks One thread at a time (no locking). A guest running on the same memfd sees every
 * discard at once: the kernel serialises punch-hole against faults.
 * @example
 * ```ts
 * import { Kvm, SharedMemfdBacking } from "memattr/node";
 * if (Kvm.isAvailable()) {
 *   using shared = SharedMemfdBacking.create([{ gfn: 0, npages: 256 }]);
 *   shared.touch(0x10, 4, true);
 *   console.log(shared.populatedRanges()); // [{ gfn: 16, npages: 4 }]
 *   shared.discard([{ gfn: 0x10, npages: 4 }]);
 *   console.log(shared.populatedRanges()); // []
 * }
 * ```
 */
export class SharedMemfdBacking extends MappedBacking {
  readonly side = "shared" as const;
  readonly kind = "memfd" as const;
  /** The memfd (its mapping is the guest's shared memory). */
  readonly memfd: SharedMemfd;
  readonly #owned: boolean;

  private constructor(memfd: SharedMemfd, layout: GuestLayout, owned: boolean) {
    super(layout, memfd.mapping.bytes(), "SharedMemfdBacking");
    this.memfd = memfd;
    this.#owned = owned;
  }

  /**
   * memfd_create + ftruncate + mmap(MAP_SHARED) of a file holding all of guest memory, owned
   * by the backing (closed with it).
   * @param regions - the guest memory map, `{gfn, npages}` each
   * @param name - the memfd's name in /proc/self/fd
   * @throws MemattrTypeError / MemattrRangeError for a malformed or overlapping memory map
   * @throws MemattrUnsupportedError when koffi is missing; KvmError from the syscalls
   */
  static create(regions: readonly GfnRange[], name = "memattr-shared"): SharedMemfdBacking {
    const layout = new GuestLayout(regions);
    const memfd = SharedMemfd.create(layout.sizeBytes, name);
    try {
      return new SharedMemfdBacking(memfd, layout, true);
    } catch (err) {
      closeAfterFailure(memfd);
      throw err;
    }
  }

  /**
   * Binds an existing memfd (pages already written in it are found by populatedRanges()).
   * @param memfd - at least as large as guest memory
   * @param regions - the guest memory map, laid end to end from offset 0
   * @param options - `owned`: close the memfd with the backing
   * @throws MemattrRangeError when the memfd is smaller than guest memory
   * @throws MemattrDisposedError when the memfd is closed
   */
  static attach(memfd: SharedMemfd, regions: readonly GfnRange[], options: SharedMemfdAttachOptions = {}): SharedMemfdBacking {
    return new SharedMemfdBacking(memfd, new GuestLayout(regions), options.owned ?? false);
  }

  /** Host address of page `gfn` in the mapping (a memslot's userspaceAddr). */
  addressOf(gfn: number): bigint {
    this.live();
    return this.memfd.address + BigInt(this.layout.offsetBytesOf(gfn));
  }

  /**
   * mincore over the file pages of `gfn + npages` (one region): one byte per page, bit 0 set
   * when the page is in the memfd's page cache, whoever populated it (this process, a guest
   * through a memslot).
   * @param vec - reused output buffer (a new one when missing or too small)
   * @returns the vector (only the first npages bytes are meaningful)
   * @throws KvmArgumentError (EINVAL) for a range outside the file; MemattrDisposedError after close()
   */
  residentPages(gfn: number, npages: number, vec?: Uint8Array): Uint8Array {
    this.live();
    return this.memfd.residentPages(this.layout.offsetBytesOf(gfn), npages, vec);
  }

  protected punchHole(offsetBytes: number, lengthBytes: number): void {
    // Checked by the layout: page aligned, inside the file. Straight to the syscall so the
    // measured time is the kernel's, not argument conversion. `memfd.fd` (not a cached number)
    // throws once the memfd is closed, so a reused descriptor number is never punched.
    sysFallocate(this.memfd.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offsetBytes, lengthBytes);
  }

  protected noteFilled(): void {} // the kernel keeps the record (SEEK_DATA)
  protected noteDiscarded(): void {}

  /**
   * Populated pages from lseek(SEEK_DATA / SEEK_HOLE) over the file, as gfn ranges, ascending
   * and coalesced. Pages written (or read-faulted) count, punched pages do not.
   * @remarks shmem reports pages reserved by fallocate but never written as holes (see
   * SharedMemfd.populatedRanges); `allocatedBytes()` counts them.
   * @throws MemattrDisposedError (EDISPOSED) after close()
   */
  populatedRanges(): GfnRange[] {
    this.live();
    const out: GfnRange[] = [];
    for (const f of this.memfd.populatedRanges(0, this.layout.sizeBytes)) {
      for (const r of this.layout.gfnRangesOfFile(f.offsetBytes, f.lengthBytes)) {
        const last = out[out.length - 1];
        if (last && last.gfn + last.npages === r.gfn) last.npages += r.npages;
        else out.push(r);
      }
    }
    return out;
  }

  /** Bytes the memfd holds in memory (fstat st_blocks × 512). @throws MemattrDisposedError after close() */
  allocatedBytes(): number {
    this.live();
    return this.memfd.allocatedBytes();
  }

  /**
   * A copy of page `gfn` by pread, which does not fault a hole in (a read through the mapping
   * would allocate a zero page on shmem).
   * @throws MemattrTypeError / MemattrRangeError / OutsideGuestMemoryError (EOUTSIDE) for a bad gfn
   * @throws MemattrDisposedError (EDISPOSED) after close()
   */
  override readPage(gfn: number): Uint8Array {
    this.live();
    return this.memfd.read(this.layout.offsetBytesOf(gfn), PAGE_BYTES);
  }

  protected releaseResources(): void {
    if (this.#owned) this.memfd.close();
  }
}
