// Public exports of the replay layer (browser-safe).
export {};
