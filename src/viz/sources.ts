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
import { parseTraceSync } from "../trace/parse.js";
import { formatBytes } from "../trace/units.js";

/** A trace ready to play. */
export interface LoadedTrace {
  /** What to show as its name. */
  label: string;
  /** The header; for imported traces its regions are filled in from the events' extent. */
  header: TraceHeader;
  /** Guest memory the map shows. */
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

function countEvents(events: Iterable<TraceEvent>): { count: number; endGfn: number } {
  let count = 0;
  let endGfn = 0;
  for (const ev of events) {
    count++;
    if (ev.type === "request" || ev.type === "touch") endGfn = Math.max(endGfn, ev.gfn + ev.npages);
    else if (ev.type === "hypercall") endGfn = Math.max(endGfn, Math.floor(ev.gpa / 4096) + ev.npages);
    else if (ev.type === "fault") endGfn = Math.max(endGfn, Math.ceil((ev.gpa + ev.size) / 4096));
  }
  return { count, endGfn };
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
  const { count } = countEvents(events);
  return {
    label: `${name} · ${formatBytes(guestBytes)} · seed ${seed}`,
    header,
    regions: header.regions.map((r) => ({ gfn: r.gfn, npages: r.npages })),
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
    const { count, endGfn } = countEvents(events); // parses every line once: errors surface on load
    const notes: string[] = [];
    let regions = header.regions.map((r) => ({ gfn: r.gfn, npages: r.npages }));
    if (regions.length === 0) {
      regions = guessRegions(endGfn);
      notes.push(`the header lists no guest memory; showing [0, ${formatBytes(regions[0]!.npages * 4096)})`);
    }
    return { label: fileName, header: { ...header, regions }, regions, events, eventCount: count, notes };
  }
  if (kind === null) throw new Error(`${fileName}: neither a memattr trace nor kernel/QEMU trace text`);
  const result = importTrace(text, { format: kind, file: fileName });
  const end = result.summary.extent?.endGfn ?? HUGE_PAGES;
  const regions = guessRegions(end);
  const notes = [
    `imported as ${kind}: ${formatImportSummary(result.summary).split("\n")[0]}`,
    `real traces carry no memory map; showing [0, ${formatBytes(regions[0]!.npages * 4096)})`,
  ];
  return { label: `${fileName} (${kind})`, header: { ...result.header, regions }, regions, events: result.events, eventCount: result.events.length, notes };
}
