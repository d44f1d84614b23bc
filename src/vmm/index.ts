// Public exports of the vmm layer (Node-only).
export {};
