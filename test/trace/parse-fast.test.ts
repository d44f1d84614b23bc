// The reader's fast path (src/trace/_fast.ts, taken by TraceLineParser.pushBytes) against its
// slow path (pushLine: JSON.parse + validateEvent): the same event or the same error, with the
// same line number, for canonical lines, lines near them (mutated bytes, other key orders,
// whitespace, out-of-range numbers) and any split of the input into chunks.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createHeader,
  generateTrace,
  parseTrace,
  parseTraceSync,
  serializeEvent,
  type TraceEvent,
  TraceLineParser,
  traceToString,
} from "../../src/trace/index.js";

const HEADER = JSON.stringify(createHeader([{ gfn: 0, npages: 2 ** 30 }]));
const encoder = new TextEncoder();

type Outcome = { ev: TraceEvent | undefined } | { error: string };

/** Reads `line` (after the header) with the slow path. */
function slow(lines: string[]): Outcome[] {
  const p = new TraceLineParser();
  p.pushLine(HEADER);
  return lines.map((l) => {
    try {
      return { ev: p.pushLine(l) };
    } catch (e) {
      return { error: String(e) };
    }
  });
}

/** Reads the same lines as bytes, each with its newline, through pushBytes (fast path first). */
function fast(lines: string[]): Outcome[] {
  const p = new TraceLineParser();
  p.pushLine(HEADER);
  const lineEnd = { end: 0 };
  return lines.map((l) => {
    const b = encoder.encode(`${l}\n`);
    try {
      const ev = p.pushBytes(b, 0, b.length, lineEnd);
      expect(lineEnd.end).toBe(b.length - 1);
      return { ev };
    } catch (e) {
      return { error: String(e) };
    }
  });
}

const u = (max: number) => fc.oneof(fc.integer({ min: 0, max }), fc.constantFrom(0, 1, 2 ** 40 - 1, 2 ** 40, 2 ** 53 - 1, 10 ** 15, 10 ** 15 - 1));
const hot: fc.Arbitrary<TraceEvent> = fc.oneof(
  fc.record({ type: fc.constant("commit" as const), id: u(2 ** 53 - 1) }),
  fc.record({ type: fc.constant("abort" as const), id: u(2 ** 53 - 1) }),
  fc.constant({ type: "launch" as const }),
  fc.record({
    type: fc.constant("request" as const),
    id: u(2 ** 53 - 1),
    gfn: u(2 ** 40 - 1),
    npages: u(2 ** 20).map((n) => n + 1),
    to: fc.constantFrom("private" as const, "shared" as const),
  }),
  fc.record(
    {
      type: fc.constant("touch" as const),
      gfn: u(2 ** 40 - 1),
      npages: u(2 ** 20).map((n) => n + 1),
      side: fc.constantFrom("private" as const, "shared" as const),
      write: fc.boolean(),
    },
    { requiredKeys: ["type", "gfn", "npages", "side"] },
  ),
);

/** A canonical line, or a near miss of one. */
const lineArb: fc.Arbitrary<string> = hot.chain((ev) => {
  const canonical = JSON.stringify(ev); // the writer's key order when the event is valid
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(canonical) },
    { weight: 1, arbitrary: fc.constant(canonical.replace(/:/g, ": ")) },
    { weight: 1, arbitrary: fc.constant(canonical.replace(/(\d+)/, "0$1")) },
    { weight: 1, arbitrary: fc.constant(canonical.replace(/(\d+)/, "-$1")) },
    { weight: 1, arbitrary: fc.constant(canonical.replace(/(\d+)/, "$1.0")) },
    { weight: 1, arbitrary: fc.constant(`${canonical.slice(0, -1)},"timeUs":5}`) },
    { weight: 1, arbitrary: fc.constant(canonical.replace("}", " }")) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.nat(canonical.length), fc.string({ maxLength: 2 })).map(([i, s]) => canonical.slice(0, i) + s + canonical.slice(i + 1)),
    },
    { weight: 1, arbitrary: fc.nat(canonical.length).map((i) => canonical.slice(0, i)) },
  );
});

describe("fast path", () => {
  it("gives what the slow path gives, line by line (events, errors, line numbers)", () => {
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 30 }), (lines) => {
        // the slow path is the one definition; the fast path must agree with it on every line
        expect(fast(lines)).toEqual(slow(lines));
      }),
      { numRuns: 400 },
    );
  });

  it("takes the canonical hot lines (no text made for them)", () => {
    const p = new TraceLineParser();
    p.pushLine(HEADER);
    const b = encoder.encode('{"type":"request","id":7,"gfn":16,"npages":2,"to":"shared"}\r\n{"type":"commit","id":7}\n');
    const lineEnd = { end: 0 };
    expect(p.pushBytes(b, 0, b.length, lineEnd)).toEqual({ type: "request", id: 7, gfn: 16, npages: 2, to: "shared" });
    const next = lineEnd.end + 1;
    expect(b[lineEnd.end - 1]).toBe(13); // "\r\n" ends it
    expect(p.pushBytes(b, next, b.length, lineEnd)).toEqual({ type: "commit", id: 7 });
    expect(lineEnd.end).toBe(b.length - 1);
    // a line whose newline has not arrived is not read
    const cut = encoder.encode('{"type":"commit","id":8}');
    expect(p.pushBytes(cut, 0, cut.length, lineEnd)).toBeUndefined();
    expect(lineEnd.end).toBe(-1);
  });

  it("reads any split of a trace into byte chunks, sync and async, as the whole text", async () => {
    const g = generateTrace("ovmf-dma", { guestBytes: 2 ** 24, transactions: 40, seed: 3, abortRate: 0.2 });
    const text = traceToString(g.header, g.events).replace(/\n/g, (m, at: number) => (at % 3 === 0 ? "\r\n" : m));
    const bytes = encoder.encode(`\ufeff${text.slice(0, -1)}`); // a BOM, and no newline after the last line
    const want = [...parseTraceSync(text).events];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 40 }), async (sizes) => {
        const chunks: Uint8Array[] = [];
        for (let at = 0, k = 0; at < bytes.length; at += sizes[k++ % sizes.length]!) chunks.push(bytes.subarray(at, at + sizes[k % sizes.length]!));
        expect([...parseTraceSync(chunks).events]).toEqual(want);
        const t = await parseTrace(new Blob(chunks as BlobPart[]).stream());
        const got: TraceEvent[] = [];
        for (let b = await t.events.nextBatch(); b !== null; b = await t.events.nextBatch()) got.push(...b);
        expect(got).toEqual(want);
      }),
      { numRuns: 60 },
    );
  });

  it("hands out every event before a bad line, then its error, in batches and one by one", async () => {
    const good = Array.from({ length: 5000 }, (_v, i) => serializeEvent({ type: "touch", gfn: i, npages: 1, side: "shared" }));
    const text = `${HEADER}\n${good.join("\n")}\n{"type":"touch"}\n${good[0]}\n`;
    const t = await parseTrace(text);
    let n = 0;
    await expect(
      (async () => {
        for (let b = await t.events.nextBatch(); b !== null; b = await t.events.nextBatch()) n += b.length;
      })(),
    ).rejects.toThrow(/line 5002: missing field 'gfn'/);
    expect(n).toBe(5000);
    let m = 0;
    expect(() => {
      for (const _ of parseTraceSync(text).events) m++;
    }).toThrow(/line 5002/);
    expect(m).toBe(5000);
  });
});
