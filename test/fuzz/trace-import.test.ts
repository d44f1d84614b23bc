// Fuzz of the real-trace importers (src/trace/import*.ts): random text and bytes, mutations of
// real-looking ftrace / trace-cmd / perf / QEMU logs, two logs interleaved, invalid UTF-8 through
// the byte-stream path, pathological long lines; and lines generated from the grammar with known
// values. Whatever the input: only TraceParseError (a MemattrError), bounded time per input, every
// line counted once, the events round-trip through formatTrace/parseTrace, and every event is one
// a line really said (it matches a record the line grammars read from some input line, timestamp
// included).
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  detectTraceFormat,
  hypercallRefusal,
  type ImportResult,
  importTrace,
  importTraceAsync,
  parseFtraceLine,
  parseQemuLine,
  parseTraceSync,
  type TraceEvent,
  traceToString,
  u64Text,
} from "../../src/trace/index.js";
import { byteChunks, decoded, HUGE_NUMBERS, interleaved, mutated, pathological, runs, typed, typedAsync } from "./_fuzz.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");
const SET = "kvm_vm_set_mem_attributes: 0x00000000000100 -- 0x00000000000110 [0x8]";
const HC = "kvm_hypercall: nr 0xc a0 0x100000 a1 0x10 a2 0x10 a3 0x0";
const KERNEL = [
  `       CPU 0/KVM-4142    [001] ..... 8712384719999: ${SET}`,
  `       CPU 0/KVM-4142    (-------) [001] d..1. 8712384719999: ${HC}`,
  `qemu-sys-4142      1d..1.    5us+: ${SET}`,
  ` qemu-system-x86    4142   1 1 00000001 0000002a [05f5e1ac] 0.005ms (+0.001ms): ${SET}`,
  `       CPU 0/KVM-4142  [001]111264306005: kvm_vm_set_mem_attributes:  0x00000000000100 -- 0x00000000000110 [0x8]`,
  `       CPU 0/KVM-4142  [001]  8712.384719: (+12)    kvm_hypercall:       nr 0xc a0 0x100000 a1 0x10 a2 0x10 a3 0x0`,
  `qemu-sys-4142    1-0x1  8712.384719: kvm_hypercall:        nr=0xc a0=0x100000 a1=0x10 a2=0x10 a3=0x0`,
  `  qemu-system-x86 4142/4143    [001]  8712.384719123: kvm:${SET}`,
  `       CPU 0/KVM-4142    [001] .....  8712.384719: kvm_vm_set_mem_attributes: start=0x100 (256) end=0x110 (272) attr=0x8 (8)`,
  "kvm_hypercall: nr 0xc a0 0x1001 a1 0x1 a2 0x10 a3 0x0",
  "kvm_hypercall: nr 0xc a0 0xfffffffffffff000 a1 0x2 a2 0x0 a3 0x0",
  "       CPU 0/KVM-4142    [001] .....   101.5: kvm_exit: vcpu 0 reason VMCALL",
].join("\n");
const QEMU = [
  "4121@1700000000.000100:kvm_hc_map_gpa_range gpa 0x300000 size 0x0 attributes 0x10 flags 0x1",
  "4121@1700000000.000300:kvm_convert_memory start 0x300000 size 0x1000 shared_to_private",
  "2024-05-01T10:00:00.123456Z (4121) kvm_memory_fault start 0x200000 size 0x1000 flags 0x8",
  "ram_block_attributes_state_change offset 0x400000 size 0x200000 from 'discarded' to 'populated'",
].join("\n");
const BASES = [fixture("ftrace-set-mem-attributes.txt"), fixture("qemu-convert.log"), KERNEL, QEMU];

/** What the line grammars read from each line of `text` (both grammars: the oracle does not guess the format). */
function recordsOf(text: string) {
  const out: { record: NonNullable<ReturnType<typeof parseFtraceLine>>["record"]; timeUs: number | undefined }[] = [];
  for (let line of text.split("\n")) {
    if (line.endsWith("\r")) line = line.slice(0, -1);
    for (const m of [parseFtraceLine(line), parseQemuLine(line)]) if (m?.record) out.push({ record: m.record, timeUs: m.timeUs });
  }
  return out;
}

/** Every event is one a line said: it matches a record read from some line, with that line's time. */
function expectEventsFromLines(text: string, events: TraceEvent[]): void {
  const records = recordsOf(text);
  const said = (pred: (r: (typeof records)[number]["record"]) => boolean, timeUs: number | undefined) =>
    records.some((r) => r.timeUs === timeUs && pred(r.record));
  let opened = 0;
  let closed = 0;
  for (const ev of events) {
    switch (ev.type) {
      case "request":
        opened++;
        expect(
          said(
            (r) =>
              (r?.kind === "convert" || r?.kind === "notify") &&
              r.npages === ev.npages &&
              r.to === ev.to &&
              (r.kind === "convert" ? r.gfn : r.offsetBytes / 4096) === ev.gfn,
            ev.timeUs,
          ),
          `request ${JSON.stringify(ev)} is a line's conversion`,
        ).toBe(true);
        break;
      case "hypercall":
        opened++;
        expect(
          said((r) => r?.kind === "hypercall" && r.gpa === BigInt(ev.gpa) && r.npages === BigInt(ev.npages) && r.attrs === BigInt(ev.attrs), ev.timeUs),
          `hypercall ${JSON.stringify(ev)} is a line's call`,
        ).toBe(true);
        break;
      case "refused":
        expect(hypercallRefusal(BigInt(ev.gpa), BigInt(ev.npages), BigInt(ev.attrs))).toBe(ev.reason);
        expect(
          said((r) => r?.kind === "hypercall" && u64Text(r.gpa) === ev.gpa && u64Text(r.npages) === ev.npages && u64Text(r.attrs) === ev.attrs, ev.timeUs),
          `refused ${JSON.stringify(ev)} is a line's call`,
        ).toBe(true);
        break;
      case "fault":
        expect(said((r) => r?.kind === "fault" && r.gpa === ev.gpa && r.size === ev.size && r.private === ev.private, ev.timeUs)).toBe(true);
        break;
      case "commit":
        closed++;
        break;
      case "memslot":
        expect(
          said(
            (r) =>
              r?.kind === "memslot" &&
              r.ret === 0 &&
              r.as === (ev.as ?? 0) &&
              r.slot === ev.slot &&
              r.flags === ev.flags &&
              r.gpa === ev.gfn * 4096 &&
              r.size === ev.npages * 4096,
            ev.timeUs,
          ),
          `memslot ${JSON.stringify(ev)} is a line's successful memslot ioctl`,
        ).toBe(true);
        break;
      case "region-add":
        // memory a successful memslot line of address space 0 mapped, at that line's time
        expect(
          said((r) => r?.kind === "memslot" && r.ret === 0 && r.as === 0 && r.gpa <= ev.gfn * 4096 && (ev.gfn + ev.npages) * 4096 <= r.gpa + r.size, ev.timeUs),
          `region-add ${JSON.stringify(ev)} lies in a line's memslot`,
        ).toBe(true);
        break;
      default:
        throw new Error(`an importer never writes ${ev.type}`);
    }
  }
  expect(closed).toBe(opened); // every conversion an importer writes is committed, nothing else is
}

/** The checks every import result passes. */
function expectSound(text: string, r: ImportResult): void {
  const s = r.summary;
  const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  expect(total(s.recognized) + total(s.folded) + total(s.ignored) + total(s.unknown), "every line counted once").toBe(s.lines);
  expect(s.events).toBe(r.events.length);
  const back = parseTraceSync(traceToString(r.header, r.events));
  expect([...back.events]).toEqual(r.events);
  expectEventsFromLines(text, r.events);
}

function importBoth(text: string): void {
  for (const lenient of [false, true]) {
    const r = typed(() => importTrace(text, { lenient }));
    if (r.value) expectSound(text, r.value);
    else expect(lenient, "a lenient import never stops").toBe(false);
  }
  for (const format of ["ftrace", "qemu"] as const) {
    const r = typed(() => importTrace(text, { format, lenient: true }));
    expect(r.value?.summary.format).toBe(format);
    expectSound(text, r.value!);
  }
  expect([null, "memattr", "ftrace", "qemu"]).toContain(typed(() => detectTraceFormat(text)).value);
}

describe("fuzz: real-trace importers", () => {
  it("random text: typed errors only, every line counted, events round-trip and come from lines", () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 })), importBoth), { numRuns: runs(1500) });
  });

  it("mutated and interleaved kernel and QEMU logs", () => {
    fc.assert(fc.property(fc.oneof(mutated(BASES), interleaved(BASES)), importBoth), { numRuns: runs(3000) });
  });

  it("byte chunks with invalid UTF-8: the async importer gives what the decoded text gives", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...BASES), mutated(BASES)),
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (text, bad, cuts) => {
          const chunks = byteChunks(text, bad, cuts);
          const want = typed(() => importTrace(decoded(chunks), { lenient: true }));
          const got = await typedAsync(() =>
            importTraceAsync(
              (async function* () {
                yield* chunks;
              })(),
              { lenient: true },
            ),
          );
          expect(got).toEqual(want);
        },
      ),
      { numRuns: runs(600) },
    );
  });

  it("long lines of repeated prefix syntax import in bounded time", () => {
    const fragments = ["-1", " ", "[001]", "1", ".", ":", "us+", "(", ")", "0x", "kvm_hypercall", "a-", "@1.1", "d..1.", "=", "\t"];
    fc.assert(
      fc.property(pathological(fragments), (line) => {
        importBoth(line);
        importBoth(`${line}: kvm_hypercall: nr 0xc a0 0x0 a1 0x1 a2 0x0 a3 0x0`);
      }),
      { numRuns: runs(150) },
    );
  });
});

// ---- the grammar, with known values ------------------------------------------------------

const u64 = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 1n << 20n }));
const gfn = fc.bigInt({ min: 0n, max: (1n << 40n) - 2n });
const hexPad = (v: bigint) => (v === 0n ? "0000000000000000" : `0x${v.toString(16).padStart(14, "0")}`);

/** A prefix form and the timeUs / rawTimestamp it gives. */
const prefix = fc.oneof(
  fc.tuple(fc.nat({ max: 99999 }), fc.nat({ max: 999999 })).map(([s, us]) => ({
    text: (ev: string) => `       CPU 0/KVM-4142    [001] ..... ${String(s).padStart(5)}.${String(us).padStart(6, "0")}: ${ev}: `,
    timeUs: s * 1e6 + us,
    raw: false,
  })),
  fc
    .bigInt({ min: 0n, max: (1n << 64n) - 1n })
    .map((ts) => ({ text: (ev: string) => `  qemu-4142 [003] d..1. ${String(ts).padStart(12)}: ${ev}: `, timeUs: undefined, raw: true })),
  fc.nat({ max: 99999999 }).map((us) => ({ text: (ev: string) => `qemu-sys-4142      1d..1. ${String(us).padStart(4)}us+: ${ev}: `, timeUs: us, raw: false })),
  fc.constant({ text: (ev: string) => `${ev}: `, timeUs: undefined, raw: false }),
);

describe("fuzz: line grammar with known values", () => {
  it("kvm_vm_set_mem_attributes in the printk and field forms reads back its range and direction", () => {
    fc.assert(
      fc.property(prefix, gfn, fc.bigInt({ min: 1n, max: 1n << 20n }), u64, fc.boolean(), (p, start, n, attr, fields) => {
        const end = start + n > 1n << 40n ? 1n << 40n : start + n;
        const body = fields
          ? `start=0x${start.toString(16)} end=${end} attr=0x${attr.toString(16)} (${BigInt.asIntN(64, attr)})`
          : `${hexPad(start)} -- ${hexPad(end)} [0x${attr.toString(16)}]`;
        const m = typed(() => parseFtraceLine(p.text("kvm_vm_set_mem_attributes") + body)).value;
        expect(m?.error).toBeUndefined();
        expect(m?.record).toEqual({ kind: "convert", gfn: Number(start), npages: Number(end - start), to: attr & 8n ? "private" : "shared" });
        expect(m?.timeUs).toBe(p.timeUs);
        expect(m?.rawTimestamp).toBe(p.raw ? true : undefined);
      }),
      { numRuns: runs(2000) },
    );
  });

  it("kvm_hypercall reads the guest's u64s exactly, and the importer refuses exactly what decodeMapGpaRange refuses", () => {
    fc.assert(
      fc.property(prefix, u64, u64, u64, fc.boolean(), (p, gpa, npages, attrs, fields) => {
        const v = [12n, gpa, npages, attrs, 0n];
        const body = fields
          ? v.map((x, i) => `${["nr", "a0", "a1", "a2", "a3"][i]}=0x${x.toString(16)}`).join(" ")
          : `nr 0xc a0 0x${gpa.toString(16)} a1 0x${npages.toString(16)} a2 0x${attrs.toString(16)} a3 0x0`;
        const line = p.text("kvm_hypercall") + body;
        expect(parseFtraceLine(line)?.record).toEqual({ kind: "hypercall", gpa, npages, attrs });
        const r = importTrace(line);
        const reason = hypercallRefusal(gpa, npages, attrs);
        if (reason === undefined) expect(r.events.map((e) => e.type)).toEqual(["hypercall", "commit"]);
        else
          expect(r.events).toEqual([
            {
              type: "refused",
              call: "hypercall",
              gpa: u64Text(gpa),
              npages: u64Text(npages),
              attrs: u64Text(attrs),
              reason,
              ...(p.timeUs === undefined ? {} : { timeUs: p.timeUs }),
            },
          ]);
      }),
      { numRuns: runs(2000) },
    );
  });

  it("a QEMU line with a huge number in any field is refused or read exactly, never rounded", () => {
    fc.assert(
      fc.property(fc.nat({ max: 3 }), fc.constantFrom(...HUGE_NUMBERS.filter((h) => h.startsWith("0x")), "0x1000", "0x0"), (field, value) => {
        const parts = ["0x300000", "0x1000", "0x10", "0x1"];
        parts[field] = value;
        const line = `4121@1700000000.000100:kvm_hc_map_gpa_range gpa ${parts[0]} size ${parts[1]} attributes ${parts[2]} flags ${parts[3]}`;
        const m = typed(() => parseQemuLine(line)).value;
        if (m?.record?.kind !== "hypercall") return;
        expect(m.record.gpa).toBe(BigInt(parts[0]!));
        expect(m.record.npages * 4096n).toBe(BigInt(parts[1]!));
        expect(m.record.attrs).toBe(BigInt(parts[2]!));
      }),
      { numRuns: runs(200) },
    );
  });
});
