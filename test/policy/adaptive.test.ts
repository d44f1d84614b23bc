import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createTracker } from "../../src/model/index.js";
import { adaptivePolicy } from "../../src/policy/index.js";
import { generateTrace } from "../../src/trace/index.js";
import { recording, step } from "./_harness.js";
import { traceArb } from "./_traces.js";

describe("adaptive", () => {
  it("keeps a flip-flopping page populated on both sides (no discard under budget)", async () => {
    const rec = recording(adaptivePolicy({ budgetBytes: 4 * 4096 }));
    const events = [{ type: "launch" as const }];
    let id = 1;
    const flips = [];
    for (let i = 0; i < 50; i++) {
      const to = i % 2 === 0 ? ("shared" as const) : ("private" as const);
      flips.push(
        { type: "request" as const, id, gfn: 8, npages: 1, to },
        { type: "commit" as const, id: id++ },
        { type: "touch" as const, gfn: 8, npages: 1, side: to, write: true },
      );
    }
    const s = await step([...events, ...flips], rec.policy);
    expect(rec.batches).toEqual([]);
    expect(s.result.refaultPages).toBe(0);
    s.tracker.dispose();
  });

  it("evicts the coldest stale ranges first, down to the low-water mark", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    t.markPopulated("shared", 0, 64);
    const p = adaptivePolicy({ budgetBytes: 4 * 4096, lowWaterRatio: 0.5 });
    let batch = null;
    for (const gfn of [10, 20, 30, 40, 50]) {
      const c = t.requestConversion({ gfn, npages: 1, to: "private" });
      c.commit();
      batch = p.onCommit(t, c, 0);
    }
    expect(batch).toEqual({
      shared: [
        { gfn: 10, npages: 1 },
        { gfn: 20, npages: 1 },
        { gfn: 30, npages: 1 },
      ],
      private: [],
    });
    t.dispose();
  });

  it("gives a range flipped again a second chance: the next oldest goes first (CLOCK)", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    t.markPopulated("shared", 0, 64);
    const p = adaptivePolicy({ budgetBytes: 4 * 4096, lowWaterRatio: 0.5 });
    const flip = (gfn: number, to: "private" | "shared") => {
      const c = t.requestConversion({ gfn, npages: 1, to });
      c.commit();
      return p.onCommit(t, c, 0);
    };
    for (const gfn of [10, 20, 30, 40]) expect(flip(gfn, "private")).toBeNull();
    // 10, the oldest, flips out and back: referenced again, it stays stale on the shared side.
    expect(flip(10, "shared")).toBeNull();
    expect(flip(10, "private")).toBeNull();
    // A fifth stale page goes over budget (4): down to 2, skipping referenced 10 once.
    expect(flip(50, "private")).toEqual({
      shared: [
        { gfn: 20, npages: 1 },
        { gfn: 30, npages: 1 },
        { gfn: 40, npages: 1 },
      ],
      private: [],
    });
    t.dispose();
  });

  it("remembers only conversions that left stale pages: accepting unpopulated memory evicts nothing", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 4096 }] });
    t.markPopulated("shared", 0, 32);
    const p = adaptivePolicy({ budgetBytes: 64 * 4096, maxEntries: 2 });
    const flip = (gfn: number, npages: number) => {
      const c = t.requestConversion({ gfn, npages, to: "private" });
      c.commit();
      return p.onCommit(t, c, 0);
    };
    expect(flip(10, 1)).toBeNull(); // stale on the shared side: remembered
    expect(flip(20, 1)).toBeNull();
    // 200 accepts of never-populated memory: nothing stale, no entry — the ring of 2 keeps 10 and 20
    for (let k = 0; k < 200; k++) expect(flip(64 + 16 * k, 16)).toBeNull();
    expect(t.stalePages("shared")).toBe(2);
    // a third stale range overflows the ring: the oldest (10) is evicted and discarded
    expect(flip(30, 1)).toEqual({ shared: [{ gfn: 10, npages: 1 }], private: [] });
    t.dispose();
  });

  it("rejects a budget under one page", () => {
    expect(() => adaptivePolicy({ budgetBytes: 100 })).toThrow(/budgetBytes/);
  });

  it("never exceeds its budget, stale or double-allocated (property)", async () => {
    await fc.assert(
      fc.asyncProperty(traceArb({ preserve: true }), fc.integer({ min: 1, max: 12 }), async (events, budgetPages) => {
        const s = await step(events, adaptivePolicy({ budgetBytes: budgetPages * 4096 }), (t) => {
          expect(t.stalePages("shared") + t.stalePages("private")).toBeLessThanOrEqual(budgetPages);
          expect(t.doubleAllocatedPages()).toBeLessThanOrEqual(Math.max(budgetPages, 8)); // 8: one in-place-encryption chunk in flight
        });
        s.tracker.dispose();
      }),
      { numRuns: 60 },
    );
  });

  it("stays under budget on the adversarial generator while never holds far more", async () => {
    const { header, events } = generateTrace("adversarial", { guestBytes: 16 * 2 ** 20, seed: 3, floodRequests: 2000 });
    const budgetBytes = 64 * 4096;
    const a = await step([...events], adaptivePolicy({ budgetBytes }), () => {}, { regions: header.regions });
    expect(a.result.peakDoubleAllocatedBytes).toBeLessThanOrEqual(budgetBytes);
    const n = await step([...events], (await import("../../src/policy/index.js")).neverPolicy(), () => {}, { regions: header.regions });
    expect(n.result.peakDoubleAllocatedBytes).toBeGreaterThan(20 * budgetBytes);
    a.tracker.dispose();
    n.tracker.dispose();
  });
});
