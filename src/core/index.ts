// Public exports of the core layer (browser-safe).
export * from "./types.js";
export * from "./errors.js";
export { RangeMap, type RangeMapOptions } from "./range-map.js";
export { RangeMapBatch } from "./batch.js";
export { loadCoreModule, type WasmSource, type CoreExports } from "./load.js";
