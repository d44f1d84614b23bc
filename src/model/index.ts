// Public exports of the model layer (browser-safe).
export {};
