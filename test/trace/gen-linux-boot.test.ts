import { describe, expect, it } from "vitest";
import { generateLinuxBoot, traceStats } from "../../src/trace/index.js";
import { checkGenerated, traceText } from "./_check.js";

describe("linux-boot generator", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = traceText(generateLinuxBoot({ seed: 11, conversions: 300 }));
    expect(traceText(generateLinuxBoot({ seed: 11, conversions: 300 }))).toBe(a);
    expect(traceText(generateLinuxBoot({ seed: 12, conversions: 300 }))).not.toBe(a);
  });

  it("defaults: 1 GiB, a 64 MiB swiotlb, 5 000 allocate-and-convert calls mostly under 32 KiB", () => {
    const t = generateLinuxBoot();
    const r = checkGenerated(t);
    const s = traceStats(t.events);
    expect(s.toShared.requests).toBe(5001); // swiotlb + 5 000
    const requests = [...t.events].filter((e) => e.type === "request");
    expect(requests.some((e) => e.type === "request" && e.to === "shared" && e.npages === 16_384)).toBe(true);
    expect(s.requestSizes["1"] + s.requestSizes["2-7"]).toBeGreaterThan(0.85 * s.toShared.requests);
    expect(r.events).toBeGreaterThan(15_000);
    expect(r.events).toBeLessThan(30_000);
  });

  it("accepts all memory as private in chunks between 2 MiB and 256 MiB after launch", () => {
    const events = [...generateLinuxBoot({ conversions: 0 }).events];
    const launch = events.findIndex((e) => e.type === "launch");
    const accepts = events.slice(launch + 1).filter((e) => e.type === "request" && e.to === "private");
    for (const a of accepts) if (a.type === "request") expect(a.npages).toBeLessThanOrEqual(65_536);
    const pages = accepts.reduce((n, a) => n + (a.type === "request" ? a.npages : 0), 0);
    expect(pages + 4096).toBe(262_144); // plus the 16 MiB kernel encrypted in place before launch
  });

  it("stays consistent with frees, aborts and a small guest", () => {
    const r = checkGenerated(generateLinuxBoot({ guestBytes: 2 ** 27, conversions: 800, freeRate: 0.6, abortRate: 0.05, seed: 3 }));
    expect(r.aborts).toBeGreaterThan(0);
  });

  it("generates a 64 TiB guest lazily", () => {
    const it = generateLinuxBoot({ guestBytes: 2 ** 46, conversions: 10 }).events[Symbol.iterator]();
    for (let i = 0; i < 100; i++) expect(it.next().done).toBe(false);
  });
});
