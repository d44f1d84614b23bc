import { describe, expect, it } from "vitest";
import { MemattrRangeError, MemattrTypeError } from "../../src/core/errors.js";
import {
  decodeMapGpaRange,
  decodeMemoryFault,
  HypercallError,
  KVM_HC_MAP_GPA_RANGE,
  KVM_MAP_GPA_RANGE_ENCRYPTED,
  KVM_MAP_GPA_RANGE_PAGE_SZ_1G,
  KVM_MAP_GPA_RANGE_PAGE_SZ_2M,
  KVM_MEMORY_EXIT_FLAG_PRIVATE,
} from "../../src/model/index.js";

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof HypercallError ? e.reason : (e as { code: string }).code;
  }
  return "accepted";
};

describe("KVM_HC_MAP_GPA_RANGE decoding", () => {
  it("uses the uapi numbers", () => {
    expect([KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_PAGE_SZ_2M, KVM_MAP_GPA_RANGE_PAGE_SZ_1G, KVM_MAP_GPA_RANGE_ENCRYPTED]).toEqual([12, 1, 2, 16]);
    expect(KVM_MEMORY_EXIT_FLAG_PRIVATE).toBe(8);
  });

  it("decodes direction and page size from number or bigint arguments", () => {
    expect(decodeMapGpaRange({ gpa: 0x3000, npages: 2, attrs: 16 })).toEqual({ gfn: 3n, npages: 2n, to: "private", pageSizePages: 1 });
    expect(decodeMapGpaRange({ gpa: 0x200000n, npages: 1024n, attrs: 1n })).toEqual({ gfn: 512n, npages: 1024n, to: "shared", pageSizePages: 512 });
    expect(decodeMapGpaRange({ gpa: 2n ** 30n, npages: 262144, attrs: 18 }).pageSizePages).toBe(262144);
  });

  it("keeps a range beyond 2^53 bytes exact", () => {
    const r = decodeMapGpaRange({ gpa: 2n ** 63n, npages: 1n, attrs: 0 });
    expect(r.gfn).toBe(2n ** 51n);
  });

  it("applies the kernel's checks in the kernel's order", () => {
    expect(reason(() => decodeMapGpaRange({ gpa: 1, npages: 0, attrs: 99 }))).toBe("unaligned-gpa");
    expect(reason(() => decodeMapGpaRange({ gpa: 0, npages: 0, attrs: 99 }))).toBe("zero-npages");
    expect(reason(() => decodeMapGpaRange({ gpa: 0x1000n, npages: 2n ** 64n - 1n, attrs: 99 }))).toBe("wrap");
    expect(reason(() => decodeMapGpaRange({ gpa: 0, npages: 2n ** 52n, attrs: 0 }))).toBe("accepted");
    expect(reason(() => decodeMapGpaRange({ gpa: 0x1000, npages: 2n ** 52n, attrs: 0 }))).toBe("wrap");
  });

  it("refuses unknown attribute bits and page sizes 3..15", () => {
    for (const attrs of [3, 4, 15, 0x20, 0x30, 1n << 63n]) expect(reason(() => decodeMapGpaRange({ gpa: 0, npages: 1, attrs }))).toBe("unknown-attrs");
  });

  it("requires 2M and 1G ranges to be aligned to and multiples of their page size", () => {
    expect(reason(() => decodeMapGpaRange({ gpa: 0x1000, npages: 512, attrs: 1 }))).toBe("page-size-alignment");
    expect(reason(() => decodeMapGpaRange({ gpa: 0, npages: 513, attrs: 1 }))).toBe("page-size-alignment");
    expect(reason(() => decodeMapGpaRange({ gpa: 0x200000, npages: 262144, attrs: 2 }))).toBe("page-size-alignment");
  });

  it("refuses malformed numbers with type and range errors", () => {
    expect(() => decodeMapGpaRange({ gpa: NaN, npages: 1, attrs: 0 })).toThrow(MemattrTypeError);
    expect(() => decodeMapGpaRange({ gpa: 0, npages: 1.5, attrs: 0 })).toThrow(MemattrTypeError);
    expect(() => decodeMapGpaRange({ gpa: 0, npages: 1, attrs: "16" as never })).toThrow(MemattrTypeError);
    expect(() => decodeMapGpaRange({ gpa: -4096, npages: 1, attrs: 0 })).toThrow(MemattrRangeError);
    expect(() => decodeMapGpaRange({ gpa: 2 ** 56, npages: 1, attrs: 0 })).toThrow(/bigint/);
    expect(() => decodeMapGpaRange({ gpa: 2n ** 64n, npages: 1, attrs: 0 })).toThrow(MemattrRangeError);
    expect(() => decodeMapGpaRange(undefined as never)).toThrow(MemattrTypeError);
  });
});

describe("KVM_EXIT_MEMORY_FAULT decoding", () => {
  it("reads the access from `private` or from flags bit 3", () => {
    expect(decodeMemoryFault({ gpa: 0x5000, size: 4096, private: true })).toEqual({ gfn: 5n, npages: 1n, to: "private" });
    expect(decodeMemoryFault({ gpa: 0x5000n, size: 4096n, flags: 8n }).to).toBe("private");
    expect(decodeMemoryFault({ gpa: 0x5000n, size: 4096n, flags: 0 }).to).toBe("shared");
  });

  it("rounds a byte range out to whole pages", () => {
    expect(decodeMemoryFault({ gpa: 0xfff, size: 2, private: false })).toEqual({ gfn: 0n, npages: 2n, to: "shared" });
    expect(decodeMemoryFault({ gpa: 0x1000, size: 0x2000, private: false }).npages).toBe(2n);
  });

  it("refuses size 0, a range past 2^64 and a missing direction", () => {
    expect(() => decodeMemoryFault({ gpa: 0, size: 0, private: true })).toThrow(MemattrRangeError);
    expect(() => decodeMemoryFault({ gpa: 2n ** 64n - 1n, size: 2, private: true })).toThrow(MemattrRangeError);
    expect(() => decodeMemoryFault({ gpa: 0, size: 1 } as never)).toThrow(MemattrRangeError);
  });
});
