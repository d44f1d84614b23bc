import { describe, expect, it } from "vitest";
import {
  CONVERSION_MASK,
  conversionBitsOf,
  conversionStateOf,
  decodePageValue,
  GUEST,
  PENDING,
  PRESERVE,
  PRIVATE,
  PRIVATE_DISCARDED,
  PRIVATE_POPULATED,
  REACHABLE_VALUES,
  SHARED_DISCARDED,
  SHARED_POPULATED,
  valuesMatching,
} from "../../src/model/index.js";

describe("page value layout", () => {
  it("uses eight distinct bits with GUEST on top", () => {
    const bits = [PRIVATE, PENDING, PRESERVE, SHARED_POPULATED, PRIVATE_POPULATED, SHARED_DISCARDED, PRIVATE_DISCARDED, GUEST];
    expect(bits).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
    expect(CONVERSION_MASK).toBe(7);
  });

  it("has 45 reachable values, all guest, PRESERVE only on pending-private, never POP and DISC of one side", () => {
    expect(REACHABLE_VALUES.length).toBe(45);
    for (const v of REACHABLE_VALUES) {
      expect(v & GUEST).toBe(GUEST);
      if (v & PRESERVE) expect(v & (PENDING | PRIVATE)).toBe(PENDING);
      expect((v & SHARED_POPULATED) !== 0 && (v & SHARED_DISCARDED) !== 0).toBe(false);
      expect((v & PRIVATE_POPULATED) !== 0 && (v & PRIVATE_DISCARDED) !== 0).toBe(false);
    }
  });

  it("decodes the four conversion states and their pending direction", () => {
    expect(decodePageValue(GUEST)).toMatchObject({ conversion: "shared", attribute: "shared", pending: null });
    expect(decodePageValue(GUEST | PRIVATE)).toMatchObject({ conversion: "private", pending: null });
    expect(decodePageValue(GUEST | PENDING | PRESERVE)).toMatchObject({
      conversion: "pending-private",
      attribute: "shared",
      pending: "private",
      preserve: true,
    });
    expect(decodePageValue(GUEST | PENDING | PRIVATE)).toMatchObject({ conversion: "pending-shared", attribute: "private", pending: "shared" });
  });

  it("decodes backing states", () => {
    expect(decodePageValue(GUEST | SHARED_POPULATED | PRIVATE_DISCARDED)).toMatchObject({ shared: "populated", private: "discarded" });
    expect(decodePageValue(GUEST | SHARED_DISCARDED)).toMatchObject({ shared: "discarded", private: "empty" });
  });

  it("round-trips conversion states through their bits", () => {
    for (const s of ["shared", "private", "pending-private", "pending-shared"] as const) {
      expect(conversionStateOf(GUEST | conversionBitsOf(s))).toBe(s);
    }
  });

  it("selects reachable values by mask", () => {
    const both = valuesMatching(SHARED_POPULATED | PRIVATE_POPULATED, SHARED_POPULATED | PRIVATE_POPULATED);
    expect(both.length).toBe(5);
  });
});
