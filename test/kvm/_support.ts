// Helpers for the KVM tests: capability probes that say plainly why a test is skipped,
// an fd counter, and one-line asserts on error codes.
import { readdirSync } from "node:fs";
import { Kvm } from "../../src/kvm/system.js";

/** Why KVM tests cannot run here, or undefined when /dev/kvm and koffi are usable. */
export const kvmMissing: string | undefined = Kvm.isAvailable() ? undefined : "no usable /dev/kvm (or koffi missing) on this host";
if (kvmMissing) console.warn(`[test/kvm] skipping KVM tests: ${kvmMissing}`);

/** Value of a capability on /dev/kvm, or 0 without KVM. */
export function capValue(cap: number): number {
  if (kvmMissing) return 0;
  const kvm = Kvm.open();
  try {
    return kvm.checkExtension(cap);
  } finally {
    kvm.close();
  }
}

/** Reason to skip when `cap` is absent, printed once; undefined when present. */
export function capMissing(cap: number, name: string): string | undefined {
  if (kvmMissing) return kvmMissing;
  if (capValue(cap) !== 0) return undefined;
  const reason = `${name} is 0 on this host`;
  console.warn(`[test/kvm] skipping: ${reason}`);
  return reason;
}

/** Open descriptors of this process. */
export function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

export { expectCode } from "../support/expect-code.js";

export const page = (n: number): number => n * 4096;
