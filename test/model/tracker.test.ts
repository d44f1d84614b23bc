import { describe, expect, it } from "vitest";
import { MemattrRangeError, MemattrTypeError } from "../../src/core/errors.js";
import {
  ConversionConflictError,
  ConversionError,
  ConversionSettledError,
  GUEST,
  HypercallError,
  KVM_MAP_GPA_RANGE_ENCRYPTED,
  KVM_MAP_GPA_RANGE_PAGE_SZ_1G,
  KVM_MAP_GPA_RANGE_PAGE_SZ_2M,
  KVM_MEMORY_EXIT_FLAG_PRIVATE,
  LaunchGateError,
  OutsideGuestMemoryError,
  PENDING,
  PRIVATE,
  type Tracker,
} from "../../src/model/index.js";
import { expectRefused, makeTracker, mapFactories, SMALL_GUEST } from "../support/tracker-helpers.js";

const factories = await mapFactories();
const ENC = KVM_MAP_GPA_RANGE_ENCRYPTED;

describe.each(factories)("Tracker over $name", (factory) => {
  const fresh = (opts = SMALL_GUEST) => makeTracker(factory, opts);
  const conv = (t: Tracker, gfn: number, npages: number) => t.runs(gfn, npages).map((r) => `${r.gfn}+${r.npages}:${r.state.conversion}`);

  describe("construction", () => {
    it("marks every region page as guest memory in the initial attribute and leaves the hole at 0", async () => {
      const t = await fresh();
      expect(t.totals()).toMatchObject({ guest: 96, shared: 96, private: 0 });
      expect(t.valueAt(0)).toBe(GUEST);
      expect(t.snapshot()).toContain("0+40:80,40+20:0,60+20:80");
      expect(() => t.state(64)).toThrow(OutsideGuestMemoryError);
    });

    it("starts private when asked", async () => {
      const t = await fresh({ ...SMALL_GUEST, initial: "private" });
      expect(t.isPrivate(100)).toBe(true);
      expect(t.pagesIn("private")).toBe(96);
    });
  });

  describe("requestConversion", () => {
    it("marks the owned pages pending and commit applies the attribute", async () => {
      const t = await fresh();
      const c = t.requestConversion({ gfn: 4, npages: 4, to: "private" });
      expect(c.status).toBe("pending");
      expect(t.isUniform(4, 4, "pending-private")).toBe(true);
      expect(t.isPrivate(4)).toBe(false);
      c.commit();
      expect(c.status).toBe("committed");
      expect(conv(t, 0, 64)).toEqual(["0+4:shared", "4+4:private", "8+56:shared"]);
      expect(t.pendingConversions()).toEqual([]);
    });

    it("abort restores exactly the previous state", async () => {
      const t = await fresh();
      t.requestConversion({ gfn: 10, npages: 6, to: "private" }).commit();
      const before = t.snapshot();
      const c = t.requestConversion({ gfn: 0, npages: 64, to: "shared" });
      expect(t.isUniform(10, 6, "pending-shared")).toBe(true);
      c.abort();
      expect(c.status).toBe("aborted");
      expect(t.snapshot().replace(/next=\d+/, "")).toBe(before.replace(/next=\d+/, ""));
    });

    it("does not own or count pages already in the target attribute", async () => {
      const t = await fresh();
      t.requestConversion({ gfn: 0, npages: 4, to: "private" }).commit();
      const c = t.requestConversion({ gfn: 2, npages: 6, to: "private" });
      expect(c.npagesOwned).toBe(4);
      expect(c.runs).toEqual([{ gfn: 4, npages: 4 }]);
      expect(conv(t, 0, 8)).toEqual(["0+4:private", "4+4:pending-private"]);
    });

    it("gives an empty handle when the whole range is already in the target attribute", async () => {
      const t = await fresh();
      const before = t.snapshot().replace(/next=\d+/, "");
      const c = t.requestConversion({ gfn: 0, npages: 8, to: "shared" });
      expect(c.npagesOwned).toBe(0);
      c.commit();
      expect(t.snapshot().replace(/next=\d+/, "")).toBe(before);
    });

    it("joins pages pending the same way without owning them", async () => {
      const t = await fresh();
      const a = t.requestConversion({ gfn: 0, npages: 8, to: "private" });
      const b = t.requestConversion({ gfn: 4, npages: 8, to: "private" });
      expect(b.runs).toEqual([{ gfn: 8, npages: 4 }]);
      b.commit();
      expect(conv(t, 0, 12)).toEqual(["0+8:pending-private", "8+4:private"]);
      a.commit();
      expect(t.isUniform(0, 12, "private")).toBe(true);
    });

    it("reverts joined pages when their owner aborts (documented caveat)", async () => {
      const t = await fresh();
      const a = t.requestConversion({ gfn: 0, npages: 8, to: "private" });
      const b = t.requestConversion({ gfn: 0, npages: 8, to: "private" });
      expect(b.npagesOwned).toBe(0);
      a.abort();
      b.commit();
      expect(t.isUniform(0, 8, "shared")).toBe(true);
    });

    it("refuses a request overlapping a conversion pending the other way (ECONFLICT)", async () => {
      const t = await fresh();
      t.requestConversion({ gfn: 0, npages: 8, to: "private" });
      const e = expectRefused(t, () => t.requestConversion({ gfn: 6, npages: 4, to: "shared" }), ConversionConflictError, "ECONFLICT");
      expect(e.conflictGfn).toBe(6);
      expect(e.from).toBe("pending-private");
      expect(e.message).toContain("gfn 0x6..0x9");
    });

    it("refuses joining a pending-private page with a different preserve flag (ECONFLICT)", async () => {
      const t = await fresh();
      t.requestConversion({ gfn: 0, npages: 8, to: "private", preserve: true });
      expectRefused(t, () => t.requestConversion({ gfn: 4, npages: 8, to: "private" }), ConversionConflictError, "ECONFLICT");
    });

    it("refuses double commit, commit after abort and abort after commit (ESETTLED)", async () => {
      const t = await fresh();
      const a = t.requestConversion({ gfn: 0, npages: 2, to: "private" });
      a.commit();
      expectRefused(t, () => a.commit(), ConversionSettledError, "ESETTLED");
      expectRefused(t, () => a.abort(), ConversionSettledError, "ESETTLED");
      const b = t.requestConversion({ gfn: 8, npages: 2, to: "private" });
      b.abort();
      const e = expectRefused(t, () => b.commit(), ConversionSettledError, "ESETTLED");
      expect([e.from, e.to]).toEqual(["aborted", "committed"]);
      expectRefused(t, () => b.abort(), ConversionSettledError, "ESETTLED");
    });

    it("refuses a handle from another tracker (EFOREIGN)", async () => {
      const t = await fresh();
      const u = await fresh();
      const c = u.requestConversion({ gfn: 0, npages: 2, to: "private" });
      const settle = (c as unknown as { owner: unknown }).owner;
      (c as unknown as { owner: unknown }).owner = t;
      expectRefused(t, () => c.commit(), ConversionError, "EFOREIGN");
      (c as unknown as { owner: unknown }).owner = settle;
      c.commit();
    });

    it("accepts bigint gfn and npages", async () => {
      const t = await fresh();
      t.requestConversion({ gfn: 100n, npages: 2n, to: "private" }).commit();
      expect(t.isPrivate(101)).toBe(true);
    });

    it.each<[string, unknown, unknown, unknown, string]>([
      ["NaN gfn", NaN, 1, "private", "EINVALTYPE"],
      ["Infinity npages", 0, Infinity, "private", "EINVALTYPE"],
      ["fractional gfn", 1.5, 1, "private", "EINVALTYPE"],
      ["string gfn", "1", 1, "private", "EINVALTYPE"],
      ["null npages", 0, null, "private", "EINVALTYPE"],
      ["negative gfn", -1, 1, "private", "ERANGE"],
      ["negative bigint gfn", -1n, 1, "private", "ERANGE"],
      ["zero npages", 0, 0, "private", "ERANGE"],
      ["huge gfn", 2 ** 40, 1, "private", "ERANGE"],
      ["huge npages", 0, 2 ** 53, "private", "ERANGE"],
      ["bigint beyond u64", 2n ** 64n, 1, "private", "ERANGE"],
      ["unknown target", 0, 1, "secret", "EINVALTYPE"],
      ["range in the hole", 70, 2, "private", "EOUTSIDE"],
      ["range spanning the hole", 60, 40, "private", "EOUTSIDE"],
      ["range past the last region", 120, 9, "private", "EOUTSIDE"],
    ])("refuses %s with a typed error and no change", async (_n, gfn, npages, to, code) => {
      const t = await fresh();
      t.requestConversion({ gfn: 0, npages: 4, to: "private" });
      const cls = code === "EINVALTYPE" ? MemattrTypeError : code === "ERANGE" ? MemattrRangeError : OutsideGuestMemoryError;
      expectRefused(t, () => t.requestConversion({ gfn, npages, to } as never), cls, code);
    });

    it("refuses a request that is not an object, or a non-boolean preserve", async () => {
      const t = await fresh();
      expectRefused(t, () => t.requestConversion(null as never), MemattrTypeError, "EINVALTYPE");
      expectRefused(t, () => t.requestConversion({ gfn: 0, npages: 1, to: "private", preserve: 1 } as never), MemattrTypeError, "EINVALTYPE");
    });
  });

  describe("launch gate", () => {
    it("allows preserve to private before launch and records it until commit", async () => {
      const t = await fresh();
      const c = t.requestConversion({ gfn: 0, npages: 4, to: "private", preserve: true });
      expect(t.state(0).preserve).toBe(true);
      expect(t.totals().preserving).toBe(4);
      c.commit();
      expect(t.state(0)).toMatchObject({ conversion: "private", preserve: false });
    });

    it("refuses preserve after launch (ELAUNCHED) but allows the same request without it", async () => {
      const t = await fresh();
      t.launch();
      expect(t.launched).toBe(true);
      expectRefused(t, () => t.requestConversion({ gfn: 0, npages: 4, to: "private", preserve: true }), LaunchGateError, "ELAUNCHED");
      t.requestConversion({ gfn: 0, npages: 4, to: "private" }).commit();
    });

    it("never preserves private → shared (EPRESERVE), before or after launch", async () => {
      const t = await fresh({ ...SMALL_GUEST, initial: "private" });
      expectRefused(t, () => t.requestConversion({ gfn: 0, npages: 4, to: "shared", preserve: true }), ConversionError, "EPRESERVE");
      t.launch();
      expectRefused(t, () => t.requestConversion({ gfn: 0, npages: 4, to: "shared", preserve: true }), ConversionError, "EPRESERVE");
    });

    it("refuses launch twice (ELAUNCHED) and launch with a preserving conversion pending (EPENDING)", async () => {
      const t = await fresh();
      const c = t.requestConversion({ gfn: 0, npages: 4, to: "private", preserve: true });
      expectRefused(t, () => t.launch(), LaunchGateError, "EPENDING");
      c.abort();
      t.launch();
      expectRefused(t, () => t.launch(), LaunchGateError, "ELAUNCHED");
    });
  });

  describe("fromHypercall", () => {
    const big = {
      regions: [
        { gfn: 0, npages: 1024 },
        { gfn: 0x40000, npages: 0x40000 },
      ],
    };

    it("converts to private with ENCRYPTED and to shared without", async () => {
      const t = await fresh(big);
      const c = t.fromHypercall({ gpa: 0x4000, npages: 2, attrs: ENC });
      expect([c.gfn, c.npages, c.to, c.source]).toEqual([4, 2, "private", "hypercall"]);
      c.commit();
      t.fromHypercall({ gpa: 0x5000n, npages: 1n, attrs: 0n }).commit();
      expect(conv(t, 3, 4)).toEqual(["3+1:shared", "4+1:private", "5+2:shared"]);
    });

    it("accepts 2M and 1G page sizes on aligned ranges", async () => {
      const t = await fresh(big);
      t.fromHypercall({ gpa: 0x200000, npages: 512, attrs: ENC | KVM_MAP_GPA_RANGE_PAGE_SZ_2M }).commit();
      t.fromHypercall({ gpa: 0x40000000, npages: 0x40000, attrs: ENC | KVM_MAP_GPA_RANGE_PAGE_SZ_1G }).commit();
      expect(t.pagesIn("private")).toBe(512 + 0x40000);
    });

    it.each<[string, unknown, unknown, unknown, string, string]>([
      ["unaligned gpa", 0x4001, 1, ENC, "EINVAL", "unaligned-gpa"],
      ["zero npages", 0x4000, 0, ENC, "EINVAL", "zero-npages"],
      ["wrap-around", 2n ** 64n - 4096n, 2, ENC, "EINVAL", "wrap"],
      ["wrap-around by huge npages", 0x4000n, 2n ** 64n - 1n, ENC, "EINVAL", "wrap"],
      ["unknown attribute bit", 0x4000, 1, ENC | (1 << 5), "EINVAL", "unknown-attrs"],
      ["bit 63 of attrs", 0x4000, 1, 1n << 63n, "EINVAL", "unknown-attrs"],
      ["page size 3", 0x4000, 1, 3, "EINVAL", "unknown-attrs"],
      ["2M on an unaligned gpa", 0x201000, 512, ENC | 1, "EINVAL", "page-size-alignment"],
      ["2M with npages not a multiple of 512", 0x200000, 100, ENC | 1, "EINVAL", "page-size-alignment"],
      ["1G on an unaligned gpa", 0x200000, 0x40000, ENC | 2, "EINVAL", "page-size-alignment"],
      ["a range outside guest memory", 0x400000, 1, ENC, "EOUTSIDE", ""],
      ["huge npages", 0, 2n ** 41n, ENC, "EOUTSIDE", ""],
      ["a gpa at the top of u64", 2n ** 64n - 4096n, 1, ENC, "EOUTSIDE", ""],
      ["a range ending exactly at 2^64", 2n ** 64n - 8192n, 2, ENC, "EOUTSIDE", ""],
      ["NaN gpa", NaN, 1, ENC, "EINVALTYPE", ""],
      ["negative npages", 0, -1, ENC, "ERANGE", ""],
      ["an unsafe-integer number gpa", 2 ** 60, 1, ENC, "ERANGE", ""],
      ["a bigint beyond u64", 2n ** 64n, 1, ENC, "ERANGE", ""],
      ["a fractional attrs", 0, 1, 16.5, "EINVALTYPE", ""],
    ])("refuses %s with a typed error and no change", async (_n, gpa, npages, attrs, code, reason) => {
      const t = await fresh(big);
      t.fromHypercall({ gpa: 0, npages: 1, attrs: ENC });
      const cls = code === "EINVAL" ? HypercallError : code === "EOUTSIDE" ? OutsideGuestMemoryError : code === "ERANGE" ? MemattrRangeError : MemattrTypeError;
      const e = expectRefused(t, () => t.fromHypercall({ gpa, npages, attrs } as never), cls, code);
      if (reason !== "") expect((e as unknown as HypercallError).reason).toBe(reason);
      if (e instanceof HypercallError) expect(e.guestRet).toBe(-22);
    });

    it("refuses a conflicting hypercall (ECONFLICT) with no change", async () => {
      const t = await fresh(big);
      t.fromHypercall({ gpa: 0, npages: 8, attrs: ENC });
      expectRefused(t, () => t.fromHypercall({ gpa: 0x7000, npages: 8, attrs: 0 }), ConversionConflictError, "ECONFLICT");
    });
  });

  describe("onMemoryFault", () => {
    it("treats a private access to a shared page as an implicit conversion request", async () => {
      const t = await fresh();
      const d = t.onMemoryFault({ gpa: 0x3000, size: 4096, private: true });
      expect(d.kind).toBe("convert");
      if (d.kind !== "convert") return;
      expect([d.gfn, d.npages, d.to, d.conversion.source, d.conversion.preserve]).toEqual([3, 1, "private", "fault", false]);
      d.conversion.commit();
      expect(t.isPrivate(3)).toBe(true);
    });

    it("reads the PRIVATE flag from flags when `private` is absent", async () => {
      const t = await fresh({ ...SMALL_GUEST, initial: "private" });
      expect(t.onMemoryFault({ gpa: 0x3000n, size: 4096n, flags: 0 }).kind).toBe("convert");
      expect(t.onMemoryFault({ gpa: 0x4000n, size: 4096n, flags: KVM_MEMORY_EXIT_FLAG_PRIVATE }).kind).toBe("spurious");
    });

    it("calls a fault on a page pending towards the access in-flight, and one already matching spurious", async () => {
      const t = await fresh();
      t.requestConversion({ gfn: 0, npages: 4, to: "private", preserve: true });
      const snap = t.snapshot();
      expect(t.onMemoryFault({ gpa: 0x1000, size: 4096, private: true }).kind).toBe("in-flight");
      expect(t.onMemoryFault({ gpa: 0x8000, size: 4096, private: false }).kind).toBe("spurious");
      expect(t.snapshot()).toBe(snap);
    });

    it("joins a preserving pending page when converting a mixed range", async () => {
      const t = await fresh();
      t.requestConversion({ gfn: 0, npages: 4, to: "private", preserve: true });
      const d = t.onMemoryFault({ gpa: 0x3000, size: 0x2000, private: true });
      expect(d.kind === "convert" && d.conversion.runs).toEqual([{ gfn: 4, npages: 1 }]);
    });

    it("returns a violation, with no change, for an access to a page pending the other way", async () => {
      const t = await fresh();
      t.requestConversion({ gfn: 0, npages: 4, to: "private" });
      const snap = t.snapshot();
      const d = t.onMemoryFault({ gpa: 0x2000, size: 4096, private: false });
      expect(d).toMatchObject({ kind: "violation", reason: "pending-opposite", gfn: 2 });
      expect(d.kind === "violation" && d.error.code).toBe("ECONFLICT");
      expect(t.snapshot()).toBe(snap);
    });

    it("returns a violation, with no change, outside guest memory", async () => {
      const t = await fresh();
      const snap = t.snapshot();
      for (const gpa of [64 * 4096, 2n ** 64n - 4096n, 128 * 4096]) {
        const d = t.onMemoryFault({ gpa, size: 4096, private: true });
        expect(d).toMatchObject({ kind: "violation", reason: "outside-guest-memory" });
      }
      expect(t.snapshot()).toBe(snap);
    });

    it("rounds a byte range out to the pages it touches", async () => {
      const t = await fresh();
      const d = t.onMemoryFault({ gpa: 0x1ffe, size: 4, private: true });
      expect([d.gfn, d.npages]).toEqual([1, 2]);
    });

    it.each<[string, unknown, string]>([
      ["size 0", { gpa: 0, size: 0, private: true }, "ERANGE"],
      ["NaN gpa", { gpa: NaN, size: 4096, private: true }, "EINVALTYPE"],
      ["gpa + size past 2^64", { gpa: 2n ** 64n - 4096n, size: 8192, private: true }, "ERANGE"],
      ["no private and no flags", { gpa: 0, size: 4096 }, "ERANGE"],
      ["non-boolean private", { gpa: 0, size: 4096, private: 1 }, "EINVALTYPE"],
    ])("refuses a malformed fault (%s) with a typed error and no change", async (_n, args, code) => {
      const t = await fresh();
      expectRefused(t, () => t.onMemoryFault(args as never), code === "ERANGE" ? MemattrRangeError : MemattrTypeError, code);
    });
  });

  describe("backings", () => {
    it("counts new pages, refaults and freed pages", async () => {
      const t = await fresh();
      expect(t.markPopulated("shared", 0, 8)).toEqual({ npagesNew: 8, npagesRefault: 0 });
      expect(t.markPopulated("shared", 4, 8)).toEqual({ npagesNew: 4, npagesRefault: 0 });
      expect(t.markDiscarded("shared", 2, 20)).toEqual({ npagesFreed: 10 });
      expect(t.markPopulated("shared", 0, 16)).toEqual({ npagesNew: 4, npagesRefault: 10 });
      expect(t.state(2).shared).toBe("populated");
      expect(t.state(20).shared).toBe("empty"); // discarding a hole is not recorded
    });

    it("counts double allocation in pages and bytes from per-value totals", async () => {
      const t = await fresh();
      t.markPopulated("shared", 0, 32);
      t.markPopulated("private", 16, 32);
      t.markPopulated("private", 100, 4);
      expect(t.doubleAllocatedPages()).toBe(16);
      expect(t.doubleAllocatedBytes()).toBe(16 * 4096);
      expect(t.populatedPages("private")).toBe(36);
      expect(t.totals()).toMatchObject({ doubleAllocated: 16, sharedPopulated: 32, privatePopulated: 36 });
    });

    it("reports stale pages: populated on the side the page no longer uses", async () => {
      const t = await fresh();
      t.markPopulated("shared", 0, 16);
      t.requestConversion({ gfn: 0, npages: 8, to: "private" }).commit();
      t.requestConversion({ gfn: 4, npages: 4, to: "shared" }); // pending back: not stale
      expect(t.stalePages("shared")).toBe(4);
      expect(t.staleRuns("shared")).toEqual([{ gfn: 0, npages: 4 }]);
      expect(t.populatedRuns("shared", 0, 64)).toEqual([{ gfn: 0, npages: 16 }]);
      expect(t.rangesIn("pending-shared")).toEqual([{ gfn: 4, npages: 4 }]);
      // hasStalePages: one value (one core call) or several runs, either side
      expect(t.hasStalePages(0, 4)).toBe(true);
      expect(t.hasStalePages(2, 1)).toBe(true);
      expect(t.hasStalePages(4, 4)).toBe(false); // pending: not stale
      expect(t.hasStalePages(8, 8)).toBe(false); // shared, populated shared: in use
      expect(t.hasStalePages(8, 56)).toBe(false);
      expect(t.hasStalePages(3, 20)).toBe(true); // mixed runs, the first stale
      expect(t.hasStalePages(4, 60)).toBe(false);
      t.markPopulated("private", 40, 1); // shared page populated private: stale on that side
      expect(t.hasStalePages(16, 48)).toBe(true);
      expect(t.hasStalePages(40, 1)).toBe(true);
      expectRefused(t, () => t.hasStalePages(60, 8), OutsideGuestMemoryError, "EOUTSIDE");
    });

    it("says on a settled handle whether its owned pages were left stale, when it knows without a walk", async () => {
      const t = await fresh();
      t.markPopulated("shared", 0, 4);
      const a = t.requestConversion({ gfn: 0, npages: 4, to: "private" });
      expect(a.leftStale).toBeUndefined(); // pending
      a.commit();
      expect(a.leftStale).toBe(true); // the shared copies are stale now
      const b = t.requestConversion({ gfn: 8, npages: 4, to: "private" });
      b.commit();
      expect(b.leftStale).toBe(false); // nothing populated
      const c = t.requestConversion({ gfn: 0, npages: 4, to: "shared" });
      c.abort();
      expect(c.leftStale).toBe(true); // back to private, shared copies still stale
      // owned pages of two values (one populated): not known without a walk
      t.markPopulated("private", 20, 1);
      const d = t.requestConversion({ gfn: 20, npages: 4, to: "private" });
      d.commit();
      expect(d.leftStale).toBeUndefined();
      expect(t.hasStalePages(20, 4)).toBe(false);
      // a request that owns nothing
      const e = t.requestConversion({ gfn: 20, npages: 4, to: "private" });
      e.commit();
      expect(e.npagesOwned).toBe(0);
      expect(e.leftStale).toBe(false);
      // reused, the handle forgets until it settles again
      const f = t.requestConversion({ gfn: 30, npages: 1, to: "private" }, e);
      expect(f).toBe(e);
      expect(f.leftStale).toBeUndefined();
    });

    it("keeps backing changes made while a conversion is pending when it aborts", async () => {
      const t = await fresh();
      const c = t.requestConversion({ gfn: 0, npages: 8, to: "private" });
      t.markPopulated("private", 0, 8);
      c.abort();
      expect(t.state(0)).toMatchObject({ conversion: "shared", private: "populated" });
    });

    it("refuses a bad side or range with no change", async () => {
      const t = await fresh();
      expectRefused(t, () => t.markPopulated("both" as never, 0, 1), MemattrTypeError, "EINVALTYPE");
      expectRefused(t, () => t.markDiscarded("shared", 64, 1), OutsideGuestMemoryError, "EOUTSIDE");
      expectRefused(t, () => t.markPopulated("private", 0, -1), MemattrRangeError, "ERANGE");
    });
  });

  describe("queries", () => {
    it("answers isPrivate, state, isUniform, pagesIn and runs", async () => {
      const t = await fresh();
      t.requestConversion({ gfn: 96, npages: 8, to: "private" }).commit();
      t.requestConversion({ gfn: 100, npages: 2, to: "shared" });
      expect(t.isPrivate(100)).toBe(true);
      expect(t.state(100)).toMatchObject({ conversion: "pending-shared", attribute: "private", pending: "shared" });
      expect(t.isUniform(96, 4, "private")).toBe(true);
      expect(t.isUniform(96, 8, "private")).toBe(false);
      expect(t.pagesIn("pending-shared")).toBe(2);
      expect(t.valueAt(100)).toBe(GUEST | PRIVATE | PENDING);
      expect(conv(t, 96, 32)).toEqual(["96+4:private", "100+2:pending-shared", "102+2:private", "104+24:shared"]);
      expect(t.runs().length).toBe(5);
      expect(t.runCount()).toBeGreaterThanOrEqual(6);
    });

    it("refuses queries outside guest memory", async () => {
      const t = await fresh();
      expect(() => t.isPrivate(64)).toThrow(OutsideGuestMemoryError);
      expect(() => t.isUniform(60, 10, "shared")).toThrow(OutsideGuestMemoryError);
      expect(() => t.isUniform(0, 1, "weird" as never)).toThrow(MemattrTypeError);
    });

    it("gives equal snapshots for equal histories and different ones otherwise", async () => {
      const run = async () => {
        const t = await fresh();
        t.requestConversion({ gfn: 1, npages: 3, to: "private" }).commit();
        t.requestConversion({ gfn: 2, npages: 30, to: "private", preserve: true });
        t.markPopulated("shared", 0, 5);
        return t;
      };
      const [a, b] = [await run(), await run()];
      expect(a.snapshot()).toBe(b.snapshot());
      b.markDiscarded("shared", 0, 1);
      expect(a.snapshot()).not.toBe(b.snapshot());
    });
  });
});
