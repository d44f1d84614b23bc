// The one interface every contender implements, so each suite can run them side by side.
//
// Short names: `gfn` = 4 KiB page number; ranges are half-open `[start, end)` in gfns;
// `value` = 0–255 per page (roaring keeps bit 0 only: private or not); `cmds` = a packed
// Float64Array of (start, end, value) triples; `pages` = guest size in 4 KiB pages, the
// guest being `[0, pages)`.
//
// Each adapter writes its own loops for the bulk methods (getMany, setMany, isUniformMany)
// rather than sharing a loop that calls `store.get`: a shared loop would see every
// contender's class at one call site, go megamorphic and slow every contender down.

/** What a store is asked to hold, for the memory estimate that decides whether to try. */
export interface Shape {
  pages: number;
  /** Maximal runs expected. */
  runs: number;
  /** Pages ever set (what a per-page table of entries stores). */
  touchedPages: number;
  /** Distinct values used. */
  values: number;
}

/** One contender's map over a guest of `pages` pages; every page starts at 0. */
export interface Store {
  get(gfn: number): number;
  set(start: number, end: number, value: number): void;
  isUniform(start: number, end: number, value: number): boolean;
  /** Calls `fn` for each maximal run of `[start, end)`, clipped to it, in order. */
  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void): void;
  /** Sum of the values of `gfns[from .. from + n)`. */
  getMany(gfns: Float64Array, from: number, n: number): number;
  /** Applies `n` set triples from `cmds`. */
  setMany(cmds: Float64Array, n: number): void;
  /** How many of the `n` isUniform triples in `cmds` hold. */
  isUniformMany(cmds: Float64Array, n: number): number;
  /** Runs of `[start, end)` visited (an iteration that does nothing else). */
  countRuns(start: number, end: number): number;
  /** Bytes held, when the contender knows them itself (Wasm memory, native memory); else the harness measures the JS heap. */
  ownBytes?(): number;
  dispose?(): void;
}

export interface Contender {
  name: string;
  /** Bits of the value the contender keeps: 8, or 1 for roaring (bit 0: private). */
  valueMask: number;
  /**
   * Why the contender cannot hold `shape`, decided from a documented estimate (never by trying
   * and crashing), or undefined when it can.
   */
  cannotHold(shape: Shape): string | undefined;
  create(pages: number): Promise<Store>;
}

/**
 * Bytes one contender may take in these benches: 2 GiB, half of Node's default heap limit on
 * this box (4 GiB), since a group keeps every contender's store alive at once.
 */
export const MEMORY_BUDGET_BYTES = 2 ** 31;

export function overBudget(estimatedBytes: number, what: string): string | undefined {
  if (estimatedBytes <= MEMORY_BUDGET_BYTES) return undefined;
  return `needs ≈${formatBytes(estimatedBytes)} (${what}) > ${formatBytes(MEMORY_BUDGET_BYTES)} budget`;
}

function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let u = 0;
  while (bytes >= 1024 && u < units.length - 1) {
    bytes /= 1024;
    u++;
  }
  return `${bytes >= 100 || u === 0 ? bytes.toFixed(0) : bytes.toFixed(1)} ${units[u]}`;
}
