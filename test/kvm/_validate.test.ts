import { describe, expect, it } from "vitest";
import { requireNoOverflow, requirePageAligned, toSafeBytes, toU32, toU64 } from "../../src/kvm/_validate.js";
import { expectCode } from "./_support.js";

describe("argument checks", () => {
  it("accepts numbers and bigints up to 2^64-1", () => {
    expect(toU64("op", "x", 5)).toBe(5n);
    expect(toU64("op", "x", (1n << 64n) - 1n)).toBe((1n << 64n) - 1n);
  });
  it("refuses negatives, 2^64 and non-integers", () => {
    expectCode(() => toU64("op", "x", -1), "EINVAL");
    expectCode(() => toU64("op", "x", 1n << 64n), "EINVAL");
    expectCode(() => toU64("op", "x", 1.5), "EINVALTYPE");
    expectCode(() => toU64("op", "x", "1"), "EINVALTYPE");
    expectCode(() => toU32("op", "x", 1n << 32n), "EINVAL");
    expectCode(() => toSafeBytes("op", "x", 1n << 60n), "EINVAL");
  });
  it("checks alignment and overflow", () => {
    expectCode(() => requirePageAligned("op", "x", 4097n), "EINVAL");
    expectCode(() => requireNoOverflow("op", "x", (1n << 64n) - 4096n, 8192n), "EINVAL");
    expect(() => requireNoOverflow("op", "x", (1n << 64n) - 4096n, 4096n)).not.toThrow();
  });
});
