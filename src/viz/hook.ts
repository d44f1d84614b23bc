/**
 * The read-only test hook the page installs as `window.memattrViz`: what the browser test
 * reads to compare the page with a Node replay, and `pageToPixel` to find a page on the canvas.
 * Nothing in it changes the page; tests drive the page through its controls.
 */
import type { ComparisonRow } from "./compare.js";
import type { MapWindow } from "./map-view.js";

/** The counters panel, in pages (and bytes for the map's memory). */
export interface VizCounters {
  guestPages: number;
  shared: number;
  private: number;
  pendingPrivate: number;
  pendingShared: number;
  doubleAllocatedPages: number;
  sharedPopulated: number;
  privatePopulated: number;
  /** Maximal runs in the tracker's range map. */
  runs: number;
  /** Bytes of Wasm memory the map holds. */
  mapBytes: number;
  /** Events the model refused (hostile requests, conflicts). */
  refused: number;
}

/** `window.memattrViz`. */
export interface VizHook {
  /** The core is loaded, a trace is loaded, and nothing is loading or seeking. */
  readonly ready: boolean;
  readonly busy: boolean;
  readonly playing: boolean;
  /** Events applied to the map's tracker. */
  readonly eventIndex: number;
  readonly eventCount: number;
  readonly traceLabel: string;
  /** The policy the map's replay uses. */
  readonly policy: string;
  readonly counters: VizCounters | null;
  /** The comparison table's rows (empty until every policy has been replayed). */
  readonly table: ComparisonRow[];
  /** The map's window: first page, pages per cell, cell size in CSS px, columns, rows. */
  readonly view: MapWindow;
  /** The last draw: runs visited and milliseconds spent (bucketing and painting). */
  readonly render: { runsVisited: number; drawMs: number };
  /** Long work in progress — reading a file, replaying every policy — as `done` of `total` (bytes or events), or null. */
  readonly progress: { phase: string; done: number; total: number } | null;
  /** Wall time of the last finished comparison of every policy, ms (null before one finished). */
  readonly compareMs: number | null;
  /** The error the page shows, if any. */
  readonly error: string | null;
  /** Centre of the cell showing `gfn`, in CSS pixels from the canvas's top-left, or null when out of view (redraws first). */
  pageToPixel(gfn: number): { x: number; y: number } | null;
}

declare global {
  interface Window {
    memattrViz?: VizHook;
  }
}
