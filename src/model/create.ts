/**
 * `createTracker`: a tracker over a fresh Wasm `RangeMap` — the everyday entry point.
 */
import { RangeMap, type RangeMapOptions } from "../core/range-map.js";
import { Tracker, type TrackerOptions } from "./tracker.js";

/** Options of `createTracker`: the tracker's, plus how to make the Wasm map. */
export interface CreateTrackerOptions extends TrackerOptions {
  /** Passed to `RangeMap.create` (custom `.wasm` source, memory cap). */
  rangeMap?: RangeMapOptions;
}

/**
 * Creates a tracker for a guest memory map over a new Wasm `RangeMap` (one Wasm instance per
 * tracker; `dispose()` frees it).
 * @param options - the guest memory map (`regions`, in pages), the initial attribute, map options.
 * @returns the tracker, every guest page in the initial attribute, both backings empty.
 * @throws MemattrUnsupportedError when WebAssembly is missing or the `.wasm` cannot be loaded.
 * @throws MemattrTypeError / MemattrRangeError for a malformed or overlapping memory map.
 * @example
 * ```ts
 * import { createTracker, ramRegions } from "memattr";
 * const t = await createTracker({ regions: ramRegions(4 * 2 ** 30) }); // 3 GiB low + 1 GiB high
 * t.requestConversion({ gfn: 0x100, npages: 16, to: "private" }).commit();
 * console.log(t.totals().private); // 16
 * t.dispose();
 * ```
 */
export async function createTracker(options: CreateTrackerOptions): Promise<Tracker> {
  const map = await RangeMap.create(options?.rangeMap);
  try {
    return new Tracker(map, options);
  } catch (err) {
    map.dispose();
    throw err;
  }
}
