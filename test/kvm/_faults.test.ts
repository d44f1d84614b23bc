// The fault hook of the syscall layer (src/kvm/_faults.ts, setSyscallFaults in _syscall.ts): which
// call fails, what a failed call does, EINTR restarts, and that clearing the plan restores the
// real calls. Needs koffi and memfd only.
import { afterEach, describe, expect, it } from "vitest";
import { FaultPlan } from "../../src/kvm/_faults.js";
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  ioctlValue,
  MFD_CLOEXEC,
  SEEK_DATA,
  syscallsAvailable,
  sysClose,
  sysFallocate,
  sysFtruncate,
  sysLseek,
  sysMemfdCreate,
  sysPread,
} from "../../src/kvm/_syscall.js";
import { KvmError } from "../../src/kvm/errors.js";
import { SharedMemfd } from "../../src/kvm/memfd.js";
import { KVM_CREATE_VM, KVM_GET_API_VERSION } from "../../src/uapi/constants.js";
import { fdCount, setSyscallFaults, underFaults, withoutSyscallFaults } from "../support/faults.js";
import { expectCode, page } from "./_support.js";

const errnoOf = (name: string): number | undefined => ({ EIO: 5, EINTR: 4, ENOSPC: 28 })[name];

describe("FaultPlan", () => {
  it("fails the nth matching call and the times - 1 after it, counting per rule", () => {
    const plan = new FaultPlan([{ call: "fallocate", nth: 2, errno: "EIO", times: 2 }], errnoOf);
    const got = [1, 2, 3, 4].map(() => plan.decide("fallocate", "fallocate"));
    expect(got).toEqual([0, 5, 5, 0]);
    expect(plan.decide("close", "close")).toBe(0); // another call does not count
    expect(plan.log.calls.fallocate).toBe(4);
    expect(plan.log.injected).toEqual([
      { call: "fallocate", op: "fallocate", errno: "EIO" },
      { call: "fallocate", op: "fallocate", errno: "EIO" },
    ]);
  });
  it("matches an ioctl by request name when the rule names one", () => {
    const plan = new FaultPlan([{ call: "ioctl", nth: 1, errno: "ENOSPC", ioctl: "KVM_CREATE_GUEST_MEMFD" }], errnoOf);
    expect(plan.decide("ioctl", "KVM_CHECK_EXTENSION")).toBe(0);
    expect(plan.decide("ioctl", "KVM_CREATE_GUEST_MEMFD")).toBe(28);
  });
  it("refuses an unknown call or errno and an nth or times below 1", () => {
    expect(() => new FaultPlan([{ call: "read" as "open", nth: 1, errno: "EIO" }], errnoOf)).toThrow(TypeError);
    expect(() => new FaultPlan([{ call: "open", nth: 1, errno: "EWHAT" }], errnoOf)).toThrow(/unknown errno/);
    expect(() => new FaultPlan([{ call: "open", nth: 0, errno: "EIO" }], errnoOf)).toThrow(/nth/);
    expect(() => new FaultPlan([{ call: "open", nth: 1, errno: "EIO", times: 0.5 }], errnoOf)).toThrow(/times/);
  });
});

describe.skipIf(!syscallsAvailable())("setSyscallFaults (real memfd)", () => {
  afterEach(() => setSyscallFaults(undefined));

  it("turns an injected failure into the KvmError a real one gives: op, errno number and name", () => {
    using m = SharedMemfd.create(page(4));
    const { error, log } = underFaults([{ call: "fallocate", nth: 1, errno: "ENOSPC" }], () => m.punchHole(0, page(1)));
    const e = expectCode(
      () => {
        throw error;
      },
      "ENOSPC",
      KvmError,
    );
    expect([e.op, e.errno]).toEqual(["fallocate", 28]);
    expect(log.injected).toEqual([{ call: "fallocate", op: "fallocate", errno: "ENOSPC" }]);
  });

  it("does nothing on an injected failure: the page a failed punch names keeps its bytes", () => {
    using m = SharedMemfd.create(page(4));
    m.write(page(1), new Uint8Array([7]));
    underFaults([{ call: "fallocate", nth: 1, errno: "EIO" }], () => m.punchHole(page(1), page(1)));
    expect(m.read(page(1), 1)).toEqual(new Uint8Array([7]));
    expect(m.populatedRanges()).toEqual([{ offsetBytes: page(1), lengthBytes: page(1) }]);
  });

  it("restarts fallocate, ftruncate and pread on EINTR, each reaching the kernel once", () => {
    const fd = sysMemfdCreate("t", MFD_CLOEXEC);
    try {
      const { error, log } = underFaults(
        [
          { call: "ftruncate", nth: 1, errno: "EINTR", times: 3 },
          { call: "fallocate", nth: 1, errno: "EINTR", times: 5 },
          { call: "pread", nth: 1, errno: "EINTR", times: 2 },
        ],
        () => {
          sysFtruncate(fd, page(2));
          sysFallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, page(1));
          return sysPread(fd, new Uint8Array(8), 0);
        },
      );
      expect(error).toBeUndefined();
      expect([log.calls.ftruncate, log.calls.fallocate, log.calls.pread]).toEqual([4, 6, 3]); // the last of each reached the kernel
      expect(log.injected.length).toBe(10);
    } finally {
      sysClose(fd);
    }
  });

  it("reports EINTR after 100 restarts", () => {
    using m = SharedMemfd.create(page(2));
    const { error, log } = underFaults([{ call: "fallocate", nth: 1, errno: "EINTR", times: 1000 }], () => m.punchHole(0, page(1)));
    expectCode(
      () => {
        throw error;
      },
      "EINTR",
      KvmError,
    );
    expect(log.calls.fallocate).toBe(101);
  });

  it("releases the descriptor of a close that fails, as Linux does, and takes EINTR from close as closed", () => {
    const before = fdCount();
    const a = sysMemfdCreate("t", MFD_CLOEXEC);
    const b = sysMemfdCreate("t", MFD_CLOEXEC);
    const { error, log } = underFaults(
      [
        { call: "close", nth: 1, errno: "EIO" },
        { call: "close", nth: 2, errno: "EINTR" },
      ],
      () => {
        expectCode(() => sysClose(a), "EIO", KvmError);
        sysClose(b);
      },
    );
    expect(error).toBeUndefined();
    expect(log.calls.close).toBe(2);
    expect(fdCount()).toBe(before);
    expectCode(() => sysClose(a), "EBADF", KvmError);
  });

  it("reports an injected ENXIO from lseek as the end of a SEEK_DATA scan, as the real one", () => {
    using m = SharedMemfd.create(page(4));
    m.write(0, new Uint8Array([1]));
    const { value } = underFaults([{ call: "lseek", nth: 1, errno: "ENXIO" }], () => sysLseek(m.fd, 0, SEEK_DATA));
    expect(value).toBeNull();
  });

  it("fails an ioctl chosen by name and passes the others through to the kernel", () => {
    const { error } = underFaults([{ call: "ioctl", nth: 1, errno: "EIO", ioctl: "KVM_GET_API_VERSION" }], () => ioctlValue(987654, KVM_GET_API_VERSION));
    expectCode(
      () => {
        throw error;
      },
      "EIO",
      KvmError,
    );
    const other = underFaults([{ call: "ioctl", nth: 1, errno: "EIO", ioctl: "KVM_CREATE_VM" }], () => ioctlValue(987654, KVM_GET_API_VERSION));
    expectCode(
      () => {
        throw other.error;
      },
      "EBADF",
      KvmError,
    ); // the real answer for a descriptor that is not open
    expect(other.log.injected).toEqual([]);
    expect(KVM_CREATE_VM).toBeGreaterThan(0);
  });

  it("runs checks outside the plan with withoutSyscallFaults, uncounted, then resumes it", () => {
    using m = SharedMemfd.create(page(2));
    const log = setSyscallFaults([{ call: "fallocate", nth: 1, errno: "EIO" }])!;
    withoutSyscallFaults(() => m.punchHole(0, page(1)));
    expect(log.calls.fallocate).toBe(0);
    expectCode(() => m.punchHole(0, page(1)), "EIO", KvmError);
    setSyscallFaults(undefined);
    m.punchHole(0, page(1)); // cleared: the real call again
    expect(log.calls.fallocate).toBe(1);
  });
});
