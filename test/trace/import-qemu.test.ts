import { describe, expect, it } from "vitest";
import { parseQemuLine } from "../../src/trace/index.js";

describe("parseQemuLine", () => {
  it("reads kvm_convert_memory: start and size in bytes", () => {
    expect(parseQemuLine("4121@1700000000.100010:kvm_convert_memory start 0x100000 size 0x2000 private_to_shared")).toEqual({
      event: "kvm_convert_memory",
      timeUs: 1_700_000_000_100_010,
      record: { kind: "convert", gfn: 256, npages: 2, to: "shared" },
    });
    expect(parseQemuLine("kvm_convert_memory start 0x0 size 0x200000 shared_to_private")?.record).toEqual({
      kind: "convert",
      gfn: 0,
      npages: 512,
      to: "private",
    });
  });

  it("reads kvm_hc_map_gpa_range with its size in bytes, and kvm_memory_fault's private flag (1<<3)", () => {
    expect(parseQemuLine("kvm_hc_map_gpa_range gpa 0x100000 size 0x2000 attributes 0x10 flags 0x1")?.record).toEqual({
      kind: "hypercall",
      gpa: 0x100000n,
      npages: 2n,
      attrs: 0x10n,
    });
    expect(parseQemuLine("kvm_memory_fault start 0x200000 size 0x1000 flags 0x8")?.record).toEqual({ kind: "fault", gpa: 0x200000, size: 4096, private: true });
    expect(parseQemuLine("kvm_memory_fault start 0x200000 size 0x1000 flags 0x0")?.record).toMatchObject({ private: false });
  });

  it("reads ram_block_attributes_state_change: discarded = private, populated = shared", () => {
    expect(parseQemuLine("ram_block_attributes_state_change offset 0x1000 size 0x1000 from 'populated' to 'discarded'")?.record).toEqual({
      kind: "notify",
      offsetBytes: 4096,
      npages: 1,
      to: "private",
    });
    expect(parseQemuLine("ram_block_attributes_state_change offset 0x1000 size 0x1000 from 'mixture' to 'populated'")?.record).toMatchObject({ to: "shared" });
  });

  it("reads the ISO timestamp prefix", () => {
    expect(parseQemuLine("2023-11-14T22:13:20.500000Z (4122) kvm_hc_map_gpa_range gpa 0x600000 size 0x1000 attributes 0x0 flags 0x1")?.timeUs).toBe(
      1_700_000_000_500_000,
    );
  });

  it("names other prefixed events, returns null for other text", () => {
    expect(parseQemuLine("4121@1700000000.400000:kvm_run_exit cpu_index 0, reason 2")).toEqual({ event: "kvm_run_exit", timeUs: 1_700_000_000_400_000 });
    expect(parseQemuLine("qemu-system-x86_64: warning: something")).toBeNull();
  });

  it("reports unaligned or unreadable used events as errors", () => {
    expect(parseQemuLine("kvm_convert_memory start 0x100 size 0x1000 private_to_shared")?.error).toMatch(/aligned/);
    expect(parseQemuLine("kvm_hc_map_gpa_range gpa 0x0 size 0x800 attributes 0x0 flags 0x0")?.error).toMatch(/4 KiB pages/);
    expect(parseQemuLine("kvm_convert_memory start 0x0 size 0x1000 sideways")?.error).toMatch(/expected/);
    expect(parseQemuLine("kvm_convert_memory")?.error).toMatch(/expected/);
  });
});

describe("parseQemuLine timestamps", () => {
  it("refuses a used event whose timestamp no event can carry (before 1970, past 2^53 µs) instead of writing a negative timeUs", () => {
    // before: timeUs -1 000 000, an event the trace writer then refused
    const early = parseQemuLine("1969-12-31T23:59:59.000000Z (4121) kvm_convert_memory start 0x0 size 0x1000 private_to_shared");
    expect(early).toMatchObject({ event: "kvm_convert_memory", error: expect.stringMatching(/1970/) });
    expect(early?.timeUs).toBeUndefined();
    expect(parseQemuLine("4121@99999999999999.000001:kvm_convert_memory start 0x0 size 0x1000 private_to_shared")?.error).toMatch(/2\^53/);
    expect(parseQemuLine("4121@99999999999999.000001:kvm_run_exit cpu 0")).toEqual({ event: "kvm_run_exit" });
  });
});
