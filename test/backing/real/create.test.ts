import { describe, expect, it } from "vitest";
import { createRealBackings, probeRealBackings, REAL_BACKINGS_LABEL } from "../../../src/backing/real/create.js";
import { KvmError } from "../../../src/kvm/errors.js";
import { Kvm } from "../../../src/kvm/system.js";
import { TWO_REGIONS, fdCount, realMissing } from "./_support.js";

describe("probeRealBackings", () => {
  it("names a missing /dev/kvm and labels the fallback as simulated", () => {
    const p = probeRealBackings("/dev/no-such-kvm");
    expect(p).toMatchObject({ available: false, missing: "dev-kvm", reason: "no /dev/no-such-kvm on this host" });
    expect(p.label).toMatch(/^simulated backing \(no real memory\) — no \/dev\/no-such-kvm/);
  });
  it.skipIf(realMissing)("reports real backings available on this host, with the real label", () => {
    const p = probeRealBackings();
    expect(p).toEqual({ available: true, label: REAL_BACKINGS_LABEL, memslots: true });
  });
});

describe.skipIf(realMissing)("createRealBackings", () => {
  it("returns both sides over one layout, memslots bound per region, the VM", async () => {
    using b = await createRealBackings({ regions: TWO_REGIONS });
    expect(b.shared.kind).toBe("memfd");
    expect(b.private.kind).toBe("guest_memfd");
    expect([b.shared.side, b.private.side, b.shared.simulated, b.private.simulated]).toEqual(["shared", "private", false, false]);
    expect(b.layout.sameAs(b.shared.layout) && b.layout.sameAs(b.private.layout)).toBe(true);
    expect(b.memslotCount).toBe(2);
    expect(b.label).toBe(REAL_BACKINGS_LABEL);
    // the slots are really there: binding slot 0 again over other memory is refused
    expect(() => b.vm.setUserMemoryRegion2({ slot: 2, guestPhysAddr: 0, memorySizeBytes: 4096, userspaceAddr: b.shared.addressOf(0) })).toThrow(KvmError);
  });
  it("punches guest_memfd pages bound to a memslot (the invalidation a real VM pays)", async () => {
    using b = await createRealBackings({ regions: TWO_REGIONS });
    b.private.touch(0x100, 4, true, 0x42);
    b.private.discard([{ gfn: 0x101, npages: 2 }]);
    expect([0x100, 0x101, 0x102, 0x103].map((g) => b.private.readPage(g)[0])).toEqual([0x42, 0, 0, 0x42]);
  });
  it("can skip memslots and use a caller's /dev/kvm, leaving it open", async () => {
    using kvm = Kvm.open();
    const b = await createRealBackings({ regions: TWO_REGIONS, kvm, memslots: false });
    expect(b.memslotCount).toBe(0);
    b.close();
    b.close();
    expect([b.shared.closed, b.private.closed, b.vm.closed, kvm.closed]).toEqual([true, true, true, false]);
  });
  it("leaks no descriptor over 100 create/close cycles", async () => {
    const before = fdCount();
    for (let i = 0; i < 100; i++) {
      using b = await createRealBackings({ regions: TWO_REGIONS });
      b.shared.touch(i % 32, 1, true);
      b.private.touch(i % 32, 1, true);
      b.shared.discard([{ gfn: i % 32, npages: 1 }]);
    }
    expect(fdCount()).toBe(before);
  });
});
