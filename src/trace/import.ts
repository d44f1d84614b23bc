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
 *
 * The memory map. QEMU's `kvm_set_user_memory` lines (one per successful memslot ioctl) become
 * `memslot` events, and they give the trace its guest memory map, so a QEMU trace replays
 * without `--guest`:
 * - the map is every range memslots of address space 0 mapped before the first other used
 *   line (conversion, hypercall, fault) — the header's `regions`; the memslot events are held
 *   until then so the header is known before the first event is written;
 * - a later memslot of address space 0 that maps pages no earlier one did adds them
 *   (`region-add`, hotplug). A deleted slot (size 0) is a memslot update, not an unplug: QEMU
 *   deletes and re-creates slots around device and dirty-logging changes, and nothing in its
 *   trace says memory went away, so no `region-remove` is ever imported;
 * - a conversion outside the map failed in QEMU (kvm_convert_memory finds no RAM there):
 *   counted under `ignored` as `<event> outside memslots`, and noted;
 * - no memslot line before the first other used line (tracing enabled late, or that event
 *   off): the map is unknown (no regions, as before); later memslot lines are still written.
 * A failed memslot ioctl (`ret` ≠ 0) changed nothing: counted under `ignored`.
 */
import { TraceParseError } from "./errors.js";
import { GuestMemoryMap } from "../model/regions.js";
import { createHeader, hypercallRefusal, MAP_GPA_RANGE_ENCRYPTED, MEMSLOT_FLAGS, PAGE_BYTES, u64Text } from "./format.js";
import type { GuestRegion, MemslotEvent, RequestEvent, TraceEvent, TraceHeader } from "./format.js";
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
  // The memory map (see "The memory map" above): collecting until the first non-memslot record,
  // then known (header regions fixed, later memslots may add) or unknown.
  private mapState: "collecting" | "known" | "unknown" = "collecting";
  private map: GuestMemoryMap | null = null;
  private headerRegions: GuestRegion[] = [];
  private heldSlots: { ev: MemslotEvent; timeUs: number | undefined }[] = [];

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
    return createHeader(
      this.headerRegions.map((r) => ({ ...r })),
      { source },
    );
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
    this.fixMap();
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
    if (record.kind === "memslot") {
      this.memslot(record, event, timeUs);
      return;
    }
    this.fixMap();
    // Age the waiting causes; those that waited too long were never served by a conversion line.
    for (const c of this.causes) c.age++;
    while (this.causes.length > 0 && this.causes[0]!.age > CAUSE_WINDOW) this.emitCause(this.causes.shift()!);
    for (const r of this.recentConverts) r.age++;
    this.recentConverts = this.recentConverts.filter((r) => r.age <= CAUSE_WINDOW);

    switch (record.kind) {
      case "convert": {
        if (!this.inMap(record.gfn, record.npages, event)) return;
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
        if (!this.inMap(record.offsetBytes / PAGE_BYTES, record.npages, event)) return;
        bump(this.summary.recognized, event);
        const note = "ram_block_attributes_state_change without a kvm_convert_memory before it: its RAMBlock offset was used as the gpa";
        if (!this.summary.notes.includes(note)) this.summary.notes.push(note);
        this.emitConversion(record.offsetBytes / PAGE_BYTES, record.npages, record.to, timeUs, undefined);
        return;
      }
    }
  }

  /** A memslot line: held while the map is collected, else written (with the pages it adds, if any). */
  private memslot(record: Extract<SourceRecord, { kind: "memslot" }>, event: string, timeUs: number | undefined): void {
    if (record.ret !== 0) {
      bump(this.summary.ignored, `${event} failed`);
      return;
    }
    if ((record.flags & ~MEMSLOT_FLAGS) !== 0) {
      const error = `flags 0x${record.flags.toString(16)} has bits memattr does not know (known: 0x${MEMSLOT_FLAGS.toString(16)})`;
      if (!this.lenient) throw new TraceParseError(this.summary.lines, `${event}: ${error}`);
      this.countUnknown(`malformed ${event}`, this.summary.lines);
      return;
    }
    bump(this.summary.recognized, event);
    const ev: MemslotEvent = { type: "memslot", slot: record.slot, gfn: record.gpa / PAGE_BYTES, npages: record.size / PAGE_BYTES, flags: record.flags };
    if (record.as !== 0) ev.as = record.as;
    if (this.mapState === "collecting") {
      if (record.as === 0 && ev.npages > 0) this.cover(ev.gfn, ev.npages);
      this.heldSlots.push({ ev, timeUs });
      return;
    }
    this.push(ev, timeUs);
    if (this.mapState === "known" && record.as === 0 && ev.npages > 0) {
      for (const r of this.cover(ev.gfn, ev.npages)) this.push({ type: "region-add", gfn: r.gfn, npages: r.npages }, timeUs);
    }
  }

  /** Adds `[gfn, gfn + npages)` to the map; @returns the pieces that were not in it yet. */
  private cover(gfn: number, npages: number): GuestRegion[] {
    if (this.map === null) {
      this.map = new GuestMemoryMap([{ gfn, npages }]);
      return [{ gfn, npages }];
    }
    const end = gfn + npages;
    const pieces: GuestRegion[] = [];
    let at = gfn;
    this.map.forEach((s, e) => {
      if (e <= at || s >= end) return;
      if (s > at) pieces.push({ gfn: at, npages: s - at });
      at = Math.max(at, e);
    });
    if (at < end) pieces.push({ gfn: at, npages: end - at });
    for (const p of pieces) this.map.add(p.gfn, p.npages);
    return pieces;
  }

  /** Ends the collection of the map (first non-memslot record, or the end): fixes the header's regions, writes the held memslots. */
  private fixMap(): void {
    if (this.mapState !== "collecting") return;
    this.mapState = this.map === null ? "unknown" : "known";
    this.headerRegions = this.map === null ? [] : this.map.regions();
    const held = this.heldSlots;
    this.heldSlots = [];
    for (const h of held) this.push(h.ev, h.timeUs);
  }

  /** False (counted, noted) for a conversion outside a known map: QEMU refused it. */
  private inMap(gfn: number, npages: number, event: string): boolean {
    if (this.mapState !== "known" || this.map!.contains(gfn, npages)) return true;
    bump(this.summary.ignored, `${event} outside memslots`);
    const note = "conversions outside every memslot (QEMU finds no RAM there and refuses them) are counted under ignored, not written";
    if (!this.summary.notes.includes(note)) this.summary.notes.push(note);
    return false;
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
 * const log = "1234@1700000000.000100:kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x40000000 ua=0x7f0000000000 guest_memfd=20 guest_memfd_offset=0x0 ret=0\n" +
 *   "1234@1700000000.000200:kvm_convert_memory start 0x100000 size 0x2000 private_to_shared\n" +
 *   "1234@1700000000.000300:kvm_run_exit cpu_index 0, reason 2\n";
 * const { header, events, summary } = importTrace(log);
 * console.log(summary.format, header.regions, events.length, summary.unknown); // qemu [ { gfn: 0, npages: 262144 } ] 3 { kvm_run_exit: 1 }
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
