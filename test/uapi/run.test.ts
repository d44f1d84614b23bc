import { describe, expect, it } from "vitest";
import { decodeRunExit, KVM_RUN_OFFSETS, KVM_RUN_SIZE } from "../../src/uapi/run.js";

function runPage(exitReason: number, fill: (dv: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = new Uint8Array(8192);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(KVM_RUN_OFFSETS.exitReason, exitReason, true);
  fill(dv, bytes);
  return bytes;
}

describe("kvm_run decoding", () => {
  it("has the uapi size with the exit union at 32 and sync regs at 304", () => {
    expect(KVM_RUN_SIZE).toBe(2352);
    expect([KVM_RUN_OFFSETS.exit, KVM_RUN_OFFSETS.kvmValidRegs, KVM_RUN_OFFSETS.syncRegs]).toEqual([32, 288, 304]);
  });
  it("decodes an io exit with its data", () => {
    const run = runPage(2, (dv, b) => {
      dv.setUint8(32, 1);
      dv.setUint8(33, 2);
      dv.setUint16(34, 0x3f8, true);
      dv.setUint32(36, 2, true);
      dv.setBigUint64(40, 4096n, true);
      b.set([1, 2, 3, 4], 4096);
    });
    expect(decodeRunExit(run)).toMatchObject({ reason: "io", direction: "out", port: 0x3f8, sizeBytes: 2, count: 2, data: new Uint8Array([1, 2, 3, 4]) });
  });
  it("decodes a hypercall exit with args and the long-mode flag", () => {
    const run = runPage(3, (dv) => {
      dv.setBigUint64(32, 12n, true);
      [0x2000n, 4n, 0x10n].forEach((a, i) => dv.setBigUint64(40 + 8 * i, a, true));
      dv.setBigUint64(96, 1n, true);
    });
    expect(decodeRunExit(run)).toMatchObject({ reason: "hypercall", nr: 12n, args: [0x2000n, 4n, 0x10n, 0n, 0n, 0n], longMode: true });
  });
  it("decodes a private memory_fault exit", () => {
    const run = runPage(39, (dv) => {
      dv.setBigUint64(32, 8n, true);
      dv.setBigUint64(40, 0x5000n, true);
      dv.setBigUint64(48, 0x1000n, true);
    });
    expect(decodeRunExit(run)).toMatchObject({ reason: "memory_fault", gpa: 0x5000n, sizeBytes: 0x1000n, private: true });
  });
  it("decodes mmio, fail_entry, internal error, shutdown and hlt", () => {
    expect(
      decodeRunExit(
        runPage(6, (dv, b) => {
          dv.setBigUint64(32, 0xfee00000n, true);
          b.set([9, 8], 40);
          dv.setUint32(48, 2, true);
          dv.setUint8(52, 1);
        }),
      ),
    ).toMatchObject({ reason: "mmio", physAddr: 0xfee00000n, isWrite: true, lengthBytes: 2, data: new Uint8Array([9, 8]) });
    expect(
      decodeRunExit(
        runPage(9, (dv) => {
          dv.setBigUint64(32, 0x80000021n, true);
          dv.setUint32(40, 3, true);
        }),
      ),
    ).toMatchObject({ reason: "fail_entry", hardwareEntryFailureReason: 0x80000021n, cpu: 3 });
    expect(
      decodeRunExit(
        runPage(17, (dv) => {
          dv.setUint32(32, 1, true);
          dv.setUint32(36, 1, true);
          dv.setBigUint64(40, 7n, true);
        }),
      ),
    ).toMatchObject({ reason: "internal_error", suberror: 1, data: [7n] });
    expect(decodeRunExit(runPage(8, () => {})).reason).toBe("shutdown");
    expect(decodeRunExit(runPage(5, () => {})).reason).toBe("hlt");
    expect(decodeRunExit(runPage(99, () => {}))).toEqual({ reason: "other", exitReason: 99 });
  });
});
