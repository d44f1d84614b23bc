import { describe, expect, it } from "vitest";
import { parseFtraceLine } from "../../src/trace/index.js";

describe("parseFtraceLine", () => {
  it("reads kvm_vm_set_mem_attributes with the ftrace prefix: [start, end) gfns, bit 3 = private", () => {
    const m = parseFtraceLine(" qemu-system-x86-4120    [000] .....   100.000100: kvm_vm_set_mem_attributes: 0x00000000000100 -- 0x00000000000102 [0x8]");
    expect(m).toEqual({ event: "kvm_vm_set_mem_attributes", timeUs: 100_000_100, record: { kind: "convert", gfn: 256, npages: 2, to: "private" } });
  });

  it("reads a zero printed by userspace printf (no 0x) and attributes 0 as shared", () => {
    expect(parseFtraceLine("kvm_vm_set_mem_attributes: 0000000000000000 -- 0x00000000000010 [0x0]")?.record).toEqual({
      kind: "convert",
      gfn: 0,
      npages: 16,
      to: "shared",
    });
  });

  it("reads task names with spaces, the tgid column, 4-char flags, and perf script lines", () => {
    expect(parseFtraceLine("       CPU 0/KVM-4121    [001] d..1   5.000001: kvm_hypercall: nr 0xc a0 0x2000 a1 0x1 a2 0x10 a3 0x0")).toMatchObject({
      timeUs: 5_000_001,
      record: { kind: "hypercall", gpa: 0x2000n, npages: 1n, attrs: 0x10n },
    });
    expect(parseFtraceLine("  qemu-4120  (   4120) [001] .....  7.5: kvm_hypercall: nr 0xc a0 0x0 a1 0x1 a2 0x0 a3 0x0")?.timeUs).toBe(7_500_000);
    expect(
      parseFtraceLine(" qemu-system-x86  4120 [003]   102.000000: kvm:kvm_vm_set_mem_attributes: 0x00000000000200 -- 0x00000000000201 [0x8]"),
    ).toMatchObject({
      event: "kvm_vm_set_mem_attributes",
      record: { gfn: 512, npages: 1, to: "private" },
    });
  });

  it("marks hypercalls other than KVM_HC_MAP_GPA_RANGE (12) as ignored", () => {
    expect(parseFtraceLine("kvm_hypercall: nr 0x5 a0 0x0 a1 0x1 a2 0x0 a3 0x0")?.record).toEqual({ kind: "ignored", key: "kvm_hypercall nr 0x5" });
  });

  it("returns the event name alone for other kernel events, and null for non-ftrace text", () => {
    expect(parseFtraceLine("       CPU 0/KVM-4121    [001] d..1.   101.5: kvm_exit: vcpu 0 reason VMCALL")).toEqual({ event: "kvm_exit", timeUs: 101_500_000 });
    expect(parseFtraceLine("CPU:2 [LOST 17 EVENTS]")).toBeNull();
    expect(parseFtraceLine("4120@1700000000.000100:kvm_convert_memory start 0x0 size 0x1000 private_to_shared")).toBeNull();
  });

  it("reports unreadable or empty ranges of used events as errors", () => {
    expect(parseFtraceLine("kvm_vm_set_mem_attributes: 0x100 -- 0x100 [0x8]")?.error).toMatch(/empty range/);
    expect(parseFtraceLine("kvm_vm_set_mem_attributes: 0x100 -- ")?.error).toMatch(/expected/);
    expect(parseFtraceLine("kvm_hypercall: nr 0xc a0 0x0 a1")?.error).toMatch(/expected/);
  });
});
