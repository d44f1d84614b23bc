// Public exports of the core layer (browser-safe).
export * from "./types.js";
export * from "./errors.js";
