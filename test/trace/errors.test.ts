import { describe, expect, it } from "vitest";
import { MemattrError } from "../../src/core/errors.js";
import { TraceParseError, TraceVersionError } from "../../src/trace/index.js";

describe("trace errors", () => {
  it("TraceParseError is a MemattrError with code ETRACEPARSE and the line number", () => {
    const e = new TraceParseError(7, "bad");
    expect(e).toBeInstanceOf(MemattrError);
    expect([e.code, e.line, e.name, e.message]).toEqual(["ETRACEPARSE", 7, "TraceParseError", "trace line 7: bad"]);
  });

  it("TraceVersionError is a MemattrError with code ETRACEVERSION naming both versions", () => {
    const e = new TraceVersionError("memattr-trace version 2", "memattr-trace version 1");
    expect(e).toBeInstanceOf(MemattrError);
    expect(e.code).toBe("ETRACEVERSION");
    expect(e.message).toContain("version 2");
  });
});
