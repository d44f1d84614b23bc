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
