/**
 * memattr/node — everything in `memattr` plus the Node-only layers: the KVM binding
 * (through koffi), real memfd / guest_memfd backings, and the minimal VMM.
 */
export * from "./index.js";
export * from "./kvm/index.js";
export * from "./backing/real/index.js";
export * from "./vmm/index.js";
