// replayAll's warm-up (src/replay/replay.ts, `warmupEvents`): before each policy's measured
// replay, the first `warmupEvents` events run on a throwaway target from the same factory.
// The warm-up must not change any result but the timings, must release every throwaway
// target, and must leave a bad trace line to the measured replay to report.
import { describe, expect, it } from "vitest";
import type { GfnRange } from "../../src/model/errors.js";
import type { PolicyName } from "../../src/policy/types.js";
import { createPolicy } from "../../src/policy/create.js";
import {
  replayAll,
  type ReplayAllOptions,
  type ReplayEvents,
  type ReplayResult,
  ReplayStoppedError,
  type ReplayTarget,
  replayTraceSync,
  simulatedTargets,
  type TargetFactory,
} from "../../src/replay/index.js";
import { generateTrace, parseTrace, parseTraceSync, TraceParseError, traceToString, type TraceEvent } from "../../src/trace/index.js";

const POLICIES: readonly PolicyName[] = ["eager", "never", "batched", "adaptive"];
const { header, events } = generateTrace("ovmf-dma", { guestBytes: 2 ** 27, transactions: 300 });
const ALL: TraceEvent[] = [...events];
const TEXT = traceToString(header, ALL);

/** A result without its wall-clock fields (`*Ms`) and its time series. */
function counters(r: ReplayResult): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).filter(([k]) => !k.endsWith("Ms") && k !== "series"));
}

interface Made {
  policy: string;
  sharedCloses: number;
  privateCloses: number;
  trackerDisposes: number;
  releases: number;
  /** Backing stats when the target was released (touch and discard counts of what ran on it). */
  statsAtRelease: { shared: object; private: object } | null;
}

/**
 * Wraps simulatedTargets: records every target made, and counts the closes, disposes and
 * `release()` calls it gets. With `withRelease`, targets carry their own `release()`.
 */
function countingFactory(regions: readonly GfnRange[], opts: { withRelease?: boolean; breakTarget?: (i: number, t: ReplayTarget) => void } = {}) {
  const inner = simulatedTargets(regions);
  const made: Made[] = [];
  const make: TargetFactory = async (policy) => {
    const t = await inner(policy);
    const rec: Made = { policy: policy.name, sharedCloses: 0, privateCloses: 0, trackerDisposes: 0, releases: 0, statsAtRelease: null };
    const snap = () => (rec.statsAtRelease ??= { shared: { ...t.shared.stats }, private: { ...t.private.stats } });
    const closeShared = t.shared.close.bind(t.shared);
    const closePrivate = t.private.close.bind(t.private);
    const dispose = t.tracker.dispose.bind(t.tracker);
    t.shared.close = () => {
      snap();
      rec.sharedCloses++;
      closeShared();
    };
    t.private.close = () => {
      snap();
      rec.privateCloses++;
      closePrivate();
    };
    t.tracker.dispose = () => {
      rec.trackerDisposes++;
      dispose();
    };
    if (opts.withRelease === true) {
      t.release = () => {
        snap();
        rec.releases++;
        t.shared.close();
        t.private.close();
        t.tracker.dispose();
      };
    }
    opts.breakTarget?.(made.length, t);
    made.push(rec);
    return t;
  };
  return { make, made };
}

function expectAllReleased(made: readonly Made[], withRelease = false): void {
  for (const m of made) {
    expect(m).toMatchObject({ sharedCloses: 1, privateCloses: 1, trackerDisposes: 1, releases: withRelease ? 1 : 0 });
  }
}

async function* asyncEvents(list: readonly TraceEvent[], log: { opened: number; finished: number }): AsyncGenerator<TraceEvent> {
  log.opened++;
  try {
    for (const ev of list) {
      await Promise.resolve();
      yield ev;
    }
  } finally {
    log.finished++;
  }
}

async function coldResults(options: ReplayAllOptions = {}): Promise<ReplayResult[]> {
  return replayAll(() => ALL, simulatedTargets(header.regions), options);
}

async function stoppedBy(p: Promise<unknown>): Promise<ReplayStoppedError> {
  try {
    await p;
  } catch (err) {
    return err as ReplayStoppedError;
  }
  throw new Error("the replay did not stop");
}

/** The trace text with line `line` (1-based; line 1 is the header) cut in half. */
function corruptAt(line: number): string {
  const lines = TEXT.split("\n");
  lines[line - 1] = lines[line - 1]!.slice(0, Math.floor(lines[line - 1]!.length / 2));
  return lines.join("\n");
}

describe("replayAll warm-up", () => {
  it("the trace is a real workload of a few thousand events", () => {
    expect(ALL.length).toBeGreaterThan(1000);
    expect(ALL.some((e) => e.type === "touch")).toBe(true);
    expect(ALL.some((e) => e.type === "commit")).toBe(true);
  });

  it("gives every policy the same counters as a cold run; the factory is called twice per policy", async () => {
    const cold = await coldResults();
    const { make, made } = countingFactory(header.regions);
    const warm = await replayAll(() => ALL, make, { warmupEvents: 500 });
    expect(warm.map((r) => r.policy)).toEqual(POLICIES);
    expect(warm.map(counters)).toEqual(cold.map(counters));
    expect(warm.every((r) => r.events === ALL.length)).toBe(true);
    // throwaway then measured, per policy in order
    expect(made.map((m) => m.policy)).toEqual(POLICIES.flatMap((p) => [p, p]));
    expectAllReleased(made);
  });

  it("changes no counter under a small budget either, where adaptive and batched discard often", async () => {
    // With a tight budget the policies' own state (LRU, queue) decides every discard, so a
    // warm-up that leaked policy state into the measured run would show here.
    const policy = { budgetBytes: 4096 };
    const cold = await coldResults({ policy });
    const warm = await replayAll(() => ALL, simulatedTargets(header.regions), { policy, warmupEvents: 900 });
    expect(warm.map(counters)).toEqual(cold.map(counters));
    const by = Object.fromEntries(cold.map((r) => [r.policy, r]));
    expect(by.adaptive!.discardCalls).toBeGreaterThan(by.never!.discardCalls);
    expect(by.batched!.discardCalls).toBeGreaterThan(by.never!.discardCalls);
  });

  it("reports progress for the measured replays only", async () => {
    type P = { policy: string; events: number; totalEvents: number | undefined };
    const coldCalls: P[] = [];
    const warmCalls: P[] = [];
    const opts = { progressEvery: 500, totalEvents: ALL.length };
    await coldResults({ ...opts, onProgress: (p) => void coldCalls.push({ ...p }) });
    await coldResults({ ...opts, warmupEvents: 2000, onProgress: (p) => void warmCalls.push({ ...p }) });
    expect(warmCalls).toEqual(coldCalls);
    expect(coldCalls.length).toBeGreaterThan(POLICIES.length);
  });

  it("a cold run calls the factory once per policy", async () => {
    for (const warmupEvents of [undefined, 0, -5, 0.9]) {
      const { make, made } = countingFactory(header.regions);
      await replayAll(() => ALL, make, { warmupEvents, policies: ["eager", "adaptive"] });
      expect(made.map((m) => m.policy)).toEqual(["eager", "adaptive"]);
      expectAllReleased(made);
    }
  });

  it("the throwaway target runs exactly the first warmupEvents events through the same policy", async () => {
    const n = 700;
    const { make, made } = countingFactory(header.regions);
    await replayAll(() => ALL, make, { warmupEvents: n });
    for (const [i, name] of POLICIES.entries()) {
      const scratch = made[2 * i]!;
      const t = await simulatedTargets(header.regions)(createPolicy(name));
      replayTraceSync(ALL.slice(0, n), t);
      expect(scratch.statsAtRelease).toEqual({ shared: { ...t.shared.stats }, private: { ...t.private.stats } });
      t.shared.close();
      t.private.close();
      t.tracker.dispose();
    }
    expect((made[0]!.statsAtRelease as { shared: { touchCalls: number } }).shared.touchCalls).toBeGreaterThan(0);
  });

  it("releases through the target's own release() when it has one", async () => {
    const { make, made } = countingFactory(header.regions, { withRelease: true });
    await replayAll(() => ALL, make, { warmupEvents: 300 });
    expect(made).toHaveLength(8);
    expectAllReleased(made, true);
  });

  it("with release: false, measured targets stay open but throwaway targets are still released", async () => {
    const { make, made } = countingFactory(header.regions);
    await replayAll(() => ALL, make, { warmupEvents: 300, release: false, policies: ["batched", "never"] });
    expect(made).toHaveLength(4);
    expectAllReleased([made[0]!, made[2]!]);
    for (const m of [made[1]!, made[3]!]) expect(m).toMatchObject({ sharedCloses: 0, privateCloses: 0, trackerDisposes: 0 });
  });

  it("warmupEvents larger than the trace warms up on the whole trace and changes no counter", async () => {
    const cold = await coldResults();
    const { make, made } = countingFactory(header.regions);
    const warm = await replayAll(() => ALL, make, { warmupEvents: 10 * ALL.length });
    expect(warm.map(counters)).toEqual(cold.map(counters));
    expect(made).toHaveLength(8);
    expectAllReleased(made);
    // the throwaway target saw the whole trace: its backings did what the measured one's did
    expect(made[0]!.statsAtRelease).toEqual(made[1]!.statsAtRelease);
  });

  it("takes an async event source (an async generator), closing the one it reads the warm-up from", async () => {
    const cold = await coldResults();
    const log = { opened: 0, finished: 0 };
    const { make, made } = countingFactory(header.regions);
    const warm = await replayAll(() => asyncEvents(ALL, log), make, { warmupEvents: 400 });
    expect(warm.map(counters)).toEqual(cold.map(counters));
    expect(log.opened).toBe(POLICIES.length + 1); // one for the warm-up events, one per policy
    expect(log.finished).toBe(log.opened);
    expect(made).toHaveLength(8);
    expectAllReleased(made);
  });

  it("takes a parsed async trace (parseTrace) the same way", async () => {
    const cold = await coldResults();
    async function* parsed(): AsyncGenerator<TraceEvent> {
      yield* (await parseTrace(TEXT)).events;
    }
    const warm = await replayAll(parsed, simulatedTargets(header.regions), { warmupEvents: 1000 });
    expect(warm.map(counters)).toEqual(cold.map(counters));
  });

  describe("a corrupt line", () => {
    const sources: Array<[string, (text: string) => () => ReplayEvents]> = [
      ["parseTraceSync", (text) => () => parseTraceSync(text).events],
      [
        "parseTrace (async)",
        (text) => () =>
          (async function* () {
            yield* (await parseTrace(text)).events;
          })(),
      ],
    ];
    for (const [name, open] of sources) {
      it(`inside the warm-up window still stops the replay at its line (${name})`, async () => {
        const line = 120; // event 119
        const text = corruptAt(line);
        const coldErr = await stoppedBy(replayAll(open(text), simulatedTargets(header.regions)));
        const { make, made } = countingFactory(header.regions);
        const err = await stoppedBy(replayAll(open(text), make, { warmupEvents: 1000 }));
        expect(err).toBeInstanceOf(ReplayStoppedError);
        expect(err.code).toBe("ETRACEPARSE");
        expect(err.line).toBe(line);
        expect(err.cause).toBeInstanceOf(TraceParseError);
        expect(err.partial.events).toBe(line - 2);
        expect(counters(err.partial)).toEqual(counters(coldErr.partial));
        // the first policy stopped: its throwaway target and its measured one, both released
        expect(made.map((m) => m.policy)).toEqual(["eager", "eager"]);
        expectAllReleased(made);
      });
    }

    it("beyond the warm-up window stops the replay at its line", async () => {
      const line = 1500;
      const { make, made } = countingFactory(header.regions);
      const err = await stoppedBy(replayAll(() => parseTraceSync(corruptAt(line)).events, make, { warmupEvents: 100 }));
      expect(err).toBeInstanceOf(ReplayStoppedError);
      expect(err.line).toBe(line);
      expect(err.partial.events).toBe(line - 2);
      expect(made).toHaveLength(2);
      expectAllReleased(made);
    });

    it("on the first event line leaves nothing to warm up on and stops at line 2", async () => {
      const { make, made } = countingFactory(header.regions);
      const err = await stoppedBy(replayAll(() => parseTraceSync(corruptAt(2)).events, make, { warmupEvents: 100 }));
      expect(err).toBeInstanceOf(ReplayStoppedError);
      expect(err.line).toBe(2);
      expect(err.partial.events).toBe(0);
      expect(made).toHaveLength(1);
      expectAllReleased(made);
    });
  });

  it("a warm-up that throws releases its throwaway target", async () => {
    const boom = new Error("backing failed");
    const { make, made } = countingFactory(header.regions, {
      breakTarget: (i, t) => {
        if (i === 0) {
          t.shared.touch = () => {
            throw boom;
          };
        }
      },
    });
    await expect(replayAll(() => ALL, make, { warmupEvents: 500 })).rejects.toBe(boom);
    expect(made).toHaveLength(1);
    expectAllReleased(made);
  });
});
