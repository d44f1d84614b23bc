// The VMM on the real /dev/kvm: the DMA guest (payloads, final state, no private contents in
// shared pages), the hypercall path probe, and hostile guests. Every guest runs in a child
// process with a timeout (a guest that never exits would block KVM_RUN for good).
import { describe, expect, it } from "vitest";
import { KVM_MAP_GPA_RANGE_ENCRYPTED } from "../../src/uapi/constants.js";
import { Kvm } from "../../src/kvm/system.js";
import { type ChildResult, probeHypercall, runVmmInChild, serializeRequests } from "../../src/vmm/child.js";
import type { HostileRequest } from "../../src/vmm/guest/program.js";
import { BOOT_PAGES, BOUNCE_GPA, guestLayout, MAILBOX_GPA, PAGE_BYTES, SHARED_BIT, STATUS } from "../../src/vmm/layout.js";
import type { RequestRecord, VmmReport } from "../../src/vmm/vmm.js";

const kvmMissing = Kvm.isAvailable() ? undefined : "no usable /dev/kvm (or koffi missing) on this host";
if (kvmMissing) console.warn(`[test/vmm] skipping VMM tests: ${kvmMissing}`);

function expectReport(r: ChildResult): VmmReport {
  if (!r.ok) throw new Error(`child failed: ${r.reason}: ${r.detail}`);
  return r.report;
}

/** Final attribute per page from the guest's own requests, in order (a flat model, not the tracker). */
function expectedSharedRanges(ramPages: number, log: readonly RequestRecord[]): { gfn: number; npages: number }[] {
  const priv = new Uint8Array(ramPages);
  priv.fill(1, 0, BOOT_PAGES); // the boot image, made private before launch
  for (const r of log) {
    if (r.status !== STATUS.ok) continue;
    const gfn = Number(r.gpa >> 12n);
    priv.fill((r.attrs & BigInt(KVM_MAP_GPA_RANGE_ENCRYPTED)) !== 0n ? 1 : 0, gfn, gfn + Number(r.npages));
  }
  const out: { gfn: number; npages: number }[] = [];
  for (let g = 0; g < ramPages; ) {
    if (priv[g]) {
      g++;
      continue;
    }
    const s = g;
    while (g < ramPages && !priv[g]) g++;
    out.push({ gfn: s, npages: g - s });
  }
  return out;
}

describe.skipIf(kvmMissing)("DMA guest on /dev/kvm (doorbell path)", () => {
  const layout = guestLayout(32 * 2 ** 20);
  for (const policy of ["eager", "never", "batched", "adaptive"] as const) {
    it(`${policy}: 1 200 transactions, every payload read back, final state as asked, nothing private seen shared`, async () => {
      const r = expectReport(
        await runVmmInChild({ guest: { kind: "dma" }, policy, transactions: 1200, ramBytes: layout.ramBytes, recordRequests: true }, 90_000),
      );
      expect(r.end).toBe("halted");
      expect(r.failedAtTxn).toBeNull();
      expect(r.transactionsDone).toBe(1200);
      expect(r.payloadsChecked).toBe(1200);
      expect(r.payloadsBad).toBe(0);
      expect(r.leakedWords).toBe(0);
      expect(r.staleSharedPages).toBe(0);
      expect(r.vmmErrors).toEqual([]);
      expect(r.refused).toEqual({});
      const log = r.requestsLog!;
      expect(log.length).toBe(r.requests);
      expect(r.sharedRanges).toEqual(expectedSharedRanges(layout.ramPages, log));
      expect(r.sharedRanges).toEqual([{ gfn: layout.swiotlbGpa / PAGE_BYTES, npages: layout.swiotlbPages }]);
      expect(r.pages).toEqual({ shared: layout.swiotlbPages, private: layout.ramPages - layout.swiotlbPages, pending: 0 });
      if (policy === "eager") {
        expect(r.discardCalls).toBeGreaterThanOrEqual(2 * 1200);
        expect(r.peakDoubleAllocatedBytes).toBe(0);
        expect(r.refaultPages).toBeGreaterThan(1200);
      }
      if (policy === "never") {
        expect(r.discardCalls).toBe(0);
        expect(r.refaultPages).toBe(0);
        expect(r.peakDoubleAllocatedBytes).toBeGreaterThanOrEqual(layout.swiotlbPages * PAGE_BYTES);
      }
      if (policy === "batched" || policy === "adaptive") expect(r.discardCalls).toBeLessThan(1200);
    });
  }

  it("memslot updates mid-run (dirty logging on, log read, off, shared slot re-created) change no page state and lose no payload", async () => {
    const r = expectReport(
      await runVmmInChild({ guest: { kind: "dma" }, policy: "adaptive", transactions: 400, ramBytes: layout.ramBytes, slotUpdates: 10 }, 90_000),
    );
    expect(r.end).toBe("halted");
    expect(r.vmmErrors).toEqual([]);
    expect(r.payloadsChecked).toBe(400);
    expect(r.payloadsBad).toBe(0);
    expect(r.leakedWords).toBe(0);
    expect(r.memslots.updates).toBe(40); // 10 full cycles: on, read, off, re-create
    expect(r.memslots.dirtyLogReads).toBe(10);
    expect(r.memslots.dirtyPages).toBeGreaterThanOrEqual(10); // at least the bounce pages the guest wrote
    expect(r.memslots.bouncePagesMissing).toBe(0);
    expect(r.memslots.snapshotChanged).toBe(0);
    expect(r.sharedRanges).toEqual([{ gfn: layout.swiotlbGpa / PAGE_BYTES, npages: layout.swiotlbPages }]);
  });

  it("the payload check is real: with verification off nothing is checked, and the run still halts", async () => {
    const r = expectReport(
      await runVmmInChild({ guest: { kind: "dma", boot: false }, policy: "never", transactions: 50, ramBytes: 8 * 2 ** 20, verify: false }, 60_000),
    );
    expect(r.end).toBe("halted");
    expect(r.payloadsChecked).toBe(0);
    expect(r.transactionsDone).toBe(50);
  });
});

describe.skipIf(kvmMissing)("KVM_HC_MAP_GPA_RANGE from a long-mode guest", () => {
  it("reaches the VMM as a hypercall exit where the host delivers it (probed in a child with a timeout)", async (ctx) => {
    const probe = await probeHypercall(10_000);
    if (!probe.works) {
      console.warn(`[test/vmm] skipping hypercall path: ${probe.reason}`);
      ctx.skip(probe.reason);
      return;
    }
    const r = expectReport(
      await runVmmInChild({ guest: { kind: "dma" }, path: probe.path, policy: "batched", transactions: 1000, ramBytes: 16 * 2 ** 20 }, 90_000),
    );
    expect(r.end).toBe("halted");
    expect(r.payloadsBad).toBe(0);
    expect(r.exitsByReason.hypercall).toBeGreaterThanOrEqual(2000);
  });
});

describe.skipIf(kvmMissing)("hostile guest", () => {
  const layout = guestLayout(8 * 2 ** 20);
  const ram = BigInt(layout.ramBytes);
  const U64_MAX = (1n << 64n) - 1n;
  const ENC = BigInt(KVM_MAP_GPA_RANGE_ENCRYPTED);
  const requests: [string, HostileRequest, bigint][] = [
    ["unaligned gpa", { op: "map", gpa: 0x20001n, npages: 1n, attrs: ENC }, STATUS.einval],
    ["npages 0", { op: "map", gpa: 0x20000n, npages: 0n, attrs: ENC }, STATUS.einval],
    ["wrap-around", { op: "map", gpa: 0xffff_ffff_ffff_f000n, npages: 2n, attrs: ENC }, STATUS.einval],
    ["huge npages", { op: "map", gpa: 0x20000n, npages: U64_MAX, attrs: 0n }, STATUS.einval],
    ["2^40 pages from 0", { op: "map", gpa: 0n, npages: 1n << 40n, attrs: 0n }, STATUS.efault],
    ["unknown attrs bits", { op: "map", gpa: 0x20000n, npages: 1n, attrs: 0x20n }, STATUS.einval],
    ["page size 3", { op: "map", gpa: 0x20000n, npages: 1n, attrs: 3n }, STATUS.einval],
    ["unaligned 2M request", { op: "map", gpa: 0x21000n, npages: 512n, attrs: 1n }, STATUS.einval],
    ["beyond RAM", { op: "map", gpa: ram, npages: 1n, attrs: ENC }, STATUS.efault],
    ["straddles the end of RAM", { op: "map", gpa: ram - 0x1000n, npages: 2n, attrs: ENC }, STATUS.efault],
    ["the shared alias", { op: "map", gpa: BigInt(SHARED_BIT), npages: 1n, attrs: 0n }, STATUS.efault],
    ["the mailbox", { op: "map", gpa: BigInt(MAILBOX_GPA), npages: 1n, attrs: 0n }, STATUS.efault],
    ["a valid request", { op: "map", gpa: BigInt(BOUNCE_GPA), npages: 1n, attrs: ENC }, STATUS.ok],
    ["the same again (no-op)", { op: "map", gpa: BigInt(BOUNCE_GPA), npages: 1n, attrs: ENC }, STATUS.ok],
    ["DMA from a private page", { op: "dma", gpa: BigInt(BOUNCE_GPA), npages: 1n, txn: 0 }, STATUS.eperm],
    ["DMA of 2^63 pages", { op: "dma", gpa: 0x20000n, npages: 1n << 63n, txn: 0 }, STATUS.einval],
    ["DMA beyond RAM", { op: "dma", gpa: ram, npages: 1n, txn: 0 }, STATUS.efault],
    [
      "all RAM above the boot image to shared",
      { op: "map", gpa: BigInt(BOOT_PAGES * PAGE_BYTES), npages: ram / 4096n - BigInt(BOOT_PAGES), attrs: 0n },
      STATUS.ok,
    ],
  ];

  it("gets an error status for every malformed request, the VMM keeps running, and a flood of single-page requests stays bounded", async () => {
    const r = expectReport(
      await runVmmInChild(
        {
          guest: { kind: "hostile", requests: serializeRequests(requests.map((q) => q[1])), floodFromGfn: BOOT_PAGES },
          policy: "eager",
          ramBytes: layout.ramBytes,
          recordRequests: true,
        },
        90_000,
      ),
    );
    expect(r.end).toBe("halted");
    expect(r.vmmErrors).toEqual([]);
    const maps = requests.filter((q) => q[1].op === "map");
    const log = r.requestsLog!;
    maps.forEach(([name, , want], i) => expect(`${name}: ${log[i]!.status}`).toBe(`${name}: ${want}`));
    // The flood: one request per page above the boot image, alternating direction.
    const floodPages = layout.ramPages - BOOT_PAGES;
    expect(log.length).toBe(maps.length + floodPages);
    expect(log.slice(maps.length).every((q) => q.status === STATUS.ok)).toBe(true);
    expect(r.trackerRuns).toBeGreaterThanOrEqual(floodPages);
    // Bounded: the tracker's memory grows with runs, never beyond a few hundred bytes per page here.
    expect(r.trackerMemoryBytes).toBeLessThan(layout.ramPages * 256);
    expect(r.sharedAllocatedBytes).toBeLessThanOrEqual(layout.ramBytes);
    expect(r.privateAllocatedBytes).toBeLessThanOrEqual(layout.ramBytes);
    expect(r.results![requests.length]).toBe(0n); // flood failures counted by the guest
  });

  it("answers DMA claims on private or malformed ranges with an error and never reads them", async () => {
    // The bounce page is made private first, so the first claim is on a private page.
    const dmas = requests.filter((q) => q[1].op === "dma" || q[0] === "a valid request");
    const r = expectReport(
      await runVmmInChild(
        { guest: { kind: "hostile", requests: serializeRequests(dmas.map((q) => q[1])) }, policy: "never", ramBytes: layout.ramBytes },
        60_000,
      ),
    );
    expect(r.end).toBe("halted");
    dmas.forEach(([name, , want], i) => expect(`${name}: ${r.results![i]}`).toBe(`${name}: ${want}`));
    expect(r.payloadsChecked).toBe(0);
    expect(r.transactionsDone).toBe(0);
  });
});
