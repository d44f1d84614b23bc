import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createTracker } from "../../src/model/index.js";
import { adaptivePolicy, createPolicy, eagerPolicy, neverPolicy, POLICY_NAMES } from "../../src/policy/index.js";
import { Replayer, SimulatedBacking } from "../../src/replay/index.js";
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
    expect(r).toMatchObject({ conversions: 3, discardCalls: 1, discardedPages: 8, refaultPages: 2, newPages: 16, finalDoubleAllocatedBytes: 2 * 4096, finalStaleBytes: 2 * 4096 });
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
    expect(r).toMatchObject({ refused: 2, conversions: 2, faults: { convert: 1, spurious: 1, inFlight: 0, violation: 0 } });
    expect(tracker.isPrivate(2)).toBe(true);
    expect(tracker.isPrivate(3)).toBe(true);
    tracker.dispose();
  });

  it("samples the time series every K events and at the end", async () => {
    const tracker = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    const r = new Replayer({ tracker, policy: adaptivePolicy(), shared: new SimulatedBacking("shared"), private: new SimulatedBacking("private") }, { sampleEvery: 5 });
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
