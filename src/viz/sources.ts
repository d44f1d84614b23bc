/**
 * Where the page's trace comes from: a built-in generator, or a file's text (a memattr JSONL
 * trace, or kernel ftrace / QEMU `-trace` text, detected from the first lines).
 *
 * Short names: `gfn`/`npages` as in src/trace/format.ts. A {@link LoadedTrace}'s `events` is
 * re-iterable: every iteration starts from the first event again, which is how the player
 * rebuilds state when scrubbing back. Nothing holds the whole event list unless the importer
 * already did (ftrace/QEMU imports are read into memory once).
 */
import type { GfnRange } from "../model/errors.js";
import type { TraceEvent, TraceHeader } from "../trace/format.js";
import { generateTrace, type GeneratorName } from "../trace/generate.js";
import { detectTraceFormat, formatImportSummary, importTrace } from "../trace/import.js";
import { parseTrace, parseTraceSync } from "../trace/parse.js";
import { formatBytes } from "../trace/units.js";

/** A trace ready to play. */
export interface LoadedTrace {
  /** What to show as its name. */
  label: string;
  /** The header; for imported traces its regions are filled in from the events' extent. */
  header: TraceHeader;
  /**
   * Guest memory the map shows: the memory the trace starts with, and any range it hot-adds
   * later (`region-add`), so those appear in place when they are plugged. The tracker starts
   * with `header.regions`.
   */
  regions: GfnRange[];
  /** Re-iterable events. */
  events: Iterable<TraceEvent>;
  /** Events in the trace (counted once on load). */
  eventCount: number;
  /** Extra words for the page (import summary, a guessed memory map). */
  notes: string[];
}

/** Largest `guestBytes` the page offers: 64 TiB. */
export const MAX_GUEST_BYTES = 2 ** 46;

/** Pages per 2 MiB: guessed memory maps round up to it. */
const HUGE_PAGES = 512;

/** Largest gfn + 1 an event names (0 for none). */
function eventEnd(ev: TraceEvent): number {
  if (ev.type === "request" || ev.type === "touch" || ev.type === "region-add") return ev.gfn + ev.npages;
  if (ev.type === "hypercall") return Math.floor(ev.gpa / 4096) + ev.npages;
  if (ev.type === "fault") return Math.ceil((ev.gpa + ev.size) / 4096);
  return 0;
}

/** Memory a trace adds at runtime (`region-add`), for the map to show from the start (as space that is not guest memory yet). */
function addedRegions(ev: TraceEvent, into: GfnRange[]): void {
  if (ev.type === "region-add") into.push({ gfn: ev.gfn, npages: ev.npages });
}

function countEvents(events: Iterable<TraceEvent>): { count: number; endGfn: number; added: GfnRange[] } {
  let count = 0;
  let endGfn = 0;
  const added: GfnRange[] = [];
  for (const ev of events) {
    count++;
    endGfn = Math.max(endGfn, eventEnd(ev));
    addedRegions(ev, added);
  }
  return { count, endGfn, added };
}

/** The extent the map shows: the trace's starting memory and every range it hot-adds later. */
function extentOf(regions: readonly GfnRange[], added: readonly GfnRange[]): GfnRange[] {
  if (added.length === 0) return regions.map((r) => ({ ...r }));
  const all = [...regions, ...added].sort((a, b) => a.gfn - b.gfn);
  const out: GfnRange[] = [];
  for (const r of all) {
    const last = out[out.length - 1];
    if (last !== undefined && r.gfn <= last.gfn + last.npages) last.npages = Math.max(last.npages, r.gfn + r.npages - last.gfn);
    else out.push({ ...r });
  }
  return out;
}

/** Guest memory for a trace whose header lists none: `[0, end)` rounded up to 2 MiB. */
function guessRegions(endGfn: number): GfnRange[] {
  return [{ gfn: 0, npages: Math.max(HUGE_PAGES, Math.ceil(endGfn / HUGE_PAGES) * HUGE_PAGES) }];
}

/**
 * Runs a built-in generator.
 * @param name generator name; `guestBytes` the guest size in bytes; `seed` its PRNG seed.
 * @throws the generator's MemattrTypeError / MemattrRangeError for bad options.
 */
export function loadGenerated(name: GeneratorName, guestBytes: number, seed: number, extra: Record<string, number> = {}): LoadedTrace {
  const { header, events } = generateTrace(name, { guestBytes, seed, ...extra });
  const { count, added } = countEvents(events);
  return {
    label: `${name} · ${formatBytes(guestBytes)} · seed ${seed}`,
    header,
    regions: extentOf(header.regions, added),
    events,
    eventCount: count,
    notes: [],
  };
}

/**
 * Reads a trace file's text: memattr JSONL, or ftrace / QEMU text imported on the fly.
 * @throws TraceParseError / TraceVersionError for a malformed trace; an Error when the text is none of these.
 */
export function loadText(text: string, fileName: string): LoadedTrace {
  const kind = detectTraceFormat(text.slice(0, 64 * 1024));
  if (kind === "memattr") {
    const { header } = parseTraceSync(text);
    const events: Iterable<TraceEvent> = { [Symbol.iterator]: () => parseTraceSync(text).events };
    const { count, endGfn, added } = countEvents(events); // parses every line once: errors surface on load
    return memattrTrace(fileName, header, events, count, endGfn, added);
  }
  if (kind === null) throw new Error(`${fileName}: neither a memattr trace nor kernel/QEMU trace text`);
  return imported(text, fileName, kind);
}

function memattrTrace(label: string, header: TraceHeader, events: Iterable<TraceEvent>, count: number, endGfn: number, added: GfnRange[]): LoadedTrace {
  const notes: string[] = [];
  if (header.regions.length === 0) {
    const regions = guessRegions(endGfn);
    notes.push(`the header lists no guest memory; showing [0, ${formatBytes(regions[0]!.npages * 4096)})`);
    return { label, header: { ...header, regions }, regions, events, eventCount: count, notes };
  }
  if (added.length > 0) notes.push(`${added.length} range(s) plugged at runtime`);
  return { label, header, regions: extentOf(header.regions, added), events, eventCount: count, notes };
}

function imported(text: string, fileName: string, kind: "ftrace" | "qemu"): LoadedTrace {
  const result = importTrace(text, { format: kind, file: fileName });
  const summary = `imported as ${kind}: ${formatImportSummary(result.summary).split("\n")[0]}`;
  const label = `${fileName} (${kind})`;
  if (result.header.regions.length > 0) {
    // A QEMU log with kvm_set_user_memory lines brings its own memory map.
    const added: GfnRange[] = [];
    for (const ev of result.events) addedRegions(ev, added);
    const regions = extentOf(result.header.regions, added);
    const notes = [summary, "memory map from its memslots (kvm_set_user_memory)"];
    return { label, header: result.header, regions, events: result.events, eventCount: result.events.length, notes };
  }
  const end = result.summary.extent?.endGfn ?? HUGE_PAGES;
  const regions = guessRegions(end);
  const notes = [summary, `this trace carries no memory map; showing [0, ${formatBytes(regions[0]!.npages * 4096)})`];
  return { label, header: { ...result.header, regions }, regions, events: result.events, eventCount: result.events.length, notes };
}

/** Progress of a load: bytes read of the file's total. */
export type LoadProgress = (doneBytes: number, totalBytes: number) => void;

/** Most events a loaded file keeps in memory (≈ 100 bytes each); a longer trace is parsed again on every replay. */
const KEEP_EVENTS = 3_000_000;
/** Bytes handed to the reader at a time, and the longest stretch of work between two yields to the browser. */
const SLICE_BYTES = 1 << 20;
const SLICE_MS = 12;

/**
 * Reads a trace file's bytes without freezing the page: the reader takes 1 MiB at a time and
 * gives the thread back to the browser between slices, calling `onProgress`. A memattr trace's
 * events are kept in memory (up to {@link KEEP_EVENTS}; beyond, re-read on each replay);
 * ftrace / QEMU text is imported as by {@link loadText}.
 * @throws TraceParseError / TraceVersionError for a malformed trace; an Error when the bytes are none of these.
 */
export async function loadBytes(bytes: Uint8Array, fileName: string, onProgress?: LoadProgress): Promise<LoadedTrace> {
  const head = new TextDecoder().decode(bytes.subarray(0, 64 * 1024));
  const kind = detectTraceFormat(head);
  if (kind === null) throw new Error(`${fileName}: neither a memattr trace nor kernel/QEMU trace text`);
  if (kind !== "memattr") return imported(new TextDecoder().decode(bytes), fileName, kind);
  const total = bytes.length;
  let fed = 0;
  async function* slices(): AsyncGenerator<Uint8Array> {
    let t0 = performance.now();
    for (let at = 0; at < total; at += SLICE_BYTES) {
      fed = Math.min(total, at + SLICE_BYTES);
      yield bytes.subarray(at, fed);
      if (performance.now() - t0 > SLICE_MS) {
        onProgress?.(fed, total);
        await new Promise((done) => setTimeout(done, 0));
        t0 = performance.now();
      }
    }
  }
  const { header, events: stream } = await parseTrace(slices());
  let kept: TraceEvent[] | null = [];
  let count = 0;
  let endGfn = 0;
  const added: GfnRange[] = [];
  for (let batch = await stream.nextBatch(); batch !== null; batch = await stream.nextBatch()) {
    for (const ev of batch) {
      endGfn = Math.max(endGfn, eventEnd(ev));
      addedRegions(ev, added);
    }
    count += batch.length;
    if (kept !== null) {
      if (kept.length + batch.length > KEEP_EVENTS) kept = null;
      else for (const ev of batch) kept.push(ev);
    }
  }
  onProgress?.(total, total);
  const chunks = () => {
    const out: Uint8Array[] = [];
    for (let at = 0; at < total; at += SLICE_BYTES) out.push(bytes.subarray(at, at + SLICE_BYTES));
    return out;
  };
  const events: Iterable<TraceEvent> = kept ?? { [Symbol.iterator]: () => parseTraceSync(chunks()).events };
  return memattrTrace(fileName, header, events, count, endGfn, added);
}
