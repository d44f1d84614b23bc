// Helpers for the model tests: range maps to run against, and one-line checks that a call is
// refused with a typed error and leaves the tracker's snapshot unchanged.
import { expect } from "vitest";
import type { RangeMapLike } from "../../src/core/types.js";
import { Tracker, type TrackerOptions } from "../../src/model/index.js";
import { ArrayMap } from "./array-map.js";
import { ReferenceMap } from "./reference-map.js";

/** A way to make a fresh range map. */
export interface MapFactory {
  name: string;
  make(): Promise<RangeMapLike>;
}

/** The maps every model test runs against: ReferenceMap, ArrayMap, and the Wasm RangeMap once it exists. */
export async function mapFactories(): Promise<MapFactory[]> {
  const out: MapFactory[] = [
    { name: "ReferenceMap", make: async () => new ReferenceMap() },
    { name: "ArrayMap", make: async () => new ArrayMap(1 << 20) },
  ];
  const wasm = await loadWasmRangeMap();
  if (wasm !== null) out.push({ name: "RangeMap (wasm)", make: wasm });
  return out;
}

/** The Wasm RangeMap factory, or null while src/core/range-map.ts does not exist yet or fails to load. */
export async function loadWasmRangeMap(): Promise<(() => Promise<RangeMapLike>) | null> {
  try {
    const path = "../../src/core/range-map.js";
    const mod = (await import(/* @vite-ignore */ path)) as { RangeMap?: { create(): Promise<RangeMapLike> } };
    if (mod.RangeMap === undefined) return null;
    await (await mod.RangeMap.create() as RangeMapLike & { dispose?: () => void }).dispose?.();
    return () => mod.RangeMap!.create();
  } catch {
    return null;
  }
}

/** Two regions with a hole: [0, 64) and [96, 128). */
export const SMALL_GUEST: TrackerOptions = { regions: [{ gfn: 0, npages: 64 }, { gfn: 96, npages: 32 }] };

/** A tracker over a fresh map from `factory`. */
export async function makeTracker(factory: MapFactory, options: TrackerOptions = SMALL_GUEST): Promise<Tracker> {
  return new Tracker(await factory.make(), options);
}

/**
 * Runs `fn`, expects it to throw an instance of `cls` with `code`, and expects the tracker's
 * snapshot to be unchanged. Returns the error for further checks.
 */
export function expectRefused<E extends Error>(
  t: Tracker,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => E,
  code: string,
): E {
  const before = t.snapshot();
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected a throw").toBeInstanceOf(cls);
  expect((caught as { code?: string }).code).toBe(code);
  expect(t.snapshot()).toBe(before);
  return caught as E;
}
