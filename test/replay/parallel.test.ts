// Policies on worker threads (src/cli/_replay-pool.ts) give the sequential run's results,
// policy by policy: every counter and the sampled series, for a generator and a JSONL file,
// for one worker or several; a bad line stops the replay with the first policy's partial
// result, as in one thread.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { probeRealBackings } from "../../src/backing/real/index.js";
import { replayInWorkers, type WorkerWorkload, workerCount } from "../../src/cli/_replay-pool.js";
import { chooseBackings, openWorkload, replayWorkload } from "../../src/cli/replay.js";
import { POLICY_NAMES } from "../../src/policy/index.js";
import { type ReplayResult, ReplayStoppedError, replayAll, simulatedTargets } from "../../src/replay/index.js";
import { generateTrace, parseTrace, parseTraceSync, traceToString } from "../../src/trace/index.js";

const dir = mkdtempSync(join(tmpdir(), "memattr-parallel-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GUEST = 2 ** 26;
const TIMING = { warmupEvents: 500, repetitions: 2 };

/** Everything but times. batched also flushes on a 50 ms timer, so its discards follow the clock: only its trace-given counts are compared. */
function counters(r: ReplayResult): Record<string, unknown> {
  const { launchCopyMs, conversionPathMs, touchPathMs, refaultTouchMs, conversionCostMs, totalConversionCostMs, repetitions, ...rest } = r;
  if (r.policy !== "batched") return { ...rest, runs: repetitions?.runs };
  const { policy, events, conversions, aborts, refused, refusedRecorded, faults, pendingAtEnd, simulated, backingKinds } = rest;
  return { policy, events, conversions, aborts, refused, refusedRecorded, faults, pendingAtEnd, simulated, backingKinds, runs: repetitions?.runs };
}

async function sequential(spec: string): Promise<ReplayResult[]> {
  const workload = await openWorkload(spec, { guestBytes: GUEST, seed: 3, countEvents: false });
  return replayWorkload(workload, POLICY_NAMES, 2 ** 21, await chooseBackings(true), GUEST, TIMING);
}

async function parallel(workload: WorkerWorkload, jobs: number) {
  return replayInWorkers(workload, { policies: POLICY_NAMES, budgetBytes: 2 ** 21, guestBytes: GUEST, simulated: true, ...TIMING, jobs });
}

async function stoppedBy(p: Promise<unknown>): Promise<ReplayStoppedError> {
  try {
    await p;
  } catch (err) {
    return err as ReplayStoppedError;
  }
  throw new Error("the replay did not stop");
}

const spec = (s: string): WorkerWorkload => ({ kind: "spec", spec: s, guestBytes: GUEST, seed: 3 });

describe("replayAll onePass", () => {
  it("reads the trace once and gives each policy the results of one policy after another", async () => {
    const g = generateTrace("linux-boot", { guestBytes: GUEST, seed: 6 });
    const text = traceToString(g.header, g.events);
    let opened = 0;
    const open = () => {
      opened++;
      return (async function* () {
        yield* (await parseTrace(text)).events;
      })();
    };
    const options = { warmupEvents: 300, policy: { budgetBytes: 2 ** 21 } };
    const want = await replayAll(open, simulatedTargets(g.header.regions), options);
    opened = 0;
    const got = await replayAll(open, simulatedTargets(g.header.regions), { ...options, onePass: true });
    expect(opened).toBe(2); // the warm-up's first events, then the one pass
    expect(got.map(counters)).toEqual(want.map(counters));
  });

  it("a bad line stops every policy; the error carries the first policy's partial result", async () => {
    const g = generateTrace("ovmf-dma", { guestBytes: GUEST, transactions: 50, seed: 5 });
    const lines = traceToString(g.header, g.events).split("\n");
    lines.splice(80, 0, "{");
    const open = () => parseTraceSync(lines.join("\n")).events;
    const one = await stoppedBy(replayAll(open, simulatedTargets(g.header.regions)));
    const err = await stoppedBy(replayAll(open, simulatedTargets(g.header.regions), { onePass: true }));
    expect(err.line).toBe(81);
    expect(counters(err.partial)).toEqual(counters(one.partial));
  });
});

describe("replayInWorkers", () => {
  it("a generator: the sequential run's counters and series, policy by policy, on 2 and 4 workers", async () => {
    const want = (await sequential("linux-boot")).map(counters);
    for (const jobs of [2, 4]) {
      const got = await parallel(spec("linux-boot"), jobs);
      expect(got.name).toBe("linux-boot, 64 MiB guest, seed 3");
      expect(got.backingsLabel).toMatch(/simulated backing/);
      expect(got.results.map(counters)).toEqual(want);
      expect(want[0]!.runs).toBe(2); // a small generated trace is timed --repeat times in each worker too
    }
  });

  it("a JSONL file: the same results on one worker, two, and in this thread", async () => {
    const g = generateTrace("ovmf-dma", { guestBytes: GUEST, transactions: 400, seed: 5 });
    const file = join(dir, "ovmf.jsonl");
    writeFileSync(file, traceToString(g.header, g.events));
    const want = (await sequential(file)).map(counters);
    expect(want.map((r) => r.runs)).toEqual([undefined, undefined, undefined, undefined]); // a file is timed once
    for (const jobs of [1, 2]) expect((await parallel(spec(file), jobs)).results.map(counters)).toEqual(want);
  });

  it("events handed over (an imported trace) give the same results", async () => {
    const g = generateTrace("adversarial", { guestBytes: GUEST, seed: 4 });
    const events = [...g.events];
    const got = await parallel({ kind: "events", name: "handed", header: g.header, events }, 2);
    const workload = { name: "handed", header: g.header, open: () => events, totalEvents: events.length };
    const want = await replayWorkload(workload, POLICY_NAMES, 2 ** 21, await chooseBackings(true), GUEST, TIMING);
    expect(got.results.map(counters)).toEqual(want.map(counters));
  });

  it("a bad line stops the replay with the first policy's partial result, as in one thread", async () => {
    const g = generateTrace("ovmf-dma", { guestBytes: GUEST, transactions: 50, seed: 5 });
    const lines = traceToString(g.header, g.events).split("\n");
    lines.splice(60, 0, '{"type":"request","id":');
    const file = join(dir, "bad.jsonl");
    writeFileSync(file, lines.join("\n"));
    const seq = await stoppedBy(sequential(file));
    const par = await stoppedBy(parallel(spec(file), 2));
    expect(par).toBeInstanceOf(ReplayStoppedError);
    expect(seq).toBeInstanceOf(ReplayStoppedError);
    expect(par.code).toBe("ETRACEPARSE");
    expect(par.line).toBe(61);
    expect(par.partial.policy).toBe("eager");
    expect(counters(par.partial)).toEqual(counters(seq.partial));
  });

  it("a missing file is the system's ENOENT error, a refused generator option a MemattrError", async () => {
    await expect(parallel(spec(join(dir, "missing.jsonl")), 2)).rejects.toMatchObject({ code: "ENOENT", syscall: "open" });
    await expect(parallel({ kind: "spec", spec: "ovmf-dma", guestBytes: 4096, seed: 1 }, 2)).rejects.toMatchObject({ code: expect.any(String) });
  });

  const probe = probeRealBackings();
  it.skipIf(!probe.available)(`real memfd + guest_memfd backings, opened in each worker${probe.available ? "" : ` (skipped: ${probe.reason})`}`, async () => {
    const real = { policies: POLICY_NAMES, budgetBytes: 2 ** 21, guestBytes: GUEST, simulated: false, ...TIMING };
    const got = await replayInWorkers(spec("ovmf-dma"), { ...real, jobs: 2 });
    const workload = await openWorkload("ovmf-dma", { guestBytes: GUEST, seed: 3, countEvents: false });
    const want = await replayWorkload(workload, POLICY_NAMES, 2 ** 21, await chooseBackings(false), GUEST, TIMING);
    for (const r of got.results) expect(r.simulated).toBe(false);
    expect(got.results.map(counters)).toEqual(want.map(counters));
  });

  it("workers: the cores by default, at most one per policy, at least one", () => {
    expect(workerCount(4, 2)).toBe(2);
    expect(workerCount(4, 16)).toBe(4);
    expect(workerCount(1)).toBe(1);
    expect(workerCount(4)).toBeGreaterThanOrEqual(1);
  });
});
