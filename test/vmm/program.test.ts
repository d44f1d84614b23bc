// The guest builder, the layout and the boot tables (pure: no /dev/kvm needed).
import { describe, expect, it } from "vitest";
import { buildDmaGuest, buildHostileGuest } from "../../src/vmm/guest/program.js";
import { CODE_MAX_BYTES, guestLayout, MAX_RESULTS, payloadWord, PD0_GPA, PD1_GPA, PDPT_GPA, PML4_GPA, secretWord } from "../../src/vmm/layout.js";
import { bootTables } from "../../src/vmm/machine.js";

const u64 = (b: Uint8Array, i: number): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(8 * i, true);

describe("guest programs", () => {
  const layout = guestLayout(64 * 2 ** 20);
  it("builds the same bytes for the same parameters (reproducible)", () => {
    expect(buildDmaGuest({ layout })).toEqual(buildDmaGuest({ layout }));
    expect(buildDmaGuest({ layout, path: "vmmcall" })).not.toEqual(buildDmaGuest({ layout }));
  });
  it("fits the code area and starts with cld; mov r15d, mailbox", () => {
    const code = buildDmaGuest({ layout });
    expect(code.byteLength).toBeLessThan(CODE_MAX_BYTES);
    expect([...code.subarray(0, 7)]).toEqual([0xfc, 0x41, 0xbf, 0x00, 0xf0, 0xff, 0x7f]);
  });
  it("uses the hypercall instruction asked for and no doorbell for requests", () => {
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    expect(hex(buildDmaGuest({ layout, path: "vmmcall" }))).toContain("0f01d9");
    expect(hex(buildDmaGuest({ layout, path: "vmcall" }))).toContain("0f01c1");
    expect(hex(buildDmaGuest({ layout }))).not.toMatch(/0f01(c1|d9)/);
  });
  it("refuses more hostile requests than result slots", () => {
    const r = { op: "map" as const, gpa: 0n, npages: 1n, attrs: 0n };
    expect(() => buildHostileGuest({ layout, requests: Array(MAX_RESULTS).fill(r) })).toThrow(RangeError);
  });
});

describe("layout", () => {
  it("accepts 2 MiB multiples from 4 to 512 MiB and places the swiotlb buffer", () => {
    expect(guestLayout(64 * 2 ** 20)).toEqual({ ramBytes: 64 * 2 ** 20, ramPages: 16384, swiotlbGpa: 0x100000, swiotlbPages: 1024 });
    expect(guestLayout(8 * 2 ** 20).swiotlbPages).toBe(128);
    expect(() => guestLayout(3 * 2 ** 20)).toThrow(RangeError);
    expect(() => guestLayout(1024 * 2 ** 20)).toThrow(RangeError);
    expect(() => guestLayout(65 * 2 ** 20)).toThrow(RangeError);
  });
  it("tags payload and secret words", () => {
    expect(payloadWord(7)).toBe(0x5041594c_00000007n);
    expect(secretWord(7)).toBe(0x53454352_00000007n);
  });
});

describe("boot tables", () => {
  const t = bootTables();
  it("chain PML4 → PDPT → two PDs of 2 MiB pages identity-mapping 0..2 GiB", () => {
    expect(u64(t.get(PML4_GPA)!, 0)).toBe(BigInt(PDPT_GPA) | 3n);
    expect(u64(t.get(PDPT_GPA)!, 0)).toBe(BigInt(PD0_GPA) | 3n);
    expect(u64(t.get(PDPT_GPA)!, 1)).toBe(BigInt(PD1_GPA) | 3n);
    expect(u64(t.get(PD0_GPA)!, 0)).toBe(0x83n);
    expect(u64(t.get(PD0_GPA)!, 511)).toBe((511n << 21n) | 0x83n);
    expect(u64(t.get(PD1_GPA)!, 0)).toBe(0x4000_0000n | 0x83n);
  });
  it("hold a GDT with a 64-bit code segment at 0x08", () => {
    expect(u64(t.get(0)!, 1)).toBe(0x00af9b000000ffffn);
  });
});
