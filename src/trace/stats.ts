/**
 * Counts over a trace's events, for `memattr trace stats` and the visualiser's summary.
 * Short names: `gfn`/`npages`/`id` as in format.ts.
 */
import type { TraceEvent, TraceEventType } from "./format.js";
import { MAP_GPA_RANGE_ENCRYPTED, PAGE_BYTES, TRACE_EVENT_TYPES } from "./format.js";

/** What {@link traceStats} counts. Page counts add up every event's `npages` (a page converted twice counts twice). */
export interface TraceStats {
  /** Events by type. */
  events: Record<TraceEventType, number>;
  /** All events. */
  totalEvents: number;
  /** Requests (and raw hypercalls) by direction, and the pages they name. */
  toPrivate: { requests: number; pages: number };
  toShared: { requests: number; pages: number };
  /** Requests asking to keep contents (in-place encryption). */
  preserveRequests: number;
  /** Touches by side, and their pages. */
  touches: { shared: { count: number; pages: number }; private: { count: number; pages: number } };
  /** Request sizes: how many named 1 page, 2–7 pages (under 32 KiB), 8–511, 512 or more. */
  requestSizes: { "1": number; "2-7": number; "8-511": number; "512+": number };
  /** Lowest gfn and one past the highest named by a request, hypercall or touch. */
  extent: { firstGfn: number; endGfn: number } | null;
  /** Transaction ids still pending at the end. */
  pendingAtEnd: number;
  /** Recorded refused hypercalls (`refused` events), by reason. */
  refusedByReason: Record<string, number>;
  /** First and last timestamp seen, in microseconds. */
  timeUs: { first: number; last: number } | null;
}

/**
 * Counts events one at a time, for sources read asynchronously (a file, a stream).
 * @example
 * ```ts
 * import { TraceStatsCounter } from "memattr";
 * const counter = new TraceStatsCounter();
 * counter.add({ type: "launch" });
 * console.log(counter.result().events.launch); // 1
 * ```
 */
export class TraceStatsCounter {
  private readonly s: TraceStats;
  private readonly pending = new Set<number>();

  constructor() {
    this.s = {
      events: Object.fromEntries(TRACE_EVENT_TYPES.map((t) => [t, 0])) as Record<TraceEventType, number>,
      totalEvents: 0,
      toPrivate: { requests: 0, pages: 0 },
      toShared: { requests: 0, pages: 0 },
      preserveRequests: 0,
      touches: { shared: { count: 0, pages: 0 }, private: { count: 0, pages: 0 } },
      requestSizes: { "1": 0, "2-7": 0, "8-511": 0, "512+": 0 },
      extent: null,
      pendingAtEnd: 0,
      refusedByReason: {},
      timeUs: null,
    };
  }

  /** Counts one event. */
  add(ev: TraceEvent): void {
    const s = this.s;
    s.events[ev.type]++;
    s.totalEvents++;
    if (ev.timeUs !== undefined) {
      if (!s.timeUs) s.timeUs = { first: ev.timeUs, last: ev.timeUs };
      else s.timeUs.last = ev.timeUs;
    }
    switch (ev.type) {
      case "request":
        this.conversion(ev.to, ev.npages);
        if (ev.preserve) s.preserveRequests++;
        this.pending.add(ev.id);
        this.extend(ev.gfn, ev.npages);
        break;
      case "hypercall":
        this.conversion(ev.attrs & MAP_GPA_RANGE_ENCRYPTED ? "private" : "shared", ev.npages);
        this.pending.add(ev.id);
        this.extend(Math.floor(ev.gpa / PAGE_BYTES), ev.npages);
        break;
      case "commit":
      case "abort":
        this.pending.delete(ev.id);
        break;
      case "refused":
        s.refusedByReason[ev.reason] = (s.refusedByReason[ev.reason] ?? 0) + 1;
        break;
      case "touch":
        s.touches[ev.side].count++;
        s.touches[ev.side].pages += ev.npages;
        this.extend(ev.gfn, ev.npages);
        break;
    }
  }

  /** The counts so far (a snapshot). */
  result(): TraceStats {
    return structuredClone({ ...this.s, pendingAtEnd: this.pending.size });
  }

  private extend(gfn: number, npages: number): void {
    const s = this.s;
    if (!s.extent) s.extent = { firstGfn: gfn, endGfn: gfn + npages };
    else {
      s.extent.firstGfn = Math.min(s.extent.firstGfn, gfn);
      s.extent.endGfn = Math.max(s.extent.endGfn, gfn + npages);
    }
  }

  private conversion(to: "private" | "shared", npages: number): void {
    const d = to === "private" ? this.s.toPrivate : this.s.toShared;
    d.requests++;
    d.pages += npages;
    this.s.requestSizes[npages === 1 ? "1" : npages < 8 ? "2-7" : npages < 512 ? "8-511" : "512+"]++;
  }
}

/**
 * Counts events by type, conversions by direction and size, touches by side.
 * @param events any iterable of events (read once).
 * @example
 * ```ts
 * import { generateTrace, traceStats } from "memattr";
 * const s = traceStats(generateTrace("ovmf-dma", { transactions: 100 }).events);
 * console.log(s.toShared.requests); // 100
 * ```
 */
export function traceStats(events: Iterable<TraceEvent>): TraceStats {
  const counter = new TraceStatsCounter();
  for (const ev of events) counter.add(ev);
  return counter.result();
}
