import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MemattrError } from "../../src/core/errors.js";
import {
  ConversionConflictError,
  ConversionError,
  ConversionSettledError,
  describeRange,
  HypercallError,
  LaunchGateError,
  OutsideGuestMemoryError,
} from "../../src/model/index.js";

describe("model errors", () => {
  it("are MemattrErrors with stable codes and names", () => {
    const all: [MemattrError, string, string][] = [
      [new ConversionError("EPRESERVE", "private", "shared", 0, 1, "x"), "EPRESERVE", "ConversionError"],
      [new ConversionConflictError("pending-private", "pending-shared", 0, 4, 2, "x"), "ECONFLICT", "ConversionConflictError"],
      [new ConversionSettledError("committed", "aborted", 0, 1, 7), "ESETTLED", "ConversionSettledError"],
      [new LaunchGateError("ELAUNCHED", "shared", "pending-private", 0, 1, "x"), "ELAUNCHED", "LaunchGateError"],
      [new OutsideGuestMemoryError(5, 1, "op"), "EOUTSIDE", "OutsideGuestMemoryError"],
      [new HypercallError("wrap", "x"), "EINVAL", "HypercallError"],
    ];
    for (const [e, code, name] of all) {
      expect(e).toBeInstanceOf(MemattrError);
      expect([e.code, e.name]).toEqual([code, name]);
    }
    expect(new ConversionConflictError("a", "b", 0, 1, 0, "x")).toBeInstanceOf(ConversionError);
    expect(new LaunchGateError("EPENDING", "a", "b", 0, 1, "x")).toBeInstanceOf(ConversionError);
  });

  it("name from, to and the range in the message", () => {
    const e = new ConversionConflictError("pending-private", "pending-shared", 0x10, 16, 0x12, "gfn 0x12 is pending-private");
    expect(e.message).toBe("conversion pending-private → pending-shared of gfn 0x10..0x1f (16 pages) refused: gfn 0x12 is pending-private");
    expect([e.from, e.to, e.gfn, e.npages, e.conflictGfn]).toEqual(["pending-private", "pending-shared", 0x10, 16, 0x12]);
  });

  it("describe a whole-guest range and a single page", () => {
    expect(describeRange(0, 0)).toBe("the whole guest");
    expect(describeRange(7, 1)).toBe("gfn 0x7..0x7 (1 page)");
  });
});

describe("the error table at the top of src/model/errors.ts", () => {
  const dir = new URL("../../src/model/", import.meta.url);
  const table = readFileSync(new URL("errors.ts", dir), "utf8").split("*/")[0]!;
  const listed = new Set([...table.matchAll(/^ \* \| [^|]+\| (E[A-Z]+) +\|/gm)].map((m) => m[1]!));

  it('lists every code the model throws (each string literal "E…" in src/model)', () => {
    const thrown = new Set<string>();
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
      for (const m of readFileSync(new URL(f, dir), "utf8").matchAll(/"(E[A-Z]{3,})"/g)) thrown.add(m[1]!);
    }
    expect([...thrown].filter((c) => !listed.has(c))).toEqual([]);
    for (const code of ["EREUSE", "ENOSPC", "EINVALTYPE", "ERANGE", "ENOMEM", "EDISPOSED"]) expect(listed).toContain(code);
  });
});
