import { afterEach, describe, expect, it, vi } from "vitest";
import { EventHub, Tracker, type TrackerEvent } from "../../src/model/index.js";
import { RangeMap } from "../../src/core/range-map.js";

const guest = async () => new Tracker(await RangeMap.create(), { regions: [{ gfn: 0, npages: 128 }] });

function exercise(t: Tracker): void {
  t.requestConversion({ gfn: 0, npages: 4, to: "private", preserve: true }).commit();
  t.requestConversion({ gfn: 8, npages: 4, to: "private" }).abort();
  t.markPopulated("shared", 0, 8);
  t.markDiscarded("shared", 0, 8);
  t.onMemoryFault({ gpa: 0x10000, size: 4096, private: true });
  t.launch();
  expect(() => t.requestConversion({ gfn: 500, npages: 1, to: "private" })).toThrow();
}

describe("tracker events", () => {
  afterEach(() => vi.restoreAllMocks());

  it("builds and emits nothing while nobody listens", async () => {
    const emit = vi.spyOn(EventHub.prototype, "emit");
    exercise(await guest());
    expect(emit).not.toHaveBeenCalled();
  });

  it("emits only the types someone listens to", async () => {
    const emit = vi.spyOn(EventHub.prototype, "emit");
    const t = await guest();
    const seen: string[] = [];
    t.on("committed", (e) => seen.push(`${e.type}#${e.id}`));
    exercise(t);
    expect(seen).toEqual(["committed#1"]);
    expect(emit).toHaveBeenCalledTimes(1);
  });

  it("streams every event, in order, to subscribe()", async () => {
    const t = await guest();
    const seen: TrackerEvent[] = [];
    t.subscribe((e) => seen.push(e));
    exercise(t);
    expect(seen.map((e) => e.type)).toEqual([
      "requested",
      "committed",
      "requested",
      "aborted",
      "populated",
      "discarded",
      "requested",
      "faulted",
      "launched",
      "refused",
    ]);
    expect(seen[1]).toMatchObject({ type: "committed", id: 1, to: "private", preserve: true, runs: [{ gfn: 0, npages: 4 }], npagesOwned: 4 });
    expect(seen[4]).toMatchObject({ type: "populated", side: "shared", npagesNew: 8, npagesRefault: 0 });
    expect(seen[5]).toMatchObject({ type: "discarded", side: "shared", npagesFreed: 8 });
    expect(seen[6]).toMatchObject({ type: "requested", source: "fault", gfn: 16, npages: 1 });
    expect(seen[9]).toMatchObject({ type: "refused", op: "requestConversion", error: { code: "EOUTSIDE" } });
  });

  it("reports a fault violation as refused and faulted", async () => {
    const t = await guest();
    const seen: string[] = [];
    t.subscribe((e) => seen.push(e.type === "refused" ? `refused:${e.error.code}` : e.type));
    t.onMemoryFault({ gpa: 0x100000, size: 4096, private: true });
    expect(seen).toEqual(["refused:EOUTSIDE", "faulted"]);
  });

  it("lets listeners read the state after the change", async () => {
    const t = await guest();
    let privateInListener = false;
    t.on("committed", (e) => (privateInListener = t.isPrivate(e.gfn)));
    t.requestConversion({ gfn: 3, npages: 1, to: "private" }).commit();
    expect(privateInListener).toBe(true);
  });

  it("stops delivering after unsubscribe, and a second unsubscribe does nothing", async () => {
    const t = await guest();
    const seen: string[] = [];
    const fn = (e: TrackerEvent) => seen.push(e.type);
    const offA = t.on("launched", fn);
    const offB = t.on("launched", fn); // the same function twice counts twice
    const offAll = t.subscribe(fn);
    offA();
    offA();
    offAll();
    t.launch();
    expect(seen).toEqual(["launched"]);
    offB();
    const emit = vi.spyOn(EventHub.prototype, "emit");
    t.markPopulated("private", 0, 1);
    expect(emit).not.toHaveBeenCalled();
  });

  it("refuses an unknown event type", async () => {
    const t = await guest();
    expect(() => t.on("exploded" as never, () => {})).toThrow(TypeError);
  });
});
