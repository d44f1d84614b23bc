// The model's one-run fast paths (src/model/tracker.ts): a request, commit, populate or discard
// over a uniform range is one read and one write; the results must equal the general path's,
// over every map the model runs on (the reference maps have no pagesOfValues).
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { Tracker } from "../../src/model/index.js";
import { mapFactories } from "../support/tracker-helpers.js";

const factories = await mapFactories();

describe.each(factories)("one-run fast paths over $name", (factory) => {
  test("totalStalePages is stalePages of both sides, through random flips, touches and discards", async () => {
    const t = new Tracker(await factory.make(), { regions: [{ gfn: 0, npages: 256 }], initial: "private" });
    const op = fc.record({
      kind: fc.constantFrom("flip", "touch", "discard"),
      gfn: fc.integer({ min: 0, max: 250 }),
      npages: fc.integer({ min: 1, max: 6 }),
      shared: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 20, maxLength: 60 }), (ops) => {
        for (const o of ops) {
          const side = o.shared ? "shared" : "private";
          if (o.kind === "touch") t.markPopulated(side, o.gfn, o.npages);
          else if (o.kind === "discard") t.markDiscarded(side, o.gfn, o.npages);
          else t.requestConversion({ gfn: o.gfn, npages: o.npages, to: t.isPrivate(o.gfn) ? "shared" : "private" }).commit();
          expect(t.totalStalePages()).toBe(t.stalePages("shared") + t.stalePages("private"));
        }
      }),
      { numRuns: 40 },
    );
    t.dispose();
  });

  test("a 2-page flip at a hot gfn leaves exactly what the general path does", async () => {
    const t = new Tracker(await factory.make(), { regions: [{ gfn: 0, npages: 64 }], initial: "private" });
    t.markPopulated("private", 0, 64);
    const c = t.requestConversion({ gfn: 8, npages: 2, to: "shared" });
    expect(c.runs).toEqual([{ gfn: 8, npages: 2 }]);
    expect(t.state(9)).toMatchObject({ conversion: "pending-shared", private: "populated" });
    c.commit();
    expect(t.markPopulated("shared", 8, 2)).toEqual({ npagesNew: 2, npagesRefault: 0 });
    expect(t.markDiscarded("private", 8, 2)).toEqual({ npagesFreed: 2 });
    const joined = t.requestConversion({ gfn: 8, npages: 2, to: "shared" }); // already shared: owns nothing
    expect(joined.npagesOwned).toBe(0);
    joined.commit();
    const back = t.requestConversion({ gfn: 8, npages: 2, to: "private" });
    expect(() => t.requestConversion({ gfn: 9, npages: 1, to: "shared" })).toThrow(/pending-private/);
    back.abort();
    expect(t.state(8)).toMatchObject({ conversion: "shared", shared: "populated", private: "discarded" });
    expect(t.markPopulated("private", 8, 2)).toEqual({ npagesNew: 0, npagesRefault: 2 });
    expect(t.runs().map((r) => `${r.gfn}+${r.npages}`)).toEqual(["0+8", "8+2", "10+54"]);
    t.dispose();
  });
});
