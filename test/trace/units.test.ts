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
