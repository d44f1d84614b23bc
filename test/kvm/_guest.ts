// Tiny x86 guests for the vCPU tests: a real-mode VM on a guest_memfd(MMAP|INIT_SHARED)
// memslot whose IVT sends every exception to `out <vector>, al; hlt`, so a faulting guest
// exits with an io exit on port = vector instead of looping.
import { GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP } from "../../src/uapi/constants.js";
import type { GuestMemfd } from "../../src/kvm/gmem.js";
import { Kvm } from "../../src/kvm/system.js";
import type { Vcpu } from "../../src/kvm/vcpu.js";
import type { Vm } from "../../src/kvm/vm.js";

export const GUEST_BYTES = 0x10000;
export const CODE_GPA = 0x1000;
const HANDLERS_GPA = 0x600; // 256 handlers × 3 bytes

export interface Guest extends Disposable {
  kvm: Kvm;
  vm: Vm;
  gmem: GuestMemfd;
  cpu: Vcpu;
}

/** Boots `code` at CODE_GPA in real mode (or flat 32-bit protected mode). */
export function makeGuest(code: number[], mode: "real" | "prot32" = "real", prepare?: (vm: Vm) => void): Guest {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  prepare?.(vm);
  const gmem = vm.createGuestMemfd(GUEST_BYTES, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  vm.setUserMemoryRegion2({ slot: 0, guestPhysAddr: 0, memorySizeBytes: GUEST_BYTES, userspaceAddr: gmem.address, guestMemfd: gmem });
  const ivt = new Uint8Array(0x400);
  const handlers = new Uint8Array(256 * 3);
  for (let v = 0; v < 256; v++) {
    const off = HANDLERS_GPA + v * 3;
    ivt[v * 4] = off & 0xff;
    ivt[v * 4 + 1] = off >> 8;
    handlers.set([0xe6, v, 0xf4], v * 3); // out v, al ; hlt
  }
  gmem.write(0, ivt);
  gmem.write(HANDLERS_GPA, handlers);
  gmem.write(CODE_GPA, new Uint8Array(code));
  const cpu = vm.createVcpu(0);
  const s = cpu.getSregs();
  if (mode === "real") {
    s.cs.base = 0n;
    s.cs.selector = 0;
  } else {
    const flat = (type: number, selector: number) => ({
      base: 0n,
      limit: 0xffffffff,
      selector,
      type,
      present: 1,
      dpl: 0,
      db: 1,
      s: 1,
      l: 0,
      g: 1,
      avl: 0,
      unusable: 0,
    });
    s.cs = flat(11, 8);
    for (const seg of ["ds", "es", "fs", "gs", "ss"] as const) s[seg] = flat(3, 16);
    s.cr0 |= 1n; // PE
  }
  cpu.setSregs(s);
  cpu.setRegs({ ...cpu.getRegs(), rip: BigInt(CODE_GPA), rflags: 2n, rsp: 0x8000n });
  return {
    kvm,
    vm,
    gmem,
    cpu,
    [Symbol.dispose]() {
      cpu.close();
      gmem.close();
      vm.close();
      kvm.close();
    },
  };
}

/** mov eax,12 (KVM_HC_MAP_GPA_RANGE); mov ebx,0x2000; mov ecx,1; mov edx,0x10 (ENCRYPTED) — with 0x66 in real mode. */
export function mapGpaRangeSetup(mode: "real" | "prot32"): number[] {
  const p = mode === "real" ? [0x66] : [];
  return [...p, 0xb8, 12, 0, 0, 0, ...p, 0xbb, 0, 0x20, 0, 0, ...p, 0xb9, 1, 0, 0, 0, ...p, 0xba, 0x10, 0, 0, 0];
}
export const VMCALL = [0x0f, 0x01, 0xc1]; // Intel
export const VMMCALL = [0x0f, 0x01, 0xd9]; // AMD
