import { describe, expect, it } from "vitest";
import { generateOvmfDma, traceStats } from "../../src/trace/index.js";
import { checkGenerated, traceText } from "./_check.js";

describe("ovmf-dma generator", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = traceText(generateOvmfDma({ seed: 5, transactions: 200, guestBytes: 2 ** 28 }));
    expect(traceText(generateOvmfDma({ seed: 5, transactions: 200, guestBytes: 2 ** 28 }))).toBe(a);
    expect(traceText(generateOvmfDma({ seed: 6, transactions: 200, guestBytes: 2 ** 28 }))).not.toBe(a);
  });

  it("iterating the events twice gives the same events", () => {
    const t = generateOvmfDma({ transactions: 50 });
    expect([...t.events]).toEqual([...t.events]);
  });

  it("defaults: 1 GiB guest, 10 000 transactions, sane and consistent", () => {
    const t = generateOvmfDma();
    expect(t.header.regions).toEqual([{ gfn: 0, npages: 262_144 }]);
    expect(t.header.generator).toMatchObject({ name: "ovmf-dma", seed: 1, params: { transactions: 10_000, guestBytes: 2 ** 30 } });
    const r = checkGenerated(t);
    const s = traceStats(t.events);
    expect(s.toShared.requests).toBe(10_000);
    expect(s.events.launch).toBe(1);
    expect(s.preserveRequests).toBe(1);
    expect(r.events).toBeGreaterThan(95_000);
    expect(r.events).toBeLessThan(105_000);
    expect(r.privatePagesAtEnd).toBe(262_144); // every bounce page went back to private
  });

  it("flips only a few hot bounce gfns", () => {
    const hot = new Set<number>();
    for (const ev of generateOvmfDma({ transactions: 2000, hotSlots: 3 }).events) if (ev.type === "request" && ev.to === "shared") hot.add(ev.gfn);
    expect(hot.size).toBe(3);
  });

  it("the guest validates each bounce range on the private side right after taking it back", () => {
    const evs = [...generateOvmfDma({ transactions: 300, guestBytes: 2 ** 27 }).events];
    let checked = 0;
    for (let i = 0; i + 2 < evs.length; i++) {
      const req = evs[i]!;
      if (req.type !== "request" || req.to !== "private" || req.preserve === true || req.npages > 2) continue;
      expect(evs[i + 1]).toEqual({ type: "commit", id: req.id });
      expect(evs[i + 2]).toEqual({ type: "touch", gfn: req.gfn, npages: req.npages, side: "private", write: false });
      checked++;
    }
    expect(checked).toBe(300);
  });

  it("with an abort rate, aborted attempts are retried and everything is closed", () => {
    const r = checkGenerated(generateOvmfDma({ transactions: 500, abortRate: 0.2, guestBytes: 2 ** 26 }));
    expect(r.aborts).toBeGreaterThan(100);
  });

  it("refuses a guest below 8 MiB and a rate outside [0, 1]", () => {
    expect(() => generateOvmfDma({ guestBytes: 2 ** 20 })).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => generateOvmfDma({ guestBytes: 2 ** 30 + 1 })).toThrow(/multiple of 4096/);
    expect(() => generateOvmfDma({ abortRate: 2 })).toThrow(expect.objectContaining({ code: "ERANGE" }));
  });
});
