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
import type { TraceEvent, TraceHeader } from "./format.js";
import { linesOf, linesOfAsync } from "./_lines.js";
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
  events: AsyncIterableIterator<TraceEvent>;
}

/**
 * Checks one line at a time. Beyond each record's own fields it checks the trace as a whole:
 * every `commit`/`abort` closes a pending `request`/`hypercall` id, no id is opened twice while
 * pending, and when the header lists regions every request and touch lies inside one.
 */
export class TraceLineParser {
  private lineNo = 0;
  private headerValue: TraceHeader | undefined;
  // Pending transaction ids, each with the page range it asked for (a region-remove may not
  // take a page of one): [gfn, end).
  private readonly pending = new Map<number, [number, number]>();
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
      case "hypercall": {
        if (this.pending.has(ev.id)) throw new TraceParseError(line, `${ev.type} reuses id ${ev.id}, which is still pending`);
        const gfn = ev.type === "request" ? ev.gfn : Math.floor(ev.gpa / PAGE_BYTES);
        this.pending.set(ev.id, [gfn, gfn + ev.npages]);
        break;
      }
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
    for (const [id, [s, e]] of this.pending) {
      if (s < end && gfn < e) throw new TraceParseError(line, `${what} takes pages of transaction ${id}, which is still pending`);
    }
    memory.remove(gfn, npages);
  }
}

function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function* eventsOf(parser: TraceLineParser, lines: Iterator<string>): Generator<TraceEvent> {
  for (let r = lines.next(); !r.done; r = lines.next()) {
    const ev = parser.pushLine(r.value);
    if (ev !== undefined) yield ev;
  }
  parser.finish();
}

async function* eventsOfAsync(parser: TraceLineParser, lines: AsyncIterator<string>): AsyncGenerator<TraceEvent> {
  for (let r = await lines.next(); !r.done; r = await lines.next()) {
    const ev = parser.pushLine(r.value);
    if (ev !== undefined) yield ev;
  }
  parser.finish();
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
  const parser = new TraceLineParser();
  const lines = linesOf(source);
  const first = lines.next();
  if (first.done) parser.finish();
  else parser.pushLine(first.value);
  return { header: parser.header!, events: eventsOf(parser, lines) };
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
  const lines = linesOfAsync(source);
  const first = await lines.next();
  if (first.done) parser.finish();
  else parser.pushLine(first.value);
  return { header: parser.header!, events: eventsOfAsync(parser, lines) };
}
