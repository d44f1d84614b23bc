// Helpers for the fault-injection tests: a plan set around a block, what the kernel holds
// (mincore, SEEK_DATA) read outside any plan, descriptor and mapping counts, and a
// guest_memfd stand-in on a memfd for hosts without /dev/kvm.
import { readdirSync, readFileSync } from "node:fs";
import { GUEST_MEMFD_BACKING_FLAGS } from "../../src/backing/real/gmem.js";
import { MFD_CLOEXEC, setSyscallFaults, sysClose, sysFtruncate, sysMemfdCreate, withoutSyscallFaults } from "../../src/kvm/_syscall.js";
import type { SyscallFault, SyscallFaultLog } from "../../src/kvm/_faults.js";
import { GuestMemfd } from "../../src/kvm/gmem.js";
import type { GfnRange } from "../../src/model/errors.js";

export { setSyscallFaults, withoutSyscallFaults };
export type { SyscallFault, SyscallFaultLog };

/** Errnos the tests inject: what fallocate, ioctl, mmap and friends can say. */
export const ERRNOS = ["EIO", "ENOSPC", "ENOMEM", "EINTR", "EBADF", "EAGAIN", "EPERM", "EFAULT"] as const;

/** Runs `fn` under `faults`, always clearing the plan after; returns its error (or undefined) and the log. */
export function underFaults<T>(faults: readonly SyscallFault[], fn: () => T): { error: unknown; value: T | undefined; log: SyscallFaultLog } {
  const log = setSyscallFaults(faults)!;
  try {
    return { error: undefined, value: fn(), log };
  } catch (error) {
    return { error, value: undefined, log };
  } finally {
    setSyscallFaults(undefined);
  }
}

/** As {@link underFaults} for an async `fn`. */
export async function underFaultsAsync<T>(
  faults: readonly SyscallFault[],
  fn: () => Promise<T>,
): Promise<{ error: unknown; value: T | undefined; log: SyscallFaultLog }> {
  const log = setSyscallFaults(faults)!;
  try {
    return { error: undefined, value: await fn(), log };
  } catch (error) {
    return { error, value: undefined, log };
  } finally {
    setSyscallFaults(undefined);
  }
}

/** Open descriptors of this process. */
export function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Mappings of this process whose file is `memfd:<name>` (or, for "[kvm-gmem]", guest_memfd). */
export function mappingsOf(name: string): number {
  const needle = name.startsWith("[") ? name : `/memfd:${name}`;
  return readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .filter((l) => l.includes(needle)).length;
}

/**
 * A GuestMemfd wrapper around a memfd (MMAP | INIT_SHARED in its flags): where /dev/kvm is
 * missing, the private backing runs its own code — the record, mincore over its mapping, one
 * fallocate(PUNCH_HOLE | KEEP_SIZE) per piece — over the same syscalls on a shmem file. What it
 * cannot show is guest_memfd's own kernel code; the tests that need that skip without KVM.
 */
export function memfdStandIn(sizeBytes: number, name: string): GuestMemfd {
  const fd = sysMemfdCreate(name, MFD_CLOEXEC);
  try {
    sysFtruncate(fd, sizeBytes);
  } catch (err) {
    sysClose(fd);
    throw err;
  }
  return GuestMemfd._wrap(fd, sizeBytes, GUEST_MEMFD_BACKING_FLAGS);
}

/** Pages of `ranges` as a sorted list of gfns. */
export function pagesOf(ranges: readonly GfnRange[]): number[] {
  const out: number[] = [];
  for (const r of ranges) for (let g = r.gfn; g < r.gfn + r.npages; g++) out.push(g);
  return out;
}

/** Gfns whose mincore byte says resident, region by region, outside any fault plan. */
export function residentGfns(regions: readonly GfnRange[], residentPages: (gfn: number, npages: number) => Uint8Array): number[] {
  return withoutSyscallFaults(() => {
    const out: number[] = [];
    for (const r of regions) {
      const vec = residentPages(r.gfn, r.npages);
      for (let i = 0; i < r.npages; i++) if (vec[i]! & 1) out.push(r.gfn + i);
    }
    return out;
  });
}
