import { describe, expect, it } from "vitest";
import { run, summary } from "../../src/cli/probe.js";
import { captureCommand } from "../support/cli.js";
import type { KvmCapabilityReport } from "../../src/kvm/system.js";
import { kvmMissing } from "./_support.js";

const capture = (args: string[]) => captureCommand(run, args);

describe("memattr probe", () => {
  it("says KVM is unavailable and exits 1 without the device", async () => {
    const r = await capture(["--device", "/nonexistent/kvm"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("KVM is not available");
    expect(r.out).toBe("");
  });
  it("rejects unknown arguments with exit 2", async () => {
    expect((await capture(["--bogus"])).code).toBe(2);
  });
  it.skipIf(kvmMissing)("prints the private-memory capability table and a summary line", async () => {
    const r = await capture([]);
    expect(r.code).toBe(0);
    for (const s of [
      "KVM_GET_API_VERSION",
      "KVM_CAP_GUEST_MEMFD (234)",
      "KVM_CAP_GUEST_MEMFD_FLAGS (244)",
      "KVM_CAP_USER_MEMORY2 (231)",
      "KVM_CAP_MEMORY_ATTRIBUTES (233)",
      "KVM_CAP_EXIT_HYPERCALL (201)",
      "KVM_CAP_MEMORY_FAULT_INFO (232)",
      "KVM_CAP_VM_TYPES (235)",
      "memattr here:",
    ]) {
      expect(r.out).toContain(s);
    }
  });
  it.skipIf(kvmMissing)("prints JSON with --json", async () => {
    const r = await capture(["--json"]);
    expect(JSON.parse(r.out)).toMatchObject({ apiVersion: 12, device: "/dev/kvm" });
  });
  it("summarises what memattr can do from a report", () => {
    const base: KvmCapabilityReport = {
      apiVersion: 12,
      vcpuMmapSizeBytes: 12288,
      guestMemfd: true,
      guestMemfdFlags: 3,
      guestMemfdFlagNames: [],
      userMemory2: true,
      memoryAttributes: 0,
      memoryAttributeNames: [],
      exitHypercall: 4096,
      exitHypercallNames: [],
      memoryFaultInfo: true,
      vmTypes: 1,
      vmTypeNames: [],
      nrMemslots: 32764,
      maxVcpus: 1024,
    };
    expect(summary(base)).toContain("not enforced");
    expect(summary({ ...base, memoryAttributes: 8 })).toContain("enforced by KVM_SET_MEMORY_ATTRIBUTES");
    expect(summary({ ...base, guestMemfd: false })).toContain("no guest_memfd");
  });
});
