import { describe, expect, it } from "vitest";
import { createPolicy, POLICY_NAMES } from "../../src/policy/index.js";

describe("createPolicy", () => {
  it("makes every named policy", () => {
    for (const name of POLICY_NAMES) expect(createPolicy(name).name).toBe(name);
  });

  it("refuses an unknown name with ERANGE", () => {
    expect(() => createPolicy("lazy" as never)).toThrow(expect.objectContaining({ code: "ERANGE" }));
  });
});
