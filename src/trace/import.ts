/**
 * Importers of real traces: kernel ftrace / trace-cmd / perf text (import-ftrace.ts) and QEMU
 * `-trace` logs (import-qemu.ts), turned into the same events a generated trace holds.
 *
 * Short names: `gfn`/`npages`/`gpa`/`id` as in format.ts; a `cause` is a hypercall or memory
 * fault line that is waiting to be matched with the conversion it led to.
 *
 * Folding. One guest conversion leaves several lines: QEMU logs `kvm_hc_map_gpa_range` (or
 * `kvm_memory_fault`), then `kvm_convert_memory`, then `ram_block_attributes_state_change`;
 * the kernel logs `kvm_hypercall` nr 12 and then, when the VMM answers,
 * `kvm_vm_set_mem_attributes`. The importer emits each conversion once:
 * - a conversion line (`kvm_convert_memory`, `kvm_vm_set_mem_attributes`) becomes a `request`
 *   plus its `commit`; when a hypercall or fault line for the same range and direction came
 *   within the previous {@link CAUSE_WINDOW} lines it is folded in as `cause`;
 * - a hypercall line never matched becomes a raw `hypercall` event plus its `commit` (the
 *   VMM is assumed to have served it); a fault never matched becomes a `fault` event;
 * - a hypercall KVM or memattr refuses (hypercallRefusal(), from the model's
 *   decodeMapGpaRange) becomes a `refused` event with the reason, at once; it never waits for a
 *   conversion line (KVM traces the call before checking it, so a hostile guest's calls are in
 *   real traces);
 * - `ram_block_attributes_state_change` right after the `kvm_convert_memory` it reports is
 *   folded; alone (a log with only that event enabled) it becomes a request at the RAMBlock
 *   offset taken as a gpa, which the summary notes.
 * Folded lines are counted in `summary.folded`, never dropped silently.
 */
import { TraceParseError } from "./errors.js";
import { createHeader, hypercallRefusal, MAP_GPA_RANGE_ENCRYPTED, PAGE_BYTES, u64Text } from "./format.js";
import type { RequestEvent, TraceEvent, TraceHeader } from "./format.js";
import { pagesCovering } from "./_import.js";
import type { LineMatch, SourceRecord } from "./_import.js";
import { linesOf, linesOfAsync } from "./_lines.js";
import type { TextChunk, TextSource } from "./_lines.js";
import { parseFtraceLine } from "./import-ftrace.js";
import { parseQemuLine } from "./import-qemu.js";

/** The real-trace formats understood. */
export type ImportFormat = "ftrace" | "qemu";

/** How many source records a hypercall or fault line waits for its conversion line. */
export const CAUSE_WINDOW = 32;

/** Options of the importers. */
export interface ImportOptions {
  /** The input's format; `"auto"` (default) decides on the first line that holds a used event. */
  format?: ImportFormat | "auto";
  /**
   * When true, a line of a used event whose text does not parse is counted (under
   * `"malformed <event>"` in `unknown`) instead of throwing. Default false: such a line
   * would change the replayed state, so it stops the import with a TraceParseError.
   */
  lenient?: boolean;
  /** Source file name for the header. */
  file?: string;
}

/** What an import read, line by line. Every input line is counted in exactly one of `recognized`, `folded`, `ignored`, `unknown`. */
export interface ImportSummary {
  /** The format used, or null when no line of either format was seen. */
  format: ImportFormat | null;
  /** Input lines read. */
  lines: number;
  /** Trace events emitted. */
  events: number;
  /** Lines that produced events, by source event name. */
  recognized: Record<string, number>;
  /** Lines merged into another line's event (a cause, a RAMBlock notification), by event name. */
  folded: Record<string, number>;
  /** Lines understood and deliberately unused (`#` comments, blank lines, other hypercalls), by kind. */
  ignored: Record<string, number>;
  /** Lines not understood, by event name when the line has a trace prefix, else by first token. */
  unknown: Record<string, number>;
  /** Sum of `unknown`. */
  unknownLines: number;
  /** 1-based number of the first unknown line, if any. */
  firstUnknownLine?: number;
  /**
   * Lines whose timestamp is a plain integer — a raw clock count (trace_clock counter, uptime,
   * x86-tsc, …) or trace-cmd's sub-second form — whose unit the line does not say: their events
   * carry no `timeUs`.
   */
  rawTimestampLines: number;
  /** `KVM_HC_MAP_GPA_RANGE` calls written as `refused` events, by reason. */
  refused: Record<string, number>;
  /** Conversions and touches span `[firstGfn, endGfn)`, when any were seen. */
  extent?: { firstGfn: number; endGfn: number };
  /** Caveats about the result, in words. */
  notes: string[];
}

/** An imported trace, held in memory. */
export interface ImportResult {
  header: TraceHeader;
  events: TraceEvent[];
  summary: ImportSummary;
}

/** A hypercall memattr takes, its arguments now exact numbers (the range lies below 2^40 pages). */
type AcceptedHypercall = { kind: "hypercall"; gpa: number; npages: number; attrs: number };

interface Cause {
  record: AcceptedHypercall | Extract<SourceRecord, { kind: "fault" }>;
  event: string;
  gfn: number;
  npages: number;
  to: "private" | "shared";
  timeUs: number | undefined;
  age: number;
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/**
 * Reads real trace text one line at a time and emits memattr trace events. Use it directly
 * to stream a large file; {@link importTrace} wraps it for whole inputs.
 */
export class TraceImporter {
  readonly summary: ImportSummary;
  private readonly lenient: boolean;
  private readonly file: string | undefined;
  private nextId = 1;
  private causes: Cause[] = [];
  private recentConverts: { npages: number; to: "private" | "shared"; age: number }[] = [];
  private out: TraceEvent[] = [];

  constructor(options: ImportOptions = {}) {
    const format = options.format ?? "auto";
    this.summary = {
      format: format === "auto" ? null : format,
      lines: 0,
      events: 0,
      // Keyed by names read from the input ("valueOf", "__proto__" are a line's first token too): no prototype.
      recognized: Object.create(null),
      folded: Object.create(null),
      ignored: Object.create(null),
      unknown: Object.create(null),
      unknownLines: 0,
      rawTimestampLines: 0,
      refused: Object.create(null),
      notes: [],
    };
    this.lenient = options.lenient ?? false;
    this.file = options.file;
  }

  /** The header for what was read so far: no regions (unknown), the importer and file as source. */
  header(): TraceHeader {
    const source = this.file === undefined ? { importer: this.summary.format ?? "unknown" } : { importer: this.summary.format ?? "unknown", file: this.file };
    return createHeader([], { source });
  }

  /**
   * Reads the next line.
   * @returns the events this line completes (often none or two; cause lines emit later).
   * @throws TraceParseError for an unreadable line of a used event, unless `lenient`.
   */
  pushLine(text: string): TraceEvent[] {
    const line = ++this.summary.lines;
    this.out = [];
    const trimmed = text.trim();
    if (trimmed.length === 0) bump(this.summary.ignored, "blank");
    else if (trimmed.startsWith("#")) bump(this.summary.ignored, "comment");
    else this.readLine(text, trimmed, line);
    return this.take();
  }

  /** Ends the input: emits hypercall and fault lines still waiting for a conversion. */
  finish(): TraceEvent[] {
    this.out = [];
    for (const c of this.causes) this.emitCause(c);
    this.causes = [];
    return this.take();
  }

  private take(): TraceEvent[] {
    this.summary.events += this.out.length;
    return this.out;
  }

  private readLine(text: string, trimmed: string, line: number): void {
    const fmt = this.summary.format;
    let match: LineMatch | null = null;
    let shapeOnly: LineMatch | null = null;
    if (fmt !== "qemu") {
      match = parseFtraceLine(text);
      if (match && !match.record && !match.error) [shapeOnly, match] = [match, null];
      if (match && fmt === null) this.summary.format = "ftrace";
    }
    if (!match && fmt !== "ftrace") {
      match = parseQemuLine(text);
      if (match && !match.record && !match.error) [shapeOnly, match] = [shapeOnly ?? match, null];
      if (match && fmt === null) this.summary.format = "qemu";
    }
    if (!match) {
      this.countUnknown(shapeOnly ? shapeOnly.event : trimmed.split(/\s+/)[0]!.slice(0, 40), line);
      return;
    }
    if (match.error !== undefined) {
      if (!this.lenient) throw new TraceParseError(line, `${match.event}: ${match.error}`);
      this.countUnknown(`malformed ${match.event}`, line);
      return;
    }
    if (match.rawTimestamp) this.noteRawTimestamp();
    this.apply(match.record!, match.event, match.timeUs);
  }

  private noteRawTimestamp(): void {
    if (this.summary.rawTimestampLines++ > 0) return;
    this.summary.notes.push(
      "plain-integer timestamps (a raw trace clock such as counter, uptime or x86-tsc, or trace-cmd's sub-second form) name no unit: those events carry no timeUs",
    );
  }

  private countUnknown(key: string, line: number): void {
    bump(this.summary.unknown, key);
    this.summary.unknownLines++;
    this.summary.firstUnknownLine ??= line;
  }

  private apply(record: SourceRecord, event: string, timeUs: number | undefined): void {
    if (record.kind === "ignored") {
      bump(this.summary.ignored, record.key);
      return;
    }
    // Age the waiting causes; those that waited too long were never served by a conversion line.
    for (const c of this.causes) c.age++;
    while (this.causes.length > 0 && this.causes[0]!.age > CAUSE_WINDOW) this.emitCause(this.causes.shift()!);
    for (const r of this.recentConverts) r.age++;
    this.recentConverts = this.recentConverts.filter((r) => r.age <= CAUSE_WINDOW);

    switch (record.kind) {
      case "convert": {
        bump(this.summary.recognized, event);
        const i = this.causes.findIndex((c) => c.gfn === record.gfn && c.npages === record.npages && c.to === record.to);
        let cause: "hypercall" | "fault" | undefined;
        if (i >= 0) {
          const c = this.causes.splice(i, 1)[0]!;
          cause = c.record.kind;
          // The cause line is reported as folded, not recognized: it produced no event of its own.
          this.summary.recognized[c.event]! -= 1;
          if (this.summary.recognized[c.event] === 0) delete this.summary.recognized[c.event];
          bump(this.summary.folded, c.event);
        }
        this.emitConversion(record.gfn, record.npages, record.to, timeUs, cause);
        if (event === "kvm_convert_memory") this.recentConverts.push({ npages: record.npages, to: record.to, age: 0 });
        return;
      }
      case "hypercall": {
        bump(this.summary.recognized, event);
        const reason = hypercallRefusal(record.gpa, record.npages, record.attrs);
        if (reason !== undefined) {
          // Refused before any conversion: recorded now, never a cause.
          bump(this.summary.refused, reason);
          const ev: TraceEvent = {
            type: "refused",
            call: "hypercall",
            gpa: u64Text(record.gpa),
            npages: u64Text(record.npages),
            attrs: u64Text(record.attrs),
            reason,
          };
          this.push(ev, timeUs);
          return;
        }
        // Taken: aligned, inside 2^40 pages, known attribute bits — exact as numbers.
        const accepted: AcceptedHypercall = { kind: "hypercall", gpa: Number(record.gpa), npages: Number(record.npages), attrs: Number(record.attrs) };
        const to = accepted.attrs & MAP_GPA_RANGE_ENCRYPTED ? ("private" as const) : ("shared" as const);
        this.causes.push({ record: accepted, event, gfn: accepted.gpa / PAGE_BYTES, npages: accepted.npages, to, timeUs, age: 0 });
        return;
      }
      case "fault": {
        bump(this.summary.recognized, event);
        const range = { ...pagesCovering(record.gpa, record.size), to: record.private ? ("private" as const) : ("shared" as const) };
        this.causes.push({ record, event, ...range, timeUs, age: 0 });
        return;
      }
      case "notify": {
        const i = this.recentConverts.findIndex((r) => r.npages === record.npages && r.to === record.to);
        if (i >= 0) {
          this.recentConverts.splice(i, 1);
          bump(this.summary.folded, event);
          return;
        }
        bump(this.summary.recognized, event);
        const note = "ram_block_attributes_state_change without a kvm_convert_memory before it: its RAMBlock offset was used as the gpa";
        if (!this.summary.notes.includes(note)) this.summary.notes.push(note);
        this.emitConversion(record.offsetBytes / PAGE_BYTES, record.npages, record.to, timeUs, undefined);
        return;
      }
    }
  }

  private emitConversion(gfn: number, npages: number, to: "private" | "shared", timeUs: number | undefined, cause: "hypercall" | "fault" | undefined): void {
    const id = this.nextId++;
    const request: RequestEvent = { type: "request", id, gfn, npages, to };
    if (cause) request.cause = cause;
    this.push(request, timeUs);
    this.push({ type: "commit", id }, timeUs);
    this.extend(gfn, npages);
  }

  private emitCause(c: Cause): void {
    if (c.record.kind === "hypercall") {
      const id = this.nextId++;
      this.push({ type: "hypercall", id, gpa: c.record.gpa, npages: c.record.npages, attrs: c.record.attrs }, c.timeUs);
      this.push({ type: "commit", id }, c.timeUs);
    } else {
      this.push({ type: "fault", gpa: c.record.gpa, size: c.record.size, private: c.record.private }, c.timeUs);
    }
    this.extend(c.gfn, c.npages);
  }

  private push(ev: TraceEvent, timeUs: number | undefined): void {
    if (timeUs !== undefined) ev.timeUs = timeUs;
    this.out.push(ev);
  }

  private extend(gfn: number, npages: number): void {
    const e = this.summary.extent;
    if (!e) this.summary.extent = { firstGfn: gfn, endGfn: gfn + npages };
    else {
      e.firstGfn = Math.min(e.firstGfn, gfn);
      e.endGfn = Math.max(e.endGfn, gfn + npages);
    }
  }
}

/**
 * Imports a whole real trace held in a string or a sync iterable of chunks.
 *
 * @param source ftrace / trace-cmd / perf text, or a QEMU `-trace` log.
 * @param options format (default auto-detected), leniency, file name for the header.
 * @returns the header (no regions: guest memory is not in these logs), the events, and a
 *   summary counting every line as recognized, folded, ignored or unknown.
 * @throws TraceParseError for an unreadable line of a used event (with its 1-based number), unless `lenient`.
 * @example
 * ```ts
 * import { importTrace } from "memattr";
 * const log = "1234@1700000000.000100:kvm_convert_memory start 0x100000 size 0x2000 private_to_shared\n" +
 *   "1234@1700000000.000200:kvm_set_user_memory AddrSpace#0 Slot#1 ...\n";
 * const { events, summary } = importTrace(log);
 * console.log(summary.format, events.length, summary.unknown); // qemu 2 { kvm_set_user_memory: 1 }
 * ```
 */
export function importTrace(source: string | Iterable<TextChunk>, options: ImportOptions = {}): ImportResult {
  const importer = new TraceImporter(options);
  const events: TraceEvent[] = [];
  for (const line of linesOf(source)) for (const ev of importer.pushLine(line)) events.push(ev);
  for (const ev of importer.finish()) events.push(ev);
  return { header: importer.header(), events, summary: importer.summary };
}

/**
 * Imports a real trace from any source (a browser `File.stream()`, a Node stream, a string).
 * Same result as {@link importTrace}.
 * @throws TraceParseError for an unreadable line of a used event, unless `lenient`.
 * @example
 * ```ts
 * import { importTraceAsync } from "memattr";
 * const blob = new Blob(["kvm_vm_set_mem_attributes: 0x00000000000100 -- 0x00000000000102 [0x8]\n"]);
 * const { events } = await importTraceAsync(blob.stream());
 * console.log(events[0]); // { type: 'request', id: 1, gfn: 256, npages: 2, to: 'private' }
 * ```
 */
export async function importTraceAsync(source: TextSource, options: ImportOptions = {}): Promise<ImportResult> {
  const importer = new TraceImporter(options);
  const events: TraceEvent[] = [];
  for await (const line of linesOfAsync(source)) for (const ev of importer.pushLine(line)) events.push(ev);
  for (const ev of importer.finish()) events.push(ev);
  return { header: importer.header(), events, summary: importer.summary };
}

/**
 * Guesses what a text holds from its first lines: a memattr JSONL trace, kernel trace text,
 * a QEMU trace log, or none of these.
 * @example
 * ```ts
 * import { detectTraceFormat } from "memattr";
 * console.log(detectTraceFormat('{"format":"memattr-trace","version":1}')); // memattr
 * ```
 */
export function detectTraceFormat(sample: string): "memattr" | ImportFormat | null {
  let n = 0;
  for (const line of linesOf(sample)) {
    const t = line.trim();
    if (t.length === 0 || t.startsWith("#")) continue;
    if (n === 0 && t.startsWith("{") && t.includes('"memattr-trace"')) return "memattr";
    const f = parseFtraceLine(line);
    if (f && (f.record || f.error)) return "ftrace";
    const q = parseQemuLine(line);
    if (q && (q.record || q.error)) return "qemu";
    if (++n >= 10_000) break;
  }
  return null;
}

/**
 * The summary as a few lines of text, for a terminal: counts by kind, unknown lines by
 * event or first token (most frequent first), notes.
 */
export function formatImportSummary(summary: ImportSummary): string {
  const list = (m: Record<string, number>): string =>
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  const lines = [
    `format: ${summary.format ?? "not recognised"}; ${summary.lines} lines read, ${summary.events} events written`,
    `recognized: ${list(summary.recognized)}`,
    `folded: ${list(summary.folded)}`,
    `ignored: ${list(summary.ignored)}`,
    `unknown: ${summary.unknownLines} line(s)${summary.firstUnknownLine ? ` (first at line ${summary.firstUnknownLine})` : ""}: ${list(summary.unknown)}`,
  ];
  if (Object.keys(summary.refused).length > 0) lines.push(`refused hypercalls: ${list(summary.refused)}`);
  if (summary.rawTimestampLines > 0) lines.push(`raw-clock timestamps: ${summary.rawTimestampLines} line(s)`);
  if (summary.extent) lines.push(`extent: gfn 0x${summary.extent.firstGfn.toString(16)}..0x${(summary.extent.endGfn - 1).toString(16)}`);
  for (const n of summary.notes) lines.push(`note: ${n}`);
  return `${lines.join("\n")}\n`;
}
