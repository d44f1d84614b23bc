// Public exports of the backing layer (Node-only).
export {};
