/**
 * Which pages of one side's file hold memory right now (Node only): the binding's mincore
 * (`SharedMemfd.residentPages`, `GuestMemfd.residentPages`) at the file offset of a gfn.
 *
 * Why mincore: the guest populates both backings itself (KVM faults guest_memfd pages in, the
 * shared alias faults memfd pages in) without telling the VMM. For a MAP_SHARED file mapping
 * mincore reports the file's page cache, whether or not this process ever touched the page,
 * so it works for the memfd and for the guest_memfd (whose pages live in its own page cache)
 * alike — and guest_memfd has no SEEK_DATA.
 */
import type { GuestMemfdBacking } from "../backing/gmem.js";
import type { SharedMemfdBacking } from "../backing/memfd.js";

/**
 * mincore over `npages` file pages of `backing` starting at gfn's page: one byte per page, bit
 * 0 set when resident.
 * @param gfn - first page; `gfn + npages` must be file-contiguous (one region)
 * @param npages - pages, ≥ 1
 * @param vec - reused output buffer (a new one when missing or too small)
 * @returns the vector (only the first npages bytes are meaningful)
 * @throws KvmArgumentError (EINVAL) for a range outside the file; MemattrDisposedError after close
 */
export function residentPagesOf(backing: SharedMemfdBacking | GuestMemfdBacking, gfn: number, npages: number, vec?: Uint8Array): Uint8Array {
  const offsetBytes = backing.layout.offsetBytesOf(gfn);
  return backing.kind === "memfd" ? backing.memfd.residentPages(offsetBytes, npages, vec) : backing.gmem.residentPages(offsetBytes, npages, vec);
}
