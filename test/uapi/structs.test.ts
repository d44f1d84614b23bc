import { describe, expect, it } from "vitest";
import * as S from "../../src/uapi/structs.js";

describe("struct sizes (uapi)", () => {
  it("kvm_memory_attributes is 32 bytes", () => expect(S.KVM_MEMORY_ATTRIBUTES_SIZE).toBe(32));
  it("kvm_create_guest_memfd is 64 bytes", () => expect(S.KVM_CREATE_GUEST_MEMFD_SIZE).toBe(64));
  it("kvm_userspace_memory_region2 is 160 bytes", () => expect(S.KVM_USERSPACE_MEMORY_REGION2_SIZE).toBe(160));
  it("kvm_enable_cap is 104 bytes", () => expect(S.KVM_ENABLE_CAP_SIZE).toBe(104));
  it("kvm_dirty_log is 16 bytes", () => expect(S.KVM_DIRTY_LOG_SIZE).toBe(16));
  it("kvm_clear_dirty_log is 24 bytes", () => expect(S.KVM_CLEAR_DIRTY_LOG_SIZE).toBe(24));
});

describe("encode/decode", () => {
  it("round-trips kvm_memory_attributes with u64 fields at 0/8/16/24", () => {
    const b = S.encodeMemoryAttributes({ address: 0x10000n, sizeBytes: 0x2000, attributes: 8n });
    expect(new DataView(b.buffer).getBigUint64(8, true)).toBe(0x2000n);
    expect(S.decodeMemoryAttributes(b)).toEqual({ address: 0x10000n, sizeBytes: 0x2000n, attributes: 8n, flags: 0n });
  });
  it("zeroes kvm_create_guest_memfd.reserved", () => {
    const b = new Uint8Array(64).fill(0xff);
    S.encodeCreateGuestMemfd({ sizeBytes: 4096, flags: 3 }, b);
    expect(S.decodeCreateGuestMemfd(b)).toEqual({ sizeBytes: 4096n, flags: 3n, reserved: [0n, 0n, 0n, 0n, 0n, 0n] });
  });
  it("places region2.guest_memfd at offset 40 and zeroes the pads", () => {
    const b = S.encodeUserspaceMemoryRegion2({
      slot: 0x10002,
      flags: 4,
      guestPhysAddr: 0x100000,
      memorySizeBytes: 0x200000,
      userspaceAddr: 0x7f0000000000n,
      guestMemfdOffset: 0x1000,
      guestMemfd: 17,
    });
    expect(new DataView(b.buffer).getUint32(40, true)).toBe(17);
    expect(b.subarray(44).every((x) => x === 0)).toBe(true);
    expect(S.decodeUserspaceMemoryRegion2(b)).toMatchObject({
      slot: 0x10002,
      flags: 4,
      guestPhysAddr: 0x100000n,
      userspaceAddr: 0x7f0000000000n,
      guestMemfdOffset: 0x1000n,
      guestMemfd: 17,
    });
  });
  it("fills missing kvm_enable_cap args with 0", () => {
    const b = S.encodeEnableCap({ cap: 201, args: [1n << 12n] });
    expect(S.decodeEnableCap(b)).toEqual({ cap: 201, flags: 0, args: [4096n, 0n, 0n, 0n] });
  });
  it("places kvm_dirty_log.dirty_bitmap at offset 8 and zeroes padding1", () => {
    const b = new Uint8Array(16).fill(0xff);
    S.encodeDirtyLog({ slot: 0x10001, dirtyBitmap: 0x7f00_1234_5000n }, b);
    expect(new DataView(b.buffer).getUint32(4, true)).toBe(0);
    expect(new DataView(b.buffer).getBigUint64(8, true)).toBe(0x7f00_1234_5000n);
    expect(S.decodeDirtyLog(b)).toEqual({ slot: 0x10001, dirtyBitmap: 0x7f00_1234_5000n });
  });
  it("lays out kvm_clear_dirty_log as slot, num_pages, first_page, dirty_bitmap", () => {
    const b = S.encodeClearDirtyLog({ slot: 1, numPages: 128, firstPage: 64, dirtyBitmap: 0x7f00_0000_1000n });
    const dv = new DataView(b.buffer);
    expect([dv.getUint32(0, true), dv.getUint32(4, true), dv.getBigUint64(8, true), dv.getBigUint64(16, true)]).toEqual([1, 128, 64n, 0x7f00_0000_1000n]);
    expect(S.decodeClearDirtyLog(b)).toEqual({ slot: 1, numPages: 128, firstPage: 64n, dirtyBitmap: 0x7f00_0000_1000n });
  });
});
