/**
 * The syscall layer (Node only): libc through koffi, loaded lazily on first use so that
 * importing the package never loads a native module. Every call that can return -1 goes
 * through {@link check}, which reads errno and throws a {@link KvmError} naming the call,
 * the errno and, where one explains it, the capability or rule at fault.
 *
 * Every call goes through one table of libc functions. Tests swap it for wrappers that fail
 * chosen calls ({@link setSyscallFaults}, plans in `_faults.ts`); without a plan the table is
 * koffi's functions themselves, so the hook costs nothing but the table lookup every call
 * already made.
 *
 * Conventions: `fd` a file descriptor; `...Bytes` byte counts/offsets; addresses are
 * bigint (koffi returns pointers as bigint); request numbers are unsigned 32-bit numbers.
 */
import { createRequire } from "node:module";
import { MemattrUnsupportedError } from "../core/errors.js";
import { PAGE_SIZE } from "./_validate.js";
import { ioctlName } from "../uapi/constants.js";
import { KvmArgumentError, KvmError } from "./errors.js";
import { FaultPlan, type SyscallFault, type SyscallFaultLog, type SyscallName } from "./_faults.js";

/* Linux x86-64 values (include/uapi/asm-generic/fcntl.h, mman-common.h, linux/memfd.h,
 * linux/falloc.h, linux/fs.h). They are ABI, not libc choices. */
export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const MFD_CLOEXEC = 0x1;
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;
/** mmap's failure value, (void *)-1, as koffi returns it. */
export const MAP_FAILED = (1n << 64n) - 1n;

/** Sentences added to an error when a capability or rule usually explains it. */
const HINTS: Record<string, string> = {
  "KVM_CREATE_VM:EINVAL": "the VM type is not in KVM_CAP_VM_TYPES on this host",
  "KVM_CREATE_GUEST_MEMFD:EINVAL": "flags outside KVM_CAP_GUEST_MEMFD_FLAGS (INIT_SHARED is refused on VMs with private memory), or size not page aligned",
  "KVM_CREATE_GUEST_MEMFD:ENOTTY": "this kernel lacks KVM_CAP_GUEST_MEMFD",
  "KVM_SET_MEMORY_ATTRIBUTES:ENOTTY": "this kernel lacks KVM_CAP_MEMORY_ATTRIBUTES",
  "KVM_SET_MEMORY_ATTRIBUTES:EINVAL": "attributes outside KVM_CAP_MEMORY_ATTRIBUTES, flags not 0, or range empty/unaligned/overflowing",
  "KVM_SET_USER_MEMORY_REGION2:EINVAL":
    "unaligned address/size/offset, bad flags (KVM_MEM_GUEST_MEMFD needs KVM_CAP_GUEST_MEMFD), or overlap with another slot",
  "KVM_SET_USER_MEMORY_REGION2:EEXIST": "the range overlaps another memslot",
  "KVM_SET_USER_MEMORY_REGION2:ENOTTY": "this kernel lacks KVM_CAP_USER_MEMORY2",
  "KVM_SET_USER_MEMORY_REGION2:EBADF": "guest_memfd is not an open guest_memfd",
  "KVM_GET_DIRTY_LOG:ENOENT": "the memslot does not exist or has no dirty logging (KVM_MEM_LOG_DIRTY_PAGES)",
  "KVM_GET_DIRTY_LOG:EINVAL": "no such memslot id, or a guest_memfd slot (KVM does not log private memory)",
  "KVM_CLEAR_DIRTY_LOG:EINVAL":
    "manual dirty-log protection is not enabled (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), or first_page / num_pages is not a multiple of 64 (num_pages may end at the slot's end)",
  "KVM_CLEAR_DIRTY_LOG:ENOENT": "the memslot does not exist or has no dirty logging",
  "KVM_ENABLE_CAP:EINVAL": "the capability cannot be enabled here or its arguments are outside the mask KVM_CHECK_EXTENSION returns",
  "KVM_RUN:EFAULT": "the guest touched memory no memslot backs, or a private/shared mismatch (KVM_EXIT_MEMORY_FAULT)",
  "fallocate:EOPNOTSUPP": "guest_memfd accepts only FALLOC_FL_KEEP_SIZE and FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE",
  "fallocate:EINVAL": "offset and length must be page aligned and the length non-zero",
  "mincore:ENOMEM": "part of the range is not mapped in this process",
  "mincore:EINVAL": "the address is not page aligned",
  "mmap:ENODEV": "this file cannot be mapped (guest_memfd without GUEST_MEMFD_FLAG_MMAP)",
  "open:ENOENT": "no /dev/kvm: KVM is not available on this host",
  "open:EACCES": "no permission on /dev/kvm (join the kvm group)",
};

/** Canonical names where Linux has two for one number. */
const PREFERRED = new Set(["EAGAIN", "EOPNOTSUPP", "EDEADLK"]);
let errnoNames: Map<number, string> | undefined;

/** Symbolic errno name ("EINVAL") for a number, from koffi's table of this OS. */
export function errnoName(errno: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, value] of Object.entries(loadLibc().koffi.os.errno)) {
      if (!errnoNames.has(value) || PREFERRED.has(name)) errnoNames.set(value, name);
    }
  }
  return errnoNames.get(errno) ?? `E${errno}`;
}

type Koffi = typeof import("koffi");
type Fn = (...args: unknown[]) => unknown;
/** The syscall table: koffi's libc functions, or wrappers of them that inject faults. */
interface Libc extends Record<SyscallName, Fn> {
  koffi: Koffi;
  /** errno of the last call made through this table */
  errno: () => number;
}
/** koffi's own functions, loaded once. */
let real: Libc | undefined;
/** What every call goes through: `real`, or a faulting wrapper of it while a plan is set. */
let table: Libc | undefined;

/** The syscall table, loading koffi and libc on first use. */
function lib(): Libc {
  return table ?? loadLibc();
}

/** Loads koffi and libc once. @throws MemattrUnsupportedError when koffi is missing. */
function loadLibc(): Libc {
  if (real) return real;
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)("koffi") as Koffi;
  } catch (err) {
    throw new MemattrUnsupportedError(`the KVM binding needs the optional dependency 'koffi' (npm install koffi): ${(err as Error).message}`);
  }
  const libc = koffi.load("libc.so.6");
  real = {
    koffi,
    errno: () => koffi.errno(),
    open: libc.func("int open(const char *path, int flags, ...)"),
    close: libc.func("int close(int fd)"),
    // Variadic: each extra argument is passed as a (type, value) pair.
    ioctl: libc.func("int ioctl(int fd, unsigned long request, ...)"),
    fallocate: libc.func("int fallocate(int fd, int mode, int64_t offset, int64_t len)"),
    memfd_create: libc.func("int memfd_create(const char *name, unsigned int flags)"),
    ftruncate: libc.func("int ftruncate(int fd, int64_t length)"),
    mmap: libc.func("void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)"),
    munmap: libc.func("int munmap(void *addr, size_t length)"),
    lseek: libc.func("int64_t lseek(int fd, int64_t offset, int whence)"),
    pread: libc.func("intptr_t pread(int fd, void *buf, size_t count, int64_t offset)"),
    pwrite: libc.func("intptr_t pwrite(int fd, const void *buf, size_t count, int64_t offset)"),
    // `vec` is declared a plain pointer: koffi passes a Uint8Array's own bytes, which the kernel
    // fills in place (an _Out_ pointer would make koffi copy them back for nothing).
    mincore: libc.func("int mincore(void *addr, size_t length, uint8_t *vec)"),
  };
  table ??= real;
  return real;
}

/**
 * Makes the syscall layer fail as `faults` says (internal: tests only, never exported from the
 * package). Every call through the table is counted against the plan's rules; a call a rule
 * fails does what `_faults.ts` says (nothing, or close's release) and returns -1 / MAP_FAILED
 * with errno set, so everything above it — check, the EINTR restarts, lseek's ENXIO, the
 * objects' cleanup — runs exactly as on a real failure. Replaces any earlier plan.
 * @param faults - the rules, or undefined to clear: the table is koffi's own functions again
 * @returns the plan's live log (calls seen, failures injected), or undefined when cleared
 * @throws TypeError for a malformed rule; MemattrUnsupportedError when koffi is missing
 */
export function setSyscallFaults(faults: readonly SyscallFault[] | undefined): SyscallFaultLog | undefined {
  const libc = loadLibc();
  if (faults === undefined) {
    table = libc;
    return undefined;
  }
  const plan = new FaultPlan(faults, (name) => libc.koffi.os.errno[name as keyof typeof libc.koffi.os.errno]);
  table = faultingTable(libc, plan);
  return plan.log;
}

/** Runs `fn` on koffi's own functions (no faults, not counted), then restores the plan. */
export function withoutSyscallFaults<T>(fn: () => T): T {
  const saved = table;
  table = loadLibc();
  try {
    return fn();
  } finally {
    table = saved;
  }
}

/** `real` with each function wrapped: ask the plan, then call through or fail. */
function faultingTable(libc: Libc, plan: FaultPlan): Libc {
  let injectedErrno = 0;
  const wrap = (name: SyscallName): Fn => {
    const fn = libc[name];
    return (...args: unknown[]): unknown => {
      const errno = plan.decide(name, name === "ioctl" ? ioctlName(args[1] as number) : name);
      if (errno === 0) {
        injectedErrno = 0;
        return fn(...args);
      }
      if (name === "close") fn(...args); // Linux releases the descriptor whatever close(2) returns
      injectedErrno = errno;
      return name === "mmap" ? MAP_FAILED : -1;
    };
  };
  const out = { koffi: libc.koffi, errno: () => (injectedErrno !== 0 ? injectedErrno : libc.errno()) } as Libc;
  for (const name of Object.keys(libc) as (keyof Libc)[]) if (name !== "koffi" && name !== "errno") out[name] = wrap(name);
  return out;
}

/** True when koffi loads; never throws. */
export function syscallsAvailable(): boolean {
  try {
    loadLibc();
    return true;
  } catch {
    return false;
  }
}

/**
 * The one place a -1 return becomes an error: reads errno right after the call (nothing in
 * between may touch it) and throws a KvmError with the op, errno name and hint.
 */
export function check<T extends number | bigint>(op: string, result: T): T {
  if (result === -1 || result === -1n) {
    throw lastError(op);
  }
  return result;
}

/** A KvmError for `op` and `errno`, with the hint that explains it, if any. */
export function errorFromErrno(op: string, errno: number): KvmError {
  const code = errnoName(errno);
  return new KvmError(op, errno, code, HINTS[`${op}:${code}`]);
}

/** A KvmError for `op` with errno from the last call, for callers that test more than -1. */
export function lastError(op: string): KvmError {
  return errorFromErrno(op, lib().errno());
}

/** errno of an interrupted system call. */
const EINTR = 4;
/** How often an interrupted call is restarted before EINTR is reported. */
const MAX_EINTR_RETRIES = 100;

/**
 * Runs `call` again while it fails with EINTR (a signal arrived, e.g. a profiler's SIGPROF),
 * then checks its result as {@link check} does. Only for calls that are safe to make twice:
 * one that said EINTR either did nothing (KVM_CREATE_VM, KVM_CREATE_GUEST_MEMFD install their
 * fd only on success; open, ftruncate, pread, pwrite) or did part of an idempotent job
 * (fallocate: guest_memfd's allocate stops at a pending signal and keeps the pages it got,
 * punching a hole twice is punching it once; KVM_SET_MEMORY_ATTRIBUTES sets, it does not add).
 * Not for KVM_RUN, whose EINTR is an exit the caller must see (see ioctlRaw), nor close.
 */
function checkRestarting(op: string, call: () => number): number {
  for (let attempt = 0; ; attempt++) {
    const result = call();
    if (result !== -1) return result;
    const errno = lib().errno();
    if (errno !== EINTR || attempt >= MAX_EINTR_RETRIES) throw errorFromErrno(op, errno);
  }
}

export function sysOpen(path: string, flags: number): number {
  // SAFETY: `path` is copied by koffi into a NUL-terminated C string for the call only.
  return checkRestarting("open", () => lib().open(path, flags, "int", 0) as number);
}

/**
 * close(2), never restarted: Linux has released the descriptor whatever close returns, and
 * the number may already belong to another open by the time a retry ran. EINTR therefore
 * means "closed" (a signal arrived while it flushed) and is not an error; other errnos are
 * reported, with the descriptor gone all the same.
 */
export function sysClose(fd: number): void {
  if ((lib().close(fd) as number) === -1) {
    const errno = lib().errno();
    if (errno !== EINTR) throw errorFromErrno("close", errno);
  }
}

/** ioctl with an integer argument (or none); returns the kernel's non-negative result. */
export function ioctlValue(fd: number, request: number, arg: number | bigint = 0, op = ioctlName(request)): number {
  return checkRestarting(op, () => lib().ioctl(fd, request, "unsigned long", arg) as number);
}

/**
 * ioctl with a struct argument; the kernel reads and/or writes `buf` in place.
 * @param buf - exactly the struct's size (the request encodes it; the kernel copies that many bytes)
 */
export function ioctlStruct(fd: number, request: number, buf: Uint8Array, op = ioctlName(request)): number {
  // SAFETY: koffi passes a pointer to `buf`'s own bytes for the synchronous call; `buf` is a
  // live JS object for the whole call and is at least the size encoded in `request`.
  return checkRestarting(op, () => lib().ioctl(fd, request, "void *", buf) as number);
}

/** ioctl returning -1 without throwing: `{ result, errno }`, for KVM_RUN's EFAULT/EINTR exits. */
export function ioctlRaw(fd: number, request: number, arg: number | bigint = 0): { result: number; errno: number } {
  const result = lib().ioctl(fd, request, "unsigned long", arg) as number;
  return { result, errno: result === -1 ? lib().errno() : 0 };
}

export function sysFallocate(fd: number, mode: number, offsetBytes: number, lengthBytes: number): void {
  checkRestarting("fallocate", () => lib().fallocate(fd, mode, offsetBytes, lengthBytes) as number);
}

export function sysMemfdCreate(name: string, flags: number): number {
  // SAFETY: `name` is copied into a temporary C string for the call.
  return check("memfd_create", lib().memfd_create(name, flags) as number);
}

export function sysFtruncate(fd: number, lengthBytes: number): void {
  checkRestarting("ftruncate", () => lib().ftruncate(fd, lengthBytes) as number);
}

/** mmap; returns the address as a bigint. @throws KvmError on MAP_FAILED. */
export function sysMmap(address: bigint | null, lengthBytes: number, prot: number, flags: number, fd: number, offsetBytes: number): bigint {
  // SAFETY: no JS memory is passed; `address` is either null or (with MAP_FIXED) a range this
  // process mapped itself and still owns.
  const p = lib().mmap(address, lengthBytes, prot, flags, fd, offsetBytes) as bigint | null;
  const addr = p === null ? 0n : BigInt(p as bigint);
  if (addr === MAP_FAILED) throw lastError("mmap");
  return addr;
}

export function sysMunmap(address: bigint, lengthBytes: number): void {
  // SAFETY: called only by Mapping for a range it mapped, once no view of it can be reached.
  check("munmap", lib().munmap(address, lengthBytes) as number);
}

/**
 * munmap of a placeholder whose last view was collected (Mapping's finalizer): through koffi's
 * own function, outside any fault plan — it belongs to no operation, runs whenever the garbage
 * collector says, and has nobody to report to. @returns false when munmap failed.
 */
export function sysMunmapPlaceholder(address: bigint, lengthBytes: number): boolean {
  // SAFETY: as sysMunmap; the placeholder is anonymous memory only this process knows of.
  return (loadLibc().munmap(address, lengthBytes) as number) !== -1;
}

/**
 * lseek; returns the new offset, or null on ENXIO (SEEK_DATA/SEEK_HOLE past the last
 * data/hole, the normal end of a scan).
 */
export function sysLseek(fd: number, offsetBytes: number, whence: number): number | null {
  const r = lib().lseek(fd, offsetBytes, whence) as number | bigint;
  if (r === -1 || r === -1n) {
    const err = lastError("lseek");
    if (err.code === "ENXIO") return null;
    throw err;
  }
  return Number(r);
}

export function sysPread(fd: number, into: Uint8Array, offsetBytes: number): number {
  // SAFETY: koffi passes `into`'s bytes (a subarray's own window) for the call; count is its length.
  return Number(checkRestarting("pread", () => lib().pread(fd, into, into.byteLength, offsetBytes) as number));
}

export function sysPwrite(fd: number, from: Uint8Array, offsetBytes: number): number {
  // SAFETY: as pread; the kernel only reads `from.byteLength` bytes.
  return Number(checkRestarting("pwrite", () => lib().pwrite(fd, from, from.byteLength, offsetBytes) as number));
}

/**
 * mincore(2): which pages of `[address, address + lengthBytes)` are resident in memory. For a
 * MAP_SHARED file mapping that is the file's page cache, whether or not this process ever
 * touched the page. One byte per page is written to `vec`; bit 0 set = resident.
 * @param address - page aligned (else the kernel says EINVAL)
 * @param lengthBytes - bytes; the last page may be partial; 0 writes nothing
 * @param vec - at least ceil(lengthBytes / 4096) bytes
 * @throws KvmArgumentError (EINVAL) for a bad length or a vector too small to write into
 * @throws KvmError ENOMEM when part of the range is unmapped, EINVAL when unaligned
 */
export function sysMincore(address: bigint, lengthBytes: number, vec: Uint8Array): void {
  if (!Number.isSafeInteger(lengthBytes) || lengthBytes < 0) throw new KvmArgumentError("mincore", "lengthBytes", `got ${lengthBytes}`);
  const npages = Math.ceil(lengthBytes / PAGE_SIZE);
  if (vec.byteLength < npages) {
    throw new KvmArgumentError("mincore", "vec", `holds ${vec.byteLength} bytes, ${npages} pages need one byte each`);
  }
  // SAFETY: the kernel writes exactly ceil(lengthBytes / 4096) bytes to `vec`, which holds at
  // least that many (checked above) and is a live JS object for the whole synchronous call;
  // it reads no memory at `address`, only the page tables, so an unmapped range is ENOMEM.
  check("mincore", lib().mincore(address, lengthBytes, vec) as number);
}

/**
 * An ArrayBuffer over `lengthBytes` of native memory at `address`, without copying.
 * The buffer does not own the memory and cannot be detached: whoever unmaps the range must
 * make sure stale views cannot fault (see Mapping, which leaves a placeholder).
 */
export function viewMemory(address: bigint, lengthBytes: number): ArrayBuffer {
  // SAFETY: the caller owns a mapping of exactly [address, address + lengthBytes).
  return lib().koffi.view(address, lengthBytes);
}
