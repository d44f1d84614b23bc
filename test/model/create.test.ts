import { describe, expect, it } from "vitest";
import { MemattrDisposedError, MemattrRangeError } from "../../src/core/errors.js";
import { createTracker, KVM_MAP_GPA_RANGE_ENCRYPTED, ramRegions } from "../../src/index.js";

describe("createTracker", () => {
  it("runs the README example: a guest request committed", async () => {
    // --- README example (imports "memattr" there) ---
    const t = await createTracker({ regions: ramRegions(2 ** 30) }); // 1 GiB guest, all shared
    t.on("committed", (e) => console.log(`committed #${e.id}:`, e.runs)); // optional listener
    // The guest's KVM_HC_MAP_GPA_RANGE exit: make 16 pages at 1 MiB private (untrusted values).
    const conversion = t.fromHypercall({ gpa: 0x10_0000n, npages: 16n, attrs: BigInt(KVM_MAP_GPA_RANGE_ENCRYPTED) });
    console.log(t.state(0x100).conversion); // "pending-private"
    // ... the VMM's KVM_SET_MEMORY_ATTRIBUTES succeeded:
    conversion.commit();
    console.log(t.isPrivate(0x100), t.totals().private); // true 16
    t.dispose();
    // --- end ---
    expect(conversion.status).toBe("committed");
  });

  it("builds over the Wasm RangeMap with its memory in use", async () => {
    using t = await createTracker({ regions: ramRegions(8 * 2 ** 30) });
    expect(t.totals().guest).toBe(2 * 2 ** 20);
    expect(t.memoryBytes()).toBeGreaterThan(0);
    expect(t.runs().length).toBe(2);
  });

  it("refuses use after dispose with EDISPOSED", async () => {
    const t = await createTracker({ regions: [{ gfn: 0, npages: 16 }] });
    t.dispose();
    expect(() => t.isPrivate(0)).toThrow(MemattrDisposedError);
  });

  it("refuses a bad memory map", async () => {
    await expect(createTracker({ regions: [] })).rejects.toThrow(MemattrRangeError);
  });
});
