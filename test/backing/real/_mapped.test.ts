// What both real backings share (src/backing/_mapped.ts): copyFrom, writePage, pagePattern.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemattrDisposedError, MemattrRangeError, MemattrTypeError } from "../../../src/core/errors.js";
import { createRealBackings, type RealBackings } from "../../../src/backing/real/create.js";
import { BackingError } from "../../../src/backing/real/errors.js";
import { SharedMemfdBacking } from "../../../src/backing/real/memfd.js";
import { pagePattern } from "../../../src/backing/real/_mapped.js";
import type { Backing } from "../../../src/backing/contract.js";
import { TWO_REGIONS, expectCode, pageOf, realMissing } from "./_support.js";

describe("pagePattern", () => {
  it("is never zero and differs between neighbours", () => {
    for (let g = 0; g < 4096; g++) {
      expect(pagePattern(g)).toBeGreaterThan(0);
      expect(pagePattern(g)).toBeLessThan(256);
    }
    expect(pagePattern(2 ** 40 - 1)).toBeGreaterThan(0);
    const distinct = new Set(Array.from({ length: 16 }, (_, g) => pagePattern(g)));
    expect(distinct.size).toBeGreaterThan(12);
  });
});

describe.skipIf(realMissing)("copyFrom and writePage (real backings)", () => {
  let b: RealBackings;
  beforeAll(async () => {
    b = await createRealBackings({ regions: TWO_REGIONS });
  });
  afterAll(() => b?.close());

  it("copies shared pages into the private backing exactly (in-place encryption)", () => {
    const pages = [pageOf(undefined, 11), pageOf(undefined, 12), pageOf(undefined, 13)];
    pages.forEach((p, i) => b.shared.writePage(0x10d + i, p));
    b.private.touch(0x10c, 5, true, 0x99); // neighbours that must survive
    b.private.copyFrom(b.shared, 0x10d, 3);
    pages.forEach((p, i) => expect(b.private.readPage(0x10d + i)).toEqual(p));
    expect(b.private.readPage(0x10c)[0]).toBe(0x99);
    expect(b.private.readPage(0x110)[0]).toBe(0x99);
    expect(b.private.stats.copiedPages).toBe(3);
    expect(b.private.populatedRanges()).toContainEqual({ gfn: 0x10c, npages: 5 });
  });
  it("refuses a private → shared copy (ELEAK)", () => {
    b.private.writePage(1, pageOf(0x5e));
    expectCode(() => b.shared.copyFrom(b.private, 1, 1), "ELEAK", BackingError);
    expect(b.shared.readPage(1)).toEqual(new Uint8Array(4096));
  });
  it("refuses a source with another memory map (ELAYOUT), a simulated source (EINVALTYPE), itself and bad ranges", () => {
    using other = SharedMemfdBacking.create([{ gfn: 0, npages: 64 }]);
    expectCode(() => b.private.copyFrom(other, 0, 1), "ELAYOUT", BackingError);
    const fake = { kind: "simulated", side: "shared", simulated: true } as unknown as Backing;
    expectCode(() => b.private.copyFrom(fake, 0, 1), "EINVALTYPE", MemattrTypeError);
    expectCode(() => b.private.copyFrom(b.private, 0, 1), "ERANGE", MemattrRangeError);
    expectCode(() => b.private.copyFrom(b.shared, 30, 4), "EOUTSIDE");
  });
  it("refuses a closed source (EDISPOSED)", () => {
    const closed = SharedMemfdBacking.create(TWO_REGIONS);
    closed.close();
    expectCode(() => b.private.copyFrom(closed, 0, 1), "EDISPOSED", MemattrDisposedError);
  });
  it("writes at most one page with writePage, leaving the rest of the page", () => {
    b.private.writePage(2, pageOf(0xaa));
    b.private.writePage(2, new Uint8Array([1, 2]));
    const p = b.private.readPage(2);
    expect([p[0], p[1], p[2], p[4095]]).toEqual([1, 2, 0xaa, 0xaa]);
    expectCode(() => b.private.writePage(2, "x" as never), "EINVALTYPE", MemattrTypeError);
  });
});
