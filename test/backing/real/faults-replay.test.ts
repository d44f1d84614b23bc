// Random workloads replayed through Tracker + a discard policy + REAL backings while random
// fallocate calls fail (EIO, ENOSPC, ENOMEM, EINTR, EBADF, EAGAIN, EPERM, EFAULT), checking
// after every event, failed or not:
//   - an event whose discard failed throws the KvmError of the injected errno (op "fallocate"),
//     and only such an event throws; EINTR (up to 3 in a row here) is restarted and never seen;
//   - the tracker's record of what each side holds equals what the kernel holds;
//   - no private byte is readable on the shared side;
//   - retrying the discards left undone, with the fault cleared, succeeds and leaves the
//     record and the kernel equal, with nothing left undone;
// and at the end, that closing everything leaves no descriptor and no mapping behind.
//
// "Populated", per backing, is what the kernel holds, read without faulting anything in:
//   - shared (memfd): the page is in the memfd's page cache — mincore over the mapping says
//     resident, and lseek(SEEK_DATA) reports it (both are checked, and must agree);
//   - private (guest_memfd): mincore over the host mapping says resident (guest_memfd has no
//     SEEK_DATA); GuestMemfdBacking.populatedRanges() (its record ∪ mincore) must say the same.
// Both must equal Tracker.populatedRuns(side) page for page.
//
// Here (no /dev/kvm) the private side is a GuestMemfdBacking over a memfd standing in for the
// guest_memfd: the backing's own code and syscalls, shmem underneath. Where /dev/kvm offers
// guest_memfd MMAP|INIT_SHARED the same property runs on createRealBackings (real guest_memfd,
// memslots bound); elsewhere that block is skipped, saying why.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { createRealBackings } from "../../../src/backing/real/create.js";
import { DiscardError } from "../../../src/backing/real/errors.js";
import { GuestMemfdBacking } from "../../../src/backing/real/gmem.js";
import { GuestLayout } from "../../../src/backing/real/_layout.js";
import { SharedMemfdBacking } from "../../../src/backing/real/memfd.js";
import { syscallsAvailable } from "../../../src/kvm/_syscall.js";
import { KvmError } from "../../../src/kvm/errors.js";
import { createTracker, type Tracker } from "../../../src/model/index.js";
import { adaptivePolicy, batchedPolicy, eagerPolicy, neverPolicy, type DiscardPolicy } from "../../../src/policy/index.js";
import { Replayer } from "../../../src/replay/index.js";
import type { TraceEvent } from "../../../src/trace/index.js";
import {
  ERRNOS,
  fdCount,
  mappingsOf,
  memfdStandIn,
  pagesOf,
  residentGfns,
  setSyscallFaults,
  type SyscallFault,
  withoutSyscallFaults,
} from "../../support/faults.js";
import { TWO_REGIONS, expectCode, realMissing } from "./_support.js";

const LONG = process.env.MEMATTR_LONG === "1";
const REGIONS = TWO_REGIONS.map((r) => ({ ...r }));
const SHARED_NAME = "memattr-faults-shared";
const STANDIN_NAME = "memattr-faults-private";

/** Both sides, and how to close them. */
interface Target {
  shared: SharedMemfdBacking;
  private: GuestMemfdBacking;
  close(): void;
}

const TARGETS: { label: string; missing: string | undefined; make: () => Promise<Target>; mapped: string[] }[] = [
  {
    label: "memfd + a memfd standing in for guest_memfd",
    missing: syscallsAvailable() ? undefined : "koffi does not load",
    mapped: [SHARED_NAME, STANDIN_NAME],
    make: async () => {
      const shared = SharedMemfdBacking.create(REGIONS, SHARED_NAME);
      try {
        const priv = await GuestMemfdBacking.attach(memfdStandIn(new GuestLayout(REGIONS).sizeBytes, STANDIN_NAME), REGIONS, { owned: true });
        const close = (): void => {
          shared.close();
          priv.close();
        };
        return { shared, private: priv, close };
      } catch (err) {
        shared.close();
        throw err;
      }
    },
  },
  {
    label: "memfd + guest_memfd MMAP|INIT_SHARED on /dev/kvm, memslots bound",
    missing: realMissing,
    mapped: ["memattr-shared", "[kvm-gmem]"],
    make: async () => {
      const b = await createRealBackings({ regions: REGIONS });
      return { shared: b.shared, private: b.private, close: () => b.close() };
    },
  },
];

// ---- workloads ----

type Op =
  | { kind: "convert"; region: number; offset: number; npages: number; to: "private" | "shared"; abort: boolean }
  | { kind: "touch"; region: number; offset: number; npages: number; write: boolean }
  | { kind: "dma"; region: number; offset: number; npages: number }
  | { kind: "flip"; region: number; offset: number; npages: number };

const where = { region: fc.integer({ min: 0, max: 1 }), offset: fc.integer({ min: 0, max: 31 }), npages: fc.integer({ min: 1, max: 8 }) };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("convert" as const), ...where, to: fc.constantFrom("private" as const, "shared" as const), abort: fc.boolean() }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("touch" as const), ...where, write: fc.boolean() }) },
  // a device writing the shared side whatever the page's attribute (stale outside any conversion)
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("dma" as const), ...where }) },
  // OVMF's bounce buffer: to shared, the device writes, back to private, the guest writes
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("flip" as const), ...where }) },
);

/** A valid trace: optional in-place encryption of a partly written firmware range, launch, ops. */
const workloadArb = fc
  .record({
    ops: fc.array(opArb, { minLength: 5, maxLength: LONG ? 80 : 40 }),
    firmware: fc.option(
      fc.record({
        region: fc.integer({ min: 0, max: 1 }),
        offset: fc.integer({ min: 0, max: 24 }),
        npages: fc.integer({ min: 1, max: 8 }),
        written: fc.integer({ min: 0, max: 8 }),
      }),
    ),
  })
  .map(({ ops, firmware }) => buildTrace(ops, firmware));

function buildTrace(ops: Op[], firmware: { region: number; offset: number; npages: number; written: number } | null): TraceEvent[] {
  const priv = new Map<number, boolean>(); // committed attribute per gfn, true = private
  const out: TraceEvent[] = [];
  let id = 1;
  const base = (region: number) => REGIONS[region]!.gfn;
  if (firmware !== null) {
    const gfn = base(firmware.region) + firmware.offset;
    // only part of the range written: the in-place copy reads (and so populates) the rest
    if (firmware.written > 0) out.push({ type: "touch", gfn, npages: Math.min(firmware.written, firmware.npages), side: "shared", write: true });
    out.push({ type: "request", id, gfn, npages: firmware.npages, to: "private", preserve: true });
    out.push({ type: "commit", id: id++ });
    for (let g = gfn; g < gfn + firmware.npages; g++) priv.set(g, true);
  }
  out.push({ type: "launch" });
  for (const op of ops) {
    const gfn = base(op.region) + op.offset;
    const npages = Math.min(op.npages, 32 - op.offset);
    if (op.kind === "convert") {
      out.push({ type: "request", id, gfn, npages, to: op.to });
      out.push({ type: op.abort ? "abort" : "commit", id: id++ });
      if (!op.abort) for (let g = gfn; g < gfn + npages; g++) priv.set(g, op.to === "private");
    } else if (op.kind === "dma") {
      out.push({ type: "touch", gfn, npages, side: "shared", write: true });
    } else if (op.kind === "flip") {
      out.push({ type: "request", id, gfn, npages, to: "shared" }, { type: "commit", id: id++ });
      out.push({ type: "touch", gfn, npages, side: "shared", write: true });
      out.push({ type: "request", id, gfn, npages, to: "private" }, { type: "commit", id: id++ });
      out.push({ type: "touch", gfn, npages, side: "private", write: true });
      for (let g = gfn; g < gfn + npages; g++) priv.set(g, true);
    } else {
      let s = gfn; // one touch per run of pages on the same side
      for (let g = gfn + 1; g <= gfn + npages; g++) {
        if (g === gfn + npages || (priv.get(g) ?? false) !== (priv.get(s) ?? false)) {
          out.push({ type: "touch", gfn: s, npages: g - s, side: priv.get(s) ? "private" : "shared", write: op.write });
          s = g;
        }
      }
    }
  }
  return out;
}

/** Shared touches write 0x01–0x7f, private ones 0x80–0xff: a byte ≥ 0x80 on the shared side is a leak. */
const fillOf = (ev: TraceEvent & { type: "touch" }): number => (ev.side === "shared" ? 1 + (ev.gfn % 0x7f) : 0x80 | (ev.gfn & 0x7f));

const POLICIES: Record<string, () => DiscardPolicy> = {
  eager: eagerPolicy,
  never: neverPolicy,
  batched: () => batchedPolicy({ maxConversions: 8 }),
  adaptive: () => adaptivePolicy({ budgetBytes: 12 * 4096 }),
};

const faultsArb: fc.Arbitrary<SyscallFault[]> = fc.array(
  fc.record({
    call: fc.constant("fallocate" as const),
    nth: fc.integer({ min: 1, max: 24 }),
    errno: fc.constantFrom(...ERRNOS),
    times: fc.integer({ min: 1, max: 3 }),
  }),
  { minLength: 1, maxLength: 5 },
);

// ---- checks ----

/** The record (tracker and backing) equals the kernel on both sides; no private byte on the shared side. */
function expectKernelAgrees(t: Tracker, b: Target, when: string): void {
  withoutSyscallFaults(() => {
    const shared = pagesOf(t.populatedRuns("shared"));
    expect(
      residentGfns(REGIONS, (g, n) => b.shared.residentPages(g, n)),
      `${when}: shared, mincore vs tracker`,
    ).toEqual(shared);
    expect(pagesOf(b.shared.populatedRanges()), `${when}: shared, SEEK_DATA vs tracker`).toEqual(shared);
    const priv = pagesOf(t.populatedRuns("private"));
    expect(
      residentGfns(REGIONS, (g, n) => b.private.residentPages(g, n)),
      `${when}: private, mincore vs tracker`,
    ).toEqual(priv);
    expect(pagesOf(b.private.populatedRanges()), `${when}: private, backing record ∪ mincore vs tracker`).toEqual(priv);
    const leaked = shared.filter((g) => b.shared.readPage(g)[0]! >= 0x80);
    expect(leaked, `${when}: private bytes on the shared side`).toEqual([]);
  });
}

/** Every injected fault that is not a restarted EINTR, since `from`. */
function surfacing(log: { injected: { errno: string }[] }, from: number): string[] {
  return log.injected.slice(from).map((f) => f.errno);
}

const counts = { runs: 0, injected: 0, eintrRestarted: 0, failedEvents: 0, partial: 0, retries: 0 };

describe.each(TARGETS)("replay under fallocate faults: $label", ({ label, missing, make, mapped }) => {
  if (missing) console.warn(`[test/backing] skipping fault replay on ${label}: ${missing}`);

  afterAll(() => {
    if (!missing) {
      const c = counts;
      console.log(
        `[faults] ${label}: ${c.runs} runs, ${c.injected} fallocate faults injected (${c.eintrRestarted} EINTR restarted), ` +
          `${c.failedEvents} events failed (${c.partial} after part of their batch), ${c.retries} retries`,
      );
    }
    Object.assign(counts, { runs: 0, injected: 0, eintrRestarted: 0, failedEvents: 0, partial: 0, retries: 0 });
  });

  it.skipIf(missing)("keeps the tracker equal to the kernel, leaks nothing and recovers by retrying, whatever discard fails", async () => {
    const fdsBefore = fdCount();
    const mapsBefore = mapped.map(mappingsOf);
    await fc.assert(
      fc.asyncProperty(workloadArb, fc.constantFrom(...Object.keys(POLICIES)), faultsArb, async (events, policyName, faults) => {
        const b = await make();
        const t = await createTracker({ regions: REGIONS });
        let clock = 0;
        const r = new Replayer(
          { tracker: t, policy: POLICIES[policyName]!(), shared: b.shared, private: b.private },
          { clock: () => clock++, fillOf, preserveChunkPages: 2 },
        );
        const log = setSyscallFaults(faults)!;
        counts.runs++;
        try {
          const step = (what: string, fn: () => void): void => {
            const seen = log.injected.length;
            let error: unknown;
            try {
              fn();
            } catch (err) {
              error = err;
            }
            const fired = surfacing(log, seen);
            const surfaced = fired.filter((e) => e !== "EINTR");
            counts.injected += fired.length;
            counts.eintrRestarted += fired.length - surfaced.length;
            if (error === undefined) {
              // an EINTR alone is restarted; a run of 3 EINTRs then success never reaches the caller
              expect(surfaced, `${what}: a fault fired but nothing was thrown`).toEqual([]);
            } else {
              counts.failedEvents++;
              expect(error, `${what}: ${String(error)}`).toBeInstanceOf(KvmError);
              expect((error as KvmError).op).toBe("fallocate");
              expect(surfaced).toContain((error as KvmError).code);
              if (error instanceof DiscardError && error.discardedRanges > 0) counts.partial++;
            }
            expectKernelAgrees(t, b, what);
            if (error !== undefined) {
              counts.retries++;
              withoutSyscallFaults(() => r.retryDiscards()); // the fault cleared: must go through
              expect(r.undoneDiscards, `${what}: left undone after the retry`).toEqual({ shared: [], private: [] });
              expectKernelAgrees(t, b, `${what}, retried`);
            }
          };
          events.forEach((ev, i) => step(`event ${i} ${JSON.stringify(ev)}`, () => r.apply(ev)));
          step("finish (flush)", () => r.finish());
        } finally {
          setSyscallFaults(undefined);
          t.dispose();
          b.close();
        }
      }),
      { numRuns: LONG ? 1000 : 150 },
    );
    expect(fdCount()).toBe(fdsBefore);
    expect(mapped.map(mappingsOf), `mappings of ${mapped.join(", ")} left`).toEqual(mapsBefore);
  });
});

// ---- the engine's bookkeeping, case by case (memfd stand-in pair) ----

/** A policy that discards what `batch(gfn)` says (unless null) after a populate on the shared side. */
function onPopulateDiscards(batch: (gfn: number) => { gfn: number; npages: number }[] | null): DiscardPolicy {
  return {
    name: "test",
    onCommit: () => null,
    onAbort: () => null,
    flush: () => null,
    onPopulate: (_t, side, gfn) => {
      const ranges = side === "shared" ? batch(gfn) : null;
      return ranges === null ? null : { shared: ranges, private: [] };
    },
  };
}

describe.skipIf(TARGETS[0]!.missing)("Replayer when a discard fails (memfd + stand-in)", () => {
  const withReplay = async (policy: DiscardPolicy, fn: (r: Replayer, t: Tracker, b: Target) => void): Promise<void> => {
    const b = await TARGETS[0]!.make();
    const t = await createTracker({ regions: REGIONS });
    try {
      fn(new Replayer({ tracker: t, policy, shared: b.shared, private: b.private }, { fillOf }), t, b);
    } finally {
      setSyscallFaults(undefined);
      t.dispose();
      b.close();
    }
  };
  // A device write to gfn 10 makes the policy drop gfn 0, 2 and 4 (three calls).
  const THREE = (g: number) =>
    g === 10
      ? [
          { gfn: 0, npages: 1 },
          { gfn: 2, npages: 1 },
          { gfn: 4, npages: 1 },
        ]
      : null;

  it("throws the error of a discard a touch's batch met, instead of counting the touch as refused", () =>
    withReplay(onPopulateDiscards(THREE), (r, t, b) => {
      r.apply({ type: "request", id: 1, gfn: 0, npages: 5, to: "private" });
      r.apply({ type: "commit", id: 1 });
      r.apply({ type: "touch", gfn: 0, npages: 5, side: "shared", write: true }); // a device writes private pages' shared side: stale
      setSyscallFaults([{ call: "fallocate", nth: 2, errno: "EIO" }]);
      const e = expectCode(() => r.apply({ type: "touch", gfn: 10, npages: 1, side: "shared", write: true }), "EIO", DiscardError);
      expect(e.discardedRanges).toBe(1);
      expect(r.snapshot()).toMatchObject({ events: 4, refused: 0, discardCalls: 1 });
      expect(r.undoneDiscards).toEqual({
        shared: [
          { gfn: 2, npages: 1 },
          { gfn: 4, npages: 1 },
        ],
        private: [],
      });
      expect(pagesOf(t.populatedRuns("shared"))).toEqual([1, 2, 3, 4, 10]); // gfn 0 punched and marked, 2 and 4 not
      expectKernelAgrees(t, b, "after the failure");
      setSyscallFaults(undefined);
      r.retryDiscards();
      expect(r.undoneDiscards).toEqual({ shared: [], private: [] });
      expect(pagesOf(t.populatedRuns("shared"))).toEqual([1, 3, 10]);
      expectKernelAgrees(t, b, "after the retry");
    }));

  it("applyAll throws after the failing event, counted, so the caller can go on from the next one", () =>
    withReplay(
      onPopulateDiscards((g) => [{ gfn: g, npages: 1 }]),
      (r, t, b) => {
        const events: TraceEvent[] = [0, 1, 2, 3].map((g) => ({ type: "touch", gfn: g, npages: 1, side: "shared", write: true }));
        setSyscallFaults([{ call: "fallocate", nth: 2, errno: "ENOMEM" }]);
        expectCode(() => r.applyAll(events), "ENOMEM", KvmError);
        expect(r.events).toBe(2);
        r.applyAll(events, r.events);
        expect(r.events).toBe(4);
        expect(r.undoneDiscards.shared).toEqual([{ gfn: 1, npages: 1 }]);
        expectKernelAgrees(t, b, "after applyAll");
      },
    ));

  it("finishes even when the flush's discard fails, then throws; snapshot() and retryDiscards() still work", () =>
    withReplay(batchedPolicy({ maxConversions: 100 }), (r, t, b) => {
      r.apply({ type: "launch" });
      r.apply({ type: "touch", gfn: 5, npages: 2, side: "shared", write: true });
      r.apply({ type: "request", id: 1, gfn: 5, npages: 2, to: "private" });
      r.apply({ type: "commit", id: 1 }); // queued: batched waits
      setSyscallFaults([{ call: "fallocate", nth: 1, errno: "EAGAIN" }]);
      expectCode(() => r.finish(), "EAGAIN", KvmError);
      expect(r.snapshot().finalStaleBytes).toBe(2 * 4096);
      expectKernelAgrees(t, b, "after the failed flush");
      setSyscallFaults(undefined);
      r.retryDiscards();
      expect(r.snapshot().finalStaleBytes).toBe(0);
      expectKernelAgrees(t, b, "after the retry");
    }));

  it("retries only pages still stale: one the guest took back in the meantime keeps its contents", () =>
    withReplay(eagerPolicy(), (r, t, b) => {
      r.apply({ type: "launch" });
      r.apply({ type: "request", id: 1, gfn: 8, npages: 2, to: "private" });
      r.apply({ type: "commit", id: 1 });
      r.apply({ type: "touch", gfn: 8, npages: 2, side: "private", write: true });
      r.apply({ type: "request", id: 2, gfn: 8, npages: 2, to: "shared" });
      setSyscallFaults([{ call: "fallocate", nth: 1, errno: "EIO" }]);
      expectCode(() => r.apply({ type: "commit", id: 2 }), "EIO", KvmError); // eager: drop the private copies, failed
      setSyscallFaults(undefined);
      expect(r.undoneDiscards.private).toEqual([{ gfn: 8, npages: 2 }]);
      r.apply({ type: "request", id: 3, gfn: 9, npages: 1, to: "private" });
      r.apply({ type: "commit", id: 3 }); // gfn 9 is private again: its private page is in use
      r.retryDiscards();
      expect(pagesOf(t.populatedRuns("private"))).toEqual([9]);
      expect(b.private.readPage(9)[0]).toBe(fillOf({ type: "touch", gfn: 8, npages: 2, side: "private" }));
      expectKernelAgrees(t, b, "after the retry");
    }));
});
