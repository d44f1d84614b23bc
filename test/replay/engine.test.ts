import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createTracker } from "../../src/model/index.js";
import { adaptivePolicy, createPolicy, eagerPolicy, neverPolicy, POLICY_NAMES } from "../../src/policy/index.js";
import { Replayer } from "../../src/replay/index.js";
import { SimulatedBacking } from "../../src/backing/index.js";
import type { TraceEvent } from "../../src/trace/index.js";
import { step } from "../policy/_harness.js";
import { traceArb } from "../policy/_traces.js";

// Hand-written: firmware encrypted in place, launch, one page pair flipped to shared and back.
const SMALL: TraceEvent[] = [
  { type: "touch", gfn: 0, npages: 8, side: "shared", write: true }, //   8 new shared pages
  { type: "request", id: 1, gfn: 0, npages: 8, to: "private", preserve: true },
  { type: "commit", id: 1 }, //                                           copy 8 → private (8 new), drop shared copy: 1 call, 8 pages
  { type: "launch" },
  { type: "request", id: 2, gfn: 0, npages: 2, to: "shared" },
  { type: "commit", id: 2 }, //                                           eager: discard private 0..1 (1 call, 2 pages)
  { type: "touch", gfn: 0, npages: 2, side: "shared", write: true }, //   2 shared refaults (dropped at commit 1)
  { type: "request", id: 3, gfn: 0, npages: 2, to: "private" },
  { type: "commit", id: 3 }, //                                           eager: discard shared 0..1 (1 call, 2 pages)
  { type: "touch", gfn: 0, npages: 2, side: "private", write: true }, //  eager: 2 private refaults; never: none
  { type: "request", id: 4, gfn: 60, npages: 4, to: "shared" }, //        refused later? no: aborted
  { type: "abort", id: 4 },
];

describe("Replayer", () => {
  it("eager: metrics equal the hand count", async () => {
    const { result: r, tracker } = await step(SMALL, eagerPolicy());
    expect(r).toMatchObject({
      events: 12,
      conversions: 3,
      aborts: 1,
      refused: 0,
      copiedPages: 8,
      // commit 1 drops the copy (1 call, 8 pages) and eager then discards the same range again,
      // as QEMU does on every conversion (1 call, 8 pages); commits 2 and 3: 1 call, 2 pages each.
      discardCalls: 4,
      discardedPages: 20,
      discardedBytes: 20 * 4096,
      refaultPages: 4,
      newPages: 16,
      peakDoubleAllocatedBytes: 8 * 4096, // the in-place copy, before the shared copy is dropped
      finalDoubleAllocatedBytes: 0,
      finalStaleBytes: 0,
      pendingAtEnd: 0,
    });
    tracker.dispose();
  });

  it("never: metrics equal the hand count", async () => {
    const { result: r, tracker } = await step(SMALL, neverPolicy());
    expect(r).toMatchObject({
      conversions: 3,
      discardCalls: 1,
      discardedPages: 8,
      refaultPages: 2,
      newPages: 16,
      finalDoubleAllocatedBytes: 2 * 4096,
      finalStaleBytes: 2 * 4096,
    });
    tracker.dispose();
  });

  // Times with a clock that counts its reads (each read is one "ms" later than the last).
  // apply(): two reads per timed event (launch untimed); the in-place copy reads twice more.
  it("apply: times per category, the in-place copy apart (hand count, counting clock)", async () => {
    const { result: r, tracker } = await step(SMALL, eagerPolicy());
    expect(r).toMatchObject({
      launchCopyMs: 1, //            commit 1: copy start..end
      conversionPathMs: 9 + 1, //     8 conversion events, commit 1 is 3 reads apart less the copy's 1 → 9; final flush 1
      touchPathMs: 3,
      refaultTouchMs: 2, //           the 2nd and 3rd touches refault under eager
      conversionCostMs: 12,
      totalConversionCostMs: 13,
    });
    tracker.dispose();
  });

  it("applyAll: one clock read per category boundary, same counts as apply", async () => {
    const tracker = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    let reads = 0;
    const r = new Replayer(
      { tracker, policy: eagerPolicy(), shared: new SimulatedBacking("shared"), private: new SimulatedBacking("private") },
      { clock: () => reads++ },
    );
    r.applyAll(SMALL);
    const m = r.finish();
    // Reads: 1 to open; after each touch (3), after each conversion run (4: req1+commit1, req2+commit2,
    // req3+commit3, req4+abort4), after launch (1), inside commit 1's copy (2); flush 2 → 13.
    expect(reads).toBe(13);
    expect(m).toMatchObject({
      launchCopyMs: 1,
      conversionPathMs: 2 + 1 + 1 + 1 + 1,
      touchPathMs: 3,
      refaultTouchMs: 2,
      conversionCostMs: 8,
      totalConversionCostMs: 9,
    });
    const { result: stepped } = await step(SMALL, eagerPolicy());
    const counts = (x: typeof m) => ({
      ...x,
      launchCopyMs: 0,
      conversionPathMs: 0,
      touchPathMs: 0,
      refaultTouchMs: 0,
      conversionCostMs: 0,
      totalConversionCostMs: 0,
    });
    expect(counts(m)).toEqual(counts(stepped));
    tracker.dispose();
  });

  it("peak double allocation: overall includes the in-place copy chunk, after launch does not", async () => {
    const eager = await step(SMALL, eagerPolicy());
    expect(eager.result).toMatchObject({ peakDoubleAllocatedBytes: 8 * 4096, peakDoubleAllocatedAfterLaunchBytes: 0 });
    // never: the shared touch after commit 2 refaults pages 0..1 whose private copy is kept.
    const never = await step(SMALL, neverPolicy());
    expect(never.result).toMatchObject({ peakDoubleAllocatedBytes: 8 * 4096, peakDoubleAllocatedAfterLaunchBytes: 2 * 4096 });
    eager.tracker.dispose();
    never.tracker.dispose();
    // Copied in chunks of 4 pages: the transient peak is one chunk.
    const tracker = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    const r = new Replayer(
      { tracker, policy: neverPolicy(), shared: new SimulatedBacking("shared"), private: new SimulatedBacking("private") },
      { preserveChunkPages: 4 },
    );
    r.applyAll(SMALL);
    expect(r.finish()).toMatchObject({ peakDoubleAllocatedBytes: 4 * 4096, peakDoubleAllocatedAfterLaunchBytes: 2 * 4096, copiedPages: 8 });
    tracker.dispose();
  });

  it("peak after launch is null when the trace never launches", async () => {
    const { result: r, tracker } = await step(
      SMALL.filter((ev) => ev.type !== "launch"),
      neverPolicy(),
    );
    expect(r.peakDoubleAllocatedAfterLaunchBytes).toBeNull();
    tracker.dispose();
  });

  it("keeps interleaved, reused and unknown transaction ids apart", async () => {
    const { result: r, tracker } = await step(
      [
        { type: "request", id: 1, gfn: 0, npages: 1, to: "private" },
        { type: "request", id: 2, gfn: 1, npages: 1, to: "private" },
        { type: "request", id: 3, gfn: 2, npages: 1, to: "private" },
        { type: "commit", id: 1 }, //                                    not the latest: from the Map
        { type: "commit", id: 9 }, //                                    unknown: nothing
        { type: "abort", id: 3 }, //                                     the latest
        { type: "request", id: 1, gfn: 4, npages: 1, to: "private" }, // id 1 reused
        { type: "commit", id: 1 },
        { type: "commit", id: 1 }, //                                    already closed: nothing
      ],
      neverPolicy(),
    );
    expect(r).toMatchObject({ conversions: 2, aborts: 1, pendingAtEnd: 1 });
    expect([0, 1, 2, 4].map((g) => tracker.isPrivate(g))).toEqual([true, false, false, true]);
    expect(tracker.state(1).conversion).toBe("pending-private");
    tracker.dispose();
  });

  it("counts refused guest requests and goes on", async () => {
    const { result: r, tracker } = await step(
      [
        { type: "launch" },
        { type: "hypercall", id: 1, gpa: 0x1001, npages: 1, attrs: 0x10 }, // unaligned gpa: EINVAL
        { type: "commit", id: 1 },
        { type: "request", id: 2, gfn: 0, npages: 4, to: "private", preserve: true }, // after launch: ELAUNCHED
        { type: "commit", id: 2 },
        { type: "hypercall", id: 3, gpa: 0x2000, npages: 1, attrs: 0x10 },
        { type: "commit", id: 3 },
        { type: "fault", gpa: 0x3000, size: 4096, private: true },
        { type: "fault", gpa: 0x3000, size: 4096, private: true },
      ],
      eagerPolicy(),
    );
    expect(r).toMatchObject({ refused: 2, refusedRecorded: 0, conversions: 2, faults: { convert: 1, spurious: 1, inFlight: 0, violation: 0 } });
    expect(tracker.isPrivate(2)).toBe(true);
    expect(tracker.isPrivate(3)).toBe(true);
    tracker.dispose();
  });

  it("counts the trace's recorded refusals in `refused` and `refusedRecorded`, and changes nothing for them", async () => {
    const { result: r, tracker } = await step(
      [
        { type: "refused", call: "hypercall", gpa: "0x0", npages: "0x0", attrs: "0x10", reason: "zero-npages" },
        { type: "hypercall", id: 1, gpa: 0x1001, npages: 1, attrs: 0x10 }, // refused by the model during the replay
        { type: "commit", id: 1 },
        { type: "refused", call: "hypercall", gpa: "0xfffffffffffff000", npages: "0x2", attrs: "0x0", reason: "wrap" },
        { type: "request", id: 2, gfn: 0, npages: 1, to: "private" },
        { type: "commit", id: 2 },
      ],
      eagerPolicy(),
    );
    expect(r).toMatchObject({ events: 6, refused: 3, refusedRecorded: 2, conversions: 1 });
    expect(tracker.totals().private).toBe(1);
    tracker.dispose();
  });

  it("samples the time series every K events and at the end", async () => {
    const tracker = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    const r = new Replayer(
      { tracker, policy: adaptivePolicy(), shared: new SimulatedBacking("shared"), private: new SimulatedBacking("private") },
      { sampleEvery: 5 },
    );
    for (const ev of SMALL) r.apply(ev);
    const m = r.finish();
    expect(m.series.events).toEqual([5, 10, 12]);
    expect(m.series.discardCalls.length).toBe(3);
    expect(() => r.apply({ type: "launch" })).toThrow(expect.objectContaining({ code: "EDISPOSED" }));
    tracker.dispose();
  });

  it("refuses backings in the wrong slots", async () => {
    const tracker = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    const s = new SimulatedBacking("shared");
    expect(() => new Replayer({ tracker, policy: neverPolicy(), shared: s, private: s })).toThrow(expect.objectContaining({ code: "EBACKINGSIDE" }));
    tracker.dispose();
  });

  // The no-leak invariant with SimulatedBacking semantics: shared touches write tags 1..127,
  // private touches 128..255 (unique within a trace), in-place encryption copies shared tags.
  // After any replay, through any policy, a page that is private holds on its shared side
  // neither a private tag nor the tag copied into its private side.
  it("never leaves private contents readable as shared (property, every policy)", async () => {
    await fc.assert(
      fc.asyncProperty(traceArb({ preserve: true, maxOps: 40 }), fc.constantFrom(...POLICY_NAMES), async (events, name) => {
        let nShared = 0;
        let nPrivate = 0;
        const fillOf = (ev: TraceEvent & { type: "touch" }) => (ev.side === "shared" ? 1 + (nShared++ % 127) : 128 + (nPrivate++ % 128));
        const s = await step(events, createPolicy(name, { budgetBytes: 4 * 4096 }), () => {}, { trackContents: true, fillOf });
        for (let g = 0; g < 64; g++) {
          if (!s.tracker.isPrivate(g)) continue;
          const sharedTag = s.shared.tagAt(g);
          if (sharedTag === undefined || sharedTag === 0) continue;
          expect(sharedTag).toBeLessThan(128);
          expect(sharedTag).not.toBe(s.private.tagAt(g));
        }
        s.tracker.dispose();
      }),
      { numRuns: 80 },
    );
  });
});
