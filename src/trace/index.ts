// Public exports of the trace layer (browser-safe).
export {};
