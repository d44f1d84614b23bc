/**
 * struct kvm_run (the page a vCPU fd mmaps) and the exits memattr cares about (pure).
 * Source: include/uapi/linux/kvm.h, x86-64 layout:
 *
 * ```
 *  +0   u8  request_interrupt_window   +1 u8 immediate_exit   +2 u8 padding1[6]
 *  +8   u32 exit_reason                +12 u8 ready_for_interrupt_injection
 *  +13  u8  if_flag                    +14 u16 flags
 *  +16  u64 cr8                        +24 u64 apic_base
 *  +32  union (256 bytes), by exit_reason:
 *        io            +32 u8 direction +33 u8 size +34 u16 port +36 u32 count +40 u64 data_offset
 *        mmio          +32 u64 phys_addr +40 u8 data[8] +48 u32 len +52 u8 is_write
 *        hypercall     +32 u64 nr +40 u64 args[6] +88 u64 ret +96 u64 flags (u32 longmode)
 *        memory_fault  +32 u64 flags +40 u64 gpa +48 u64 size
 *        fail_entry    +32 u64 hardware_entry_failure_reason +40 u32 cpu
 *        internal      +32 u32 suberror +36 u32 ndata +40 u64 data[16]
 *        hw (unknown)  +32 u64 hardware_exit_reason
 *        ex            +32 u32 exception +36 u32 error_code
 *        system_event  +32 u32 type +36 u32 ndata +40 u64 data[16]
 *  +288 u64 kvm_valid_regs  +296 u64 kvm_dirty_regs  +304 sync regs (2048)
 * ```
 * I/O data lives at `data_offset` from the start of kvm_run (the next page on x86).
 */
import { KVM_EXIT, KVM_EXIT_HYPERCALL_LONG_MODE, KVM_EXIT_IO_OUT, KVM_MEMORY_EXIT_FLAG_PRIVATE } from "./constants.js";

export const KVM_RUN_OFFSETS = {
  requestInterruptWindow: 0,
  immediateExit: 1,
  exitReason: 8,
  readyForInterruptInjection: 12,
  ifFlag: 13,
  flags: 14,
  cr8: 16,
  apicBase: 24,
  exit: 32,
  kvmValidRegs: 288,
  kvmDirtyRegs: 296,
  syncRegs: 304,
} as const;
/** Bytes of struct kvm_run itself; the mapping (KVM_GET_VCPU_MMAP_SIZE) is larger. */
export const KVM_RUN_SIZE = 2352;
export const KVM_RUN_EXIT_UNION_SIZE = 256;
/** Absolute offsets in kvm_run of the fields user space writes back before the next KVM_RUN. */
export const HYPERCALL_RET_OFFSET = 88;
export const MMIO_DATA_OFFSET = 40;

export type VcpuExit =
  | { reason: "io"; exitReason: 2; direction: "in" | "out"; port: number; sizeBytes: number; count: number; dataOffset: number; data: Uint8Array }
  | { reason: "hlt"; exitReason: 5 }
  | { reason: "mmio"; exitReason: 6; physAddr: bigint; isWrite: boolean; lengthBytes: number; data: Uint8Array }
  | { reason: "hypercall"; exitReason: 3; nr: bigint; args: bigint[]; longMode: boolean; flags: bigint }
  | { reason: "memory_fault"; exitReason: 39; gpa: bigint; sizeBytes: bigint; flags: bigint; private: boolean }
  | { reason: "shutdown"; exitReason: 8 }
  | { reason: "fail_entry"; exitReason: 9; hardwareEntryFailureReason: bigint; cpu: number }
  | { reason: "internal_error"; exitReason: 17; suberror: number; data: bigint[] }
  | { reason: "unknown"; exitReason: 0; hardwareExitReason: bigint }
  | { reason: "exception"; exitReason: 1; exception: number; errorCode: number }
  | { reason: "intr"; exitReason: 10 }
  | { reason: "system_event"; exitReason: 24; type: number; data: bigint[] }
  | { reason: "other"; exitReason: number };

const LE = true;

/**
 * Decodes the exit recorded in a kvm_run mapping. Data is copied out, so the result stays
 * valid after the next KVM_RUN.
 * @param run - the whole vCPU mapping (kvm_run plus the I/O data page)
 */
export function decodeRunExit(run: Uint8Array): VcpuExit {
  const dv = new DataView(run.buffer, run.byteOffset, run.byteLength);
  const exitReason = dv.getUint32(KVM_RUN_OFFSETS.exitReason, LE);
  const at = KVM_RUN_OFFSETS.exit;
  const u64s = (from: number, n: number): bigint[] => Array.from({ length: n }, (_, i) => dv.getBigUint64(from + 8 * i, LE));
  switch (exitReason) {
    case KVM_EXIT.IO: {
      const sizeBytes = dv.getUint8(at + 1);
      const count = dv.getUint32(at + 4, LE);
      const dataOffset = Number(dv.getBigUint64(at + 8, LE));
      const len = sizeBytes * count;
      const data = dataOffset + len <= run.byteLength ? run.slice(dataOffset, dataOffset + len) : new Uint8Array(0);
      return {
        reason: "io",
        exitReason,
        direction: dv.getUint8(at) === KVM_EXIT_IO_OUT ? "out" : "in",
        port: dv.getUint16(at + 2, LE),
        sizeBytes,
        count,
        dataOffset,
        data,
      };
    }
    case KVM_EXIT.HLT:
      return { reason: "hlt", exitReason };
    case KVM_EXIT.MMIO: {
      const lengthBytes = dv.getUint32(at + 16, LE);
      return {
        reason: "mmio",
        exitReason,
        physAddr: dv.getBigUint64(at, LE),
        isWrite: dv.getUint8(at + 20) !== 0,
        lengthBytes,
        data: run.slice(at + 8, at + 8 + Math.min(lengthBytes, 8)),
      };
    }
    case KVM_EXIT.HYPERCALL: {
      const flags = dv.getBigUint64(at + 64, LE);
      return {
        reason: "hypercall",
        exitReason,
        nr: dv.getBigUint64(at, LE),
        args: u64s(at + 8, 6),
        flags,
        longMode: (flags & KVM_EXIT_HYPERCALL_LONG_MODE) !== 0n,
      };
    }
    case KVM_EXIT.MEMORY_FAULT: {
      const flags = dv.getBigUint64(at, LE);
      return {
        reason: "memory_fault",
        exitReason,
        flags,
        gpa: dv.getBigUint64(at + 8, LE),
        sizeBytes: dv.getBigUint64(at + 16, LE),
        private: (flags & BigInt(KVM_MEMORY_EXIT_FLAG_PRIVATE)) !== 0n,
      };
    }
    case KVM_EXIT.SHUTDOWN:
      return { reason: "shutdown", exitReason };
    case KVM_EXIT.FAIL_ENTRY:
      return { reason: "fail_entry", exitReason, hardwareEntryFailureReason: dv.getBigUint64(at, LE), cpu: dv.getUint32(at + 8, LE) };
    case KVM_EXIT.INTERNAL_ERROR: {
      const ndata = Math.min(dv.getUint32(at + 4, LE), 16);
      return { reason: "internal_error", exitReason, suberror: dv.getUint32(at, LE), data: u64s(at + 8, ndata) };
    }
    case KVM_EXIT.UNKNOWN:
      return { reason: "unknown", exitReason, hardwareExitReason: dv.getBigUint64(at, LE) };
    case KVM_EXIT.EXCEPTION:
      return { reason: "exception", exitReason, exception: dv.getUint32(at, LE), errorCode: dv.getUint32(at + 4, LE) };
    case KVM_EXIT.INTR:
      return { reason: "intr", exitReason };
    case KVM_EXIT.SYSTEM_EVENT: {
      const ndata = Math.min(dv.getUint32(at + 4, LE), 16);
      return { reason: "system_event", exitReason, type: dv.getUint32(at, LE), data: u64s(at + 8, ndata) };
    }
    default:
      return { reason: "other", exitReason };
  }
}
