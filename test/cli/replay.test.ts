// `memattr replay` and `memattr demo`, in-process: the policy table, --json, timing options,
// usage errors. Real backings where /dev/kvm offers them (the skip says why otherwise).
import { describe, expect, it } from "vitest";
import { probeRealBackings } from "../../src/backing/real/index.js";
import { run as demo } from "../../src/cli/demo.js";
import { run as replay } from "../../src/cli/replay.js";
import type { ReplayResult } from "../../src/replay/index.js";
import { captureCommand } from "../support/cli.js";

const SMALL = ["--guest", "64MiB", "--transactions", "300"];

function counters(r: ReplayResult) {
  const { launchCopyMs, conversionPathMs, touchPathMs, refaultTouchMs, conversionCostMs, totalConversionCostMs, series, repetitions, ...rest } = r;
  return rest;
}

describe("memattr replay", () => {
  it("--json: every policy, timed --repeat times, the median run reported with every run's time", async () => {
    const r = await captureCommand(replay, ["ovmf-dma", ...SMALL, "--simulated", "--json", "--repeat", "3", "--warmup", "500"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { results: ReplayResult[] };
    expect(out.results.map((x) => x.policy)).toEqual(["eager", "never", "batched", "adaptive"]);
    for (const x of out.results) {
      expect(x.repetitions?.runs).toBe(3);
      const times = x.repetitions!.conversionCostMs;
      expect(times).toHaveLength(3);
      const sorted = [...times].sort((a, b) => a - b);
      expect(x.conversionCostMs).toBe(sorted[1]); // the median run is the one reported
      expect(x.conversions).toBe(605); // 300 transactions × 2 + firmware + acceptance chunks
    }
    const eager = out.results[0]!;
    const adaptive = out.results[3]!;
    expect(eager.discardCalls).toBeGreaterThan(100 * adaptive.discardCalls);
  });

  it("the timing options change no counter", async () => {
    const once = JSON.parse((await captureCommand(replay, ["ovmf-dma", ...SMALL, "--simulated", "--json", "--repeat", "1", "--warmup", "0"])).out) as {
      results: ReplayResult[];
    };
    const thrice = JSON.parse((await captureCommand(replay, ["ovmf-dma", ...SMALL, "--simulated", "--json", "--repeat", "2", "--warmup", "5000"])).out) as {
      results: ReplayResult[];
    };
    expect(once.results[0]!.repetitions).toBeUndefined();
    // batched flushes on a timer too, so its counts may differ between runs; the others may not
    for (const i of [0, 1, 3]) expect(counters(thrice.results[i]!)).toEqual(counters(once.results[i]!));
  });

  it("prints the table with its footnote and the runs behind each row", async () => {
    const r = await captureCommand(replay, ["ovmf-dma", ...SMALL, "--simulated", "--repeat", "2", "--policy", "adaptive"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\| adaptive \(simulated\) \| 605 \|/);
    expect(r.out).toMatch(/median of 2 timed replays/);
    expect(r.out).toMatch(/adaptive [\d.]+ \/ [\d.]+\)/);
  });

  it("refuses bad timing options with a usage message and exit code 2", async () => {
    for (const args of [["--repeat", "0"], ["--repeat", "x"], ["--warmup=-1"], ["--warmup", "1e3"]]) {
      const r = await captureCommand(replay, ["ovmf-dma", ...SMALL, "--simulated", ...args]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/--(repeat|warmup) must be/);
      expect(r.err).toMatch(/usage: memattr replay/);
      expect(r.out).toBe("");
    }
  });

  it("--jobs 1 (this thread) and --jobs 2 (worker threads) give the same counters", async () => {
    const json = async (jobs: string) =>
      JSON.parse(
        (await captureCommand(replay, ["linux-boot", "--guest", "64MiB", "--simulated", "--json", "--repeat", "1", "--warmup", "0", "--jobs", jobs])).out,
      ) as {
        workload: string;
        results: ReplayResult[];
      };
    const one = await json("1");
    const two = await json("2");
    expect(two.workload).toBe(one.workload);
    expect(two.results.map((x) => x.policy)).toEqual(["eager", "never", "batched", "adaptive"]);
    // batched flushes on a timer too, so its counts may differ between runs; the others may not
    for (const i of [0, 1, 3]) expect(counters(two.results[i]!)).toEqual(counters(one.results[i]!));
    expect(two.results[2]!.conversions).toBe(one.results[2]!.conversions);
  });

  it("refuses a --jobs that is not a count from 1 to 256", async () => {
    for (const jobs of ["0", "x", "257", "1.5", ""]) {
      const r = await captureCommand(replay, ["ovmf-dma", ...SMALL, "--simulated", "--jobs", jobs]);
      expect(r.code, jobs).toBe(2);
      expect(r.err).toMatch(/--jobs must be an integer from 1 to 256/);
    }
  });

  const probe = probeRealBackings();
  it.skipIf(!probe.available)(`on real memfd + guest_memfd${probe.available ? "" : ` (skipped: ${probe.reason})`}`, async () => {
    const r = await captureCommand(replay, ["ovmf-dma", ...SMALL, "--json", "--repeat", "2", "--warmup", "1000"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { results: ReplayResult[] };
    for (const x of out.results) {
      expect(x.simulated).toBe(false);
      expect(x.repetitions?.runs).toBe(2);
    }
    expect(out.results[0]!.refaultPages).toBeGreaterThan(0); // eager refaults, on both sides
    expect(out.results[3]!.refaultPages).toBe(0); // adaptive keeps the four hot bounce pages
  });
  if (!probe.available) console.log(`test/cli/replay.test.ts: real-backing case skipped: ${probe.reason}`);
});

describe("memattr demo", () => {
  it("replays ovmf-dma and linux-boot through every policy", async () => {
    const r = await captureCommand(demo, ["--guest", "64MiB", "--simulated"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\*\*ovmf-dma, 64 MiB guest/);
    expect(r.out).toMatch(/\*\*linux-boot, 64 MiB guest/);
    expect(r.out.match(/^\| adaptive \(simulated\) \|/gm)).toHaveLength(2);
    expect(r.out).toMatch(/median of 3 timed replays/);
  });
});

// Found by test/fuzz/cli.test.ts.
describe("memattr replay: command lines that used to throw or run without end", () => {
  it("a missing file, a folder, or a file named like an Object.prototype member is exit 1 with the system's message", async () => {
    // before: a thrown Node ENOENT/EISDIR error; "constructor" was taken for a generator name
    for (const spec of ["/nonexistent/trace.jsonl", "/tmp", "constructor"]) {
      const r = await captureCommand(replay, [spec, "--simulated"]);
      expect(r.code, spec).toBe(1);
      expect(r.err).toMatch(/ENOENT|EISDIR/);
    }
  });

  it("--repeat and --warmup have an upper bound, and counts are decimal digits", async () => {
    // before: --repeat 99999999999 was taken (a replay 10^11 times over)
    for (const args of [
      ["--repeat", "99999999999"],
      ["--warmup", "99999999999999"],
      ["--seed", "0x10"],
      ["--transactions", ""],
      ["--guest", "1e400"],
    ]) {
      const r = await captureCommand(replay, ["ovmf-dma", ...SMALL, "--simulated", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(/usage: memattr replay/);
    }
  });

  it("a guest the generator refuses is a usage error", async () => {
    // before: a MemattrRangeError thrown out of run()
    const r = await captureCommand(replay, ["ovmf-dma", "--guest", "4096", "--simulated"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/guestBytes 4096/);
  });

  it("demo refuses a seed that is not decimal digits", async () => {
    // before: "" read as 0 and "1e3" as 1000
    for (const seed of ["", "1e3", "0x10"]) expect((await captureCommand(demo, ["--seed", seed])).code, seed).toBe(2);
  });
});

describe("memattr replay of real kernel traces", () => {
  const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

  it("replays a raw-clock (x86-tsc) ftrace file: every conversion line read, the summary says its times have no unit", async () => {
    const r = await captureCommand(replay, [fixture("ftrace-x86-tsc.txt"), "--simulated", "--json", "--guest", "64MiB", "--repeat", "1", "--warmup", "0"]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/raw-clock timestamps: 5 line\(s\)/);
    const out = JSON.parse(r.out) as { results: ReplayResult[] };
    for (const x of out.results) expect({ conversions: x.conversions, refused: x.refused }).toEqual({ conversions: 3, refused: 0 });
  });

  it("replays a hostile guest's ftrace file: 6 refused calls recorded and counted, the 2 conversions made", async () => {
    const r = await captureCommand(replay, [
      fixture("ftrace-hostile-guest.txt"),
      "--simulated",
      "--json",
      "--guest",
      "64MiB",
      "--repeat",
      "1",
      "--warmup",
      "0",
    ]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/refused hypercalls: .*zero-npages 1/);
    const out = JSON.parse(r.out) as { results: ReplayResult[] };
    for (const x of out.results)
      expect({ conversions: x.conversions, refused: x.refused, refusedRecorded: x.refusedRecorded }).toEqual({
        conversions: 2,
        refused: 6,
        refusedRecorded: 6,
      });
  });
});
