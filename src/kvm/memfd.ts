/**
 * `SharedMemfd`: the shared half of a confidential guest's memory (Node only): a memfd,
 * sized with ftruncate and mapped MAP_SHARED, whose pages can be discarded (punch hole) and
 * whose populated ranges can be found again with SEEK_DATA / SEEK_HOLE.
 */
import { fstatSync } from "node:fs";
import { closeAfterFailure, FdOwner } from "./_fd.js";
import { fallocateChecked } from "./_fallocate.js";
import { Mapping } from "./_mapping.js";
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  MFD_CLOEXEC,
  SEEK_DATA,
  SEEK_HOLE,
  sysFtruncate,
  sysLseek,
  sysMemfdCreate,
  sysPread,
  sysPwrite,
} from "./_syscall.js";
import { requireNonZero, requirePageAligned, toSafeBytes, type U64 } from "./_validate.js";
import { KvmArgumentError } from "./errors.js";

/** A populated byte range of a file: `[offsetBytes, offsetBytes + lengthBytes)`. */
export interface FileRange {
  offsetBytes: number;
  lengthBytes: number;
}

/**
 * A memfd mapped shared into this process.
 * @example
 * ```ts
 * import { SharedMemfd } from "memattr/node";
 * using mem = SharedMemfd.create(0x10000);
 * mem.write(0x2000, new Uint8Array([7]));
 * console.log(mem.populatedRanges()); // [{ offsetBytes: 0x2000, lengthBytes: 0x1000 }]
 * mem.punchHole(0x2000, 0x1000);
 * console.log(mem.populatedRanges()); // []
 * ```
 */
export class SharedMemfd extends FdOwner {
  readonly #mapping: Mapping;

  private constructor(
    fd: number,
    /** file size, bytes */
    readonly sizeBytes: number,
  ) {
    super(fd, "SharedMemfd");
    this.#mapping = Mapping.mapShared(fd, sizeBytes, 0, "SharedMemfd mapping");
  }

  /**
   * memfd_create(name, MFD_CLOEXEC) + ftruncate(sizeBytes) + mmap(MAP_SHARED).
   * @param sizeBytes - bytes, page aligned, > 0
   * @param name - shown in /proc/self/fd as "memfd:<name>"
   * @throws KvmArgumentError (EINVAL) for a zero or unaligned size
   */
  static create(sizeBytes: U64, name = "memattr-shared"): SharedMemfd {
    const op = "memfd_create";
    const size = toSafeBytes(op, "sizeBytes", sizeBytes);
    requireNonZero(op, "sizeBytes", BigInt(size));
    requirePageAligned(op, "sizeBytes", BigInt(size));
    const fd = sysMemfdCreate(name, MFD_CLOEXEC);
    try {
      sysFtruncate(fd, size);
      return new SharedMemfd(fd, size);
    } catch (err) {
      closeAfterFailure(fd);
      throw err;
    }
  }

  /** The mapping (zero-copy `bytes()`, `read`, `write`). @throws MemattrDisposedError after close(). */
  get mapping(): Mapping {
    void this.fd; // throws after close
    return this.#mapping;
  }

  /** Host address of the mapping, for a memslot's userspaceAddr. */
  get address(): bigint {
    return this.mapping.address;
  }

  /**
   * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): discards the pages; they read as zeros.
   * @param offsetBytes - bytes, page aligned
   * @param lengthBytes - bytes, page aligned, > 0
   */
  punchHole(offsetBytes: U64, lengthBytes: U64): void {
    fallocateChecked(this.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offsetBytes, lengthBytes, true);
  }

  /**
   * fallocate: populates the pages now.
   * @param keepSize - FALLOC_FL_KEEP_SIZE (default true): never grow the file
   */
  allocate(offsetBytes: U64, lengthBytes: U64, keepSize = true): void {
    fallocateChecked(this.fd, keepSize ? FALLOC_FL_KEEP_SIZE : 0, offsetBytes, lengthBytes, true);
  }

  /**
   * Populated ranges from lseek(SEEK_DATA) / lseek(SEEK_HOLE), in file order, within
   * `[fromBytes, toBytes)`. Pages that were written count; holes (never touched, or punched)
   * do not.
   * @remarks On shmem (memfd) pages reserved by allocate() but never written are NOT reported
   * as data (they are not up to date until written), although they are charged: see
   * {@link allocatedBytes}. Measured on Linux 6.18.
   */
  populatedRanges(fromBytes = 0, toBytes = this.sizeBytes): FileRange[] {
    const fd = this.fd;
    const out: FileRange[] = [];
    let pos = fromBytes;
    while (pos < toBytes) {
      const data = sysLseek(fd, pos, SEEK_DATA);
      if (data === null || data >= toBytes) break;
      const hole = Math.min(sysLseek(fd, data, SEEK_HOLE) ?? this.sizeBytes, toBytes);
      out.push({ offsetBytes: data, lengthBytes: hole - data });
      pos = hole;
    }
    return out;
  }

  /**
   * mincore(2) over the mapping: which pages of the memfd are resident now, whoever populated
   * them (this mapping, pwrite, a guest through a memslot). A page-granular alternative to
   * {@link populatedRanges} that needs no scan of the file.
   * @param offsetBytes - file offset, bytes, page aligned
   * @param npages - pages, ≥ 1, inside the file
   * @param vec - reused output, used when it holds at least npages bytes
   * @returns one byte per page; bit 0 = resident
   * @throws KvmArgumentError (EINVAL) for a bad range
   * @throws MemattrDisposedError after close()
   */
  residentPages(offsetBytes: number, npages: number, vec?: Uint8Array): Uint8Array {
    return this.mapping.residentPages(offsetBytes, npages, vec);
  }

  /** Bytes the file holds in memory (fstat st_blocks × 512), allocated-but-unwritten pages included. */
  allocatedBytes(): number {
    return fstatSync(this.fd).blocks * 512;
  }

  /**
   * pread: copies bytes out without faulting pages in (reading a hole through the mapping
   * would allocate a page on shmem; pread does not).
   */
  read(offsetBytes: number, lengthBytes: number): Uint8Array {
    this.#range("pread", offsetBytes, lengthBytes);
    const out = new Uint8Array(lengthBytes);
    let done = 0;
    while (done < lengthBytes) {
      const n = sysPread(this.fd, out.subarray(done), offsetBytes + done);
      if (n === 0) break;
      done += n;
    }
    return out;
  }

  /** pwrite: copies `data` in at `offsetBytes`. */
  write(offsetBytes: number, data: Uint8Array): void {
    this.#range("pwrite", offsetBytes, data.byteLength);
    let done = 0;
    while (done < data.byteLength) done += sysPwrite(this.fd, data.subarray(done), offsetBytes + done);
  }

  #range(op: string, offsetBytes: number, lengthBytes: number): void {
    if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0) throw new KvmArgumentError(op, "offsetBytes", `got ${offsetBytes}`);
    if (!Number.isSafeInteger(lengthBytes) || lengthBytes < 0) throw new KvmArgumentError(op, "lengthBytes", `got ${lengthBytes}`);
    if (offsetBytes + lengthBytes > this.sizeBytes) {
      throw new KvmArgumentError(op, "offsetBytes", `[${offsetBytes}, +${lengthBytes}) passes the file's ${this.sizeBytes} bytes`);
    }
  }

  protected override releaseResources(): void {
    this.#mapping.unmap();
  }
}
