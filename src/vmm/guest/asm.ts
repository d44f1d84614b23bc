/**
 * A tiny x86-64 assembler: exactly the instructions the test guest uses, each encoding
 * checked byte for byte in test/vmm/asm.test.ts (against GNU as output).
 *
 * Why our own: `npm test` then needs nothing from apt, and the guest is rebuilt from source
 * on every run, bit-identical for the same parameters (see program.ts).
 *
 * Short names: `r64` a 64-bit general register; `disp` a signed 32-bit displacement (encoded
 * in 0, 1 or 4 bytes, as GNU as does);
 * `imm` an immediate; `rel32` a branch offset from the end of the instruction.
 * Encoding notes (Intel SDM vol. 2, ch. 2): REX = 0100WRXB; ModRM = mod(2) reg(3) rm(3);
 * rm = 100 (rsp, r12) needs a SIB byte (0x24: no index, base = rsp/r12).
 */

/** The 16 general registers, numbered as the encoding numbers them. */
export const R = {
  rax: 0,
  rcx: 1,
  rdx: 2,
  rbx: 3,
  rsp: 4,
  rbp: 5,
  rsi: 6,
  rdi: 7,
  r8: 8,
  r9: 9,
  r10: 10,
  r11: 11,
  r12: 12,
  r13: 13,
  r14: 14,
  r15: 15,
} as const;
export type Reg = (typeof R)[keyof typeof R];

/** Condition codes of Jcc (the low nibble of 0F 8x). */
export const CC = { o: 0x0, b: 0x2, ae: 0x3, e: 0x4, ne: 0x5, be: 0x6, a: 0x7, s: 0x8, l: 0xc, ge: 0xd, le: 0xe, g: 0xf } as const;
export type Cond = keyof typeof CC;

/** Group-1 ALU operations with an imm32 (81 /digit) and their r/m,r opcodes. */
const ALU = { add: [0, 0x01], or: [1, 0x09], and: [4, 0x21], sub: [5, 0x29], xor: [6, 0x31], cmp: [7, 0x39] } as const;
export type AluOp = keyof typeof ALU;

function checkReg(r: number, what: string): void {
  if (!Number.isInteger(r) || r < 0 || r > 15) throw new RangeError(`${what}: not a register number: ${r}`);
}
function checkInt(v: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${what}: ${v} is outside [${min}, ${max}]`);
}

/**
 * Emits machine code into a growing buffer, with forward and backward labels.
 * @example
 * ```ts
 * import { Assembler, R } from "memattr/node/vmm";
 * const a = new Assembler(0x8000);
 * a.movImm(R.rax, 0x42n).outImm8(0x10).hlt();
 * a.finish(); // Uint8Array [0x48, 0xb8, 0x42, 0, 0, 0, 0, 0, 0, 0, 0xe6, 0x10, 0xf4]
 * ```
 */
export class Assembler {
  #bytes: number[] = [];
  readonly #labels = new Map<string, number>();
  readonly #fixups: { at: number; label: string }[] = [];

  /** @param origin - guest address of the first byte (labels resolve to absolute addresses). */
  constructor(readonly origin = 0) {}

  /** Bytes emitted so far. */
  get lengthBytes(): number {
    return this.#bytes.length;
  }

  /** Guest address of the next byte. */
  get here(): number {
    return this.origin + this.#bytes.length;
  }

  /** Raw bytes, for data or an instruction without a helper. */
  bytes(...b: number[]): this {
    for (const x of b) checkInt(x, 0, 255, "byte");
    this.#bytes.push(...b);
    return this;
  }

  #u32(v: number): void {
    const u = v >>> 0;
    this.#bytes.push(u & 0xff, (u >>> 8) & 0xff, (u >>> 16) & 0xff, u >>> 24);
  }

  #rex(w: boolean, reg: number, rm: number, always = false): void {
    const rex = 0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | (rm >> 3);
    if (rex !== 0x40 || always) this.#bytes.push(rex);
  }

  /**
   * ModRM (+SIB) for [base + disp], shortest form as GNU as picks it: mod 00 for disp 0
   * (not rbp/r13, whose mod 00 means rip-relative/disp32), mod 01 for a disp8, else mod 10.
   */
  #modrmMem(reg: number, base: number, disp: number): void {
    checkInt(disp, -(2 ** 31), 2 ** 31 - 1, "disp");
    const mod = disp === 0 && (base & 7) !== 5 ? 0x00 : disp >= -128 && disp <= 127 ? 0x40 : 0x80;
    this.#bytes.push(mod | ((reg & 7) << 3) | (base & 7));
    if ((base & 7) === 4) this.#bytes.push(0x24); // SIB: base rsp/r12, no index
    if (mod === 0x40) this.#bytes.push(disp & 0xff);
    else if (mod === 0x80) this.#u32(disp);
  }
  #modrmReg(reg: number, rm: number): void {
    this.#bytes.push(0xc0 | ((reg & 7) << 3) | (rm & 7));
  }

  /** Defines `name` at the current address. */
  label(name: string): this {
    if (this.#labels.has(name)) throw new Error(`label '${name}' defined twice`);
    this.#labels.set(name, this.here);
    return this;
  }

  /** mov r64, imm64 (REX.W B8+r io): any 64-bit constant. */
  movImm(dst: Reg, imm: bigint): this {
    checkReg(dst, "movImm");
    if (imm < -(1n << 63n) || imm >= 1n << 64n) throw new RangeError(`movImm: ${imm} does not fit 64 bits`);
    const u = BigInt.asUintN(64, imm);
    this.#rex(true, 0, dst);
    this.#bytes.push(0xb8 + (dst & 7));
    for (let i = 0n; i < 8n; i++) this.#bytes.push(Number((u >> (8n * i)) & 0xffn));
    return this;
  }

  /** mov r32, imm32 (B8+r id): zero-extends into the 64-bit register. */
  movImm32(dst: Reg, imm: number): this {
    checkReg(dst, "movImm32");
    checkInt(imm, 0, 2 ** 32 - 1, "movImm32");
    this.#rex(false, 0, dst);
    this.#bytes.push(0xb8 + (dst & 7));
    this.#u32(imm);
    return this;
  }

  /** mov r64, r64 (REX.W 89 /r). */
  movReg(dst: Reg, src: Reg): this {
    return this.#alu2(0x89, dst, src);
  }

  /** mov [base + disp], r64 (REX.W 89 /r). */
  store(base: Reg, disp: number, src: Reg): this {
    checkReg(base, "store");
    checkReg(src, "store");
    this.#rex(true, src, base);
    this.#bytes.push(0x89);
    this.#modrmMem(src, base, disp);
    return this;
  }

  /** mov r64, [base + disp] (REX.W 8B /r). */
  load(dst: Reg, base: Reg, disp: number): this {
    checkReg(base, "load");
    checkReg(dst, "load");
    this.#rex(true, dst, base);
    this.#bytes.push(0x8b);
    this.#modrmMem(dst, base, disp);
    return this;
  }

  #alu2(op: number, dst: number, src: number): this {
    checkReg(dst, "dst");
    checkReg(src, "src");
    this.#rex(true, src, dst);
    this.#bytes.push(op);
    this.#modrmReg(src, dst);
    return this;
  }

  /** add/or/and/sub/xor/cmp r64, r64 (REX.W op /r). */
  aluReg(op: AluOp, dst: Reg, src: Reg): this {
    return this.#alu2(ALU[op][1], dst, src);
  }

  /** add/or/and/sub/xor/cmp r64, imm32 sign-extended (REX.W 81 /digit id, or 83 /digit ib when it fits 8 bits). */
  aluImm(op: AluOp, dst: Reg, imm: number): this {
    checkReg(dst, "aluImm");
    checkInt(imm, -(2 ** 31), 2 ** 31 - 1, "aluImm");
    const short = imm >= -128 && imm <= 127;
    this.#rex(true, 0, dst);
    this.#bytes.push(short ? 0x83 : 0x81);
    this.#modrmReg(ALU[op][0], dst);
    if (short) this.#bytes.push(imm & 0xff);
    else this.#u32(imm);
    return this;
  }

  /** shl r64, imm8 (REX.W C1 /4 ib). */
  shl(dst: Reg, count: number): this {
    return this.#shift(4, dst, count);
  }
  /** shr r64, imm8 (REX.W C1 /5 ib). */
  shr(dst: Reg, count: number): this {
    return this.#shift(5, dst, count);
  }
  #shift(digit: number, dst: number, count: number): this {
    checkReg(dst, "shift");
    checkInt(count, 0, 63, "shift count");
    this.#rex(true, 0, dst);
    this.#bytes.push(0xc1);
    this.#modrmReg(digit, dst);
    this.#bytes.push(count);
    return this;
  }

  /** inc r64 (REX.W FF /0). */
  inc(dst: Reg): this {
    checkReg(dst, "inc");
    this.#rex(true, 0, dst);
    this.#bytes.push(0xff);
    this.#modrmReg(0, dst);
    return this;
  }

  /** dec r64 (REX.W FF /1). */
  dec(dst: Reg): this {
    checkReg(dst, "dec");
    this.#rex(true, 0, dst);
    this.#bytes.push(0xff);
    this.#modrmReg(1, dst);
    return this;
  }

  /** jmp rel32 (E9 cd) to a label. */
  jmp(label: string): this {
    this.#bytes.push(0xe9);
    return this.#rel32(label);
  }

  /** jcc rel32 (0F 80+cc cd) to a label. */
  jcc(cond: Cond, label: string): this {
    this.#bytes.push(0x0f, 0x80 + CC[cond]);
    return this.#rel32(label);
  }

  #rel32(label: string): this {
    this.#fixups.push({ at: this.#bytes.length, label });
    this.#u32(0);
    return this;
  }

  /** out imm8, al (E6 ib). */
  outImm8(port: number): this {
    checkInt(port, 0, 255, "port");
    this.#bytes.push(0xe6, port);
    return this;
  }

  /** mov al, imm8 (B0 ib). */
  movAl(imm: number): this {
    checkInt(imm, 0, 255, "imm8");
    this.#bytes.push(0xb0, imm);
    return this;
  }

  /** rep stosq (F3 REX.W AB): stores rax at [rdi], rcx times, rdi += 8 each (DF clear). */
  repStosq(): this {
    this.#bytes.push(0xf3, 0x48, 0xab);
    return this;
  }

  /** cld (FC). */
  cld(): this {
    this.#bytes.push(0xfc);
    return this;
  }

  /** hlt (F4). */
  hlt(): this {
    this.#bytes.push(0xf4);
    return this;
  }

  /** vmcall (0F 01 C1): Intel's hypercall instruction. */
  vmcall(): this {
    this.#bytes.push(0x0f, 0x01, 0xc1);
    return this;
  }

  /** vmmcall (0F 01 D9): AMD's hypercall instruction. */
  vmmcall(): this {
    this.#bytes.push(0x0f, 0x01, 0xd9);
    return this;
  }

  /**
   * Resolves every label reference and returns the code.
   * @throws Error naming an undefined label or a branch out of rel32 range.
   */
  finish(): Uint8Array {
    const out = Uint8Array.from(this.#bytes);
    const dv = new DataView(out.buffer);
    for (const { at, label } of this.#fixups) {
      const target = this.#labels.get(label);
      if (target === undefined) throw new Error(`undefined label '${label}'`);
      const rel = target - (this.origin + at + 4);
      checkInt(rel, -(2 ** 31), 2 ** 31 - 1, `branch to '${label}'`);
      dv.setInt32(at, rel, true);
    }
    return out;
  }
}
