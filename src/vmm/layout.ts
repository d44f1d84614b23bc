/**
 * The guest's physical memory layout and the doorbell protocol (pure; shared by the guest
 * builder, the VMM and the tests).
 *
 * Short names: `gpa` guest physical address (bytes); `gfn` guest frame number (gpa / 4096);
 * `npages` 4 KiB pages; `slot` a KVM memslot; *alias* the shared view of a RAM page.
 *
 * ## Why two views of RAM
 * On a confidential VM one gpa is backed twice (shared memfd, private guest_memfd) and
 * KVM_SET_MEMORY_ATTRIBUTES picks which one the guest sees. This host has no
 * KVM_CAP_MEMORY_ATTRIBUTES, so one gpa cannot switch backings. The VMM therefore gives the
 * guest the two sides at two gpas, the way TDX exposes a "shared bit" in the gpa:
 *
 * ```
 *  gpa 0 ............ ramBytes          slot 0  guest_memfd (MMAP|INIT_SHARED)  the private side
 *  gpa 1 GiB ........ 1 GiB + ramBytes  slot 1  memfd                           the shared side (alias: gpa | SHARED_BIT)
 *  gpa 2 GiB - 4 KiB  (one page)        slot 2  memfd                           mailbox (device page, not guest RAM)
 * ```
 * The tracker covers gfns [0, ramBytes / 4096). Page X's private side is guest_memfd offset
 * X·4096 (seen by the guest at X), its shared side memfd offset X·4096 (seen at X | SHARED_BIT).
 * A guest that follows the protocol writes a page through its alias only while the page is
 * shared and through its private gpa only while it is private. KVM does NOT enforce that here:
 * both slots are always mapped. What the VMM enforces is its own side: it reads guest data
 * only from the shared memfd and only for pages the tracker holds shared, and it never copies
 * from guest_memfd into the memfd, so private contents cannot reach the shared mapping
 * through the VMM. What memattr adds is the bookkeeping: state, pending conversions, which
 * side is stale, and the discards (fallocate PUNCH_HOLE on the real files) a policy chooses.
 *
 * ## RAM contents
 * ```
 *  0x0000  GDT (null, code64, data)          0x5000-0x7fff stack (rsp = 0x8000)
 *  0x1000  PML4   0x2000 PDPT                0x8000-0xffff guest code
 *  0x3000  PD [0, 1 GiB)  0x4000 PD [1, 2 GiB)   (2 MiB pages, identity map of 0..2 GiB)
 *  0x10000 bounce pool (16 pages)            0x20000 private data pages (64)
 *  0x100000 swiotlb-like buffer (made shared in the boot phase)
 * ```
 * Boot image = gfns [0, 16): converted to private with contents preserved before launch.
 */
import { PAGE_BYTES } from "../core/_abi.js";

/** Bytes per guest page. */
export { PAGE_BYTES };
/** The "shared bit": the guest reaches page X's shared side at gpa X | SHARED_BIT. */
export const SHARED_BIT = 0x4000_0000;
/** The mailbox page (slot 2). */
export const MAILBOX_GPA = 0x7fff_f000;
/** Identity-mapped guest-physical span (2 MiB pages). */
export const IDENTITY_MAP_BYTES = 0x8000_0000;

export const GDT_GPA = 0x0000;
export const PML4_GPA = 0x1000;
export const PDPT_GPA = 0x2000;
export const PD0_GPA = 0x3000;
export const PD1_GPA = 0x4000;
export const STACK_TOP_GPA = 0x8000;
export const CODE_GPA = 0x8000;
export const CODE_MAX_BYTES = 0x8000;
/** Pages of the boot image (tables, stack, code): private and preserved before launch. */
export const BOOT_PAGES = 16;
export const BOUNCE_GPA = 0x10000;
export const BOUNCE_PAGES = 16;
export const DATA_GPA = 0x20000;
export const DATA_PAGES = 64;
export const SWIOTLB_GPA = 0x100000;
/** Boot-phase accept granule: 2 MiB, as OVMF/Linux accept unaccepted memory. */
export const ACCEPT_CHUNK_PAGES = 512;

/** Memslots. */
export const SLOT_PRIVATE = 0;
export const SLOT_SHARED = 1;
export const SLOT_MAILBOX = 2;

/**
 * The doorbell: the guest fills the mailbox, then `out DOORBELL_PORT, al` with al = an op.
 * The VMM answers in `status` before the guest runs again (KVM_RUN is synchronous).
 *
 * Mailbox (u64 each, little-endian):
 * ```
 *  +0  reserved       +8  gpa       +16 npages     +24 attrs (KVM_MAP_GPA_RANGE_* bits)
 *  +32 status (VMM→guest: 0 or a negative errno)   +40 txn (transaction number)
 *  +48 transactions (VMM→guest before boot: how many DMA transactions to run)
 *  +56 flood stride (hostile guests)               +64.. results of hostile guests
 * ```
 */
export const DOORBELL_PORT = 0xe0;
export const MB = { gpa: 8, npages: 16, attrs: 24, status: 32, txn: 40, transactions: 48, results: 64 } as const;
/** Most results a hostile guest records (u64 each, from MB.results). */
export const MAX_RESULTS = (PAGE_BYTES - MB.results) / 8;

/** Doorbell ops (the byte the guest writes with `out`). */
export const OP = {
  /** Convert [gpa, +npages) as KVM_HC_MAP_GPA_RANGE would (attrs bit 4 = to private). */
  mapGpaRange: 1,
  /** The shared pages [gpa, +npages) hold transaction `txn`'s payload: the device reads them. */
  dmaReady: 2,
  /** The boot phase is over (accept + swiotlb done). */
  bootDone: 3,
  /** All transactions done (the guest halts next). */
  done: 4,
  /** The guest saw a status it did not expect; `txn` says where. */
  fail: 0xff,
} as const;

/** Value of every qword of a payload page of transaction `txn` ("PAYL" + txn). */
export function payloadWord(txn: number): bigint {
  return (0x5041_594cn << 32n) | BigInt(txn >>> 0);
}
/** Top half of every qword the guest writes to private pages ("SECR"): must never be seen shared. */
export const SECRET_TAG = 0x5345_4352;
/** Value of a secret qword of transaction `txn`. */
export function secretWord(txn: number): bigint {
  return (BigInt(SECRET_TAG) << 32n) | BigInt(txn >>> 0);
}

/** Negative errno values the VMM returns in `status` / the hypercall's rax (as KVM's KVM_E*). */
export const STATUS = {
  ok: 0n,
  /** Malformed request: unaligned gpa, npages 0, wrap-around, unknown attrs. */
  einval: BigInt.asUintN(64, -22n),
  /** Outside guest RAM. */
  efault: BigInt.asUintN(64, -14n),
  /** Conflicts with a pending conversion, or DMA from a page that is not shared. */
  eperm: BigInt.asUintN(64, -1n),
  /** The VMM failed to carry out the conversion (a backing syscall failed). */
  eio: BigInt.asUintN(64, -5n),
} as const;

/** A guest memory layout for `ramBytes` of RAM. */
export interface GuestLayout {
  ramBytes: number;
  ramPages: number;
  swiotlbGpa: number;
  swiotlbPages: number;
}

/**
 * Checks `ramBytes` and places the swiotlb-like buffer.
 * @param ramBytes - guest RAM, a multiple of 2 MiB, from 4 MiB to 512 MiB
 * @param swiotlbBytes - the shared DMA buffer of the boot phase (default: ramBytes / 16, ≤ 4 MiB)
 * @throws RangeError for sizes out of range or misaligned
 */
export function guestLayout(ramBytes = 64 * 2 ** 20, swiotlbBytes?: number): GuestLayout {
  if (!Number.isInteger(ramBytes) || ramBytes % 0x200000 !== 0 || ramBytes < 4 * 2 ** 20 || ramBytes > 512 * 2 ** 20) {
    throw new RangeError(`ramBytes must be a multiple of 2 MiB in [4 MiB, 512 MiB], got ${ramBytes}`);
  }
  const swiotlb = swiotlbBytes ?? Math.min(4 * 2 ** 20, ramBytes / 16);
  if (!Number.isInteger(swiotlb) || swiotlb % PAGE_BYTES !== 0 || swiotlb <= 0 || SWIOTLB_GPA + swiotlb > ramBytes) {
    throw new RangeError(`swiotlbBytes must be whole pages inside RAM above 1 MiB, got ${swiotlb}`);
  }
  return { ramBytes, ramPages: ramBytes / PAGE_BYTES, swiotlbGpa: SWIOTLB_GPA, swiotlbPages: swiotlb / PAGE_BYTES };
}
