import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseTrace, parseTraceSync, serializeEvent, TraceLineParser } from "../../src/trace/index.js";
import type { TraceEvent } from "../../src/trace/index.js";

const sample = readFileSync(new URL("../fixtures/sample-trace.jsonl", import.meta.url), "utf8");
const HEADER = '{"format":"memattr-trace","version":1,"pageBytes":4096,"regions":[{"gfn":0,"npages":64}]}';

async function collect(events: AsyncIterable<TraceEvent>): Promise<TraceEvent[]> {
  const out: TraceEvent[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

/** The TraceParseError a trace text raises, with its line. */
function parseError(text: string): { code: string; line: number; message: string } {
  try {
    const { events } = parseTraceSync(text);
    for (const _ of events);
  } catch (e) {
    return e as { code: string; line: number; message: string };
  }
  throw new Error("no error");
}

describe("parseTraceSync", () => {
  it("reads the hand-written fixture: header, then 16 events in order", () => {
    const { header, events } = parseTraceSync(sample);
    expect(header.regions).toEqual([{ gfn: 0, npages: 4096 }]);
    expect(header.generator?.name).toBe("hand-written");
    const list = [...events];
    expect(list.map((e) => e.type).join(",")).toBe(
      "touch,request,commit,launch,request,commit,request,commit,touch,request,abort,request,commit,fault,hypercall,commit",
    );
    expect(list[12]).toEqual({ type: "commit", id: 5, timeUs: 1500.5 });
  });

  it("reads a sync iterable of arbitrary chunks the same as the whole string, CRLF included", () => {
    const crlf = sample.replaceAll("\n", "\r\n");
    const chunks = crlf.match(/[\s\S]{1,7}/g)!;
    expect([...parseTraceSync(chunks).events]).toEqual([...parseTraceSync(sample).events]);
  });

  it("reports a corrupted line with its 1-based number", () => {
    const lines = sample.split("\n");
    lines[5] = '{"type":"request","id":2,"gfn":0,"npages":4000,"to":"private"'; // truncated mid-record
    const e = parseError(lines.join("\n"));
    expect([e.code, e.line]).toEqual(["ETRACEPARSE", 6]);
    expect(e.message).toMatch(/corrupted or truncated/);
  });

  it("reports a truncated last line (no newline) with its number", () => {
    const text = `${HEADER}\n{"type":"launch"}\n{"type":"touch","gfn":1,"npa`;
    expect(parseError(text).line).toBe(3);
  });

  it("counts blank lines in line numbers but skips them", () => {
    const text = `${HEADER}\n\n{"type":"launch"}\n\n{"type":"touch","gfn":1,"npages":0,"side":"shared"}\n`;
    expect(parseError(text)).toMatchObject({ line: 5, message: expect.stringMatching(/'npages'/) });
  });

  it("refuses an incompatible version with TraceVersionError", () => {
    expect(() => parseTraceSync(HEADER.replace('"version":1', '"version":4'))).toThrow(
      expect.objectContaining({ code: "ETRACEVERSION", name: "TraceVersionError" }),
    );
    expect(() => parseTraceSync('{"format":"chrome-trace","version":1}')).toThrow(expect.objectContaining({ code: "ETRACEVERSION" }));
  });

  it("refuses empty input and kernel text where the header should be", () => {
    expect(() => parseTraceSync("")).toThrow(expect.objectContaining({ code: "ETRACEPARSE", line: 1 }));
    expect(() => parseTraceSync("kvm_hypercall: nr 0xc a0 0x0 a1 0x1 a2 0x0 a3 0x0\n")).toThrow(/memattr trace import/);
  });

  it("checks transactions: commit of an unknown id, an id reused while pending", () => {
    expect(parseError(`${HEADER}\n{"type":"commit","id":4}\n`)).toMatchObject({ line: 2, message: expect.stringMatching(/not pending/) });
    const reuse = `${HEADER}\n{"type":"request","id":1,"gfn":0,"npages":1,"to":"shared"}\n{"type":"hypercall","id":1,"gpa":0,"npages":1,"attrs":0}\n`;
    expect(parseError(reuse)).toMatchObject({ line: 3, message: expect.stringMatching(/still pending/) });
  });

  it("refuses requests and touches outside the header's regions", () => {
    expect(parseError(`${HEADER}\n{"type":"touch","gfn":63,"npages":2,"side":"shared"}\n`)).toMatchObject({
      line: 2,
      message: expect.stringMatching(/outside the trace's guest regions/),
    });
  });

  it("delivers events before a bad line, none after", () => {
    const { events } = parseTraceSync(`${HEADER}\n{"type":"launch"}\nnot json\n{"type":"launch"}\n`);
    expect(events.next().value).toEqual({ type: "launch" });
    expect(() => events.next()).toThrow(expect.objectContaining({ line: 3 }));
  });

  it("TraceLineParser lists ids still pending", () => {
    const p = new TraceLineParser();
    p.pushLine(HEADER);
    p.pushLine('{"type":"request","id":8,"gfn":0,"npages":1,"to":"shared"}');
    expect(p.pendingIds()).toEqual([8]);
  });
});

describe("parseTrace (async sources)", () => {
  it("reads an async iterable of UTF-8 byte chunks split mid-line", async () => {
    const bytes = new TextEncoder().encode(sample);
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += 13) yield bytes.subarray(i, i + 13);
    }
    const { header, events } = await parseTrace(chunks());
    expect(header.regions[0]!.npages).toBe(4096);
    expect(await collect(events)).toEqual([...parseTraceSync(sample).events]);
  });

  it("reads a browser-style ReadableStream (Blob.stream())", async () => {
    const { events } = await parseTrace(new Blob([sample]).stream());
    expect((await collect(events)).length).toBe(16);
  });

  it("reads a plain string and a sync iterable", async () => {
    expect((await collect((await parseTrace(sample)).events)).length).toBe(16);
    expect((await collect((await parseTrace(sample.split(/(?<=\n)/))).events)).length).toBe(16);
  });

  it("throws TraceParseError with the line number while iterating", async () => {
    const { events } = await parseTrace(new Blob([`${HEADER}\n{"type":"launch"}\n{"type":"launch",\n`]).stream());
    await expect(collect(events)).rejects.toMatchObject({ code: "ETRACEPARSE", line: 3 });
  });

  it("refuses an incompatible version before any event", async () => {
    await expect(parseTrace(HEADER.replace('"version":1', '"version":0'))).rejects.toMatchObject({ code: "ETRACEVERSION" });
  });
});

describe("fuzz findings (test/fuzz/trace-jsonl.test.ts), kept as regression cases", () => {
  it('reads "-0" as 0, so what it reads is what it writes back', () => {
    // before: timeUs and gfn -0, written back as 0: a different event after the round trip
    const text = `${HEADER}\n{"type":"touch","gfn":-0,"npages":1,"side":"shared","timeUs":-0}\n`;
    const [ev] = [...parseTraceSync(text).events];
    expect(Object.is(ev!.timeUs, 0) && Object.is((ev as { gfn: number }).gfn, 0)).toBe(true);
  });

  it("refuses generator params JSON cannot write back (1e400 reads as Infinity, written as null)", () => {
    // before: accepted; the header written back said "guestBytes":null
    const header = '{"format":"memattr-trace","version":2,"pageBytes":4096,"regions":[],"generator":{"name":"x","seed":1,"params":{"guestBytes":1e400}}}';
    expect(() => parseTraceSync(header)).toThrow(
      expect.objectContaining({ code: "ETRACEPARSE", message: expect.stringMatching(/generator param 'guestBytes'/) }),
    );
    expect(() => parseTraceSync(header.replace("1e400", '{"a":1}'))).toThrow(/generator param/);
    expect(parseTraceSync(header.replace("1e400", "1073741824")).header.generator?.params).toEqual({ guestBytes: 1073741824 });
  });

  it("quotes a bigint or a symbol in a writer's error instead of failing to (the engine's TypeError before)", () => {
    expect(() => serializeEvent({ type: "commit", id: 5n } as never)).toThrow(
      expect.objectContaining({ code: "EINVALTYPE", message: expect.stringMatching(/5n/) }),
    );
    expect(() => serializeEvent({ type: 5n } as never)).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
  });
});
