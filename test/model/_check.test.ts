import { describe, expect, it } from "vitest";
import { MemattrRangeError, MemattrTypeError } from "../../src/core/errors.js";
import { checkBoolean, checkGfn, checkInteger, checkNpages, checkOneOf, checkU64 } from "../../src/model/_check.js";

describe("untrusted number checks", () => {
  it("accept integers as number or bigint and fold -0", () => {
    expect(checkGfn(5)).toBe(5);
    expect(checkGfn(5n)).toBe(5);
    expect(Object.is(checkGfn(-0), 0)).toBe(true);
    expect(checkNpages(2 ** 40)).toBe(2 ** 40);
    expect(checkU64(2n ** 64n - 1n, "a")).toBe(2n ** 64n - 1n);
    expect(checkU64(4096, "a")).toBe(4096n);
  });

  it("call NaN, Infinity, fractions and non-numbers type errors", () => {
    for (const v of [NaN, Infinity, -Infinity, 0.5, "1", null, undefined, {}, true]) {
      expect(() => checkInteger(v, "x", 0, 10)).toThrow(MemattrTypeError);
    }
    expect(() => checkU64(NaN, "x")).toThrow(MemattrTypeError);
    expect(() => checkU64("1", "x")).toThrow(MemattrTypeError);
  });

  it("call negative and too large values range errors, quoting the argument", () => {
    expect(() => checkGfn(-1)).toThrow(/gfn must be in \[0, 1099511627775\], got -1/);
    expect(() => checkGfn(2 ** 40)).toThrow(MemattrRangeError);
    expect(() => checkNpages(0)).toThrow(MemattrRangeError);
    expect(() => checkGfn(2n ** 70n)).toThrow(MemattrRangeError);
    expect(() => checkU64(-1n, "x")).toThrow(MemattrRangeError);
    expect(() => checkU64(2 ** 53, "x")).toThrow(MemattrRangeError);
  });

  it("check enums and booleans", () => {
    expect(checkOneOf("a", "x", ["a", "b"])).toBe("a");
    expect(() => checkOneOf("c", "x", ["a", "b"])).toThrow(MemattrTypeError);
    expect(checkBoolean(undefined, "x", true)).toBe(true);
    expect(() => checkBoolean(0, "x", false)).toThrow(MemattrTypeError);
  });
});
