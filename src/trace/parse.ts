/**
 * Streaming reader of memattr JSONL traces.
 *
 * Short names: `line` is a 1-based line number counting every input line; `id` a transaction
 * number (see format.ts). A reader pulls one line at a time, so a trace of any length is read
 * in constant memory apart from the set of still-pending transaction ids.
 */
import { TraceParseError, TraceVersionError } from "./errors.js";
import { GuestMemoryMap } from "../model/regions.js";
import { FieldError, PAGE_BYTES, TRACE_FORMAT, TRACE_VERSIONS_READ, validateEvent, validateHeader } from "./format.js";
import type { HypercallEvent, RequestEvent, TraceEvent, TraceHeader } from "./format.js";
import { fastEvent, fastLine } from "./_fast.js";
import type { TextChunk, TextSource } from "./_lines.js";

export type { TextChunk, TextSource } from "./_lines.js";

/** A trace being read: its header, and its events as a lazy iterator. */
export interface ParsedTrace {
  header: TraceHeader;
  events: IterableIterator<TraceEvent>;
}

/** A trace being read from an async source. */
export interface ParsedTraceAsync {
  header: TraceHeader;
  /** The events; `events.nextBatch()` hands them out in arrays (one `await` per batch). */
  events: TraceEventStream;
}

/**
 * Checks one line at a time. Beyond each record's own fields it checks the trace as a whole:
 * every `commit`/`abort` closes a pending `request`/`hypercall` id, no id is opened twice while
 * pending, and when the header lists regions every request and touch lies inside one.
 */
export class TraceLineParser {
  private lineNo = 0;
  private headerValue: TraceHeader | undefined;
  // Pending transaction ids, each with the event that opened it (a region-remove may not take
  // a page of one; the event holds its range, so nothing is allocated per request).
  private readonly pending = new Map<number, RequestEvent | HypercallEvent>();
  // The guest memory map as the trace has changed it (header regions, then region-add/remove);
  // null when the header lists none (unknown: only the 2^40-page limit applies).
  private memory: GuestMemoryMap | null = null;

  /** The header, once line 1 has been read. */
  get header(): TraceHeader | undefined {
    return this.headerValue;
  }

  /** Transaction ids opened and not yet committed or aborted. */
  pendingIds(): number[] {
    return [...this.pending.keys()];
  }

  /** The guest memory map after the lines read so far (header regions, region-add/remove applied), or `[]` when unknown. */
  regions(): { gfn: number; npages: number }[] {
    return this.memory === null ? [] : this.memory.regions();
  }

  /**
   * Reads the next line. Returns the event it holds, or `undefined` for the header or a blank line.
   * @throws TraceParseError for a malformed line, with its line number.
   * @throws TraceVersionError when line 1 is the header of another format or version.
   */
  pushLine(text: string): TraceEvent | undefined {
    const line = ++this.lineNo;
    if (this.headerValue === undefined) return this.readHeader(text, line);
    if (text.trim().length === 0) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new TraceParseError(line, `not a complete JSON record (corrupted or truncated): ${preview(text)}`);
    }
    let ev: TraceEvent;
    try {
      ev = validateEvent(value);
    } catch (e) {
      if (e instanceof FieldError) throw new TraceParseError(line, e.message);
      throw e;
    }
    this.checkTrace(ev, line);
    return ev;
  }

  /**
   * Reads the line starting at `b[start]` whose newline is at or after it, up to `limit`: the hot
   * event shapes are read straight from the bytes (`_fast.ts`, which also finds the newline),
   * any other line as its text through {@link pushLine} — same events, same errors, same line
   * numbers.
   * @returns the event (or undefined for the header or a blank line), and in `lineEnd.end` the
   *   index of the line's newline, or -1 when no newline comes before `limit` (nothing was read).
   */
  pushBytes(b: Uint8Array, start: number, limit: number, lineEnd: { end: number }): TraceEvent | undefined {
    if (this.headerValue !== undefined) {
      const ev = fastEvent(b, start, limit);
      if (ev !== undefined) {
        lineEnd.end = fastLine.end;
        this.checkTrace(ev, ++this.lineNo);
        return ev;
      }
    }
    const nl = b.indexOf(10, start);
    if (nl < 0 || nl >= limit) {
      lineEnd.end = -1;
      return undefined;
    }
    lineEnd.end = nl;
    return this.pushLine(LINE_DECODER.decode(b.subarray(start, nl > start && b[nl - 1] === 13 ? nl - 1 : nl)));
  }

  /**
   * Ends the input.
   * @throws TraceParseError when no header was read (empty input).
   */
  finish(): void {
    if (this.headerValue === undefined) throw new TraceParseError(Math.max(1, this.lineNo), "empty trace: no header line");
  }

  private readHeader(text: string, line: number): undefined {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      const hint = text.trimStart().startsWith("{") ? "" : " (kernel or QEMU trace text? use importTrace / `memattr trace import`)";
      throw new TraceParseError(line, `line 1 must be a ${TRACE_FORMAT} header, got ${preview(text)}${hint}`);
    }
    let result: ReturnType<typeof validateHeader>;
    try {
      result = validateHeader(value);
    } catch (e) {
      if (e instanceof FieldError) throw new TraceParseError(line, `bad header: ${e.message}`);
      throw e;
    }
    if ("incompatible" in result) throw new TraceVersionError(result.incompatible, `${TRACE_FORMAT} version ${TRACE_VERSIONS_READ.join(" or ")}`);
    this.headerValue = result;
    if (result.regions.length > 0) this.memory = new GuestMemoryMap(result.regions);
    return undefined;
  }

  private checkTrace(ev: TraceEvent, line: number): void {
    switch (ev.type) {
      case "request":
      case "hypercall":
        if (this.pending.has(ev.id)) throw new TraceParseError(line, `${ev.type} reuses id ${ev.id}, which is still pending`);
        this.pending.set(ev.id, ev);
        break;
      case "commit":
      case "abort":
        if (!this.pending.delete(ev.id)) throw new TraceParseError(line, `${ev.type} of id ${ev.id}, which is not pending`);
        break;
      case "region-add":
      case "region-remove":
        this.changeMap(ev.type, ev.gfn, ev.npages, line);
        break;
    }
    if ((ev.type === "request" || ev.type === "touch") && this.memory !== null && !this.memory.contains(ev.gfn, ev.npages)) {
      throw new TraceParseError(line, `${ev.type} of gfn ${ev.gfn} + npages ${ev.npages} lies outside the trace's guest regions`);
    }
  }

  /** Applies a region-add / region-remove to the map, refusing what the tracker would refuse. */
  private changeMap(type: "region-add" | "region-remove", gfn: number, npages: number, line: number): void {
    const memory = this.memory;
    const what = `${type} of gfn ${gfn} + npages ${npages}`;
    if (memory === null) throw new TraceParseError(line, `${what} in a trace whose header lists no guest regions (an unknown memory map cannot change)`);
    const end = gfn + npages;
    if (type === "region-add") {
      let overlap = false;
      memory.forEach((s, e) => {
        if (s < end && gfn < e) overlap = true;
      });
      if (overlap) throw new TraceParseError(line, `${what} overlaps guest memory`);
      memory.add(gfn, npages);
      return;
    }
    if (!memory.contains(gfn, npages)) throw new TraceParseError(line, `${what} is not wholly guest memory`);
    for (const [id, ev] of this.pending) {
      const s = ev.type === "request" ? ev.gfn : Math.floor(ev.gpa / PAGE_BYTES);
      if (s < end && gfn < s + ev.npages) throw new TraceParseError(line, `${what} takes pages of transaction ${id}, which is still pending`);
    }
    memory.remove(gfn, npages);
  }
}

function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

// ---- chunked reading -------------------------------------------------------------------
// Chunks (strings are encoded to UTF-8 once) are split into lines at the byte level and read a
// batch at a time: one `await` per batch, not per event or line.

const LINE_DECODER = new TextDecoder("utf-8", { ignoreBOM: true }); // one line at a time: a "\n" never falls inside a UTF-8 sequence
const ENCODER = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** Events per batch handed to a consumer. */
const BATCH_EVENTS = 4096;
/** A string source is read in slices of this many bytes (so it is read lazily, as a stream is). */
const STRING_SLICE_BYTES = 1 << 20;

/** Splits the chunks of one input into lines and reads them through a parser, a batch at a time. */
class ChunkLines {
  private buf: Uint8Array = EMPTY;
  private pos = 0;
  // A line cut by a chunk boundary, joined with its end once the next chunk brings it: read
  // before the rest of that chunk. (Only that line is copied, never the chunk.)
  private lead: Uint8Array | null = null;
  private first = true;
  private bom = false;
  private error: { value: unknown } | null = null;
  private readonly lineEnd = { end: 0 };

  constructor(readonly parser: TraceLineParser) {}

  /** Takes the next chunk of input (the rest of the previous one, a line cut short, goes first). */
  feed(chunk: TextChunk): void {
    // One element kind (a plain Uint8Array, not a Node Buffer) keeps the byte loops monomorphic.
    const b = typeof chunk === "string" ? ENCODER.encode(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.first) {
      this.first = false;
      // A UTF-8 byte-order mark may open a byte stream only (TextDecoder's default drops it
      // there): looked for when line 1 is complete, since it may arrive split across chunks.
      this.bom = typeof chunk !== "string";
    }
    const rest = this.lead ?? this.buf.subarray(this.pos);
    this.lead = null;
    if (rest.length === 0) {
      this.buf = b;
      this.pos = 0;
      return;
    }
    const nl = b.indexOf(10);
    const take = nl < 0 ? b.length : nl + 1; // the cut line's end (or all of a chunk without a newline)
    const joined = new Uint8Array(rest.length + take);
    joined.set(rest);
    joined.set(b.subarray(0, take), rest.length);
    if (nl < 0) {
      this.buf = joined;
      this.pos = 0;
    } else {
      this.lead = joined;
      this.buf = b;
      this.pos = take;
    }
  }

  /**
   * Reads complete lines of the fed input into `out` until it holds `max` events, the header
   * has been read (`untilHeader`), or the input fed so far ends. A line that fails is thrown at
   * the next call, after the events before it were handed out.
   * @returns true when more fed input remains to read.
   */
  read(out: TraceEvent[], max: number, untilHeader = false): boolean {
    if (this.error !== null) throw this.error.value;
    const parser = this.parser;
    const lineEnd = this.lineEnd;
    try {
      if (this.lead !== null) {
        const lead = this.lead;
        this.lead = null;
        const ev = parser.pushBytes(lead, this.skipBom(lead, 0), lead.length, lineEnd);
        if (ev !== undefined) out.push(ev);
        if (out.length >= max || (untilHeader && parser.header !== undefined)) return true;
      }
      const b = this.buf;
      const limit = b.length;
      for (;;) {
        if (this.pos >= limit) return false;
        const ev = parser.pushBytes(b, this.bom ? this.skipBom(b, this.pos) : this.pos, limit, lineEnd);
        if (lineEnd.end < 0) return false; // a line cut short: it waits for the next chunk
        this.pos = lineEnd.end + 1;
        if (ev !== undefined) out.push(ev);
        if (out.length >= max || (untilHeader && parser.header !== undefined)) return this.pos < limit;
      }
    } catch (err) {
      if (out.length === 0) throw err;
      this.error = { value: err };
      return true;
    }
  }

  /** Where line 1 starts once a byte stream's leading byte-order mark is dropped (once). */
  private skipBom(b: Uint8Array, start: number): number {
    if (!this.bom) return start;
    if (b.indexOf(10, start) < 0) return start; // line 1 not complete yet: look again when it is
    this.bom = false;
    return b[start] === 0xef && b[start + 1] === 0xbb && b[start + 2] === 0xbf ? start + 3 : start;
  }

  /** The input ended: reads the last line (no newline after it) and checks the end. */
  end(out: TraceEvent[]): void {
    if (this.error !== null) throw this.error.value;
    const b = this.lead ?? this.buf.subarray(this.pos);
    this.lead = null;
    this.buf = EMPTY;
    this.pos = 0;
    if (b.length > 0) {
      // The last line has no newline: give it one, so it reads like every other line.
      const line = new Uint8Array(b.length + 1);
      line.set(b);
      line[b.length] = 10;
      const ev = this.parser.pushBytes(line, this.skipBom(line, 0), line.length, this.lineEnd);
      if (ev !== undefined) out.push(ev);
    }
    this.parser.finish();
  }
}

/** A string cut into byte slices, or the chunks of a sync source. */
function* chunksOf(source: string | Iterable<TextChunk>): Generator<TextChunk> {
  if (typeof source !== "string") {
    yield* source;
    return;
  }
  const bytes = ENCODER.encode(source);
  for (let at = 0; at < bytes.length; at += STRING_SLICE_BYTES) yield bytes.subarray(at, at + STRING_SLICE_BYTES);
}

/** Reads the header (and nothing after it) from a sync source. */
function headerSync(lines: ChunkLines, chunks: Iterator<TextChunk>, early: TraceEvent[]): boolean {
  while (lines.parser.header === undefined) {
    if (lines.read(early, BATCH_EVENTS, true)) continue;
    const r = chunks.next();
    if (r.done) {
      lines.end(early);
      return false;
    }
    lines.feed(r.value);
  }
  return true;
}

function* eventsOf(lines: ChunkLines, chunks: Iterator<TextChunk>, open: boolean): Generator<TraceEvent> {
  if (!open) return;
  const batch: TraceEvent[] = [];
  for (;;) {
    const more = lines.read(batch, BATCH_EVENTS);
    for (let i = 0; i < batch.length; i++) yield batch[i]!;
    batch.length = 0;
    if (more) continue;
    const r = chunks.next();
    if (r.done) {
      lines.end(batch);
      yield* batch;
      return;
    }
    lines.feed(r.value);
  }
}

/**
 * The events of an async trace, read a batch at a time. Iterating it event by event works as
 * for any async iterator; `nextBatch()` hands out the events in arrays, which a consumer that
 * works on batches (the replay engine) takes with one `await` per batch instead of per event.
 */
export class TraceEventStream implements AsyncIterableIterator<TraceEvent> {
  private batch: TraceEvent[] = [];
  private i = 0;
  private ended = false;

  /** @internal */
  constructor(
    private readonly lines: ChunkLines,
    private readonly next_: () => Promise<IteratorResult<TextChunk>>,
    private readonly close: () => Promise<void>,
    ended: boolean,
  ) {
    this.ended = ended;
  }

  /**
   * The next events, at least one, or null at the end of the trace.
   * @throws TraceParseError at a malformed line, after every event before it was handed out.
   */
  async nextBatch(): Promise<TraceEvent[] | null> {
    if (this.i < this.batch.length) {
      const rest = this.batch.slice(this.i);
      this.i = this.batch.length;
      return rest;
    }
    if (this.ended) return null;
    const out: TraceEvent[] = [];
    try {
      while (out.length === 0) {
        if (this.lines.read(out, BATCH_EVENTS)) continue;
        const r = await this.next_();
        if (r.done === true) {
          this.ended = true;
          this.lines.end(out);
          return out.length > 0 ? out : null;
        }
        this.lines.feed(r.value);
      }
    } catch (err) {
      this.ended = true;
      await this.close();
      throw err;
    }
    return out;
  }

  next(): Promise<IteratorResult<TraceEvent>> {
    if (this.i < this.batch.length) return Promise.resolve({ value: this.batch[this.i++]!, done: false });
    return this.refill();
  }

  private async refill(): Promise<IteratorResult<TraceEvent>> {
    const b = await this.nextBatch();
    if (b === null) return { value: undefined, done: true };
    this.batch = b;
    this.i = 1;
    return { value: b[0]!, done: false };
  }

  /** Stops reading (closes the source). */
  async return(): Promise<IteratorResult<TraceEvent>> {
    if (!this.ended) {
      this.ended = true;
      await this.close();
    }
    this.batch = [];
    this.i = 0;
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): TraceEventStream {
    return this;
  }
}

function isReadableStream(s: unknown): s is ReadableStream<TextChunk> {
  return typeof s === "object" && s !== null && typeof (s as ReadableStream).getReader === "function";
}

function isAsyncIterable(s: unknown): s is AsyncIterable<TextChunk> {
  return typeof s === "object" && s !== null && typeof (s as AsyncIterable<TextChunk>)[Symbol.asyncIterator] === "function";
}

/** `next` and `close` over any source's chunks. */
function chunkReader(source: TextSource): { next: () => Promise<IteratorResult<TextChunk>>; close: () => Promise<void> } {
  if (typeof source === "string" || (!isAsyncIterable(source) && !isReadableStream(source))) {
    const it = chunksOf(source as string | Iterable<TextChunk>);
    return { next: async () => it.next(), close: async () => void it.return?.(undefined) };
  }
  if (isAsyncIterable(source)) {
    const it = source[Symbol.asyncIterator]();
    return { next: () => it.next(), close: async () => void (await it.return?.()) };
  }
  // Safari's ReadableStream is not async-iterable: read it by hand.
  const reader = (source as ReadableStream<TextChunk>).getReader();
  return {
    next: async () => {
      const r = await reader.read();
      return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
    },
    close: async () => {
      await reader.cancel().catch(() => {});
      reader.releaseLock();
    },
  };
}

/**
 * Reads a trace held in a string or arriving as a sync iterable of chunks (lines, or any
 * pieces of text or UTF-8 bytes). The header is read at once; events are read as you iterate.
 *
 * @param source the trace text, or its chunks.
 * @returns the header and a lazy iterator of validated events.
 * @throws TraceParseError for a malformed line (also while iterating), with its 1-based number.
 * @throws TraceVersionError when the header is of another format or version.
 * @example
 * ```ts
 * import { parseTraceSync } from "memattr";
 * const text = '{"format":"memattr-trace","version":1,"pageBytes":4096,"regions":[{"gfn":0,"npages":256}]}\n' +
 *   '{"type":"request","id":1,"gfn":16,"npages":2,"to":"shared"}\n{"type":"commit","id":1}\n';
 * const { header, events } = parseTraceSync(text);
 * console.log(header.regions, [...events].length); // [ { gfn: 0, npages: 256 } ] 2
 * ```
 */
export function parseTraceSync(source: string | Iterable<TextChunk>): ParsedTrace {
  const lines = new ChunkLines(new TraceLineParser());
  const chunks = chunksOf(source);
  const early: TraceEvent[] = [];
  const open = headerSync(lines, chunks, early);
  return { header: lines.parser.header!, events: eventsOf(lines, chunks, open) };
}

/**
 * Reads a trace from any source: a string, a sync or async iterable of chunks (a Node
 * readable stream, `File.stream()` in a browser), or a `ReadableStream`. Only the header is
 * read before this resolves; events are read as you iterate, so memory stays bounded.
 *
 * @param source the trace text, or its chunks (strings or UTF-8 bytes).
 * @returns the header and a lazy async iterator of validated events.
 * @throws TraceParseError for a malformed line (also while iterating), with its 1-based number.
 * @throws TraceVersionError when the header is of another format or version.
 * @example
 * ```ts
 * import { parseTrace } from "memattr";
 * const blob = new Blob(['{"format":"memattr-trace","version":1,"pageBytes":4096,"regions":[]}\n{"type":"launch"}\n']);
 * const { events } = await parseTrace(blob.stream());
 * for await (const ev of events) console.log(ev.type); // launch
 * ```
 */
export async function parseTrace(source: TextSource): Promise<ParsedTraceAsync> {
  const parser = new TraceLineParser();
  const lines = new ChunkLines(parser);
  const { next, close } = chunkReader(source);
  const early: TraceEvent[] = [];
  let ended = false;
  try {
    while (parser.header === undefined) {
      if (lines.read(early, BATCH_EVENTS, true)) continue;
      const r = await next();
      if (r.done === true) {
        lines.end(early);
        ended = true;
        break;
      }
      lines.feed(r.value);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { header: parser.header!, events: new TraceEventStream(lines, next, close, ended) };
}
