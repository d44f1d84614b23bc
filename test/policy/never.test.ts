import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { neverPolicy } from "../../src/policy/index.js";
import { recording, step } from "./_harness.js";
import { traceArb } from "./_traces.js";

describe("never", () => {
  it("discards nothing, ever (property)", async () => {
    await fc.assert(
      fc.asyncProperty(traceArb(), async (events) => {
        const rec = recording(neverPolicy());
        const s = await step(events, rec.policy);
        expect(rec.batches).toEqual([]);
        expect(s.result.discardCalls).toBe(0);
        s.tracker.dispose();
      }),
      { numRuns: 60 },
    );
  });

  it("only the in-place-encryption copy is dropped, whatever the policy", async () => {
    const s = await step(
      [
        { type: "touch", gfn: 0, npages: 4, side: "shared", write: true },
        { type: "request", id: 1, gfn: 0, npages: 4, to: "private", preserve: true },
        { type: "commit", id: 1 },
      ],
      neverPolicy(),
    );
    expect(s.result.discardCalls).toBe(1);
    expect(s.tracker.populatedPages("shared")).toBe(0);
    s.tracker.dispose();
  });
});
