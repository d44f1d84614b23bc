import { describe, expect, it } from "vitest";
import { KVM_MAP_GPA_RANGE_ENCRYPTED } from "../../src/model/hypercall.js";
import { createTracker } from "../../src/model/create.js";

async function tracker() {
  return createTracker({ regions: [{ gfn: 0, npages: 256 }] });
}

describe("requestConversion(…, reuse)", () => {
  it("turns a settled handle into the new pending one: same object, new id, range and owned pages", async () => {
    const t = await tracker();
    const a = t.requestConversion({ gfn: 8, npages: 2, to: "private" });
    a.commit();
    const flat = a.ownedFlat;
    const b = t.requestConversion({ gfn: 8, npages: 1, to: "shared" }, a);
    expect(b).toBe(a);
    expect(b.ownedFlat).toBe(flat); // the array is reused too
    expect({ id: b.id, gfn: b.gfn, npages: b.npages, to: b.to, status: b.status, owned: [...b.ownedFlat], n: b.npagesOwned }).toEqual({
      id: 2,
      gfn: 8,
      npages: 1,
      to: "shared",
      status: "pending",
      owned: [8, 9],
      n: 1,
    });
    expect(t.state(8).conversion).toBe("pending-shared");
    b.commit();
    expect(t.state(8).conversion).toBe("shared");
    expect(t.state(9).conversion).toBe("private");
    // nothing to own: an empty owned list, still the same object
    const c = t.requestConversion({ gfn: 8, npages: 1, to: "shared" }, b);
    expect(c).toBe(a);
    expect(c.ownedFlat.length).toBe(0);
    expect(c.npagesOwned).toBe(0);
    c.commit();
    t.dispose();
  });

  it("refuses a pending handle, another tracker's handle or a non-handle (EREUSE) and changes nothing", async () => {
    const t = await tracker();
    const u = await tracker();
    const pending = t.requestConversion({ gfn: 0, npages: 1, to: "private" });
    const before = t.snapshot();
    expect(() => t.requestConversion({ gfn: 4, npages: 1, to: "private" }, pending)).toThrow(expect.objectContaining({ code: "EREUSE" }));
    const foreign = u.requestConversion({ gfn: 0, npages: 1, to: "private" });
    foreign.commit();
    expect(() => t.requestConversion({ gfn: 4, npages: 1, to: "private" }, foreign)).toThrow(expect.objectContaining({ code: "EREUSE" }));
    expect(() => t.requestConversion({ gfn: 4, npages: 1, to: "private" }, {} as never)).toThrow(expect.objectContaining({ code: "EREUSE" }));
    expect(t.snapshot()).toEqual(before);
    expect(pending.status).toBe("pending");
    pending.commit();
    t.dispose();
    u.dispose();
  });

  it("leaves the handle as it was when the request itself is refused", async () => {
    const t = await tracker();
    const a = t.requestConversion({ gfn: 16, npages: 4, to: "private" });
    a.commit();
    const blocker = t.requestConversion({ gfn: 20, npages: 1, to: "private" });
    expect(() => t.requestConversion({ gfn: 300, npages: 1, to: "shared" }, a)).toThrow(expect.objectContaining({ code: "EOUTSIDE" }));
    expect(() => t.requestConversion({ gfn: 20, npages: 1, to: "shared" }, a)).toThrow(expect.objectContaining({ code: "ECONFLICT" }));
    expect({ id: a.id, gfn: a.gfn, npages: a.npages, status: a.status, owned: [...a.ownedFlat] }).toEqual({
      id: 1,
      gfn: 16,
      npages: 4,
      status: "committed",
      owned: [16, 20],
    });
    blocker.abort();
    t.dispose();
  });

  it("returns a new handle for a request over several runs and leaves `reuse` alone", async () => {
    const t = await tracker();
    t.requestConversion({ gfn: 2, npages: 1, to: "private" }).commit();
    const a = t.requestConversion({ gfn: 5, npages: 1, to: "private" });
    a.commit();
    const b = t.requestConversion({ gfn: 0, npages: 8, to: "private" }, a); // 0–1, 3–4, 6–7 owned: three ranges
    expect(b).not.toBe(a);
    expect([...b.ownedFlat]).toEqual([0, 2, 3, 5, 6, 8]);
    expect(a.status).toBe("committed");
    expect([...a.ownedFlat]).toEqual([5, 6]);
    b.commit();
    t.dispose();
  });

  // The rule (tracker.ts openFromCore): reused when the request owns at most one range of pages.
  for (const listening of [false, true]) {
    const path = listening ? "general path (a `requested` listener)" : "flip path (no listener)";

    it(`reuses the handle for a mixed request that owns one range — ${path}`, async () => {
      const t = await tracker();
      if (listening) t.on("requested", () => {});
      t.requestConversion({ gfn: 0, npages: 4, to: "private" }).commit(); // 0–3 private already
      const a = t.requestConversion({ gfn: 40, npages: 1, to: "private" });
      a.commit();
      const b = t.requestConversion({ gfn: 0, npages: 8, to: "private" }, a); // owns 4–7 only
      expect(b).toBe(a);
      expect({ gfn: b.gfn, npages: b.npages, owned: [...b.ownedFlat], n: b.npagesOwned, status: b.status }).toEqual({
        gfn: 0,
        npages: 8,
        owned: [4, 8],
        n: 4,
        status: "pending",
      });
      b.commit();
      expect(t.isUniform(0, 8, "private")).toBe(true);
      t.dispose();
    });

    it(`returns a new handle for a request that owns two ranges and leaves \`reuse\` alone — ${path}`, async () => {
      const t = await tracker();
      if (listening) t.on("requested", () => {});
      t.requestConversion({ gfn: 4, npages: 1, to: "private" }).commit(); // page 4 private already
      const a = t.requestConversion({ gfn: 40, npages: 1, to: "private" });
      a.commit();
      const b = t.requestConversion({ gfn: 0, npages: 8, to: "private" }, a); // owns 0–3 and 5–7
      expect(b).not.toBe(a);
      expect([...b.ownedFlat]).toEqual([0, 4, 5, 8]);
      expect({ id: a.id, gfn: a.gfn, status: a.status, owned: [...a.ownedFlat] }).toEqual({ id: 2, gfn: 40, status: "committed", owned: [40, 41] });
      b.commit();
      t.dispose();
    });
  }

  it("fromHypercall follows the same rule: one owned range reused, two a new handle", async () => {
    const t = await tracker();
    t.requestConversion({ gfn: 2, npages: 1, to: "private" }).commit();
    const a = t.fromHypercall({ gpa: 40 * 4096, npages: 1, attrs: KVM_MAP_GPA_RANGE_ENCRYPTED });
    a.commit();
    const one = t.fromHypercall({ gpa: 0, npages: 3, attrs: KVM_MAP_GPA_RANGE_ENCRYPTED }, a); // page 2 private: owns 0–1
    expect(one).toBe(a);
    expect([...one.ownedFlat]).toEqual([0, 2]);
    one.commit();
    t.requestConversion({ gfn: 4, npages: 1, to: "private" }).commit(); // private now: 0–2 and 4
    const two = t.fromHypercall({ gpa: 0, npages: 8, attrs: 0 }, one); // to shared: owns 0–2 and 4
    expect(two).not.toBe(one);
    expect([...two.ownedFlat]).toEqual([0, 3, 4, 5]);
    expect({ status: one.status, owned: [...one.ownedFlat] }).toEqual({ status: "committed", owned: [0, 2] });
    two.commit();
    t.dispose();
  });

  it("fromHypercall takes a handle to reuse too", async () => {
    const t = await tracker();
    const a = t.fromHypercall({ gpa: 0x4000, npages: 1, attrs: KVM_MAP_GPA_RANGE_ENCRYPTED });
    a.commit();
    const b = t.fromHypercall({ gpa: 0x4000, npages: 1, attrs: 0 }, a);
    expect(b).toBe(a);
    expect({ to: b.to, source: b.source, status: b.status }).toEqual({ to: "shared", source: "hypercall", status: "pending" });
    b.commit();
    expect(t.isPrivate(4)).toBe(false);
    t.dispose();
  });

  it("a reused handle commits and aborts like a fresh one, and the old id is settled for good", async () => {
    const t = await tracker();
    const a = t.requestConversion({ gfn: 30, npages: 2, to: "private" });
    a.abort();
    expect(() => a.commit()).toThrow(expect.objectContaining({ code: "ESETTLED" }));
    const b = t.requestConversion({ gfn: 30, npages: 2, to: "private" }, a);
    expect(t.pendingConversions().map((c) => c.id)).toEqual([2]);
    b.commit();
    expect(() => b.abort()).toThrow(expect.objectContaining({ code: "ESETTLED" }));
    expect(t.isUniform(30, 2, "private")).toBe(true);
    t.dispose();
  });
});
