import { describe, expect, it } from "vitest";
import { formatBytes, parseBytes } from "../../src/trace/index.js";

describe("parseBytes / formatBytes", () => {
  it("reads binary units, case-insensitive, with or without B/iB", () => {
    expect(parseBytes("1GiB")).toBe(2 ** 30);
    expect(parseBytes("64 MiB")).toBe(64 * 2 ** 20);
    expect(parseBytes("2g")).toBe(2 ** 31);
    expect(parseBytes("64TiB")).toBe(2 ** 46);
    expect(parseBytes("4096")).toBe(4096);
    expect(parseBytes("1.5k")).toBe(1536);
  });

  it("refuses unknown units and fractional bytes with typed errors", () => {
    expect(() => parseBytes("1 parsec")).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
    expect(() => parseBytes("0.5")).toThrow(expect.objectContaining({ code: "ERANGE" }));
  });

  it("formats with the largest readable unit", () => {
    expect(formatBytes(64 * 2 ** 20)).toBe("64 MiB");
    expect(formatBytes(1536)).toBe("1.50 KiB");
    expect(formatBytes(12)).toBe("12 B");
  });
});

describe("parseBytes: fuzz findings (test/fuzz/units.test.ts), kept as regression cases", () => {
  it("reads a fraction exactly: one that is no whole number of bytes is refused, not rounded", () => {
    // before: 4096, 2^30 and 5 854 679 515 581 645 (the double rounded the fraction away; 5.2 PiB is
    // 5 854 679 515 581 644.8 bytes)
    expect(() => parseBytes("5.2PiB")).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => parseBytes("4096.0000000000000001")).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => parseBytes("1.0000000000000001GiB")).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(parseBytes("0.0009765625KiB")).toBe(1); // 2^-10 KiB
    expect(parseBytes("1.50000000000000000000000000MiB")).toBe(1572864);
    expect(() => parseBytes("9007199254740993")).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(parseBytes("9007199254740991")).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("refuses a unit that is an Object.prototype name, and a non-string, with EINVALTYPE", () => {
    expect(() => parseBytes("1constructor")).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
    expect(() => parseBytes(5 as never)).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
  });
});
