import { describe, expect, it } from "vitest";
import * as X from "../../src/uapi/x86.js";

describe("x86 register structs", () => {
  it("has the uapi sizes: kvm_regs 144, kvm_segment 24, kvm_dtable 16, kvm_sregs 312", () => {
    expect([X.KVM_REGS_SIZE, X.KVM_SEGMENT_SIZE, X.KVM_DTABLE_SIZE, X.KVM_SREGS_SIZE]).toEqual([144, 24, 16, 312]);
  });
  it("round-trips kvm_regs with rip at offset 128", () => {
    const regs = Object.fromEntries(X.KVM_REGS_FIELDS.map((n, i) => [n, BigInt(i + 1)])) as X.KvmRegs;
    const b = X.encodeRegs(regs);
    expect(new DataView(b.buffer).getBigUint64(128, true)).toBe(17n);
    expect(X.decodeRegs(b)).toEqual(regs);
  });
  it("round-trips kvm_sregs with cr0 at 224 and efer at 264", () => {
    const b = new Uint8Array(X.KVM_SREGS_SIZE);
    for (let i = 0; i < b.length; i++) b[i] = i % 7 === 0 ? 0 : i & 0xff;
    for (let s = 0; s < 8; s++) b[s * 24 + 23] = 0; // kvm_segment.padding
    for (const at of [192, 208]) b.fill(0, at + 10, at + 16); // kvm_dtable.padding
    const sregs = X.decodeSregs(b);
    expect(X.encodeSregs(sregs)).toEqual(b);
    const dv = new DataView(b.buffer);
    expect(sregs.cr0).toBe(dv.getBigUint64(224, true));
    expect(sregs.efer).toBe(dv.getBigUint64(264, true));
    expect(sregs.ss.selector).toBe(dv.getUint16(120 + 12, true));
  });
});
