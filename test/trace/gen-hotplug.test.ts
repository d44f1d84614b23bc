// The hotplug generator: valid traces (the reader follows its memory map), deterministic,
// replayed under every policy with nothing refused and unplugged memory dropped.
import { describe, expect, it } from "vitest";
import { POLICY_NAMES } from "../../src/policy/index.js";
import { replayAll, simulatedTargets } from "../../src/replay/index.js";
import { generateHotplug, generateTrace, parseTraceSync, traceStats, traceToString } from "../../src/trace/index.js";

const SMALL = { guestBytes: 2 ** 28, deviceBytes: 2 ** 27, transactions: 3000, hotplugEvery: 20, seed: 5 };

describe("hotplug generator", () => {
  it("writes a trace the reader accepts, with plugs, unplugs and memslot updates, the same for a seed", () => {
    const a = generateHotplug(SMALL);
    const text = traceToString(a.header, a.events);
    expect(traceToString(generateTrace("hotplug", SMALL).header, generateTrace("hotplug", SMALL).events)).toBe(text);
    expect(traceToString(a.header, generateHotplug({ ...SMALL, seed: 6 }).events)).not.toBe(text);
    const parsed = parseTraceSync(text);
    const s = traceStats(parsed.events);
    expect(s.events["region-add"]).toBeGreaterThan(10);
    expect(s.events["region-remove"]).toBeGreaterThan(5);
    // boot slot + one per plug and unplug + dirty logging on + the boot slot deleted and re-created
    expect(s.events.memslot).toBe(1 + s.events["region-add"] + s.events["region-remove"] + 3);
    expect(s.pendingAtEnd).toBe(0);
    expect(a.header.regions).toEqual([{ gfn: 0, npages: 2 ** 16 }]);
  });

  it("replays under every policy: nothing refused, every unplug taken, what the blocks held dropped", async () => {
    const { header, events } = generateHotplug(SMALL);
    const list = [...events];
    const adds = list.filter((e) => e.type === "region-add").length;
    const removes = list.filter((e) => e.type === "region-remove").length;
    const results = await replayAll(() => list, simulatedTargets(header.regions), { policies: POLICY_NAMES });
    for (const r of results) {
      expect(r.refused, r.policy).toBe(0);
      expect(r.memory, r.policy).toMatchObject({
        regionsAdded: adds,
        regionsRemoved: removes,
        memslotUpdates: list.length - list.filter((e) => e.type !== "memslot").length,
      });
      expect(r.memory.unpluggedPages, r.policy).toBeGreaterThan(0); // blocks were touched before they went
      expect(r.pendingAtEnd).toBe(0);
    }
    // eager keeps nothing stale; never keeps the most
    const by = Object.fromEntries(results.map((r) => [r.policy, r]));
    expect(by.eager!.finalDoubleAllocatedBytes).toBe(0);
    expect(by.never!.finalDoubleAllocatedBytes).toBeGreaterThan(0);
  });

  it.each([
    [{ blockBytes: 3 * 2 ** 20 }, /blockBytes \/ 2 MiB must be an integer/],
    [{ deviceBytes: 2 ** 20 }, /deviceBytes \/ blockBytes must be an integer/],
    [{ deviceBytes: 2 ** 21 * 70000 }, /deviceBytes \/ blockBytes = 70000 is outside/],
    [{ plugRate: 2 }, /plugRate = 2 must be a probability/],
    [{ guestBytes: 2 ** 51, deviceBytes: 2 ** 51 + 2 ** 37, blockBytes: 2 ** 37 }, /end beyond 2\^40 pages/],
  ])("refuses bad options %o", (options, message) => {
    expect(() => generateHotplug(options)).toThrow(message);
  });
});
