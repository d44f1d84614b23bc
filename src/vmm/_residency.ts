/**
 * Which pages of a shared file mapping hold memory right now: mincore(2) over the mapping
 * (Node only). Local to the VMM because the KVM binding has no mincore; it loads koffi the
 * same way src/kvm/_syscall.ts does.
 *
 * Why mincore: the guest populates both backings itself (KVM faults guest_memfd pages in, the
 * shared alias faults memfd pages in) without telling the VMM. For a MAP_SHARED file mapping
 * mincore reports the file's page cache, whether or not this process ever touched the page,
 * so it works for the memfd and for the guest_memfd (whose pages live in its own page cache)
 * alike — and guest_memfd has no SEEK_DATA.
 */
import { createRequire } from "node:module";
import { errorFromErrno } from "../kvm/_syscall.js";

interface Koffi {
  load(path: string): { func(decl: string): (...args: unknown[]) => number };
  errno(): number;
}

let mincoreFn: ((address: bigint, lengthBytes: number, vec: Uint8Array) => number) | undefined;
let koffiErrno: (() => number) | undefined;

function load(): (address: bigint, lengthBytes: number, vec: Uint8Array) => number {
  if (mincoreFn) return mincoreFn;
  const koffi = createRequire(import.meta.url)("koffi") as Koffi;
  const f = koffi.load("libc.so.6").func("int mincore(void *addr, size_t length, _Out_ uint8_t *vec)");
  koffiErrno = () => koffi.errno();
  mincoreFn = (address, lengthBytes, vec) => f(address, lengthBytes, vec);
  return mincoreFn;
}

/**
 * mincore(address, npages × 4096, vec): one byte per page, bit 0 set when resident.
 * @param address - page-aligned address inside a live mapping of at least npages pages
 * @param npages - pages, ≥ 1
 * @param vec - reused output buffer of at least npages bytes (allocated when too small)
 * @returns the vector (only the first npages bytes are meaningful)
 * @throws KvmError (ENOMEM, EINVAL) when the range is not mapped or unaligned
 */
export function residentPages(address: bigint, npages: number, vec?: Uint8Array): Uint8Array {
  const out = vec && vec.byteLength >= npages ? vec : new Uint8Array(npages);
  // SAFETY: the kernel writes exactly npages bytes into `out`, which holds at least that many
  // and stays referenced for the duration of the synchronous call.
  const rc = load()(address, npages * 4096, out);
  if (rc === -1) throw errorFromErrno("mincore", koffiErrno!());
  return out;
}
