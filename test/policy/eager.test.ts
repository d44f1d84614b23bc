import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createTracker } from "../../src/model/index.js";
import { eagerPolicy } from "../../src/policy/index.js";
import { step } from "./_harness.js";
import { traceArb } from "./_traces.js";

describe("eager", () => {
  it("discards the side a conversion left, one range per owned run", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
    t.requestConversion({ gfn: 4, npages: 4, to: "private" }).commit();
    const c = t.requestConversion({ gfn: 0, npages: 16, to: "private" });
    c.commit();
    expect(eagerPolicy().onCommit(t, c, 0)).toEqual({
      shared: [
        { gfn: 0, npages: 4 },
        { gfn: 8, npages: 8 },
      ],
      private: [],
    });
    t.dispose();
  });

  it("leaves no stale page after each commit (property)", async () => {
    await fc.assert(
      fc.asyncProperty(traceArb({ preserve: true }), async (events) => {
        const s = await step(events, eagerPolicy(), (t, ev) => {
          if (ev.type === "commit") expect(t.stalePages("shared") + t.stalePages("private")).toBe(0);
        });
        s.tracker.dispose();
      }),
      { numRuns: 60 },
    );
  });
});
