/**
 * Layouts of the KVM memory structs, with encode/decode over a DataView (pure, browser-safe).
 * Source: include/uapi/linux/kvm.h. All fields little-endian (x86-64). u64 fields decode
 * to bigint; encoders take number | bigint and zero every pad/reserved field, which the
 * kernel checks.
 */
import type { U64 } from "./types.js";

const LE = true;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
const big = (v: U64): bigint => (typeof v === "bigint" ? v : BigInt(v));

/* ---------------------------------------------------------------------------------------
 * struct kvm_memory_attributes (KVM_SET_MEMORY_ATTRIBUTES), 32 bytes
 *  +0 u64 address   +8 u64 size   +16 u64 attributes   +24 u64 flags (must be 0)
 * ------------------------------------------------------------------------------------- */
export const KVM_MEMORY_ATTRIBUTES_SIZE = 32;
export interface KvmMemoryAttributes {
  /** guest physical address, bytes, page aligned */
  address: U64;
  /** length, bytes, page aligned, > 0 */
  sizeBytes: U64;
  attributes: U64;
  flags?: U64;
}
export function encodeMemoryAttributes(s: KvmMemoryAttributes, out = new Uint8Array(KVM_MEMORY_ATTRIBUTES_SIZE)): Uint8Array {
  const dv = view(out);
  dv.setBigUint64(0, big(s.address), LE);
  dv.setBigUint64(8, big(s.sizeBytes), LE);
  dv.setBigUint64(16, big(s.attributes), LE);
  dv.setBigUint64(24, big(s.flags ?? 0), LE);
  return out;
}
export function decodeMemoryAttributes(bytes: Uint8Array) {
  const dv = view(bytes);
  return {
    address: dv.getBigUint64(0, LE),
    sizeBytes: dv.getBigUint64(8, LE),
    attributes: dv.getBigUint64(16, LE),
    flags: dv.getBigUint64(24, LE),
  };
}

/* ---------------------------------------------------------------------------------------
 * struct kvm_create_guest_memfd (KVM_CREATE_GUEST_MEMFD), 64 bytes
 *  +0 u64 size   +8 u64 flags   +16 u64 reserved[6] (must be 0)
 * ------------------------------------------------------------------------------------- */
export const KVM_CREATE_GUEST_MEMFD_SIZE = 64;
export interface KvmCreateGuestMemfd {
  sizeBytes: U64;
  flags: U64;
}
export function encodeCreateGuestMemfd(s: KvmCreateGuestMemfd, out = new Uint8Array(KVM_CREATE_GUEST_MEMFD_SIZE)): Uint8Array {
  out.fill(0);
  const dv = view(out);
  dv.setBigUint64(0, big(s.sizeBytes), LE);
  dv.setBigUint64(8, big(s.flags), LE);
  return out;
}
export function decodeCreateGuestMemfd(bytes: Uint8Array) {
  const dv = view(bytes);
  const reserved: bigint[] = [];
  for (let i = 0; i < 6; i++) reserved.push(dv.getBigUint64(16 + 8 * i, LE));
  return { sizeBytes: dv.getBigUint64(0, LE), flags: dv.getBigUint64(8, LE), reserved };
}

/* ---------------------------------------------------------------------------------------
 * struct kvm_userspace_memory_region2 (KVM_SET_USER_MEMORY_REGION2), 160 bytes
 *  +0  u32 slot            +4  u32 flags
 *  +8  u64 guest_phys_addr +16 u64 memory_size   +24 u64 userspace_addr
 *  +32 u64 guest_memfd_offset
 *  +40 u32 guest_memfd     +44 u32 pad1          +48 u64 pad2[14]  (pads must be 0)
 * ------------------------------------------------------------------------------------- */
export const KVM_USERSPACE_MEMORY_REGION2_SIZE = 160;
/** A memslot. `slot` packs the address space in bits 16..31 (x86 SMM) and the id below. */
export interface KvmUserspaceMemoryRegion2 {
  slot: number;
  flags: number;
  /** guest physical address, bytes */
  guestPhysAddr: U64;
  /** bytes; 0 deletes the slot */
  memorySizeBytes: U64;
  /** host virtual address of the shared backing, bytes (0 if none) */
  userspaceAddr: U64;
  /** offset into the guest_memfd, bytes */
  guestMemfdOffset?: U64;
  /** guest_memfd file descriptor (with KVM_MEM_GUEST_MEMFD), else 0 */
  guestMemfd?: number;
}
export function encodeUserspaceMemoryRegion2(s: KvmUserspaceMemoryRegion2, out = new Uint8Array(KVM_USERSPACE_MEMORY_REGION2_SIZE)): Uint8Array {
  out.fill(0);
  const dv = view(out);
  dv.setUint32(0, s.slot >>> 0, LE);
  dv.setUint32(4, s.flags >>> 0, LE);
  dv.setBigUint64(8, big(s.guestPhysAddr), LE);
  dv.setBigUint64(16, big(s.memorySizeBytes), LE);
  dv.setBigUint64(24, big(s.userspaceAddr), LE);
  dv.setBigUint64(32, big(s.guestMemfdOffset ?? 0), LE);
  dv.setUint32(40, (s.guestMemfd ?? 0) >>> 0, LE);
  return out;
}
export function decodeUserspaceMemoryRegion2(bytes: Uint8Array) {
  const dv = view(bytes);
  return {
    slot: dv.getUint32(0, LE),
    flags: dv.getUint32(4, LE),
    guestPhysAddr: dv.getBigUint64(8, LE),
    memorySizeBytes: dv.getBigUint64(16, LE),
    userspaceAddr: dv.getBigUint64(24, LE),
    guestMemfdOffset: dv.getBigUint64(32, LE),
    guestMemfd: dv.getUint32(40, LE),
    pad1: dv.getUint32(44, LE),
  };
}

/* ---------------------------------------------------------------------------------------
 * struct kvm_enable_cap (KVM_ENABLE_CAP), 104 bytes
 *  +0 u32 cap   +4 u32 flags   +8 u64 args[4]   +40 u8 pad[64] (must be 0)
 * ------------------------------------------------------------------------------------- */
export const KVM_ENABLE_CAP_SIZE = 104;
export interface KvmEnableCap {
  cap: number;
  flags?: number;
  /** up to four u64 arguments; missing ones are 0 */
  args?: readonly U64[];
}
export function encodeEnableCap(s: KvmEnableCap, out = new Uint8Array(KVM_ENABLE_CAP_SIZE)): Uint8Array {
  out.fill(0);
  const dv = view(out);
  dv.setUint32(0, s.cap >>> 0, LE);
  dv.setUint32(4, (s.flags ?? 0) >>> 0, LE);
  const args = s.args ?? [];
  for (let i = 0; i < 4; i++) dv.setBigUint64(8 + 8 * i, big(args[i] ?? 0), LE);
  return out;
}
export function decodeEnableCap(bytes: Uint8Array) {
  const dv = view(bytes);
  const args: bigint[] = [];
  for (let i = 0; i < 4; i++) args.push(dv.getBigUint64(8 + 8 * i, LE));
  return { cap: dv.getUint32(0, LE), flags: dv.getUint32(4, LE), args };
}

/* ---------------------------------------------------------------------------------------
 * struct kvm_dirty_log (KVM_GET_DIRTY_LOG), 16 bytes
 *  +0 u32 slot   +4 u32 padding1   +8 u64 dirty_bitmap (a user pointer: one bit per page)
 * ------------------------------------------------------------------------------------- */
export const KVM_DIRTY_LOG_SIZE = 16;
export interface KvmDirtyLog {
  /** memslot id (address space in bits 16..31) */
  slot: number;
  /** address of a buffer of ALIGN(npages, 64) / 8 bytes the kernel fills */
  dirtyBitmap: U64;
}
export function encodeDirtyLog(s: KvmDirtyLog, out = new Uint8Array(KVM_DIRTY_LOG_SIZE)): Uint8Array {
  const dv = view(out);
  dv.setUint32(0, s.slot, LE);
  dv.setUint32(4, 0, LE);
  dv.setBigUint64(8, big(s.dirtyBitmap), LE);
  return out;
}
export function decodeDirtyLog(bytes: Uint8Array) {
  const dv = view(bytes);
  return { slot: dv.getUint32(0, LE), dirtyBitmap: dv.getBigUint64(8, LE) };
}

/* ---------------------------------------------------------------------------------------
 * struct kvm_clear_dirty_log (KVM_CLEAR_DIRTY_LOG), 24 bytes
 *  +0 u32 slot   +4 u32 num_pages   +8 u64 first_page   +16 u64 dirty_bitmap (user pointer)
 * first_page must be a multiple of 64; num_pages too, unless the range ends at the slot's end.
 * ------------------------------------------------------------------------------------- */
export const KVM_CLEAR_DIRTY_LOG_SIZE = 24;
export interface KvmClearDirtyLog {
  slot: number;
  numPages: number;
  firstPage: U64;
  /** address of the bitmap of pages to clear (bit i = page firstPage + i) */
  dirtyBitmap: U64;
}
export function encodeClearDirtyLog(s: KvmClearDirtyLog, out = new Uint8Array(KVM_CLEAR_DIRTY_LOG_SIZE)): Uint8Array {
  const dv = view(out);
  dv.setUint32(0, s.slot, LE);
  dv.setUint32(4, s.numPages, LE);
  dv.setBigUint64(8, big(s.firstPage), LE);
  dv.setBigUint64(16, big(s.dirtyBitmap), LE);
  return out;
}
export function decodeClearDirtyLog(bytes: Uint8Array) {
  const dv = view(bytes);
  return { slot: dv.getUint32(0, LE), numPages: dv.getUint32(4, LE), firstPage: dv.getBigUint64(8, LE), dirtyBitmap: dv.getBigUint64(16, LE) };
}
