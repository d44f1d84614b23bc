// Fuzz of the JSONL trace reader (src/trace/parse.ts) and the record validation under it
// (src/trace/format.ts): random text, mutations of valid traces (truncated lines, huge numbers,
// duplicated and swapped lines, two traces interleaved), invalid UTF-8 through the byte-stream
// path, arbitrary JSON records. Whatever the input: only TraceParseError / TraceVersionError
// (MemattrErrors), no input slower than INPUT_MS, and whatever events come out round-trip through
// formatTrace/parseTrace to the same events.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createHeader,
  generateTrace,
  hypercallRefusal,
  importTrace,
  parseTrace,
  parseTraceSync,
  serializeEvent,
  type TraceEvent,
  type TraceHeader,
  traceToString,
  u64Text,
  validateEvent,
} from "../../src/trace/index.js";
import { byteChunks, decoded, interleaved, mutated, pathological, runs, typed, typedAsync } from "./_fuzz.js";

const sample = readFileSync(new URL("../fixtures/sample-trace.jsonl", import.meta.url), "utf8");
const generated = (name: "ovmf-dma" | "linux-boot" | "adversarial", opts: object) => {
  const g = generateTrace(name, { guestBytes: 2 ** 24, seed: 5, ...opts } as never);
  return traceToString(g.header, g.events);
};
const hostile = importTrace(
  [
    "kvm_hypercall: nr 0xc a0 0x1001 a1 0x1 a2 0x10 a3 0x0",
    "kvm_hypercall: nr 0xc a0 0x0 a1 0x0 a2 0x10 a3 0x0",
    "kvm_hypercall: nr 0xc a0 0xfffffffffffff000 a1 0x2 a2 0x0 a3 0x0",
    "kvm_hypercall: nr 0xc a0 0x2000 a1 0x1 a2 0x10 a3 0x0",
    "  qemu-4142 [001] ..... 12.000001: kvm_vm_set_mem_attributes: 0x00000000000002 -- 0x00000000000003 [0x8]",
  ].join("\n"),
);
const BASES = [
  sample,
  generated("ovmf-dma", { transactions: 6, firmwareBytes: 2 ** 16 }),
  generated("linux-boot", { guestBytes: 2 ** 26, conversions: 8, swiotlbBytes: 2 ** 16, kernelBytes: 2 ** 16, acceptChunkBytes: 2 ** 21 }),
  generated("adversarial", { floodRequests: 10, phases: ["flood"] }),
  traceToString(hostile.header, hostile.events),
];

/** Everything parseTraceSync yields for `text`, read to the end; or the typed error. */
function readAll(text: string | Iterable<string | Uint8Array>) {
  return typed(() => {
    const t = parseTraceSync(text);
    return { header: t.header, events: [...t.events] };
  });
}

/** The events that came out re-written and re-read are the same events (and the same header). */
function expectRoundTrip(header: TraceHeader, events: TraceEvent[]): void {
  const again = parseTraceSync(traceToString(header, events));
  expect(again.header).toEqual(header);
  expect([...again.events]).toEqual(events);
}

/** Reads events one line at a time up to the first bad line: what a streaming caller keeps. */
function readPrefix(text: string): { header?: TraceHeader; events: TraceEvent[] } {
  const events: TraceEvent[] = [];
  let header: TraceHeader | undefined;
  const out = typed(() => {
    const t = parseTraceSync(text);
    header = t.header;
    for (const ev of t.events) events.push(ev);
  });
  void out;
  return { header, events };
}

describe("fuzz: JSONL trace reader", () => {
  it("random text: typed errors only; whatever is read round-trips", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 })), (text) => {
        const r = readAll(text);
        if (r.value) expectRoundTrip(r.value.header, r.value.events);
      }),
      { numRuns: runs(1500) },
    );
  });

  it("mutated and interleaved valid traces: typed errors only; the events before a bad line round-trip", () => {
    fc.assert(
      fc.property(fc.oneof(mutated(BASES), interleaved(BASES)), (text) => {
        const r = readAll(text);
        if (r.value) expectRoundTrip(r.value.header, r.value.events);
        const p = readPrefix(text);
        if (p.header) expectRoundTrip(p.header, p.events);
      }),
      { numRuns: runs(2500) },
    );
  });

  it("byte chunks with invalid UTF-8: the async reader gives what the decoded text gives", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...BASES), mutated(BASES)),
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (text, bad, cuts) => {
          const chunks = byteChunks(text, bad, cuts);
          const want = readAll(decoded(chunks));
          const got = await typedAsync(async () => {
            const t = await parseTrace(
              (async function* () {
                yield* chunks;
              })(),
            );
            const events: TraceEvent[] = [];
            for await (const ev of t.events) events.push(ev);
            return { header: t.header, events };
          });
          expect(got.value).toEqual(want.value);
          expect(got.error?.message).toEqual(want.error?.message);
          expect(readAll(chunks).value).toEqual(want.value); // the sync reader takes byte chunks too
        },
      ),
      { numRuns: runs(800) },
    );
  });

  it("long lines of repeated syntax read in bounded time", () => {
    fc.assert(
      fc.property(pathological(['{"type":', '"', "\\", "[", "{", "1", "e9", " ", "\n"]), (body) => {
        readAll(`${BASES[0]!.split("\n")[0]}\n${body}`);
      }),
      { numRuns: runs(150) },
    );
  });
});

// ---- records -----------------------------------------------------------------------------

const MAX_GFN = 2 ** 40;
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const time = fc.option(fc.oneof(fc.double({ min: 0, max: 2 ** 53, noNaN: true }), fc.nat()), { nil: undefined });
const range = fc.integer({ min: 0, max: MAX_GFN - 1 }).chain((gfn) => fc.record({ gfn: fc.constant(gfn), npages: fc.integer({ min: 1, max: MAX_GFN - gfn }) }));
const id = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));

/** Any valid event, built field by field. */
const validEvent: fc.Arbitrary<TraceEvent> = fc
  .oneof(
    fc.constant({ type: "launch" as const }),
    fc
      .record(
        {
          type: fc.constant("request" as const),
          id,
          gfn: fc.constant(0),
          npages: fc.constant(1),
          to: fc.constantFrom("private" as const, "shared" as const),
          preserve: fc.boolean(),
          cause: fc.constantFrom("hypercall" as const, "fault" as const),
        },
        { requiredKeys: ["type", "id", "gfn", "npages", "to"] },
      )
      .chain((r) => range.map((g) => ({ ...r, ...g }))),
    fc.record({ type: fc.constantFrom("commit" as const, "abort" as const), id }),
    fc
      .record(
        { type: fc.constant("touch" as const), side: fc.constantFrom("private" as const, "shared" as const), write: fc.boolean() },
        { requiredKeys: ["type", "side"] },
      )
      .chain((r) => range.map((g) => ({ ...r, ...g }))),
    fc
      .integer({ min: 0, max: 2 ** 52 - 1 })
      .chain((gpa) =>
        fc.record({ type: fc.constant("fault" as const), gpa: fc.constant(gpa), size: fc.integer({ min: 1, max: 2 ** 52 - gpa }), private: fc.boolean() }),
      ),
    fc.record({
      type: fc.constant("hypercall" as const),
      id,
      gpa: fc.integer({ min: 0, max: 2 ** 52 - 1 }),
      npages: fc.integer({ min: 1, max: MAX_GFN }),
      attrs: fc.nat(),
    }),
    fc
      .tuple(u64, u64, u64)
      .filter(([g, n, a]) => hypercallRefusal(g, n, a) !== undefined)
      .map(([g, n, a]) => ({
        type: "refused" as const,
        call: "hypercall" as const,
        gpa: u64Text(g),
        npages: u64Text(n),
        attrs: u64Text(a),
        reason: hypercallRefusal(g, n, a)!,
      })),
  )
  .chain((ev) => time.map((t) => (t === undefined ? ev : { ...ev, timeUs: t })) as fc.Arbitrary<TraceEvent>);

/** A JSON value standing where a field's value belongs. */
const oddValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(-0, -1, 0.5, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e308, -1e308, "0x10", "1", "", null, true, [], {}),
  fc.double(),
);

describe("fuzz: trace records", () => {
  it("every valid event serializes and reads back to itself", () => {
    fc.assert(
      fc.property(validEvent, (ev) => {
        const line = serializeEvent(ev);
        expect(validateEvent(JSON.parse(line))).toEqual(ev);
        expect(serializeEvent(validateEvent(JSON.parse(line)))).toBe(line);
      }),
      { numRuns: runs(2000) },
    );
  });

  it("a valid event with one field replaced by an odd JSON value: refused with a typed error, or read as a clean event that round-trips", () => {
    const header = createHeader([]);
    fc.assert(
      fc.property(validEvent, fc.nat(), oddValue, fc.boolean(), (ev, which, value, add) => {
        const rec: Record<string, unknown> = { ...ev };
        const keys = Object.keys(rec);
        rec[add ? ["gfn", "npages", "id", "gpa", "timeUs", "reason", "extra"][which % 7]! : keys[which % keys.length]!] = value;
        const line = JSON.stringify(rec);
        const r = readAll(`${JSON.stringify(header)}\n${line}\n`);
        if (!r.value) return;
        const [got] = r.value.events;
        if (got === undefined) return;
        const said = JSON.parse(line) as Record<string, unknown>;
        for (const [k, v] of Object.entries(got)) {
          // a refused call's u64s are written back canonical ("0x0010" → "0x10"): the same number
          if (typeof v === "string" && v.startsWith("0x")) expect(BigInt(v), `field ${k}`).toBe(BigInt(said[k] as string));
          else expect(v, `field ${k} is what the line said`).toEqual(said[k]);
        }
        expectRoundTrip(r.value.header, r.value.events);
      }),
      { numRuns: runs(3000) },
    );
  });
});
