// The core's ABI has one definition, assembly/abi.ts; scripts/gen-abi.mjs writes its TypeScript
// and C (and other) views. These tests fail when a generated file differs from what the
// generator makes of today's abi.ts (run `npm run gen:abi`), and check that the numbers the
// rest of the code relies on came through.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without types
import { parseAbi, renderAbi } from "../../scripts/gen-abi.mjs";
import * as abi from "../../src/core/_abi.js";
import { MAX_GFN, MAX_VALUE } from "../../src/core/types.js";
import { GUEST, PENDING, PRESERVE, PRIVATE, PRIVATE_DISCARDED, PRIVATE_POPULATED, SHARED_DISCARDED, SHARED_POPULATED } from "../../src/model/states.js";

const root = new URL("../..", import.meta.url).pathname;

describe("the ABI's generated views", () => {
  const rendered = renderAbi() as Record<string, string>;

  it.each(Object.keys(rendered))("%s is what scripts/gen-abi.mjs makes of assembly/abi.ts", (path) => {
    expect(readFileSync(`${root}/${path}`, "utf8")).toBe(rendered[path]);
  });

  it("refuses a constant without a doc, a duplicate, and an unknown name", () => {
    expect(() => parseAbi("// ==== a: b\n@inline export const X: i32 = 1;\n")).toThrow(/no \/\*\* doc/);
    expect(() => parseAbi("// ==== a: b\n/** x */\n@inline export const X: i32 = 1;\n/** y */\n@inline export const X: i32 = 2;\n")).toThrow(/twice/);
    expect(() => parseAbi("// ==== a: b\n/** x */\n@inline export const X: i32 = Y << 1;\n")).toThrow(/unknown token Y/);
  });

  it("gives every error code a distinct negative errno", () => {
    const codes = [...abi.ERROR_CODES.keys()];
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toBeLessThan(0);
    expect(abi.ERROR_CODES.get(abi.E_NOMEM)!.errno).toBe("ENOMEM");
  });

  it("is where the TypeScript layers take their numbers from", () => {
    expect(MAX_GFN).toBe(2 ** abi.GFN_BITS);
    expect(MAX_VALUE).toBe(abi.MAX_VALUE);
    expect([GUEST, PRIVATE, PENDING, PRESERVE, SHARED_POPULATED, PRIVATE_POPULATED, SHARED_DISCARDED, PRIVATE_DISCARDED]).toEqual([
      abi.PAGE_GUEST,
      abi.PAGE_PRIVATE,
      abi.PAGE_PENDING,
      abi.PAGE_PRESERVE,
      abi.PAGE_SHARED_POPULATED,
      abi.PAGE_PRIVATE_POPULATED,
      abi.PAGE_SHARED_DISCARDED,
      abi.PAGE_PRIVATE_DISCARDED,
    ]);
  });
});
