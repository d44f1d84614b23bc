// npm run bench:native (bench/native/run.ts) in its quick mode, into a temporary
// MEMATTR_BENCH_OUT: it must check every contender against memattr, write every group and case
// to native.json with the targets judged, splice its section into summary.md there, and leave
// the tracked bench/results alone. Plus the section's splicing, which needs no toolchain.
//
// Without wasm2c, a C compiler or make the run is skipped and says why; under CI (or
// MEMATTR_REQUIRE_NATIVE=1) that is a failure instead (./_native.ts).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BEGIN_MARKER, END_MARKER, GROUP_IDS, nativeSectionFrom, spliceNativeSection, type NativeResults } from "../../bench/native/_markdown.js";
import { nativeSkipReason, required, root, withBuildLock } from "./_native.js";

const CONTENDER_KEYS = ["memattr", "flat", "bitmap", "pagetree"];
const TRACKED = ["native.json", "summary.md"].map((f) => join(root, "bench/results", f));

const mtimes = () => TRACKED.map((p) => (existsSync(p) ? statSync(p).mtimeMs : -1));
const skipReason = nativeSkipReason(false);
const out = mkdtempSync(join(tmpdir(), "memattr-bench-native-"));
const trackedBefore = mtimes();
const run =
  skipReason === undefined
    ? await withBuildLock(async () =>
        spawnSync(process.execPath, ["--import", "tsx", join(root, "bench/native/run.ts")], {
          cwd: root,
          env: { ...process.env, MEMATTR_BENCH_QUICK: "1", MEMATTR_BENCH_OUT: out },
          encoding: "utf8",
          timeout: 300_000,
        }),
      )
    : undefined;
const results = run?.status === 0 ? (JSON.parse(readFileSync(join(out, "native.json"), "utf8")) as NativeResults) : undefined;

afterAll(() => rmSync(out, { recursive: true, force: true }));

const count = (text: string, what: string) => text.split(what).length - 1;

describe("npm run bench:native, quick, into a temporary MEMATTR_BENCH_OUT", () => {
  if (skipReason !== undefined) {
    if (required) it("has the native toolchain it needs (required under CI)", () => expect.fail(skipReason));
    else it.skip(`skipped: ${skipReason}`, () => {});
    return;
  }

  it("builds, runs and exits 0", () => {
    const why = `status ${run!.status}, signal ${run!.signal}\n${run!.stdout.slice(-3000)}\n${run!.stderr.slice(-3000)}`;
    expect(run!.status, why).toBe(0);
  });

  it("checked every contender against memattr in every group before timing", () => {
    expect(results!.verified).toBe(true);
    for (const g of results!.groups) {
      expect(g.verified.ok, g.id).toBe(true);
      expect(g.verified.gets, g.id).toBeGreaterThan(0);
    }
  });

  it("writes every group, each with a result or a reason for every contender", () => {
    expect(results!.quick).toBe(true);
    expect(results!.groups.map((g) => g.id)).toEqual([...GROUP_IDS]);
    for (const g of results!.groups) {
      for (const key of CONTENDER_KEYS) {
        const c = g.cases.find((x) => x.key === key);
        expect(c, `${g.id}: ${key}`).toBeDefined();
        if (c!.skip !== undefined) expect(c!.skip.length, `${g.id}: ${key}`).toBeGreaterThan(0);
        else if (g.id === "adversarial-memory") expect(c!.bitsPerPage, `${g.id}: ${key}`).toBeGreaterThan(0);
        else expect(c!.medianNs! > 0 && c!.minNs! > 0 && c!.minNs! <= c!.medianNs!, `${g.id}: ${key}`).toBe(true);
      }
    }
    for (const id of ["get-1g", "get-1t"]) {
      expect(results!.groups.find((g) => g.id === id)!.cases.some((c) => c.name.includes("get_many"))).toBe(true);
    }
  });

  it("scales the per-page tree's 1 TiB conversions from a smaller guest and says so", () => {
    for (const id of ["whole-uniform-1t", "whole-runs-1t"]) {
      const c = results!.groups.find((g) => g.id === id)!.cases.find((x) => x.key === "pagetree")!;
      expect(c.measuredPages! * c.scale!).toBe(2 ** 28);
      expect(c.medianNs).toBeCloseTo(c.measuredMedianNs! * c.scale!, 0);
    }
  });

  it("judges every target (pass or miss, none left unrun)", () => {
    expect(results!.targets!.length).toBe(6);
    for (const t of results!.targets!) expect(typeof t.pass, t.target).toBe("boolean");
  });

  it("splices its section into summary.md in MEMATTR_BENCH_OUT", () => {
    const summary = readFileSync(join(out, "summary.md"), "utf8");
    expect(count(summary, BEGIN_MARKER)).toBe(1);
    expect(count(summary, END_MARKER)).toBe(1);
    expect(summary).toContain("### targets (native");
  });

  it("leaves the tracked bench/results alone", () => {
    expect(mtimes()).toEqual(trackedBefore);
  });
});

describe("the native section of summary.md", () => {
  const fixture: NativeResults = {
    suite: "native",
    quick: true,
    date: "2026-01-01T00:00:00Z",
    machine: { cpu: "test", cores: 2, memoryGiB: 24 },
    compiler: "gcc -O2",
    method: { warmupMs: 5, samples: 5, sampleMs: 0.5, resetSamples: 3 },
    loadAverageStart: [0.1, 0.1, 0.1],
    loadAverageEnd: [0.1, 0.1, 0.1],
    contenders: [{ key: "memattr", name: "memattr C API", what: "the library" }],
    groups: [
      {
        id: "flips-1",
        title: "1-page flips",
        pages: 2 ** 18,
        op: "one set",
        note: "",
        cases: [{ key: "memattr", name: "memattr C API", medianNs: 20, minNs: 19, samples: 5, opsPerSample: 4096 }],
        verified: { ok: true, gets: 1, queries: 1, loops: 1 },
      },
    ],
    verified: true,
  };

  it("renders from native.json, for the JS report to append when it rewrites summary.md", () => {
    const dir = mkdtempSync(join(tmpdir(), "memattr-native-md-"));
    try {
      expect(nativeSectionFrom(dir)).toBe("");
      writeFileSync(join(dir, "native.json"), JSON.stringify(fixture));
      const section = nativeSectionFrom(dir);
      expect(section.startsWith(BEGIN_MARKER)).toBe(true);
      expect(section.trimEnd().endsWith(END_MARKER)).toBe(true);
      expect(section).toMatch(/\| 1-page flips ≤ 25 ns \| 20\.00 ns \(min 19\.00 ns\) \| pass \|/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("replaces an earlier section between its markers and keeps the rest", () => {
    const old = `${BEGIN_MARKER}\nold figures\n${END_MARKER}\n`;
    const summary = `# results\n\nJS tables\n\n${old}\nafter\n`;
    const next = spliceNativeSection(summary, `${BEGIN_MARKER}\nnew figures\n${END_MARKER}\n`);
    expect(next).toBe(`# results\n\nJS tables\n\n${BEGIN_MARKER}\nnew figures\n${END_MARKER}\n\nafter\n`);
    expect(spliceNativeSection(next, `${BEGIN_MARKER}\nnew figures\n${END_MARKER}\n`)).toBe(next);
  });

  it("appends the section to a summary that has none", () => {
    const section = `${BEGIN_MARKER}\nfigures\n${END_MARKER}\n`;
    expect(spliceNativeSection("# results\n\nJS tables\n", section)).toBe(`# results\n\nJS tables\n\n${section}`);
  });
});
