// `memattr vmm`: usage errors, the table, JSON output (runs the real guest where /dev/kvm exists).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Kvm } from "../../src/kvm/system.js";
import { formatTable } from "../../src/cli/vmm.js";
import type { VmmReport } from "../../src/vmm/vmm.js";

const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const memattr = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", main, "vmm", ...args], { encoding: "utf8", timeout: 120_000 });
const kvmMissing = Kvm.isAvailable() ? undefined : "no usable /dev/kvm (or koffi missing) on this host";

describe("memattr vmm usage", () => {
  it("refuses an unknown policy, a bad count and unknown flags with exit code 2", () => {
    expect(memattr("--policy", "lazy").status).toBe(2);
    expect(memattr("--transactions", "-3").status).toBe(2);
    const r = memattr("--frobnicate");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown argument '--frobnicate'/);
  });
  it("prints usage with --help", () => {
    const r = memattr("--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--policy eager\|never\|batched\|adaptive\|all/);
  });
  it("lays the table out one column per policy", () => {
    const r = {
      policy: "eager",
      guestMs: 1500,
      bootMs: 500,
      kvmRunMs: 1000,
      exits: 9,
      conversions: 4,
      transactionsDone: 2,
      discardCalls: 4,
      discardedPages: 6,
      refaultPages: 3,
      peakDoubleAllocatedBytes: 8192,
      finalDoubleAllocatedBytes: 0,
      sharedAllocatedBytes: 2 ** 20,
      privateAllocatedBytes: 2 ** 21,
      payloadsChecked: 2,
      payloadsBad: 0,
      leakedWords: 0,
      end: "halted",
    } as VmmReport;
    const table = formatTable([r, { ...r, policy: "never", discardCalls: 0 }]);
    expect(table.split("\n")[0]).toMatch(/^\s+eager\s+never$/);
    expect(table).toMatch(/guest run time\s+1\.500 s\s+1\.500 s/);
    expect(table).toMatch(/discard syscalls\s+4\s+0/);
    expect(table).toMatch(/peak double allocation\s+8 KiB/);
    expect(table).not.toMatch(/memslot updates/);
    const slots = { updates: 8, dirtyLogReads: 2, dirtyPages: 5, bouncePagesMissing: 0, snapshotChanged: 0 };
    expect(formatTable([{ ...r, memslots: slots }])).toMatch(
      /memslot updates\s+8\n\s+dirty pages logged \/ bounce missing\s+5 \/ 0\n\s+tracker changed by an update\s+0\nend/,
    );
  });
  it("refuses a bad --slot-updates", () => {
    const r = memattr("--slot-updates", "x");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--slot-updates needs an integer/);
  });
});

describe.skipIf(kvmMissing)("memattr vmm on /dev/kvm", () => {
  it("runs every policy and prints the side-by-side table", () => {
    const r = memattr("--policy", "all", "--transactions", "200", "--ram-mib", "16");
    expect(r.stderr).not.toMatch(/crashed|timeout/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/200 DMA transactions, 16 MiB guest, requests by doorbell/);
    expect(r.stdout).toMatch(/^\s+eager\s+never\s+batched\s+adaptive$/m);
    expect(r.stdout).toMatch(/payloads verified \/ bad\s+200 \/ 0\s+200 \/ 0\s+200 \/ 0\s+200 \/ 0/);
  });
  it("prints JSON reports with --json", () => {
    const r = memattr("--policy", "never", "--transactions", "20", "--ram-mib", "8", "--json");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { reports: VmmReport[] };
    expect(out.reports[0]).toMatchObject({ policy: "never", end: "halted", transactionsDone: 20, discardCalls: 0 });
  });
  it("--hypercall either runs or says plainly why this host cannot", () => {
    const r = memattr("--policy", "eager", "--transactions", "20", "--ram-mib", "8", "--hypercall");
    if (r.status === 0) expect(r.stdout).toMatch(/requests by vm(m)?call/);
    else expect(r.stderr).toMatch(/--hypercall is not usable here: long-mode vm(m)?call/);
  });
});
