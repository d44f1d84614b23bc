/**
 * Public exports of the vmm layer (Node only, reached through `memattr/node` and
 * `memattr/node/vmm`): a minimal VMM on the KVM binding that boots a tiny long-mode guest on a
 * guest_memfd memslot and lets memattr (tracker + policy + real backings) serve its
 * conversion requests. See layout.ts for the memory layout and the doorbell protocol.
 */
export { Assembler, CC, R, type AluOp, type Cond, type Reg } from "./guest/asm.js";
export {
  buildDmaGuest,
  buildHostileGuest,
  type DmaGuestOptions,
  type HostileGuestOptions,
  type HostileRequest,
  type RequestPath,
} from "./guest/program.js";
export {
  ACCEPT_CHUNK_PAGES,
  BOOT_PAGES,
  BOUNCE_GPA,
  BOUNCE_PAGES,
  CODE_GPA,
  DATA_GPA,
  DATA_PAGES,
  DOORBELL_PORT,
  guestLayout,
  type GuestLayout as VmmGuestLayout,
  MAILBOX_GPA,
  MB as MAILBOX_OFFSETS,
  OP as DOORBELL_OPS,
  payloadWord,
  SECRET_TAG,
  secretWord,
  SHARED_BIT,
  STATUS as DOORBELL_STATUS,
} from "./layout.js";
export { bootTables, Machine, type MachineOptions } from "./machine.js";
export { runVmm, type RequestRecord, type VmmOptions, type VmmReport } from "./vmm.js";
export {
  type ChildJob,
  type ChildResult,
  type HypercallProbe,
  nativeHypercallPath,
  probeHypercall,
  runVmmInChild,
  serializeRequests,
} from "./child.js";
