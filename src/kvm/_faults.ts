/**
 * Syscall fault plans (pure; internal, for tests): which call of which syscall fails, with
 * which errno. `_syscall.ts` applies a plan by swapping its table of libc functions for
 * wrappers that consult it (`setSyscallFaults`); with no plan the table holds koffi's functions
 * themselves, so a plan costs nothing until one is set.
 *
 * Short names: a *call* is one invocation of a libc function through the table; a rule's
 * `nth` counts the calls that rule matches (1 = the first), from the moment the plan was set.
 *
 * What an injected failure does, per call, mirrors what the kernel does when it says no:
 * - every call but close: nothing happens; the call returns its failure value (-1, MAP_FAILED)
 *   and errno reads as the injected number;
 * - close: the descriptor is released first, then the error is reported — Linux always frees
 *   the descriptor, whatever close(2) returns (see its man page, "Dealing with error returns").
 */

/** The libc functions of the syscall table. */
export const SYSCALL_NAMES = [
  "open",
  "close",
  "ioctl",
  "fallocate",
  "memfd_create",
  "ftruncate",
  "mmap",
  "munmap",
  "lseek",
  "pread",
  "pwrite",
  "mincore",
] as const;
export type SyscallName = (typeof SYSCALL_NAMES)[number];

/** One rule of a plan: fail the `nth` call (and the `times - 1` after it) that matches. */
export interface SyscallFault {
  /** The libc function. */
  call: SyscallName;
  /** Which matching call fails first, counted from 1 since the plan was set. */
  nth: number;
  /** Errno name to fail with ("EIO", "ENOSPC", "EINTR" …), as `KvmError.code` will say it. */
  errno: string;
  /** How many matching calls in a row fail. Default 1. */
  times?: number;
  /** ioctl only: match only this request, by name ("KVM_CREATE_GUEST_MEMFD"). */
  ioctl?: string;
}

/** One failure a plan injected. */
export interface InjectedFault {
  call: SyscallName;
  /** The ioctl request's name for an ioctl, else the call's name. */
  op: string;
  errno: string;
}

/** What happened under a plan: live counters, updated as calls are made. */
export interface SyscallFaultLog {
  /** Calls that went through the table, per function, injected failures included. */
  readonly calls: Record<SyscallName, number>;
  /** Every failure injected, in order. */
  readonly injected: InjectedFault[];
}

interface Rule {
  readonly fault: SyscallFault;
  readonly errno: number;
  readonly last: number;
  seen: number;
}

/** A plan being applied: counts matching calls per rule and answers which call fails. */
export class FaultPlan {
  readonly log: SyscallFaultLog;
  readonly #rules: Rule[];

  /**
   * @param faults - the rules; a call that several rules fail takes the first rule's errno
   * @param errnoOf - errno number of a name (the OS table), undefined for an unknown name
   * @throws TypeError for an unknown call or errno name, or an nth/times that is not an integer ≥ 1
   */
  constructor(faults: readonly SyscallFault[], errnoOf: (name: string) => number | undefined) {
    this.#rules = faults.map((f, i) => {
      if (!(SYSCALL_NAMES as readonly string[]).includes(f.call)) throw new TypeError(`syscall faults[${i}]: unknown call ${JSON.stringify(f.call)}`);
      const times = f.times ?? 1;
      if (!Number.isInteger(f.nth) || f.nth < 1) throw new TypeError(`syscall faults[${i}]: nth must be an integer ≥ 1, got ${String(f.nth)}`);
      if (!Number.isInteger(times) || times < 1) throw new TypeError(`syscall faults[${i}]: times must be an integer ≥ 1, got ${String(times)}`);
      const errno = errnoOf(f.errno);
      if (errno === undefined) throw new TypeError(`syscall faults[${i}]: unknown errno ${JSON.stringify(f.errno)}`);
      return { fault: { ...f }, errno, last: f.nth + times - 1, seen: 0 };
    });
    const calls = Object.fromEntries(SYSCALL_NAMES.map((n) => [n, 0])) as Record<SyscallName, number>;
    this.log = { calls, injected: [] };
  }

  /**
   * Counts one call and says whether it fails.
   * @param call - the libc function
   * @param op - the ioctl request's name for an ioctl, else the call's name
   * @returns the errno to fail with, or 0 to make the real call
   */
  decide(call: SyscallName, op: string): number {
    this.log.calls[call]++;
    let errno = 0;
    for (const r of this.#rules) {
      if (r.fault.call !== call || (r.fault.ioctl !== undefined && r.fault.ioctl !== op)) continue;
      r.seen++;
      if (errno === 0 && r.seen >= r.fault.nth && r.seen <= r.last) {
        errno = r.errno;
        this.log.injected.push({ call, op, errno: r.fault.errno });
      }
    }
    return errno;
  }
}
