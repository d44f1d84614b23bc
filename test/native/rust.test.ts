// The Rust wrapper over libmemattr.a (native/rust/). At collection time this builds it with plain
// rustc (scripts/build-rust.mjs, which builds the C library first), runs the differential test
// build/rust/diff_test, turning every TAP line it prints into one vitest test, and runs the example.
//
// Without rustc or the C toolchain the suite skips and says why; under CI (or
// MEMATTR_REQUIRE_NATIVE=1) that is a failure instead (./_native.ts). Only build/ is written.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { declareUnavailable, type ProgramRun, root, runProgram, withBuildLock } from "./_native.js";

const script = join(root, "scripts/build-rust.mjs");

interface Suite {
  rustc?: string;
  skipReason?: string;
  buildError?: string;
  diff?: ProgramRun;
  example?: ProgramRun;
}

async function prepare(): Promise<Suite> {
  const p = spawnSync(process.execPath, [script, "--probe"], { encoding: "utf8" });
  if (p.status !== 0) return { skipReason: `${script} --probe failed: ${p.stderr}` };
  const probe = JSON.parse(p.stdout) as { ok: boolean; reason?: string; rustc?: string };
  if (!probe.ok) return { skipReason: probe.reason ?? "no Rust toolchain", rustc: probe.rustc };
  // The build also runs `make lib` in build/native, which native.test.ts builds too: take its lock.
  return withBuildLock(async () => {
    const build = spawnSync(process.execPath, [script], { encoding: "utf8" });
    if (build.status !== 0) return { rustc: probe.rustc, buildError: `${build.stdout}\n${build.stderr}`.trim().slice(-6000) };
    const [diff, example] = await Promise.all([runProgram(join(root, "build/rust/diff_test"), {}), runProgram(join(root, "build/rust/example"), {})]);
    return { rustc: probe.rustc, diff, example };
  });
}

const suite = await prepare();

describe(`memattr for Rust (native/rust, ${suite.rustc ?? "no rustc"})`, () => {
  if (declareUnavailable(suite, "rustc and the native toolchain it needs", "builds the wrapper, the example and the differential test")) return;
  const diff = suite.diff!;
  const example = suite.example!;
  const why = (run: ProgramRun) => `status ${run.status}, signal ${run.signal} after ${run.ms} ms\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-4000)}`;

  describe("diff_test", () => {
    if (diff.cases.length > 0) {
      it.each(diff.cases)("$name", (c) => {
        expect(c.ok, c.diag.join("\n")).toBe(true);
      });
    }
    it("exits 0 after its plan", () => {
      expect(diff.status, why(diff)).toBe(0);
      expect(diff.plan, why(diff)).toBe(diff.cases.length);
    });
  });

  it("example: the VMM flow (guest_add, request, commit, populate, request, abort, runs) runs and prints each step", () => {
    expect(example.status, why(example)).toBe(0);
    const lines = example.stdout.split("\n");
    for (const step of [
      "guest_add: ",
      "request #1: ",
      "commit #1: private true",
      "request #2: ",
      "abort #2: 0 open",
      "commit #2 again: ENOENT (-2)",
      "run [0x100, 0x110) value 0x91",
      "invariants hold",
    ]) {
      expect(
        lines.some((l) => l.startsWith(step)),
        `no line starting with ${JSON.stringify(step)} in:\n${example.stdout}`,
      ).toBe(true);
    }
  });
});
