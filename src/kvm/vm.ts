/**
 * `Vm`: a VM descriptor (Node only). One method per VM ioctl.
 *
 * Short names: `gpa` guest physical address (bytes); `gfn` guest frame number (4 KiB page);
 * `npages` count of such pages; `slot` memslot id (bits 16..31: address space); `attrs`
 * KVM_MEMORY_ATTRIBUTE_* bits.
 */
import { FdOwner } from "./_fd.js";
import { ioctlStruct, ioctlValue } from "./_syscall.js";
import { withNativeBuffer } from "./_mapping.js";
import { PAGE_SHIFT, requireNoOverflow, requireNonZero, requirePageAligned, toSafeBytes, toU32, toU64, type U64 } from "./_validate.js";
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  GUEST_MEMFD_FLAG_NAMES,
  KVM_CAP,
  KVM_CHECK_EXTENSION,
  KVM_CLEAR_DIRTY_LOG,
  KVM_CREATE_GUEST_MEMFD,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_ENABLE_CAP,
  KVM_GET_DIRTY_LOG,
  KVM_MEM_GUEST_MEMFD,
  KVM_SET_IDENTITY_MAP_ADDR,
  KVM_SET_MEMORY_ATTRIBUTES,
  KVM_SET_TSS_ADDR,
  KVM_SET_USER_MEMORY_REGION2,
  capabilityName,
} from "../uapi/constants.js";
import { KvmArgumentError, KvmCapabilityError, KvmError } from "./errors.js";
import { GuestMemfd } from "./gmem.js";
import {
  encodeClearDirtyLog,
  encodeCreateGuestMemfd,
  encodeDirtyLog,
  encodeEnableCap,
  encodeMemoryAttributes,
  encodeUserspaceMemoryRegion2,
} from "../uapi/structs.js";
import { Vcpu } from "./vcpu.js";

/** A guest-physical range, either in bytes (`gpa`, `sizeBytes`) or in pages (`gfn`, `npages`). */
export type GuestRange = { gpa: U64; sizeBytes: U64 } | { gfn: U64; npages: U64 };

/** Arguments of KVM_SET_USER_MEMORY_REGION2 (see struct kvm_userspace_memory_region2). */
export interface UserMemoryRegion2 {
  /** memslot id (address space in bits 16..31) */
  slot: number;
  /** KVM_MEM_* flags; KVM_MEM_GUEST_MEMFD is added when `guestMemfd` is given */
  flags?: number;
  /** guest physical address, bytes, page aligned */
  guestPhysAddr: U64;
  /** bytes, page aligned; 0 deletes the slot */
  memorySizeBytes: U64;
  /** host virtual address of the shared backing (a mapping's `address`), page aligned */
  userspaceAddr: U64;
  /** the guest_memfd backing private memory, or its fd */
  guestMemfd?: GuestMemfd | number;
  /** offset into the guest_memfd, bytes, page aligned */
  guestMemfdOffset?: U64;
}

/**
 * A KVM virtual machine.
 * @remarks Not thread-safe; memslot and attribute changes race with running vCPUs exactly as
 * they do in the kernel (KVM serialises them under its own locks).
 * @example
 * ```ts
 * import { Kvm } from "memattr/node";
 * if (Kvm.isAvailable()) {
 *   using kvm = Kvm.open();
 *   using vm = kvm.createVm();
 *   console.log(vm.checkExtension(234)); // KVM_CAP_GUEST_MEMFD
 * }
 * ```
 */
export class Vm extends FdOwner {
  readonly #caps = new Map<number, number>();

  private constructor(
    fd: number,
    /** the KVM_X86_*_VM type it was created with */
    readonly type: number,
    private readonly vcpuMmapSizeBytes: number,
  ) {
    super(fd, "Vm");
  }

  /** @internal Used by Kvm.createVm. */
  static _create(kvmFd: number, type: number, vcpuMmapSizeBytes: number): Vm {
    return new Vm(ioctlValue(kvmFd, KVM_CREATE_VM, type), type, vcpuMmapSizeBytes);
  }

  /**
   * KVM_CHECK_EXTENSION on the VM (KVM_CAP_CHECK_EXTENSION_VM): answers for this VM's type.
   * @param cap - a KVM_CAP_* number
   * @returns 0 when absent, else 1 or a cap-specific mask/count
   */
  checkExtension(cap: number): number {
    return ioctlValue(this.fd, KVM_CHECK_EXTENSION, toU32("KVM_CHECK_EXTENSION", "cap", cap));
  }

  #cap(cap: number): number {
    let v = this.#caps.get(cap);
    if (v === undefined) this.#caps.set(cap, (v = this.checkExtension(cap)));
    return v;
  }

  /**
   * KVM_ENABLE_CAP on the VM.
   * @param cap - a KVM_CAP_* number, e.g. KVM_CAP.EXIT_HYPERCALL
   * @param args - up to four u64 arguments, e.g. [1n << 12n] for KVM_HC_MAP_GPA_RANGE exits
   * @param flags - cap-specific flags, usually 0
   * @throws KvmError EINVAL when the cap or its arguments are refused
   */
  enableCap(cap: number, args: readonly U64[] = [], flags = 0): void {
    const op = "KVM_ENABLE_CAP";
    if (args.length > 4) throw new KvmArgumentError(op, "args", `at most 4, got ${args.length}`);
    const buf = encodeEnableCap({
      cap: toU32(op, "cap", cap),
      flags: toU32(op, "flags", flags),
      args: args.map((a, i) => toU64(op, `args[${i}]`, a)),
    });
    ioctlStruct(this.fd, KVM_ENABLE_CAP, buf);
  }

  /**
   * KVM_SET_USER_MEMORY_REGION2: adds, moves or (size 0) deletes a memslot.
   * @param region - slot, gpa, size and backings, all in bytes (see {@link UserMemoryRegion2})
   * @throws KvmArgumentError (EINVAL) for unaligned address/size/offset or gpa + size overflow
   * @throws KvmError EINVAL/EEXIST/EBADF from the kernel (overlap, bad guest_memfd …)
   * @example
   * ```ts
   * import { Kvm, GUEST_MEMFD_FLAG_MMAP, GUEST_MEMFD_FLAG_INIT_SHARED } from "memattr/node";
   * if (Kvm.isAvailable()) {
   *   using kvm = Kvm.open();
   *   using vm = kvm.createVm();
   *   using gmem = vm.createGuestMemfd(0x10000, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
   *   vm.setUserMemoryRegion2({ slot: 0, guestPhysAddr: 0, memorySizeBytes: 0x10000,
   *     userspaceAddr: gmem.mmap().address, guestMemfd: gmem });
   * }
   * ```
   */
  setUserMemoryRegion2(region: UserMemoryRegion2): void {
    const op = "KVM_SET_USER_MEMORY_REGION2";
    const slot = toU32(op, "slot", region.slot);
    let flags = toU32(op, "flags", region.flags ?? 0);
    const gpa = toU64(op, "guestPhysAddr", region.guestPhysAddr);
    const size = toU64(op, "memorySizeBytes", region.memorySizeBytes);
    const hva = toU64(op, "userspaceAddr", region.userspaceAddr);
    const gmemOffset = toU64(op, "guestMemfdOffset", region.guestMemfdOffset ?? 0);
    let gmemFd = 0;
    if (region.guestMemfd !== undefined) {
      gmemFd = typeof region.guestMemfd === "number" ? toU32(op, "guestMemfd", region.guestMemfd) : region.guestMemfd.fd;
      flags |= KVM_MEM_GUEST_MEMFD;
    }
    requirePageAligned(op, "guestPhysAddr", gpa);
    requirePageAligned(op, "memorySizeBytes", size);
    requirePageAligned(op, "userspaceAddr", hva);
    requirePageAligned(op, "guestMemfdOffset", gmemOffset);
    requireNoOverflow(op, "guestPhysAddr + memorySizeBytes", gpa, size);
    if (flags & KVM_MEM_GUEST_MEMFD) requireNoOverflow(op, "guestMemfdOffset + memorySizeBytes", gmemOffset, size);
    const buf = encodeUserspaceMemoryRegion2({
      slot,
      flags,
      guestPhysAddr: gpa,
      memorySizeBytes: size,
      userspaceAddr: hva,
      guestMemfdOffset: gmemOffset,
      guestMemfd: gmemFd,
    });
    ioctlStruct(this.fd, KVM_SET_USER_MEMORY_REGION2, buf);
  }

  /**
   * KVM_SET_USER_MEMORY_REGION2 with size 0: deletes memslot `slot`.
   * @param slot - memslot id
   */
  removeUserMemoryRegion2(slot: number): void {
    this.setUserMemoryRegion2({ slot, guestPhysAddr: 0, memorySizeBytes: 0, userspaceAddr: 0 });
  }

  /**
   * KVM_GET_DIRTY_LOG: the pages of memslot `slot` written since dirty logging was turned on
   * (`KVM_MEM_LOG_DIRTY_PAGES`) or since the last call. Without manual protection (the default)
   * the call also clears the log; with `KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2` enabled it does not,
   * and {@link clearDirtyLog} does. KVM does not log guest_memfd (private) memory.
   * @param slot - memslot id (address space in bits 16..31)
   * @param npages - the slot's size in pages (sizes the bitmap the kernel fills)
   * @returns one bit per page of the slot, little-endian 64-bit words (`dirtyPagesOf` lists them)
   * @throws KvmArgumentError (EINVAL) for a bad slot id or page count
   * @throws KvmError ENOENT when the slot has no dirty logging, EINVAL for a guest_memfd slot
   */
  getDirtyLog(slot: number, npages: number): Uint8Array {
    const op = "KVM_GET_DIRTY_LOG";
    const id = toU32(op, "slot", slot);
    const bytes = dirtyBitmapBytes(op, npages);
    return withNativeBuffer(bytes, (address, view) => {
      ioctlStruct(this.fd, KVM_GET_DIRTY_LOG, encodeDirtyLog({ slot: id, dirtyBitmap: address }));
      return view.slice(0, bytes);
    });
  }

  /**
   * KVM_CLEAR_DIRTY_LOG: re-arms dirty logging for the pages of `bitmap` (bit i = page
   * `firstPage + i` of the slot), which KVM_GET_DIRTY_LOG no longer does once
   * `KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2` is enabled (`enableCap(KVM_CAP.MANUAL_DIRTY_LOG_PROTECT2,
   * [KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE])`).
   * @param slot - memslot id
   * @param firstPage - first page of the slot the bitmap covers, a multiple of 64
   * @param numPages - pages covered; a multiple of 64 unless the range ends at the slot's end
   * @param bitmap - at least ceil(numPages / 64) × 8 bytes; default: every page
   * @throws KvmArgumentError (EINVAL) for a misaligned range or a short bitmap
   * @throws KvmCapabilityError (ENOCAP) when the host lacks KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
   * @throws KvmError EINVAL when manual protection is not enabled, ENOENT when the slot has no dirty logging
   */
  clearDirtyLog(slot: number, firstPage: number, numPages: number, bitmap?: Uint8Array): void {
    const op = "KVM_CLEAR_DIRTY_LOG";
    const id = toU32(op, "slot", slot);
    const first = toU64(op, "firstPage", firstPage);
    const count = toU32(op, "numPages", numPages);
    if (first % 64n !== 0n) throw new KvmArgumentError(op, "firstPage", `${first} is not a multiple of 64`);
    const bytes = dirtyBitmapBytes(op, count);
    if (bitmap !== undefined && bitmap.byteLength < bytes)
      throw new KvmArgumentError(op, "bitmap", `${bitmap.byteLength} bytes, ${numPages} pages need ${bytes}`);
    const supported = this.#cap(KVM_CAP.MANUAL_DIRTY_LOG_PROTECT2);
    if (supported === 0) throw new KvmCapabilityError(op, "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2", 0);
    withNativeBuffer(bytes, (address, view) => {
      if (bitmap === undefined) view.fill(0xff, 0, bytes);
      else view.set(bitmap.subarray(0, bytes));
      ioctlStruct(this.fd, KVM_CLEAR_DIRTY_LOG, encodeClearDirtyLog({ slot: id, numPages: count, firstPage: first, dirtyBitmap: address }));
    });
  }

  /**
   * KVM_SET_MEMORY_ATTRIBUTES: sets `attrs` on every page of `range` (e.g. PRIVATE = 1 << 3).
   * The ioctl is always made; where the host lacks KVM_CAP_MEMORY_ATTRIBUTES the kernel's
   * refusal is reported as a KvmCapabilityError naming it, never as a silent success.
   * @param range - bytes (`gpa`, `sizeBytes`) or pages (`gfn`, `npages`); page aligned, non-empty
   * @param attrs - KVM_MEMORY_ATTRIBUTE_* bits; 0 makes the range shared
   * @throws KvmArgumentError (EINVAL) for an empty, unaligned or overflowing range, or bits the cap does not list
   * @throws KvmCapabilityError (ENOCAP) when KVM_CAP_MEMORY_ATTRIBUTES is 0 on this VM
   * @throws KvmError for other kernel errors (EFAULT, ENOMEM, EAGAIN …)
   * @example
   * ```ts
   * import { Kvm, KVM_MEMORY_ATTRIBUTE_PRIVATE, KvmCapabilityError } from "memattr/node";
   * if (Kvm.isAvailable()) {
   *   using kvm = Kvm.open();
   *   using vm = kvm.createVm();
   *   try {
   *     vm.setMemoryAttributes({ gfn: 0x100, npages: 16 }, KVM_MEMORY_ATTRIBUTE_PRIVATE);
   *   } catch (err) {
   *     if (!(err instanceof KvmCapabilityError)) throw err; // err.capability names what is missing
   *   }
   * }
   * ```
   */
  setMemoryAttributes(range: GuestRange, attrs: U64): void {
    const op = "KVM_SET_MEMORY_ATTRIBUTES";
    const [gpa, size] = rangeBytes(op, range);
    const attributes = toU64(op, "attrs", attrs);
    requireNonZero(op, "sizeBytes", size);
    requirePageAligned(op, "gpa", gpa);
    requirePageAligned(op, "sizeBytes", size);
    requireNoOverflow(op, "gpa + sizeBytes", gpa, size);
    const supported = this.#cap(KVM_CAP.MEMORY_ATTRIBUTES);
    if (supported !== 0 && (attributes & ~BigInt(supported)) !== 0n) {
      throw new KvmArgumentError(op, "attrs", `0x${attributes.toString(16)} has bits outside KVM_CAP_MEMORY_ATTRIBUTES 0x${supported.toString(16)}`);
    }
    const buf = encodeMemoryAttributes({ address: gpa, sizeBytes: size, attributes, flags: 0 });
    try {
      ioctlStruct(this.fd, KVM_SET_MEMORY_ATTRIBUTES, buf);
    } catch (err) {
      if (supported === 0 && err instanceof KvmError) {
        throw new KvmCapabilityError(op, "KVM_CAP_MEMORY_ATTRIBUTES", 0, err.errno, err.code);
      }
      throw err;
    }
  }

  /**
   * KVM_CREATE_GUEST_MEMFD: a file of private (or, with INIT_SHARED, initially shared) guest memory.
   * @param sizeBytes - file size, bytes, page aligned, > 0
   * @param flags - GUEST_MEMFD_FLAG_* bits; must be in this VM's KVM_CAP_GUEST_MEMFD_FLAGS
   * @throws KvmArgumentError (EINVAL) for a zero or unaligned size, or unknown flag bits
   * @throws KvmCapabilityError (ENOCAP) when KVM_CAP_GUEST_MEMFD or a requested flag is unsupported here
   * @example
   * ```ts
   * import { Kvm, GUEST_MEMFD_FLAG_MMAP } from "memattr/node";
   * if (Kvm.isAvailable()) {
   *   using kvm = Kvm.open();
   *   using vm = kvm.createVm();
   *   using gmem = vm.createGuestMemfd(2 * 1024 * 1024, GUEST_MEMFD_FLAG_MMAP);
   *   gmem.punchHole(0, 4096);
   * }
   * ```
   */
  createGuestMemfd(sizeBytes: U64, flags: number = 0): GuestMemfd {
    const op = "KVM_CREATE_GUEST_MEMFD";
    const size = toU64(op, "sizeBytes", sizeBytes);
    const f = toU32(op, "flags", flags);
    requireNonZero(op, "sizeBytes", size);
    requirePageAligned(op, "sizeBytes", size);
    const safeSize = toSafeBytes(op, "sizeBytes", size);
    if (this.#cap(KVM_CAP.GUEST_MEMFD) === 0) throw new KvmCapabilityError(op, "KVM_CAP_GUEST_MEMFD", 0);
    const known = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
    if (f & ~known) {
      throw new KvmArgumentError(op, "flags", `0x${f.toString(16)} has unknown bits (known: MMAP 0x1, INIT_SHARED 0x2)`);
    }
    const supported = this.#cap(KVM_CAP.GUEST_MEMFD_FLAGS);
    const missing = f & ~supported;
    if (missing) {
      const names = Object.entries(GUEST_MEMFD_FLAG_NAMES)
        .filter(([bit]) => missing & Number(bit))
        .map(([, n]) => `GUEST_MEMFD_FLAG_${n}`);
      throw new KvmCapabilityError(op, `${names.join(" | ")} (${capabilityName(KVM_CAP.GUEST_MEMFD_FLAGS)})`, supported);
    }
    const fd = ioctlStruct(this.fd, KVM_CREATE_GUEST_MEMFD, encodeCreateGuestMemfd({ sizeBytes: size, flags: f }));
    return GuestMemfd._wrap(fd, safeSize, f);
  }

  /**
   * KVM_CREATE_VCPU, then mmap of its kvm_run page(s).
   * @param id - vCPU id (APIC id on x86), below KVM_CAP_MAX_VCPU_ID
   * @throws KvmError EEXIST when the id is taken, EINVAL when out of range
   */
  createVcpu(id: number): Vcpu {
    const fd = ioctlValue(this.fd, KVM_CREATE_VCPU, toU32("KVM_CREATE_VCPU", "id", id));
    return Vcpu._wrap(fd, id, this.vcpuMmapSizeBytes);
  }

  /**
   * KVM_SET_TSS_ADDR (x86, Intel without unrestricted guest): three pages for real-mode emulation.
   * @param gpa - guest physical address, bytes, outside every memslot
   */
  setTssAddr(gpa: U64): void {
    ioctlValue(this.fd, KVM_SET_TSS_ADDR, toU64("KVM_SET_TSS_ADDR", "gpa", gpa));
  }

  /**
   * KVM_SET_IDENTITY_MAP_ADDR (x86, Intel): one page for the real-mode identity map.
   * @param gpa - guest physical address, bytes, outside every memslot
   */
  setIdentityMapAddr(gpa: U64): void {
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setBigUint64(0, toU64("KVM_SET_IDENTITY_MAP_ADDR", "gpa", gpa), true);
    ioctlStruct(this.fd, KVM_SET_IDENTITY_MAP_ADDR, buf);
  }
}

/** [gpa, sizeBytes] in bytes from either form of GuestRange. */
/** Bytes of a dirty bitmap for `npages`: one bit per page, in whole 64-bit words (the kernel writes longs). */
function dirtyBitmapBytes(op: string, npages: number): number {
  if (!Number.isSafeInteger(npages) || npages < 1 || npages > 2 ** 31)
    throw new KvmArgumentError(op, "npages", `must be an integer in [1, 2^31], got ${npages}`);
  return Math.ceil(npages / 64) * 8;
}

/**
 * The pages a dirty bitmap marks (bit i of the little-endian words = page `firstPage + i`).
 * @param bitmap - from {@link Vm.getDirtyLog}
 * @param firstPage - the slot page of bit 0 (default 0)
 * @example
 * ```ts
 * import { dirtyPagesOf } from "memattr/node/kvm";
 * console.log(dirtyPagesOf(new Uint8Array([0b101, 0, 0, 0, 0, 0, 0, 0x80]))); // [ 0, 2, 63 ]
 * ```
 */
export function dirtyPagesOf(bitmap: Uint8Array, firstPage = 0): number[] {
  const out: number[] = [];
  for (let i = 0; i < bitmap.length; i++) {
    const b = bitmap[i]!;
    if (b === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) out.push(firstPage + i * 8 + bit);
  }
  return out;
}

function rangeBytes(op: string, range: GuestRange): [bigint, bigint] {
  if ("gfn" in range) {
    const gfn = toU64(op, "gfn", range.gfn);
    const npages = toU64(op, "npages", range.npages);
    const shift = BigInt(PAGE_SHIFT);
    // gfn and npages must stay below 2^52 so that their byte values fit in 64 bits.
    requireNoOverflow(op, "gfn", gfn, 1n, 1n << (64n - shift));
    requireNoOverflow(op, "npages", npages, 1n, 1n << (64n - shift));
    return [gfn << shift, npages << shift];
  }
  return [toU64(op, "gpa", range.gpa), toU64(op, "sizeBytes", range.sizeBytes)];
}
