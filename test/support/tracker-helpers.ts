// Helpers for the model tests: range maps to run against, and one-line checks that a call is
// refused with a typed error and leaves the tracker's snapshot unchanged.
import { expect } from "vitest";
import { RangeMap } from "../../src/core/range-map.js";
import { Tracker, type TrackerOptions } from "../../src/model/index.js";

/** A way to make a fresh range map. */
export interface MapFactory {
  name: string;
  make(): Promise<RangeMap>;
}

/**
 * The maps every model test runs against. The conversion state machine runs in the Wasm core,
 * so a tracker needs the Wasm RangeMap: if it fails to load, these tests fail (they never drop
 * it silently).
 */
export async function mapFactories(): Promise<MapFactory[]> {
  await (await RangeMap.create()).dispose();
  return [{ name: "RangeMap (wasm)", make: () => RangeMap.create() }];
}

/** The Wasm RangeMap factory; throws when the core cannot load. */
export async function loadWasmRangeMap(): Promise<() => Promise<RangeMap>> {
  await (await RangeMap.create()).dispose();
  return () => RangeMap.create();
}

/** Two regions with a hole: [0, 64) and [96, 128). */
export const SMALL_GUEST: TrackerOptions = {
  regions: [
    { gfn: 0, npages: 64 },
    { gfn: 96, npages: 32 },
  ],
};

/** A tracker over a fresh map from `factory`. */
export async function makeTracker(factory: MapFactory, options: TrackerOptions = SMALL_GUEST): Promise<Tracker> {
  return new Tracker(await factory.make(), options);
}

/**
 * Runs `fn`, expects it to throw an instance of `cls` with `code`, and expects the tracker's
 * snapshot to be unchanged. Returns the error for further checks.
 */
export function expectRefused<E extends Error>(t: Tracker, fn: () => unknown, cls: abstract new (...args: never[]) => E, code: string): E {
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
