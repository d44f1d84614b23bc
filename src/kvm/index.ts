// Public exports of the kvm layer (Node-only).
export {};
