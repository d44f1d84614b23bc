import { describe, expect, it } from "vitest";
import { createHeader, insideRegions, regionPages, validateEvent, validateHeader } from "../../src/trace/index.js";

const bad = (v: unknown) => () => validateEvent(v);

describe("validateEvent", () => {
  it("accepts every event type and keeps only known fields", () => {
    expect(validateEvent({ type: "launch" })).toEqual({ type: "launch" });
    expect(validateEvent({ type: "request", id: 1, gfn: 0, npages: 1, to: "shared", preserve: false, cause: "fault", timeUs: 1.5 })).toEqual({
      type: "request",
      id: 1,
      gfn: 0,
      npages: 1,
      to: "shared",
      preserve: false,
      cause: "fault",
      timeUs: 1.5,
    });
    expect(validateEvent({ type: "commit", id: 3 })).toEqual({ type: "commit", id: 3 });
    expect(validateEvent({ type: "abort", id: 3 })).toEqual({ type: "abort", id: 3 });
    expect(validateEvent({ type: "touch", gfn: 5, npages: 2, side: "private" })).toEqual({ type: "touch", gfn: 5, npages: 2, side: "private" });
    expect(validateEvent({ type: "fault", gpa: 4097, size: 8, private: true })).toEqual({ type: "fault", gpa: 4097, size: 8, private: true });
    expect(validateEvent({ type: "hypercall", id: 9, gpa: 0x1000, npages: 1, attrs: 16 })).toEqual({
      type: "hypercall",
      id: 9,
      gpa: 0x1000,
      npages: 1,
      attrs: 16,
    });
  });

  it("accepts the last page of the 2^40-page space and refuses one past it", () => {
    expect(validateEvent({ type: "touch", gfn: 2 ** 40 - 1, npages: 1, side: "shared" })).toBeTruthy();
    expect(bad({ type: "touch", gfn: 2 ** 40 - 1, npages: 2, side: "shared" })).toThrow(/beyond 2\^40/);
    expect(bad({ type: "touch", gfn: 2 ** 40, npages: 1, side: "shared" })).toThrow(/outside/);
  });

  it("refuses non-integers, negatives, zero pages, unknown types and stray fields", () => {
    expect(bad({ type: "request", id: 1, gfn: 1.5, npages: 1, to: "shared" })).toThrow(/'gfn' must be an integer/);
    expect(bad({ type: "request", id: 1, gfn: "1", npages: 1, to: "shared" })).toThrow(/'gfn' must be an integer/);
    expect(bad({ type: "request", id: -1, gfn: 1, npages: 1, to: "shared" })).toThrow(/'id'/);
    expect(bad({ type: "touch", gfn: 1, npages: 0, side: "shared" })).toThrow(/'npages'/);
    expect(bad({ type: "request", id: 1, gfn: 1, npages: 1, to: "encrypted" })).toThrow(/'to' must be one of/);
    expect(bad({ type: "explode" })).toThrow(/'type' must be one of/);
    expect(bad({ type: "commit", id: 1, gfn: 3 })).toThrow(/unexpected field 'gfn'/);
    expect(bad({ type: "commit" })).toThrow(/missing field 'id'/);
    expect(bad({ type: "fault", gpa: 0, size: 4096 })).toThrow(/missing field 'private'/);
    expect(bad({ type: "launch", timeUs: -1 })).toThrow(/timeUs/);
    expect(bad([1, 2])).toThrow(/JSON object/);
  });

  it("reads a `refused` hypercall: u64 strings written canonical, the reason checked against the model's decodeMapGpaRange", () => {
    const refused = (o: object) => ({ type: "refused", call: "hypercall", ...o });
    expect(validateEvent(refused({ gpa: "0x000100A", npages: "0x1", attrs: "0x10", reason: "unaligned-gpa", timeUs: 3 }))).toEqual(
      refused({ gpa: "0x100a", npages: "0x1", attrs: "0x10", reason: "unaligned-gpa", timeUs: 3 }),
    );
    expect(
      validateEvent(refused({ gpa: "0xffffffffffffffff", npages: "0xffffffffffffffff", attrs: "0xffffffffffffffff", reason: "unaligned-gpa" })),
    ).toBeTruthy();
    expect(bad(refused({ gpa: "0x1000", npages: "0x1", attrs: "0x10", reason: "zero-npages" }))).toThrow(/would be accepted/);
    expect(bad(refused({ gpa: "0x1001", npages: "0x0", attrs: "0x10", reason: "zero-npages" }))).toThrow(/refused for unaligned-gpa/);
    expect(bad(refused({ gpa: "4097", npages: "0x1", attrs: "0x10", reason: "unaligned-gpa" }))).toThrow(/"0x" and 1–16 hex/);
    expect(bad(refused({ gpa: 4097, npages: "0x1", attrs: "0x10", reason: "unaligned-gpa" }))).toThrow(/"0x" and 1–16 hex/);
    expect(bad(refused({ gpa: "0x10000000000000000", npages: "0x1", attrs: "0x0", reason: "wrap" }))).toThrow(/1–16 hex/);
    expect(bad(refused({ gpa: "0x1001", npages: "0x1", attrs: "0x10", reason: "bad-luck" }))).toThrow(/'reason' must be one of/);
    expect(bad(refused({ call: "fault", gpa: "0x1001", npages: "0x1", attrs: "0x10", reason: "unaligned-gpa" }))).toThrow(/'call'/);
    expect(bad(refused({ id: 1, gpa: "0x1001", npages: "0x1", attrs: "0x10", reason: "unaligned-gpa" }))).toThrow(/unexpected field 'id'/);
  });
});

describe("validateHeader", () => {
  it("accepts a header and reports a foreign format or version as incompatible", () => {
    expect(validateHeader(createHeader([{ gfn: 0, npages: 16 }]))).toEqual(createHeader([{ gfn: 0, npages: 16 }]));
    expect(validateHeader({ format: "memattr-trace", version: 4 })).toEqual({ incompatible: "memattr-trace version 4" });
    expect(validateHeader({ format: "other" })).toEqual({ incompatible: 'format "other"' });
  });

  it("reads a version-1 or -2 header as version 3 (every older trace is one) and refuses any other version", () => {
    expect(validateHeader({ format: "memattr-trace", version: 1, pageBytes: 4096, regions: [] })).toEqual(createHeader([]));
    expect(validateHeader({ format: "memattr-trace", version: 2, pageBytes: 4096, regions: [] })).toEqual(createHeader([]));
    expect(createHeader([]).version).toBe(3);
    for (const version of [0, 4, "3", null]) expect(validateHeader({ format: "memattr-trace", version })).toHaveProperty("incompatible");
  });

  it("refuses overlapping regions and a page size other than 4096", () => {
    const h = createHeader([
      { gfn: 0, npages: 16 },
      { gfn: 8, npages: 16 },
    ]);
    expect(() => validateHeader(h)).toThrow(/overlap/);
    expect(() => validateHeader({ ...createHeader([]), pageBytes: 2 ** 21 })).toThrow(/pageBytes/);
  });

  it("sums and searches regions; no regions means anywhere", () => {
    const regions = [
      { gfn: 0, npages: 16 },
      { gfn: 32, npages: 16 },
    ];
    expect(regionPages(regions)).toBe(32);
    expect(insideRegions(regions, 32, 16)).toBe(true);
    expect(insideRegions(regions, 15, 2)).toBe(false);
    expect(insideRegions([], 2 ** 39, 1)).toBe(true);
  });
});
