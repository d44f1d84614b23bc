/**
 * A shared mapping of a file (guest_memfd, memfd, a vCPU's kvm_run) with views over it
 * (Node only).
 *
 * Lifetime: `bytes()` hands out a zero-copy view (koffi.view). Such external ArrayBuffers
 * cannot be detached, so a plain munmap would leave views pointing at unmapped memory and a
 * later access would crash the process. `unmap()` therefore replaces the range in place with
 * private anonymous zero pages (MAP_FIXED): the file is released at once, stale views read
 * zeros and their writes go nowhere, and the placeholder itself is unmapped when the last
 * view is garbage-collected (FinalizationRegistry). Never-viewed mappings are unmapped at once.
 */
import { MemattrDisposedError } from "../core/errors.js";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  sysMincore,
  sysMmap,
  sysMunmap,
  sysMunmapPlaceholder,
  viewMemory,
} from "./_syscall.js";
import { PAGE_SIZE } from "./_validate.js";
import { KvmArgumentError } from "./errors.js";

const placeholders = new FinalizationRegistry<{ address: bigint; lengthBytes: number }>(({ address, lengthBytes }) => {
  sysMunmapPlaceholder(address, lengthBytes); // a failure leaves anonymous zero pages; nobody to tell
});

export class Mapping {
  #buffer: ArrayBuffer | undefined;
  #unmapped = false;

  private constructor(
    /** host virtual address of the first byte */
    readonly address: bigint,
    readonly lengthBytes: number,
    private readonly what: string,
  ) {}

  /**
   * mmap(NULL, lengthBytes, PROT_READ|PROT_WRITE, MAP_SHARED, fd, offsetBytes).
   * @param what - name for messages ("GuestMemfd mapping")
   */
  static mapShared(fd: number, lengthBytes: number, offsetBytes: number, what: string): Mapping {
    if (lengthBytes <= 0) throw new KvmArgumentError("mmap", "lengthBytes", `must be > 0, got ${lengthBytes}`);
    const address = sysMmap(null, lengthBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offsetBytes);
    return new Mapping(address, lengthBytes, what);
  }

  get unmapped(): boolean {
    return this.#unmapped;
  }

  #checkLive(): void {
    if (this.#unmapped) throw new MemattrDisposedError(this.what);
  }

  /**
   * A zero-copy view of the whole mapping. After unmap() (or the owner's close()) the view
   * reads zeros and ignores writes; it never faults.
   */
  bytes(): Uint8Array {
    this.#checkLive();
    this.#buffer ??= viewMemory(this.address, this.lengthBytes);
    return new Uint8Array(this.#buffer);
  }

  #range(op: string, offsetBytes: number, lengthBytes: number): void {
    if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0) throw new KvmArgumentError(op, "offsetBytes", `got ${offsetBytes}`);
    if (!Number.isSafeInteger(lengthBytes) || lengthBytes < 0) throw new KvmArgumentError(op, "lengthBytes", `got ${lengthBytes}`);
    if (offsetBytes + lengthBytes > this.lengthBytes) {
      throw new KvmArgumentError(op, "offsetBytes", `[${offsetBytes}, +${lengthBytes}) passes the mapping's ${this.lengthBytes} bytes`);
    }
  }

  /** Copies `lengthBytes` bytes out, starting `offsetBytes` into the mapping. */
  read(offsetBytes: number, lengthBytes: number): Uint8Array {
    this.#checkLive();
    this.#range("read", offsetBytes, lengthBytes);
    return this.bytes().slice(offsetBytes, offsetBytes + lengthBytes);
  }

  /** Copies `data` in, starting `offsetBytes` into the mapping. */
  write(offsetBytes: number, data: Uint8Array): void {
    this.#checkLive();
    this.#range("write", offsetBytes, data.byteLength);
    this.bytes().set(data, offsetBytes);
  }

  /**
   * mincore(2) over `npages` pages starting `offsetBytes` into the mapping: which of the
   * file's pages are resident in its page cache, whoever populated them (this process, another
   * mapping, KVM on a guest's behalf). Does not fault anything in.
   * @param offsetBytes - bytes into the mapping, page aligned
   * @param npages - pages, ≥ 1, inside the mapping
   * @param vec - reused output, used when it holds at least npages bytes (else a new one)
   * @returns one byte per page (only the first npages are written); bit 0 = resident
   * @throws KvmArgumentError (EINVAL) for an unaligned offset, npages < 1 or a range past the end
   * @throws MemattrDisposedError after unmap()
   */
  residentPages(offsetBytes: number, npages: number, vec?: Uint8Array): Uint8Array {
    this.#checkLive();
    const op = "mincore";
    if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0 || offsetBytes % PAGE_SIZE !== 0) {
      throw new KvmArgumentError(op, "offsetBytes", `must be a page-aligned offset ≥ 0, got ${offsetBytes}`);
    }
    if (!Number.isSafeInteger(npages) || npages < 1) throw new KvmArgumentError(op, "npages", `must be an integer ≥ 1, got ${npages}`);
    const mappedPages = Math.ceil(this.lengthBytes / PAGE_SIZE);
    if (offsetBytes / PAGE_SIZE + npages > mappedPages) {
      throw new KvmArgumentError(op, "npages", `[${offsetBytes}, +${npages} pages) passes the mapping's ${mappedPages} pages`);
    }
    const out = vec !== undefined && vec.byteLength >= npages ? vec : new Uint8Array(npages);
    sysMincore(this.address + BigInt(offsetBytes), npages * PAGE_SIZE, out);
    return out;
  }

  /**
   * Releases the file's pages from this process (see the file comment). Idempotent. When the
   * munmap or the placeholder's mmap fails, the mapping stays as it was (views stay valid) and
   * a later unmap() tries again.
   * @throws KvmError from munmap / mmap
   */
  unmap(): void {
    if (this.#unmapped) return;
    const buffer = this.#buffer;
    if (buffer === undefined) {
      sysMunmap(this.address, this.lengthBytes);
    } else {
      // SAFETY: [address, +length) is ours; MAP_FIXED swaps the file pages for anonymous zero
      // pages atomically, so views created over it stay backed until `buffer` is collected.
      sysMmap(this.address, this.lengthBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
      placeholders.register(buffer, { address: this.address, lengthBytes: this.lengthBytes });
    }
    this.#unmapped = true;
    this.#buffer = undefined;
  }
}

/**
 * Runs `fn` with a private anonymous mapping of at least `bytes` (the kernel reads or writes a
 * dirty bitmap through a user pointer, which a JS buffer cannot give), then unmaps it.
 */
export function withNativeBuffer<T>(bytes: number, fn: (address: bigint, view: Uint8Array) => T): T {
  const length = Math.ceil(bytes / 4096) * 4096;
  const address = sysMmap(null, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  try {
    return fn(address, new Uint8Array(viewMemory(address, length)));
  } finally {
    sysMunmap(address, length);
  }
}
