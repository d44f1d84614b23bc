// Public exports of the model layer (browser-safe): page states, conversion transactions
// (request → pending → commit | abort), the launch gate, and guest-request decoding.
export * from "./states.js";
export * from "./errors.js";
export * from "./regions.js";
export * from "./events.js";
export * from "./hypercall.js";
export { PendingConversion, type ConversionStatus } from "./conversion.js";
export * from "./tracker.js";
export * from "./create.js";
