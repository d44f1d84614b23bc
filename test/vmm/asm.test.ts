// The guest assembler: every instruction it emits, byte for byte against GNU as 2.40
// (`as --64`, Intel syntax; the source line is in each case's name).
import { describe, expect, it } from "vitest";
import { Assembler, R } from "../../src/vmm/guest/asm.js";

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
function enc(fn: (a: Assembler) => unknown, origin = 0): string {
  const a = new Assembler(origin);
  fn(a);
  return hex(a.finish());
}

describe("Assembler encodings (checked against GNU as)", () => {
  const cases: [string, (a: Assembler) => unknown, string][] = [
    ["movabs rax, 0x1122334455667788", (a) => a.movImm(R.rax, 0x1122334455667788n), "48 b8 88 77 66 55 44 33 22 11"],
    ["movabs r15, 0xfffffffffffffff0", (a) => a.movImm(R.r15, -16n), "49 bf f0 ff ff ff ff ff ff ff"],
    ["mov ebx, 0x12345678", (a) => a.movImm32(R.rbx, 0x12345678), "bb 78 56 34 12"],
    ["mov r9d, 0x1000", (a) => a.movImm32(R.r9, 0x1000), "41 b9 00 10 00 00"],
    ["mov rbx, r12", (a) => a.movReg(R.rbx, R.r12), "4c 89 e3"],
    ["mov r8, rax", (a) => a.movReg(R.r8, R.rax), "49 89 c0"],
    ["mov [r15+8], rbx", (a) => a.store(R.r15, 8, R.rbx), "49 89 5f 08"],
    ["mov [rsp+0x10], rax", (a) => a.store(R.rsp, 0x10, R.rax), "48 89 44 24 10"],
    ["mov [r12+0x20], r9", (a) => a.store(R.r12, 0x20, R.r9), "4d 89 4c 24 20"],
    ["mov [rbp-8], rdx", (a) => a.store(R.rbp, -8, R.rdx), "48 89 55 f8"],
    ["mov [r15], rax", (a) => a.store(R.r15, 0, R.rax), "49 89 07"],
    ["mov [rbp+0], rax", (a) => a.store(R.rbp, 0, R.rax), "48 89 45 00"],
    ["mov rax, [r15+32]", (a) => a.load(R.rax, R.r15, 32), "49 8b 47 20"],
    ["mov r10, [rdi+0x1000]", (a) => a.load(R.r10, R.rdi, 0x1000), "4c 8b 97 00 10 00 00"],
    ["mov rax, [r13+0]", (a) => a.load(R.rax, R.r13, 0), "49 8b 45 00"],
    ["add rbx, r8", (a) => a.aluReg("add", R.rbx, R.r8), "4c 01 c3"],
    ["cmp r12, r13", (a) => a.aluReg("cmp", R.r12, R.r13), "4d 39 ec"],
    ["xor rax, rax", (a) => a.aluReg("xor", R.rax, R.rax), "48 31 c0"],
    ["add rbx, 0x10000", (a) => a.aluImm("add", R.rbx, 0x10000), "48 81 c3 00 00 01 00"],
    ["and rcx, 7", (a) => a.aluImm("and", R.rcx, 7), "48 83 e1 07"],
    ["sub rsp, 0x100", (a) => a.aluImm("sub", R.rsp, 0x100), "48 81 ec 00 01 00 00"],
    ["cmp r12, -1", (a) => a.aluImm("cmp", R.r12, -1), "49 83 fc ff"],
    ["or r11, 0x40", (a) => a.aluImm("or", R.r11, 0x40), "49 83 cb 40"],
    ["shl rbx, 13", (a) => a.shl(R.rbx, 13), "48 c1 e3 0d"],
    ["shr r9, 3", (a) => a.shr(R.r9, 3), "49 c1 e9 03"],
    ["inc r12", (a) => a.inc(R.r12), "49 ff c4"],
    ["dec rcx", (a) => a.dec(R.rcx), "48 ff c9"],
    ["out 0xe0, al", (a) => a.outImm8(0xe0), "e6 e0"],
    ["mov al, 2", (a) => a.movAl(2), "b0 02"],
    ["rep stosq", (a) => a.repStosq(), "f3 48 ab"],
    ["cld", (a) => a.cld(), "fc"],
    ["hlt", (a) => a.hlt(), "f4"],
    ["vmcall", (a) => a.vmcall(), "0f 01 c1"],
    ["vmmcall", (a) => a.vmmcall(), "0f 01 d9"],
  ];
  for (const [src, fn, bytes] of cases) it(`encodes ${src}`, () => expect(enc(fn)).toBe(bytes));

  it("resolves forward and backward rel32 branches like `jmp.d32` / `jne.d32`", () => {
    const code = enc((a) =>
      a
        .label("top")
        .jmp("fwd")
        .jcc("ne", "top")
        .jcc("b", "fwd")
        .store(R.r15, 0, R.rax)
        .store(R.rbp, 0, R.rax)
        .load(R.rax, R.r13, 0)
        .aluReg("xor", R.rax, R.rax)
        .label("fwd")
        .hlt(),
    );
    expect(code).toBe("e9 1a 00 00 00 0f 85 f5 ff ff ff 0f 82 0e 00 00 00 49 89 07 48 89 45 00 49 8b 45 00 48 31 c0 f4");
  });

  it("resolves labels to absolute addresses from the origin (branches stay relative)", () => {
    const a = new Assembler(0x8000);
    a.hlt().label("x");
    expect(a.here).toBe(0x8001);
    expect(enc((b) => b.jmp("x").label("x"), 0x8000)).toBe("e9 00 00 00 00");
  });

  it("refuses an undefined label, a duplicate label and out-of-range operands", () => {
    expect(() => new Assembler().jmp("nowhere").finish()).toThrow(/undefined label 'nowhere'/);
    expect(() => new Assembler().label("a").label("a")).toThrow(/defined twice/);
    expect(() => new Assembler().outImm8(256)).toThrow(RangeError);
    expect(() => new Assembler().movImm32(R.rax, -1)).toThrow(RangeError);
    expect(() => new Assembler().movImm(R.rax, 1n << 64n)).toThrow(RangeError);
    expect(() => new Assembler().shl(R.rax, 64)).toThrow(RangeError);
    expect(() => new Assembler().store(16 as never, 0, R.rax)).toThrow(RangeError);
  });
});
