/**
 * Decoding of the two ways a guest asks for a conversion, both with untrusted values:
 * - `KVM_HC_MAP_GPA_RANGE` (hypercall 12, exits as KVM_EXIT_HYPERCALL): a0 = gpa, a1 = npages
 *   (4 KiB pages), a2 = attrs. attrs & 0xf is the page size (0 = 4K, 1 = 2M, 2 = 1G) and
 *   bit 4 is ENCRYPTED (1 → private, 0 → shared). Source: Linux
 *   Documentation/virt/kvm/x86/hypercalls.rst and arch/x86/kvm/x86.c.
 * - `KVM_EXIT_MEMORY_FAULT` (exit 39): run.memory_fault {flags, gpa, size}; flags bit 3 is
 *   KVM_MEMORY_EXIT_FLAG_PRIVATE (the access was private).
 *
 * KVM itself checks only: gpa page-aligned, npages > 0, gfn + npages does not wrap. memattr
 * checks the wrap in bytes (end gpa ≤ 2^64, stricter than KVM's check in gfn units), refuses
 * unknown attribute bits and page sizes 3..15 (QEMU ignores them), and for a 2M
 * or 1G page size requires gpa and npages to be multiples of that size (the SEV-SNP page
 * state change path refuses unaligned large entries too). The range must then lie in guest
 * memory; that check is the tracker's.
 */
import { MemattrRangeError } from "../core/errors.js";
import { checkBoolean, checkObject, checkU64, U64_LIMIT } from "./_check.js";
import { HypercallError } from "./errors.js";
import { KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MAP_GPA_RANGE_PAGE_SZ_MASK, KVM_MEMORY_EXIT_FLAG_PRIVATE } from "../uapi/kvm-para.js";
import { PAGE_SHIFT, type Attribute } from "./states.js";

// The ABI's numbers are the kernel's (src/uapi/kvm-para.ts); re-exported for this layer's users.
export * from "../uapi/kvm-para.js";

/** Raw KVM_HC_MAP_GPA_RANGE arguments, as read from the vCPU (number or bigint). */
export interface MapGpaRangeArgs {
  /** a0: guest physical address in bytes. */
  gpa: number | bigint;
  /** a1: number of 4 KiB pages. */
  npages: number | bigint;
  /** a2: attributes (page size | ENCRYPTED). */
  attrs: number | bigint;
}

/** A decoded, checked KVM_HC_MAP_GPA_RANGE request. `gfn` and `npages` are exact as bigints. */
export interface MapGpaRangeRequest {
  gfn: bigint;
  npages: bigint;
  to: Attribute;
  /** Page size the guest declared, in 4 KiB pages (1, 512 or 262144). */
  pageSizePages: number;
}

const PAGE_SIZE_PAGES = [1, 512, 262144];
/** 2^52: one past the largest gfn of a 64-bit gpa. */
const GFN_LIMIT = U64_LIMIT >> BigInt(PAGE_SHIFT);

/**
 * Checks and decodes raw KVM_HC_MAP_GPA_RANGE arguments (no guest-memory check).
 * @param args - a0..a2 of the hypercall, number or bigint.
 * @returns the request in pages, as bigints (the range may lie beyond 2^53).
 * @throws MemattrTypeError when a value is not an integer (NaN, fraction, wrong type).
 * @throws MemattrRangeError when a value is negative, ≥ 2^64, or an unsafe number.
 * @throws HypercallError (EINVAL) for an unaligned gpa, npages 0, wrap-around, unknown attrs
 *   bits, or a large page size with unaligned gpa/npages.
 * @example
 * ```ts
 * import { decodeMapGpaRange, KVM_MAP_GPA_RANGE_ENCRYPTED } from "memattr";
 * decodeMapGpaRange({ gpa: 0x100000, npages: 4, attrs: KVM_MAP_GPA_RANGE_ENCRYPTED });
 * // { gfn: 256n, npages: 4n, to: "private", pageSizePages: 1 }
 * ```
 */
export function decodeMapGpaRange(args: MapGpaRangeArgs): MapGpaRangeRequest {
  const o = checkObject(args, "hypercall arguments");
  const gpa = checkU64(o.gpa, "gpa");
  const npages = checkU64(o.npages, "npages");
  const attrs = checkU64(o.attrs, "attrs");
  // The kernel's checks, in its order (arch/x86/kvm/x86.c, KVM_HC_MAP_GPA_RANGE).
  if ((gpa & 0xfffn) !== 0n) throw new HypercallError("unaligned-gpa", `gpa 0x${gpa.toString(16)} is not 4 KiB aligned`);
  if (npages === 0n) throw new HypercallError("zero-npages", "npages is 0");
  const gfn = gpa >> BigInt(PAGE_SHIFT);
  // KVM refuses gfn + npages wrapping in gfn units (2^64 pages); memattr refuses the byte
  // range wrapping (end gpa beyond 2^64), which includes KVM's case.
  if (gfn + npages > GFN_LIMIT) {
    throw new HypercallError("wrap", `gfn 0x${gfn.toString(16)} + npages 0x${npages.toString(16)} wraps around 2^64 bytes`);
  }
  const known = BigInt(KVM_MAP_GPA_RANGE_PAGE_SZ_MASK | KVM_MAP_GPA_RANGE_ENCRYPTED);
  const pageSize = Number(attrs & BigInt(KVM_MAP_GPA_RANGE_PAGE_SZ_MASK));
  if ((attrs & ~known) !== 0n || pageSize >= PAGE_SIZE_PAGES.length) {
    throw new HypercallError("unknown-attrs", `attrs 0x${attrs.toString(16)} has unknown bits or page size ${pageSize}`);
  }
  const pageSizePages = PAGE_SIZE_PAGES[pageSize]!;
  const align = BigInt(pageSizePages);
  if (gfn % align !== 0n || npages % align !== 0n) {
    throw new HypercallError("page-size-alignment", `page size ${pageSize === 1 ? "2M" : "1G"} needs gpa and npages in multiples of ${pageSizePages} pages`);
  }
  const to: Attribute = (attrs & BigInt(KVM_MAP_GPA_RANGE_ENCRYPTED)) !== 0n ? "private" : "shared";
  return { gfn, npages, to, pageSizePages };
}

/** Raw KVM_EXIT_MEMORY_FAULT data. Either `private` or `flags` says whether the access was private. */
export interface MemoryFaultArgs {
  /** Faulting guest physical address in bytes. */
  gpa: number | bigint;
  /** Bytes covered by the fault (KVM reports one page). */
  size: number | bigint;
  /** The access was private. */
  private?: boolean;
  /** run.memory_fault.flags; KVM_MEMORY_EXIT_FLAG_PRIVATE is bit 3. Used when `private` is absent. */
  flags?: number | bigint;
}

/** A decoded memory fault, rounded out to whole pages. */
export interface MemoryFaultRequest {
  gfn: bigint;
  npages: bigint;
  /** The attribute the access needs. */
  to: Attribute;
}

/**
 * Checks and decodes a KVM_EXIT_MEMORY_FAULT. The byte range is rounded out to whole pages
 * (KVM reports whole pages; rounding keeps a byte-granular report on the page it touched).
 * @throws MemattrTypeError / MemattrRangeError for malformed values, size 0, or a range past 2^64.
 * @example
 * ```ts
 * import { decodeMemoryFault } from "memattr";
 * decodeMemoryFault({ gpa: 0x2000, size: 4096, private: true }); // { gfn: 2n, npages: 1n, to: "private" }
 * ```
 */
export function decodeMemoryFault(args: MemoryFaultArgs): MemoryFaultRequest {
  const o = checkObject(args, "memory fault");
  const gpa = checkU64(o.gpa, "gpa");
  const size = checkU64(o.size, "size");
  let isPrivate: boolean;
  if (o.private !== undefined) isPrivate = checkBoolean(o.private, "private", false);
  else if (o.flags !== undefined) isPrivate = (checkU64(o.flags, "flags") & BigInt(KVM_MEMORY_EXIT_FLAG_PRIVATE)) !== 0n;
  else throw new MemattrRangeError("memory fault needs `private` or `flags`");
  if (size === 0n) throw new MemattrRangeError("memory fault size must be > 0");
  const endBytes = gpa + size;
  if (endBytes > U64_LIMIT) throw new MemattrRangeError(`memory fault gpa + size wraps around 2^64`);
  const gfn = gpa >> BigInt(PAGE_SHIFT);
  const endGfn = (endBytes + 0xfffn) >> BigInt(PAGE_SHIFT);
  return { gfn, npages: endGfn - gfn, to: isPrivate ? "private" : "shared" };
}
