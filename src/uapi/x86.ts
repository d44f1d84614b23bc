/**
 * x86-64 register structs for KVM_GET/SET_REGS and KVM_GET/SET_SREGS (pure, browser-safe).
 * Source: arch/x86/include/uapi/asm/kvm.h. Little-endian; u64 fields are bigint.
 */

const LE = true;
function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/* struct kvm_regs, 144 bytes: 18 × u64 in this order. */
export const KVM_REGS_FIELDS = [
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rsp",
  "rbp",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
] as const;
export const KVM_REGS_SIZE = 144;
export type KvmRegs = Record<(typeof KVM_REGS_FIELDS)[number], bigint>;

export function encodeRegs(r: KvmRegs, out = new Uint8Array(KVM_REGS_SIZE)): Uint8Array {
  const dv = view(out);
  KVM_REGS_FIELDS.forEach((name, i) => dv.setBigUint64(8 * i, BigInt.asUintN(64, r[name]), LE));
  return out;
}
export function decodeRegs(bytes: Uint8Array): KvmRegs {
  const dv = view(bytes);
  const r = {} as KvmRegs;
  KVM_REGS_FIELDS.forEach((name, i) => (r[name] = dv.getBigUint64(8 * i, LE)));
  return r;
}

/* ---------------------------------------------------------------------------------------
 * struct kvm_segment, 24 bytes
 *  +0 u64 base  +8 u32 limit  +12 u16 selector  +14 u8 type  +15 present  +16 dpl
 *  +17 db  +18 s  +19 l  +20 g  +21 avl  +22 unusable  +23 padding
 * struct kvm_dtable, 16 bytes: +0 u64 base  +8 u16 limit  +10 u16 padding[3]
 * struct kvm_sregs, 312 bytes:
 *  +0 cs +24 ds +48 es +72 fs +96 gs +120 ss +144 tr +168 ldt   (kvm_segment)
 *  +192 gdt +208 idt (kvm_dtable)
 *  +224 cr0 +232 cr2 +240 cr3 +248 cr4 +256 cr8 +264 efer +272 apic_base
 *  +280 u64 interrupt_bitmap[4]
 * ------------------------------------------------------------------------------------- */
export const KVM_SEGMENT_SIZE = 24;
export const KVM_DTABLE_SIZE = 16;
export const KVM_SREGS_SIZE = 312;

export interface KvmSegment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}
export interface KvmDtable {
  base: bigint;
  limit: number;
}
export interface KvmSregs {
  cs: KvmSegment;
  ds: KvmSegment;
  es: KvmSegment;
  fs: KvmSegment;
  gs: KvmSegment;
  ss: KvmSegment;
  tr: KvmSegment;
  ldt: KvmSegment;
  gdt: KvmDtable;
  idt: KvmDtable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apicBase: bigint;
  interruptBitmap: [bigint, bigint, bigint, bigint];
}

const SEGMENTS = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"] as const;
const CONTROL = ["cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apicBase"] as const;
const SEG_BYTES = ["type", "present", "dpl", "db", "s", "l", "g", "avl", "unusable"] as const;

function encodeSegment(dv: DataView, at: number, s: KvmSegment): void {
  dv.setBigUint64(at, BigInt.asUintN(64, s.base), LE);
  dv.setUint32(at + 8, s.limit >>> 0, LE);
  dv.setUint16(at + 12, s.selector & 0xffff, LE);
  SEG_BYTES.forEach((name, i) => dv.setUint8(at + 14 + i, s[name] & 0xff));
  dv.setUint8(at + 23, 0);
}
function decodeSegment(dv: DataView, at: number): KvmSegment {
  const s = {
    base: dv.getBigUint64(at, LE),
    limit: dv.getUint32(at + 8, LE),
    selector: dv.getUint16(at + 12, LE),
  } as KvmSegment;
  SEG_BYTES.forEach((name, i) => (s[name] = dv.getUint8(at + 14 + i)));
  return s;
}

export function encodeSregs(s: KvmSregs, out = new Uint8Array(KVM_SREGS_SIZE)): Uint8Array {
  out.fill(0);
  const dv = view(out);
  SEGMENTS.forEach((name, i) => encodeSegment(dv, i * KVM_SEGMENT_SIZE, s[name]));
  for (const [name, at] of [
    ["gdt", 192],
    ["idt", 208],
  ] as const) {
    dv.setBigUint64(at, BigInt.asUintN(64, s[name].base), LE);
    dv.setUint16(at + 8, s[name].limit & 0xffff, LE);
  }
  CONTROL.forEach((name, i) => dv.setBigUint64(224 + 8 * i, BigInt.asUintN(64, s[name]), LE));
  s.interruptBitmap.forEach((w, i) => dv.setBigUint64(280 + 8 * i, BigInt.asUintN(64, w), LE));
  return out;
}
export function decodeSregs(bytes: Uint8Array): KvmSregs {
  const dv = view(bytes);
  const s = {} as KvmSregs;
  SEGMENTS.forEach((name, i) => (s[name] = decodeSegment(dv, i * KVM_SEGMENT_SIZE)));
  for (const [name, at] of [
    ["gdt", 192],
    ["idt", 208],
  ] as const) {
    s[name] = { base: dv.getBigUint64(at, LE), limit: dv.getUint16(at + 8, LE) };
  }
  CONTROL.forEach((name, i) => (s[name] = dv.getBigUint64(224 + 8 * i, LE)));
  s.interruptBitmap = [0, 1, 2, 3].map((i) => dv.getBigUint64(280 + 8 * i, LE)) as KvmSregs["interruptBitmap"];
  return s;
}
