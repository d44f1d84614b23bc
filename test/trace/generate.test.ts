import { describe, expect, it } from "vitest";
import { GENERATORS, generateTrace } from "../../src/trace/index.js";

describe("generateTrace", () => {
  it("runs each named generator with its options", () => {
    for (const name of Object.keys(GENERATORS) as (keyof typeof GENERATORS)[]) {
      const t = generateTrace(name, { guestBytes: 2 ** 26, seed: 4 });
      expect(t.header.generator?.name).toBe(name);
      expect(t.header.generator?.seed).toBe(4);
    }
    expect([...generateTrace("ovmf-dma", { transactions: 1 }).events].filter((e) => e.type === "request" && e.to === "shared")).toHaveLength(1);
  });

  it("refuses an unknown name with a MemattrRangeError", () => {
    expect(() => generateTrace("bitcoin" as "ovmf-dma")).toThrow(expect.objectContaining({ code: "ERANGE" }));
  });
});
