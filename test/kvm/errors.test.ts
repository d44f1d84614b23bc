import { describe, expect, it } from "vitest";
import { MemattrError } from "../../src/core/errors.js";
import { KvmArgumentError, KvmCapabilityError, KvmError } from "../../src/kvm/errors.js";

describe("kvm errors", () => {
  it("KvmError carries op, errno and the errno name as code", () => {
    const e = new KvmError("KVM_CREATE_VM", 22, "EINVAL", "hint");
    expect(e).toBeInstanceOf(MemattrError);
    expect([e.op, e.errno, e.code]).toEqual(["KVM_CREATE_VM", 22, "EINVAL"]);
    expect(e.message).toBe("KVM_CREATE_VM failed: EINVAL (22) — hint");
  });
  it("KvmArgumentError is an EINVAL naming the argument", () => {
    const e = new KvmArgumentError("fallocate", "lengthBytes", "must not be zero");
    expect(e).toBeInstanceOf(KvmError);
    expect([e.code, e.argument]).toEqual(["EINVAL", "lengthBytes"]);
  });
  it("KvmCapabilityError names the missing capability with code ENOCAP", () => {
    const e = new KvmCapabilityError("KVM_SET_MEMORY_ATTRIBUTES", "KVM_CAP_MEMORY_ATTRIBUTES", 0, 25, "ENOTTY");
    expect(e).toBeInstanceOf(KvmError);
    expect([e.code, e.capability, e.errnoName]).toEqual(["ENOCAP", "KVM_CAP_MEMORY_ATTRIBUTES", "ENOTTY"]);
    expect(e.message).toContain("KVM_CAP_MEMORY_ATTRIBUTES");
  });
});
