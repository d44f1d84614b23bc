import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CAUSE_WINDOW, detectTraceFormat, formatImportSummary, importTrace, importTraceAsync, parseTraceSync, traceToString } from "../../src/trace/index.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");
const ftrace = fixture("ftrace-set-mem-attributes.txt");
const qemu = fixture("qemu-convert.log");

describe("importTrace: ftrace fixture", () => {
  const r = importTrace(ftrace, { file: "ftrace-set-mem-attributes.txt" });

  it("gives the known event list, folding each MAP_GPA_RANGE hypercall into its set-attributes line", () => {
    expect(r.events).toEqual([
      { type: "request", id: 1, gfn: 0, npages: 0x20000, to: "private", timeUs: 100_000_100 },
      { type: "commit", id: 1, timeUs: 100_000_100 },
      { type: "request", id: 2, gfn: 0x100, npages: 2, to: "shared", cause: "hypercall", timeUs: 101_500_300 },
      { type: "commit", id: 2, timeUs: 101_500_300 },
      { type: "request", id: 3, gfn: 0x100, npages: 2, to: "private", cause: "hypercall", timeUs: 101_700_090 },
      { type: "commit", id: 3, timeUs: 101_700_090 },
      { type: "request", id: 4, gfn: 0x200, npages: 1, to: "shared" },
      { type: "commit", id: 4 },
      { type: "request", id: 5, gfn: 0x200, npages: 1, to: "private", timeUs: 102_000_000 },
      { type: "commit", id: 5, timeUs: 102_000_000 },
      { type: "hypercall", id: 6, gpa: 0x300000, npages: 1, attrs: 0, timeUs: 103_250_000 },
      { type: "commit", id: 6, timeUs: 103_250_000 },
    ]);
  });

  it("counts every line: unknown by event name or first token, comments and other hypercalls ignored", () => {
    expect(r.summary).toMatchObject({
      format: "ftrace",
      lines: 25,
      events: 12,
      recognized: { kvm_vm_set_mem_attributes: 5, kvm_hypercall: 1 },
      folded: { kvm_hypercall: 2 },
      ignored: { comment: 12, "kvm_hypercall nr 0x5": 1 },
      unknown: { kvm_exit: 1, kvm_entry: 2, "CPU:2": 1 },
      unknownLines: 4,
      firstUnknownLine: 14,
      extent: { firstGfn: 0, endGfn: 0x20000 },
    });
    const s = r.summary;
    const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
    expect(total(s.recognized) + total(s.folded) + total(s.ignored) + total(s.unknown)).toBe(s.lines);
    expect(formatImportSummary(s)).toMatch(/unknown: 4 line\(s\) \(first at line 14\): kvm_entry 2/);
  });

  it("round-trips through the JSONL writer and reader", () => {
    const back = parseTraceSync(traceToString(r.header, r.events));
    expect(back.header.source).toEqual({ importer: "ftrace", file: "ftrace-set-mem-attributes.txt" });
    expect([...back.events]).toEqual(r.events);
  });
});

describe("importTrace: QEMU fixture", () => {
  const r = importTrace(qemu);

  it("gives the known event list: causes and RAMBlock notifications folded, an unserved hypercall kept raw", () => {
    expect(r.header.regions).toEqual([{ gfn: 0, npages: 0x20000 }]); // the memslot's 512 MiB
    expect(r.events).toEqual([
      { type: "memslot", slot: 0, gfn: 0, npages: 0x20000, flags: 4, timeUs: 1_700_000_000_000_100 },
      { type: "request", id: 1, gfn: 0x100, npages: 2, to: "shared", cause: "hypercall", timeUs: 1_700_000_000_100_010 },
      { type: "commit", id: 1, timeUs: 1_700_000_000_100_010 },
      { type: "request", id: 2, gfn: 0x200, npages: 1, to: "private", cause: "fault", timeUs: 1_700_000_000_200_010 },
      { type: "commit", id: 2, timeUs: 1_700_000_000_200_010 },
      { type: "request", id: 3, gfn: 0x100, npages: 2, to: "private", cause: "hypercall", timeUs: 1_700_000_000_300_010 },
      { type: "commit", id: 3, timeUs: 1_700_000_000_300_010 },
      { type: "request", id: 4, gfn: 0x400, npages: 512, to: "shared" },
      { type: "commit", id: 4 },
      { type: "hypercall", id: 5, gpa: 0x600000, npages: 1, attrs: 0, timeUs: 1_700_000_000_500_000 },
      { type: "commit", id: 5, timeUs: 1_700_000_000_500_000 },
    ]);
  });

  it("counts unknown lines by event name or first token", () => {
    expect(r.summary).toMatchObject({
      format: "qemu",
      lines: 13,
      recognized: { kvm_convert_memory: 4, kvm_hc_map_gpa_range: 1, kvm_set_user_memory: 1 },
      folded: { kvm_hc_map_gpa_range: 2, kvm_memory_fault: 1, ram_block_attributes_state_change: 2 },
      unknown: { "qemu-system-x86_64:": 1, kvm_run_exit: 1 },
      unknownLines: 2,
      firstUnknownLine: 11,
    });
  });

  it("reads the same from an async byte stream", async () => {
    const async = await importTraceAsync(new Blob([qemu]).stream());
    expect(async.events).toEqual(r.events);
    expect(async.summary).toEqual(r.summary);
  });
});

describe("importer behaviour", () => {
  it("auto-detects the format from the first used event, and detectTraceFormat agrees", () => {
    expect(detectTraceFormat(ftrace)).toBe("ftrace");
    expect(detectTraceFormat(qemu)).toBe("qemu");
    expect(detectTraceFormat(fixture("sample-trace.jsonl"))).toBe("memattr");
    expect(detectTraceFormat("hello\nworld\n")).toBeNull();
    expect(importTrace("hello\n").summary).toMatchObject({ format: null, unknown: { hello: 1 } });
  });

  it("with a format forced, lines of the other format are unknown", () => {
    const r = importTrace(qemu, { format: "ftrace" });
    expect(r.events).toEqual([]);
    expect(r.summary.unknownLines).toBe(13);
  });

  it("stops at a malformed used line with TraceParseError and its line number; lenient counts it", () => {
    const text = "kvm_convert_memory start 0x0 size 0x1000 private_to_shared\nkvm_convert_memory start 0x0 size 0x10\n";
    expect(() => importTrace(text)).toThrow(expect.objectContaining({ code: "ETRACEPARSE", line: 2 }));
    const r = importTrace(text, { lenient: true });
    expect(r.events).toHaveLength(2);
    expect(r.summary.unknown).toEqual({ "malformed kvm_convert_memory": 1 });
  });

  it("a hypercall not followed by its conversion within the window is emitted raw, once the window closes", () => {
    const lines = ["kvm_hypercall: nr 0xc a0 0x1000 a1 0x1 a2 0x10 a3 0x0"];
    for (let i = 0; i <= CAUSE_WINDOW; i++) lines.push(`kvm_vm_set_mem_attributes: 0x${(0x100 + i).toString(16)} -- 0x${(0x101 + i).toString(16)} [0x0]`);
    const events = importTrace(lines.join("\n")).events;
    expect(events.filter((e) => e.type === "hypercall")).toHaveLength(1);
    expect(events.findIndex((e) => e.type === "hypercall")).toBe(2 * CAUSE_WINDOW);
  });

  it("a fault line never followed by a conversion becomes a fault event", () => {
    expect(importTrace("kvm_memory_fault start 0x3000 size 0x1000 flags 0x8\n").events).toEqual([{ type: "fault", gpa: 0x3000, size: 4096, private: true }]);
  });

  it("a RAMBlock notification alone becomes a conversion at its offset, with a note", () => {
    const r = importTrace("ram_block_attributes_state_change offset 0x2000 size 0x1000 from 'populated' to 'discarded'\n");
    expect(r.events[0]).toEqual({ type: "request", id: 1, gfn: 2, npages: 1, to: "private" });
    expect(r.summary.notes[0]).toMatch(/RAMBlock offset was used as the gpa/);
  });
});

describe("fuzz findings (test/fuzz/trace-import.test.ts), kept as regression cases", () => {
  it("counts a line whose first token is an Object.prototype name like any other", () => {
    // before: summary.unknown.valueOf became "function valueOf() { [native code] }1", and __proto__ was lost
    const r = importTrace("valueOf\n__proto__ x\nconstructor\nvalueOf\n");
    expect(Object.entries(r.summary.unknown).sort()).toEqual([
      ["__proto__", 1],
      ["constructor", 1],
      ["valueOf", 2],
    ]);
    expect(r.summary.unknownLines).toBe(4);
    expect(formatImportSummary(r.summary)).toMatch(/valueOf 2/);
  });
});
