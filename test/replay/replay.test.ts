import { describe, expect, it } from "vitest";
import { createTracker } from "../../src/model/index.js";
import { eagerPolicy } from "../../src/policy/index.js";
import { materializeEvents, regionsForTrace, replayAll, ReplayStoppedError, replayTrace, replayTraceSync, simulatedTargets } from "../../src/replay/index.js";
import { SimulatedBacking } from "../../src/backing/index.js";
import { generateTrace, parseTrace, parseTraceSync, TraceParseError } from "../../src/trace/index.js";

const HEADER = '{"format":"memattr-trace","version":1,"pageBytes":4096,"regions":[{"gfn":0,"npages":64}]}';
const GOOD = [HEADER, '{"type":"request","id":1,"gfn":0,"npages":4,"to":"private"}', '{"type":"commit","id":1}'];

async function target() {
  const tracker = await createTracker({ regions: [{ gfn: 0, npages: 64 }] });
  return { tracker, policy: eagerPolicy(), shared: new SimulatedBacking("shared"), private: new SimulatedBacking("private") };
}

async function stoppedBy(p: Promise<unknown>): Promise<ReplayStoppedError> {
  try {
    await p;
  } catch (err) {
    return err as ReplayStoppedError;
  }
  throw new Error("the replay did not stop");
}

describe("replayTrace", () => {
  it("stops at a corrupted line with its number; what came before stays applied and is reported", async () => {
    const text = [...GOOD, '{"type":"request","id":2,"gfn":8,"npa', '{"type":"commit","id":2}'].join("\n");
    const t = await target();
    const err = await stoppedBy(replayTrace((await parseTrace(text)).events, t));
    expect(err).toBeInstanceOf(ReplayStoppedError);
    expect(err.code).toBe("ETRACEPARSE");
    expect(err.line).toBe(4);
    expect(err.cause).toBeInstanceOf(TraceParseError);
    expect(err.partial).toMatchObject({ events: 2, conversions: 1 });
    expect(t.tracker.isPrivate(0)).toBe(true);
    t.tracker.dispose();
  });

  it("stops at a truncated last line (sync form)", async () => {
    const text = [...GOOD, '{"type":"touch","gfn":0,"npages":1,"si'].join("\n");
    const t = await target();
    let err: unknown;
    try {
      replayTraceSync(parseTraceSync(text).events, t);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: "ReplayStoppedError", line: 4 });
    t.tracker.dispose();
  });

  it("replays an async source and reports progress", async () => {
    async function* chunks() {
      yield `${GOOD.join("\n")}\n`;
    }
    const seen: number[] = [];
    const r = await replayTrace((await parseTrace(chunks())).events, await target(), { onProgress: (p) => seen.push(p.events), progressEvery: 1 });
    expect(r.conversions).toBe(1);
    expect(seen).toEqual([1, 2, 2]);
  });

  it("streams a generator in chunks with the same counts as its materialized array", async () => {
    const { header, events } = generateTrace("ovmf-dma", { guestBytes: 64 * 2 ** 20, transactions: 2500 }); // > one 16 384-event chunk
    const all = materializeEvents(events)!;
    expect(all.length).toBeGreaterThan(16_384);
    expect(materializeEvents(events, 100)).toBeNull();
    const make = simulatedTargets(header.regions);
    const streamed = replayTraceSync(events, await make(eagerPolicy()));
    const whole = replayTraceSync(all, await make(eagerPolicy()));
    const counts = ({
      events,
      conversions,
      discardCalls,
      discardedPages,
      refaultPages,
      newPages,
      peakDoubleAllocatedBytes,
      peakDoubleAllocatedAfterLaunchBytes,
      series,
    }: typeof whole) => ({
      events,
      conversions,
      discardCalls,
      discardedPages,
      refaultPages,
      newPages,
      peakDoubleAllocatedBytes,
      peakDoubleAllocatedAfterLaunchBytes,
      series,
    });
    expect(counts(streamed)).toEqual(counts(whole));
    expect(whole.events).toBe(all.length);
  });

  it("uses the header's regions, or a fallback size for imported traces", () => {
    expect(regionsForTrace({ format: "memattr-trace", version: 1, pageBytes: 4096, regions: [] }, 2 ** 20)).toEqual([{ gfn: 0, npages: 256 }]);
    expect(() => regionsForTrace({ format: "memattr-trace", version: 1, pageBytes: 4096, regions: [] })).toThrow(
      expect.objectContaining({ code: "ENOREGIONS" }),
    );
  });
});

describe("replayAll", () => {
  it("runs every policy on fresh targets; adaptive makes far fewer discards than eager on ovmf-dma", async () => {
    const { header, events } = generateTrace("ovmf-dma", { guestBytes: 64 * 2 ** 20, transactions: 2000 });
    const results = await replayAll(() => events, simulatedTargets(header.regions));
    const by = Object.fromEntries(results.map((r) => [r.policy, r]));
    expect(Object.keys(by)).toEqual(["eager", "never", "batched", "adaptive"]);
    for (const r of results) expect(r.conversions).toBe(by.eager!.conversions);
    expect(by.adaptive!.discardCalls * 100).toBeLessThanOrEqual(by.eager!.discardCalls);
    expect(by.adaptive!.peakDoubleAllocatedBytes).toBeLessThanOrEqual(2 * 2 ** 20);
    expect(by.never!.discardCalls).toBe(by.adaptive!.discardCalls); // only the in-place copies
  });
});
