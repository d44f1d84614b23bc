import { describe, expect, it } from "vitest";
import { generateAdversarial, traceStats } from "../../src/trace/index.js";
import { checkGenerated, traceText } from "./_check.js";

describe("adversarial generator", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = traceText(generateAdversarial({ seed: 1, guestBytes: 2 ** 23 }));
    expect(traceText(generateAdversarial({ seed: 1, guestBytes: 2 ** 23 }))).toBe(a);
    expect(traceText(generateAdversarial({ seed: 2, guestBytes: 2 ** 23 }))).not.toBe(a);
  });

  it("alternate leaves every other page shared: one run per page", () => {
    const t = generateAdversarial({ guestBytes: 2 ** 24, phases: ["alternate"] });
    const r = checkGenerated(t);
    expect(r.privatePagesAtEnd).toBe(2048);
    expect(traceStats(t.events).toShared).toEqual({ requests: 2048, pages: 2048 });
  });

  it("defaults for 1 GiB: all three phases, ~900 000 events, consistent", () => {
    const t = generateAdversarial();
    const s = traceStats(t.events);
    expect(s.totalEvents).toBeGreaterThan(850_000);
    expect(s.totalEvents).toBeLessThan(950_000);
    expect(s.requestSizes["1"]).toBeGreaterThan(131_072 + 65_536);
    expect(s.pendingAtEnd).toBe(0);
  });

  it("every phase stays consistent, with aborts too", () => {
    const r = checkGenerated(generateAdversarial({ guestBytes: 2 ** 24, floodRequests: 5000, abortRate: 0.1 }));
    expect(r.aborts).toBeGreaterThan(0);
  });

  it("refuses an unknown phase", () => {
    expect(() => generateAdversarial({ phases: ["meltdown" as "flood"] })).toThrow(/unknown phase/);
  });
});
