// Public exports of the policy layer (browser-safe).
export {};
