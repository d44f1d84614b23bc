import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseTraceSync, traceStats, TraceStatsCounter } from "../../src/trace/index.js";

describe("traceStats", () => {
  it("counts the fixture by type, direction, size and side", () => {
    const { events } = parseTraceSync(readFileSync(new URL("../fixtures/sample-trace.jsonl", import.meta.url), "utf8"));
    const s = traceStats(events);
    expect(s.events).toEqual({
      launch: 1,
      request: 5,
      commit: 5,
      abort: 1,
      touch: 2,
      fault: 1,
      hypercall: 1,
      refused: 0,
      "region-add": 0,
      "region-remove": 0,
      memslot: 0,
    });
    expect(s.totalEvents).toBe(16);
    expect(s.toPrivate).toEqual({ requests: 5, pages: 4016 + 4 + 1 });
    expect(s.toShared).toEqual({ requests: 1, pages: 2 });
    expect(s.preserveRequests).toBe(1);
    expect(s.requestSizes).toEqual({ "1": 1, "2-7": 3, "8-511": 1, "512+": 1 });
    expect(s.touches).toEqual({ shared: { count: 2, pages: 18 }, private: { count: 0, pages: 0 } });
    expect(s.extent).toEqual({ firstGfn: 0, endGfn: 4016 });
    expect(s.pendingAtEnd).toBe(0);
    expect(s.timeUs).toEqual({ first: 1500.5, last: 1500.5 });
  });

  it("the counter's result is a snapshot and reports pending ids", () => {
    const c = new TraceStatsCounter();
    c.add({ type: "request", id: 1, gfn: 0, npages: 1, to: "shared" });
    const before = c.result();
    c.add({ type: "commit", id: 1 });
    expect(before.pendingAtEnd).toBe(1);
    expect(c.result().pendingAtEnd).toBe(0);
  });
});
