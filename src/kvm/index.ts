/**
 * Public exports of the kvm layer (Node only, reached through `memattr/node`): one object per
 * descriptor kind, one method per ioctl. The kernel ABI it speaks (numbers, structs, kvm_run) is
 * the browser-safe uapi layer, re-exported here; the objects load koffi lazily on their first
 * syscall.
 */
export * from "../uapi/index.js";
export * from "./errors.js";
export { PAGE_SIZE } from "./_validate.js";
export { Mapping } from "./_mapping.js";
export { Kvm, type KvmCapabilityReport } from "./system.js";
export { dirtyPagesOf, Vm, type GuestRange, type UserMemoryRegion2 } from "./vm.js";
export { GuestMemfd } from "./gmem.js";
export { SharedMemfd, type FileRange } from "./memfd.js";
export { Vcpu } from "./vcpu.js";
