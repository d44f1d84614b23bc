// Replaying memory-map events: region-add (hotplug, bind-time replay of pre-populated pages),
// region-remove (unplug: populated pages discarded and counted, refused while a conversion is
// pending), memslot (counted, no page state changes) — under every policy.
import { describe, expect, it } from "vitest";
import { SimulatedBacking } from "../../src/backing/index.js";
import { createTracker } from "../../src/model/index.js";
import { createPolicy, POLICY_NAMES } from "../../src/policy/index.js";
import { Replayer } from "../../src/replay/index.js";
import { createHeader, parseTraceSync, traceToString, type TraceEvent } from "../../src/trace/index.js";
import { step } from "../policy/_harness.js";

const BASE = [{ gfn: 0, npages: 1024 }];

const HOTPLUG: TraceEvent[] = [
  { type: "launch" },
  { type: "region-add", gfn: 4096, npages: 512 }, // a 2 MiB block plugged
  { type: "touch", gfn: 4096, npages: 16, side: "shared", write: true },
  { type: "request", id: 1, gfn: 4096, npages: 16, to: "private" },
  { type: "commit", id: 1 },
  { type: "touch", gfn: 4096, npages: 16, side: "private", write: true },
  { type: "request", id: 2, gfn: 4100, npages: 4, to: "shared" },
  { type: "commit", id: 2 },
  { type: "touch", gfn: 4100, npages: 4, side: "shared", write: true },
  { type: "region-remove", gfn: 4096, npages: 512 }, // unplugged: what it held is dropped
  { type: "region-add", gfn: 4096, npages: 512 }, // plugged again: starts clean
];

describe("replaying memory-map events", () => {
  for (const name of POLICY_NAMES) {
    it(`${name}: hot-added memory converts; unplug drops what it held on both sides; re-adding starts clean`, async () => {
      let before: ReturnType<typeof countAt> | undefined;
      const countAt = (t: Awaited<ReturnType<typeof createTracker>>) => ({
        pages: t.memory.npages,
        shared: t.populatedRuns("shared").filter((r) => r.gfn >= 4096),
        private: t.populatedRuns("private").filter((r) => r.gfn >= 4096),
      });
      const { tracker, result } = await step(
        HOTPLUG,
        createPolicy(name),
        (t, ev) => {
          if (ev.type === "touch" && ev.gfn === 4100) before = countAt(t);
        },
        { regions: BASE },
      );
      // Before the unplug the block held pages on both sides (how many depends on the policy).
      expect(before!.pages).toBe(1024 + 512);
      const held = [...before!.shared, ...before!.private].reduce((n, r) => n + r.npages, 0);
      expect(held).toBeGreaterThan(0);
      expect(result.memory).toEqual({ regionsAdded: 2, regionsRemoved: 1, unpluggedPages: held, memslotUpdates: 0 });
      expect(result.refused).toBe(0);
      expect(result.conversions).toBe(2);
      expect(result.discardedPages).toBeGreaterThanOrEqual(held);
      // Re-added: guest memory again, shared, nothing populated.
      expect(tracker.memory.regions()).toEqual([...BASE, { gfn: 4096, npages: 512 }]);
      expect(countAt(tracker)).toMatchObject({ shared: [], private: [] });
      expect(tracker.isUniform(4096, 512, "shared")).toBe(true);
      expect(result.finalDoubleAllocatedBytes).toBe(0);
      tracker.dispose();
    });
  }

  it("an unplug while a conversion in the range is pending is refused, counted, and changes nothing", async () => {
    const events: TraceEvent[] = [
      { type: "touch", gfn: 0, npages: 8, side: "shared", write: true },
      { type: "request", id: 1, gfn: 0, npages: 8, to: "private" },
      { type: "region-remove", gfn: 0, npages: 512 },
    ];
    const tracker = await createTracker({ regions: BASE });
    const shared = new SimulatedBacking("shared");
    const r = new Replayer({ tracker, policy: createPolicy("eager"), shared, private: new SimulatedBacking("private") });
    r.apply(events[0]!);
    r.apply(events[1]!);
    const snap = tracker.snapshot();
    r.apply(events[2]!);
    expect(tracker.snapshot()).toBe(snap);
    expect(r.snapshot()).toMatchObject({ refused: 1, memory: { regionsRemoved: 0, unpluggedPages: 0 } });
    expect(shared.stats.discardCalls).toBe(0);
    r.apply({ type: "commit", id: 1 });
    expect(r.finish().conversions).toBe(1);
    tracker.dispose();
  });

  it("a hot-added range finds pages its backing populated before the bind (bind-time replay)", async () => {
    const tracker = await createTracker({ regions: BASE });
    const shared = new SimulatedBacking("shared", { trackContents: true });
    const priv = new SimulatedBacking("private", { trackContents: true });
    // Pre-allocated before the range is guest memory: the backing holds them, the tracker cannot know yet.
    shared.touch(2048 + 10, 6, true);
    priv.touch(2048 + 100, 2, true);
    priv.touch(9000, 1, true); // outside the range added: not taken
    const r = new Replayer({ tracker, policy: createPolicy("never"), shared, private: priv });
    r.apply({ type: "region-add", gfn: 2048, npages: 512, initial: "private" });
    expect(tracker.populatedRuns("shared", 2048, 512)).toEqual([{ gfn: 2058, npages: 6 }]);
    expect(tracker.populatedRuns("private", 2048, 512)).toEqual([{ gfn: 2148, npages: 2 }]);
    // Private memory with a populated shared copy: stale shared pages the policies can see.
    expect(tracker.stalePages("shared")).toBe(6);
    expect(tracker.isUniform(2048, 512, "private")).toBe(true);
    expect(r.finish().newPages).toBe(8);
    tracker.dispose();
  });

  it("memslot events are counted and change no page state", async () => {
    const tracker = await createTracker({ regions: BASE });
    const r = new Replayer({ tracker, policy: createPolicy("adaptive"), shared: new SimulatedBacking("shared"), private: new SimulatedBacking("private") });
    r.apply({ type: "touch", gfn: 0, npages: 64, side: "shared", write: true });
    r.apply({ type: "request", id: 1, gfn: 16, npages: 16, to: "private" });
    const snap = tracker.snapshot();
    r.apply({ type: "memslot", slot: 1, gfn: 0, npages: 1024, flags: 1 }); // dirty logging on
    r.apply({ type: "memslot", slot: 1, gfn: 0, npages: 0, flags: 0 }); // deleted
    r.apply({ type: "memslot", slot: 1, as: 0, gfn: 0, npages: 1024, flags: 0 }); // re-created
    expect(tracker.snapshot()).toBe(snap);
    r.apply({ type: "commit", id: 1 });
    expect(r.finish()).toMatchObject({ conversions: 1, refused: 0, memory: { memslotUpdates: 3, regionsAdded: 0 } });
    tracker.dispose();
  });

  it("a policy holding ranges that were unplugged since flushes without touching them", async () => {
    for (const name of ["batched", "adaptive"] as const) {
      const events: TraceEvent[] = [
        { type: "launch" },
        { type: "touch", gfn: 600, npages: 32, side: "shared", write: true },
        { type: "request", id: 1, gfn: 600, npages: 32, to: "private" },
        { type: "commit", id: 1 }, // 32 stale shared pages, held back (batched: queued; adaptive: under budget)
        { type: "region-remove", gfn: 512, npages: 512 },
      ];
      const { tracker, result } = await step(events, createPolicy(name, { budgetBytes: 1 << 30 }), () => {}, { regions: BASE });
      expect(result.refused).toBe(0);
      expect(result.memory.unpluggedPages).toBe(32);
      expect(result.finalStaleBytes).toBe(0);
      expect(tracker.memory.regions()).toEqual([{ gfn: 0, npages: 512 }]);
      tracker.dispose();
    }
  });
});

describe("memory-map events in a trace", () => {
  const header = createHeader(BASE);
  const parse = (events: TraceEvent[] | string[]) => [
    ...parseTraceSync(
      typeof events[0] === "string" ? `${JSON.stringify(header)}\n${(events as string[]).join("\n")}\n` : traceToString(header, events as TraceEvent[]),
    ).events,
  ];

  it("round-trips and follows the map: a request in a hot-added range is inside guest memory", () => {
    const events: TraceEvent[] = [
      { type: "region-add", gfn: 2048, npages: 512, initial: "private" },
      { type: "request", id: 1, gfn: 2050, npages: 4, to: "shared" },
      { type: "commit", id: 1 },
      { type: "memslot", slot: 3, as: 1, gfn: 0xa0, npages: 32, flags: 2 },
      { type: "region-remove", gfn: 2048, npages: 256 },
      { type: "touch", gfn: 2304, npages: 1, side: "private" },
    ];
    expect(parse(events)).toEqual(events);
  });

  it.each([
    ['{"type":"touch","gfn":2048,"npages":1,"side":"shared"}', /line 2: touch .* outside the trace's guest regions/],
    ['{"type":"region-add","gfn":1000,"npages":48}', /line 2: region-add of gfn 1000 \+ npages 48 overlaps guest memory/],
    ['{"type":"region-remove","gfn":1000,"npages":48}', /line 2: region-remove .* is not wholly guest memory/],
    ['{"type":"region-add","gfn":2048,"npages":0}', /line 2: 'npages' = 0 is outside/],
    ['{"type":"region-add","gfn":2048,"npages":1,"initial":"pending"}', /line 2: 'initial' must be one of/],
    ['{"type":"memslot","slot":1,"gfn":0,"npages":1,"flags":8}', /line 2: 'flags' = 0x8 has bits KVM does not define/],
    ['{"type":"memslot","slot":65536,"gfn":0,"npages":1,"flags":0}', /line 2: 'slot' = 65536 is outside/],
    ['{"type":"memslot","slot":1,"as":2,"gfn":0,"npages":1,"flags":0}', /line 2: 'as' = 2 is outside/],
  ])("refuses %s", (line, message) => {
    expect(() => parse([line])).toThrow(message);
  });

  it("refuses a region-remove that takes a page of a pending conversion, and map changes when the map is unknown", () => {
    expect(() => parse(['{"type":"request","id":7,"gfn":500,"npages":20,"to":"private"}', '{"type":"region-remove","gfn":512,"npages":512}'])).toThrow(
      /line 3: region-remove .* takes pages of transaction 7, which is still pending/,
    );
    const unknown = `${JSON.stringify(createHeader([]))}\n{"type":"region-add","gfn":0,"npages":1}\n`;
    expect(() => [...parseTraceSync(unknown).events]).toThrow(/line 2: region-add .* header lists no guest regions/);
  });

  it("reads a version-2 trace as version 3", () => {
    const v2 = `${JSON.stringify({ ...header, version: 2 })}\n{"type":"launch"}\n`;
    const t = parseTraceSync(v2);
    expect(t.header.version).toBe(3);
    expect([...t.events]).toEqual([{ type: "launch" }]);
  });
});
