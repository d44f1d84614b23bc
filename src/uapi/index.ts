// Public exports of the uapi layer (pure, browser-safe): the kernel's KVM ABI as data — ioctl
// numbers and their encoding, capability numbers, struct layouts, the kvm_run page, the x86
// register structs, and the paravirtual conversion hypercall. The model decodes guest requests
// with it; the Node-only kvm layer issues the ioctls.
export * from "./constants.js";
export { _IO, _IOC, _IOR, _IOW, _IOWR, decodeIoctl } from "./ioctl.js";
export * from "./structs.js";
export * from "./run.js";
export * from "./x86.js";
export type { U64 } from "./types.js";
