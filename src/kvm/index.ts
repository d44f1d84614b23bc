/**
 * Public exports of the kvm layer (Node only, reached through `memattr/node`).
 * The pure parts (constants, structs, run, x86, _ioctl, errors) import no native code; the
 * objects load koffi lazily on their first syscall.
 */
export * from "./constants.js";
export * from "./errors.js";
export { _IO, _IOC, _IOR, _IOW, _IOWR, decodeIoctl } from "./_ioctl.js";
export { PAGE_SIZE, type U64 } from "./_validate.js";
export * from "./structs.js";
export * from "./run.js";
export * from "./x86.js";
export { Mapping } from "./_mapping.js";
export { Kvm, type KvmCapabilityReport } from "./system.js";
export { Vm, type GuestRange, type UserMemoryRegion2 } from "./vm.js";
export { GuestMemfd } from "./gmem.js";
export { SharedMemfd, type FileRange } from "./memfd.js";
export { Vcpu } from "./vcpu.js";
