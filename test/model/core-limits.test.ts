// What the core's conversion table and memory cap mean for a Tracker: a request past
// CONV_MAX_OPEN open conversions is refused (ENOSPC), and a request, commit, abort, populate or
// discard that cannot get memory is refused (ENOMEM) — each with the snapshot unchanged, and the
// same call working once there is room.
import { describe, expect, it } from "vitest";
import { CONV_MAX_OPEN } from "../../src/core/_abi.js";
import { MemattrMemoryError } from "../../src/core/errors.js";
import { RangeMap } from "../../src/core/range-map.js";
import { ConversionError, type PendingConversion, Tracker } from "../../src/model/index.js";
import { expectRefused } from "../support/tracker-helpers.js";

const REGIONS = [{ gfn: 0, npages: 1 << 20 }];

describe("the core's limits, seen from the Tracker", () => {
  it(`refuses the request past ${CONV_MAX_OPEN} open conversions with ENOSPC, and takes it once one settles`, async () => {
    using t = new Tracker(await RangeMap.create(), { regions: REGIONS });
    const open: PendingConversion[] = [];
    for (let i = 0; i < CONV_MAX_OPEN; i++) open.push(t.requestConversion({ gfn: 2 * i, npages: 1, to: "private" }));
    const err = expectRefused(t, () => t.requestConversion({ gfn: 1, npages: 1, to: "private" }), ConversionError, "ENOSPC");
    expect(err.message).toContain(`${CONV_MAX_OPEN} conversions are already open`);
    // a fault that would open one is refused the same way, not decided as something else
    expectRefused(t, () => t.onMemoryFault({ gpa: 4096, size: 4096, private: true }), ConversionError, "ENOSPC");
    open[17]!.commit();
    expect(t.requestConversion({ gfn: 1, npages: 1, to: "private" }).npagesOwned).toBe(1);
    expect(t.pendingConversions()).toHaveLength(CONV_MAX_OPEN);
  });

  it("refuses edits that cannot get memory with ENOMEM, changing nothing, and does them once it can", async () => {
    const map = await RangeMap.create();
    using t = new Tracker(map, { regions: REGIONS });
    // fragment a wide range, then cap memory where it stands
    for (let g = 0; g < 40_000; g += 2) t.markPopulated("shared", g, 1);
    map.setMemoryLimit(map.linearMemoryBytes());
    let refused = 0;
    const attempts: Array<() => unknown> = [];
    for (let k = 0; k < 64; k++) {
      const g = 100_000 + k * 4096 + 7; // untouched chunks: each edit needs a new leaf
      attempts.push(() => t.requestConversion({ gfn: g, npages: 3, to: "private" }));
      attempts.push(() => t.markPopulated("private", g, 3));
    }
    for (const attempt of attempts) {
      const before = t.snapshot();
      try {
        attempt();
      } catch (err) {
        expect(err).toBeInstanceOf(MemattrMemoryError);
        expect(t.snapshot()).toBe(before);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
    map.setMemoryLimit(2 ** 32);
    const c = t.requestConversion({ gfn: 900_007, npages: 3, to: "private" }); // a chunk no attempt touched
    c.commit();
    expect(t.state(900_008).conversion).toBe("private");
    map.checkInvariants();
  });
});
