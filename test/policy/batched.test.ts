import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/model/index.js";
import { batchedPolicy } from "../../src/policy/index.js";
import { step } from "./_harness.js";
import { traceArb } from "./_traces.js";

async function flipped(t: Tracker, gfn: number, to: "private" | "shared") {
  const c = t.requestConversion({ gfn, npages: 1, to });
  c.commit();
  return c;
}

describe("batched", () => {
  it("flushes after maxConversions conversions, only what is still stale", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    t.markPopulated("shared", 0, 64);
    const p = batchedPolicy({ maxConversions: 3, intervalMs: 1e9 });
    expect(p.onCommit(t, await flipped(t, 1, "private"), 0)).toBeNull();
    expect(p.onCommit(t, await flipped(t, 5, "private"), 0)).toBeNull();
    expect(p.onCommit(t, await flipped(t, 2, "private"), 0)).toEqual({
      shared: [
        { gfn: 1, npages: 2 },
        { gfn: 5, npages: 1 },
      ],
      private: [],
    });
    t.dispose();
  });

  it("skips pages that flipped back before the flush", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    t.markPopulated("shared", 0, 64);
    const p = batchedPolicy({ maxConversions: 2, intervalMs: 1e9 });
    expect(p.onCommit(t, await flipped(t, 1, "private"), 0)).toBeNull();
    expect(p.onCommit(t, await flipped(t, 1, "shared"), 0)).toBeNull(); // nothing populated privately, nothing stale
    t.dispose();
  });

  it("queues only conversions that left stale pages: accepting unpopulated memory fills nothing", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 4096 }] });
    t.markPopulated("shared", 0, 4);
    const p = batchedPolicy({ maxQueuedBytes: 16 * 4096, maxConversions: 1e9, intervalMs: 1e9 });
    expect(p.onCommit(t, await flipped(t, 1, "private"), 0)).toBeNull(); // 1 stale page queued
    // accepts of 64 never-populated pages each, far past the 16-page budget: none is queued
    for (let k = 0; k < 20; k++) {
      const c = t.requestConversion({ gfn: 64 + 64 * k, npages: 64, to: "private" });
      c.commit();
      expect(p.onCommit(t, c, 0)).toBeNull();
    }
    expect(p.flush(t, 0)).toEqual({ shared: [{ gfn: 1, npages: 1 }], private: [] });
    t.dispose();
  });

  it("flushes at the byte budget", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    t.markPopulated("shared", 0, 64);
    const p = batchedPolicy({ maxQueuedBytes: 3 * 4096, maxConversions: 1000, intervalMs: 1e9 });
    const a = t.requestConversion({ gfn: 0, npages: 2, to: "private" });
    a.commit();
    expect(p.onCommit(t, a, 0)).toBeNull();
    const b = t.requestConversion({ gfn: 10, npages: 1, to: "private" });
    b.commit();
    expect(p.onCommit(t, b, 0)).toEqual({
      shared: [
        { gfn: 0, npages: 2 },
        { gfn: 10, npages: 1 },
      ],
      private: [],
    });
    t.dispose();
  });

  it("flushes after the time interval", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    t.markPopulated("shared", 0, 64);
    const p = batchedPolicy({ maxConversions: 1000, intervalMs: 10 });
    expect(p.onCommit(t, await flipped(t, 1, "private"), 100)).toBeNull();
    expect(p.onCommit(t, await flipped(t, 3, "private"), 105)).toBeNull();
    expect(p.onCommit(t, await flipped(t, 7, "private"), 110)?.shared).toEqual([
      { gfn: 1, npages: 1 },
      { gfn: 3, npages: 1 },
      { gfn: 7, npages: 1 },
    ]);
    t.dispose();
  });

  it("rejects a threshold that is not > 0", () => {
    expect(() => batchedPolicy({ maxConversions: 0 })).toThrow(/maxConversions/);
  });

  it("keeps stale pages within the byte budget plus one conversion (property)", async () => {
    const maxQueuedBytes = 8 * 4096;
    await fc.assert(
      fc.asyncProperty(traceArb(), fc.integer({ min: 1, max: 10 }), async (events, maxConversions) => {
        const s = await step(events, batchedPolicy({ maxQueuedBytes, maxConversions, intervalMs: 1e9 }), (t) => {
          // Conversions in traceArb are at most 8 pages.
          expect(t.stalePages("shared") + t.stalePages("private")).toBeLessThan(maxQueuedBytes / 4096 + 8);
        });
        expect(s.result.finalStaleBytes).toBe(0); // flushed at the end
        s.tracker.dispose();
      }),
      { numRuns: 60 },
    );
  });
});
