/**
 * memattr — browser-safe entry: the Wasm range map, the conversion model, discard policies,
 * traces, the backing contract with a simulated backing, and replay. Node-only parts (KVM binding, real backings, the mini-VMM) are in
 * `memattr/node`.
 */
export * from "./core/index.js";
export * from "./model/index.js";
export * from "./policy/index.js";
export * from "./trace/index.js";
export * from "./backing/index.js";
export * from "./replay/index.js";
