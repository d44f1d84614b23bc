/**
 * `GuestMemfd`: a guest_memfd file (Node only), made by Vm.createGuestMemfd.
 *
 * guest_memfd takes no ioctls and has no read/write or llseek: memory is added with
 * fallocate(KEEP_SIZE), discarded with fallocate(PUNCH_HOLE|KEEP_SIZE), and, when created
 * with GUEST_MEMFD_FLAG_MMAP, reached by the host through mmap (only pages that are shared;
 * INIT_SHARED makes every page start shared).
 */
import { FdOwner } from "./_fd.js";
import { fallocateChecked } from "./_fallocate.js";
import { Mapping } from "./_mapping.js";
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from "./_syscall.js";
import type { U64 } from "./_validate.js";
import { GUEST_MEMFD_FLAG_MMAP } from "../uapi/constants.js";
import { KvmArgumentError } from "./errors.js";

/**
 * A guest_memfd file descriptor.
 * @remarks Closing it unmaps the host mapping (stale views read zeros) and drops this process's
 * reference; a memslot bound to it keeps the file alive in the kernel until the slot goes.
 * @example
 * ```ts
 * import { Kvm, GUEST_MEMFD_FLAG_MMAP, GUEST_MEMFD_FLAG_INIT_SHARED } from "memattr/node";
 * if (Kvm.isAvailable()) {
 *   using kvm = Kvm.open();
 *   using vm = kvm.createVm();
 *   using gmem = vm.createGuestMemfd(0x4000, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
 *   gmem.write(0x1000, new Uint8Array([1, 2, 3]));
 *   gmem.punchHole(0x1000, 0x1000);
 *   console.log(gmem.read(0x1000, 3)); // Uint8Array [0, 0, 0]
 * }
 * ```
 */
export class GuestMemfd extends FdOwner {
  #mapping: Mapping | undefined;

  private constructor(
    fd: number,
    /** file size, bytes */
    readonly sizeBytes: number,
    /** GUEST_MEMFD_FLAG_* it was created with */
    readonly flags: number,
  ) {
    super(fd, "GuestMemfd");
  }

  /** @internal Used by Vm.createGuestMemfd. */
  static _wrap(fd: number, sizeBytes: number, flags: number): GuestMemfd {
    return new GuestMemfd(fd, sizeBytes, flags);
  }

  /**
   * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): frees the pages of the range;
   * they read back as zeros.
   * @param offsetBytes - file offset, bytes, page aligned
   * @param lengthBytes - bytes, page aligned, > 0
   * @throws KvmArgumentError (EINVAL) for zero, unaligned or overflowing ranges
   * @throws KvmError from the kernel (e.g. EINVAL past the end)
   */
  punchHole(offsetBytes: U64, lengthBytes: U64): void {
    fallocateChecked(this.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offsetBytes, lengthBytes, true);
  }

  /**
   * fallocate(FALLOC_FL_KEEP_SIZE): allocates (and zeroes) the pages of the range now.
   * guest_memfd refuses plain allocation (EOPNOTSUPP), so KEEP_SIZE is always set.
   * @param offsetBytes - file offset, bytes, page aligned
   * @param lengthBytes - bytes, page aligned, > 0
   */
  allocate(offsetBytes: U64, lengthBytes: U64): void {
    fallocateChecked(this.fd, FALLOC_FL_KEEP_SIZE, offsetBytes, lengthBytes, true);
  }

  /**
   * mmap(MAP_SHARED) of the whole file, made once and kept until close().
   * @throws KvmArgumentError (EINVAL) when the file was created without GUEST_MEMFD_FLAG_MMAP
   * @throws KvmError from mmap otherwise
   */
  mmap(): Mapping {
    const fd = this.fd;
    if (!(this.flags & GUEST_MEMFD_FLAG_MMAP)) {
      throw new KvmArgumentError("mmap", "flags", "this guest_memfd was created without GUEST_MEMFD_FLAG_MMAP");
    }
    this.#mapping ??= Mapping.mapShared(fd, this.sizeBytes, 0, "GuestMemfd mapping");
    return this.#mapping;
  }

  /** Host address of the mapping (mmap() first if needed), for a memslot's userspaceAddr. */
  get address(): bigint {
    return this.mmap().address;
  }

  /**
   * Copies bytes out through the mapping.
   * @param offsetBytes - file offset, bytes
   * @param lengthBytes - bytes
   * @remarks Reading a private page faults in the kernel (SIGBUS); only shared pages are readable.
   */
  read(offsetBytes: number, lengthBytes: number): Uint8Array {
    return this.mmap().read(offsetBytes, lengthBytes);
  }

  /** Copies `data` in through the mapping at `offsetBytes`. */
  write(offsetBytes: number, data: Uint8Array): void {
    this.mmap().write(offsetBytes, data);
  }

  /**
   * mincore(2) over the mapping (mmap() first if needed): which pages of the file are resident
   * now, whoever populated them (a write through this mapping, KVM faulting a page in for the
   * guest, another mapping of the same file), since guest_memfd keeps its pages in its own page
   * cache. guest_memfd has no SEEK_DATA; this is how to ask it what it holds.
   * @remarks mincore counts up-to-date pages only: pages allocate() reserved but nobody faulted
   * in are not reported (measured on Linux 6.18).
   * @param offsetBytes - file offset, bytes, page aligned
   * @param npages - pages, ≥ 1, inside the file
   * @param vec - reused output, used when it holds at least npages bytes
   * @returns one byte per page; bit 0 = resident
   * @throws KvmArgumentError (EINVAL) for a bad range, or a file without GUEST_MEMFD_FLAG_MMAP
   * @throws MemattrDisposedError after close()
   */
  residentPages(offsetBytes: number, npages: number, vec?: Uint8Array): Uint8Array {
    return this.mmap().residentPages(offsetBytes, npages, vec);
  }

  protected override releaseResources(): void {
    this.#mapping?.unmap();
    this.#mapping = undefined;
  }
}
