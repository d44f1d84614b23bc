// Run in a child process (a guest that never exits would block KVM_RUN for good): issue
// KVM_HC_MAP_GPA_RANGE from the given mode with the given instruction and print the exits as
// JSON lines. Usage: tsx _hypercall_child.ts real|prot32 vmcall|vmmcall
import { KVM_CAP, KVM_HC_MAP_GPA_RANGE } from "../../src/uapi/constants.js";
import { makeGuest, mapGpaRangeSetup, VMCALL, VMMCALL } from "./_guest.js";

const mode = process.argv[2] === "prot32" ? "prot32" : "real";
const insn = process.argv[3] === "vmcall" ? VMCALL : VMMCALL;
using g = makeGuest([...mapGpaRangeSetup(mode), ...insn, 0xe6, 0x10, 0xf4], mode, (vm) =>
  vm.enableCap(KVM_CAP.EXIT_HYPERCALL, [1n << BigInt(KVM_HC_MAP_GPA_RANGE)]),
);
for (let i = 0; i < 4; i++) {
  const e = g.cpu.run();
  process.stdout.write(`${JSON.stringify(e, (_k, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v instanceof Uint8Array ? [...v] : v))}\n`);
  if (e.reason === "hypercall") g.cpu.setHypercallReturn(0);
  if (e.reason !== "hypercall") break;
}
