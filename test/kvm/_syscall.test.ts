import { describe, expect, it } from "vitest";
import {
  errnoName,
  ioctlValue,
  SEEK_DATA,
  sysClose,
  sysFallocate,
  sysFtruncate,
  sysLseek,
  sysMemfdCreate,
  syscallsAvailable,
  sysOpen,
  O_RDWR,
  MFD_CLOEXEC,
} from "../../src/kvm/_syscall.js";
import { KVM_GET_API_VERSION } from "../../src/uapi/constants.js";
import { KvmError } from "../../src/kvm/errors.js";
import { expectCode } from "./_support.js";

describe.skipIf(!syscallsAvailable())("syscall layer", () => {
  it("names errno values, preferring EOPNOTSUPP and EAGAIN", () => {
    expect([errnoName(22), errnoName(25), errnoName(14), errnoName(9), errnoName(95), errnoName(11)]).toEqual([
      "EINVAL",
      "ENOTTY",
      "EFAULT",
      "EBADF",
      "EOPNOTSUPP",
      "EAGAIN",
    ]);
  });
  it("turns -1 from ioctl on a bad fd into KvmError EBADF naming the ioctl", () => {
    const e = expectCode(() => ioctlValue(987654, KVM_GET_API_VERSION), "EBADF", KvmError);
    expect(e.op).toBe("KVM_GET_API_VERSION");
  });
  it("passes a missing path's ENOENT through with a hint", () => {
    const e = expectCode(() => sysOpen("/nonexistent/kvm", O_RDWR), "ENOENT", KvmError);
    expect(e.message).toContain("KVM is not available");
  });
  it("reports ENXIO from SEEK_DATA as the end of the scan, not an error", () => {
    const fd = sysMemfdCreate("t", MFD_CLOEXEC);
    try {
      sysFtruncate(fd, 8192);
      expect(sysLseek(fd, 0, SEEK_DATA)).toBeNull();
      expectCode(() => sysFallocate(fd, 0x7f, 0, 4096), "EOPNOTSUPP", KvmError);
    } finally {
      sysClose(fd);
    }
  });
  it("closing a closed fd is EBADF", () => {
    const fd = sysMemfdCreate("t", MFD_CLOEXEC);
    sysClose(fd);
    expectCode(() => sysClose(fd), "EBADF", KvmError);
  });
});
