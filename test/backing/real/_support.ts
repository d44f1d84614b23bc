// Helpers for the backing tests: one probe that says plainly why real backings are skipped,
// an fd counter, small page builders, and the error-code assert of the KVM tests.
import { readdirSync } from "node:fs";
import { probeRealBackings } from "../../../src/backing/real/create.js";
import { Kvm } from "../../../src/kvm/system.js";
import type { Vm } from "../../../src/kvm/vm.js";

export { expectCode } from "../../kvm/_support.js";

const probe = probeRealBackings();
/** Why real backings cannot run here (no /dev/kvm, no koffi, no guest_memfd MMAP|INIT_SHARED), or undefined. */
export const realMissing: string | undefined = probe.available ? undefined : probe.reason;
if (realMissing) console.warn(`[test/backing] skipping real-backing tests: ${realMissing}`);

/** Open descriptors of this process. */
export function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** A page-sized buffer of `byte`, or of a seeded pattern when `byte` is omitted. */
export function pageOf(byte?: number, seed = 1): Uint8Array {
  const p = new Uint8Array(4096);
  if (byte !== undefined) return p.fill(byte);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < p.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    p[i] = x & 0xff;
  }
  return p;
}

/** True when every byte is 0. */
export function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Two regions with a hole between them: gfn 0..31 (file pages 0..31) and 0x100..0x11f (file pages 32..63). */
export const TWO_REGIONS = [
  { gfn: 0, npages: 32 },
  { gfn: 0x100, npages: 32 },
] as const;

/** Runs `fn` on a fresh VM (for guest_memfd), closed after. */
export async function withVm<T>(fn: (vm: Vm) => Promise<T>): Promise<T> {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  kvm.close();
  try {
    return await fn(vm);
  } finally {
    vm.close();
  }
}
