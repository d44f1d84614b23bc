import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createHeader, formatTrace, parseTraceSync, serializeEvent, serializeHeader, traceToString } from "../../src/trace/index.js";
import type { TraceEvent } from "../../src/trace/index.js";

const sample = readFileSync(new URL("../fixtures/sample-trace.jsonl", import.meta.url), "utf8");

describe("trace writer", () => {
  it("round-trips the fixture byte for byte", () => {
    const { header, events } = parseTraceSync(sample);
    expect(traceToString(header, events)).toBe(sample);
  });

  it("round-trips every event type through parse", () => {
    const events: TraceEvent[] = [
      { type: "touch", gfn: 1, npages: 1, side: "shared", write: true },
      { type: "request", id: 1, gfn: 1, npages: 1, to: "private", preserve: true, cause: "hypercall", timeUs: 3 },
      { type: "commit", id: 1 },
      { type: "launch", timeUs: 4.25 },
      { type: "hypercall", id: 2, gpa: 8192, npages: 2, attrs: 17 },
      { type: "abort", id: 2 },
      { type: "fault", gpa: 100, size: 1, private: false },
    ];
    const header = createHeader([{ gfn: 0, npages: 16 }]);
    const back = parseTraceSync(traceToString(header, events));
    expect(back.header).toEqual(header);
    expect([...back.events]).toEqual(events);
  });

  it("writes fields in a fixed order whatever order they came in", () => {
    const ev = { npages: 2, side: "private", gfn: 9, type: "touch" } as TraceEvent;
    expect(serializeEvent(ev)).toBe('{"type":"touch","gfn":9,"npages":2,"side":"private"}');
  });

  it("refuses bad events with MemattrTypeError / MemattrRangeError", () => {
    expect(() => serializeEvent({ type: "touch", gfn: 0.5, npages: 1, side: "shared" })).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
    expect(() => serializeEvent({ type: "touch", gfn: 2 ** 40, npages: 1, side: "shared" })).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => serializeHeader({ ...createHeader([]), version: 4 as 1 })).toThrow(expect.objectContaining({ code: "ETRACEVERSION" }));
  });

  it("formatTrace is lazy: it yields lines as the events come", () => {
    function* endless(): Generator<TraceEvent> {
      for (;;) yield { type: "launch" };
    }
    const lines = formatTrace(createHeader([]), endless());
    expect(lines.next().value).toMatch(/^\{"format":"memattr-trace"/);
    expect(lines.next().value).toBe('{"type":"launch"}\n');
  });
});
