// libmemattr.a, the C library over the same .wasm (native/). At collection time this builds the
// library and its C test programs (scripts/build-native.mjs → native/Makefile), runs them, and
// turns every TAP line they print ("ok 3 - set refuses start >= end") into one vitest test, so the
// C checks count in vitest's totals. Then the same with -fsanitize=address,undefined in its own
// build directory.
//
// Without wasm2c, a C compiler or the sanitizer runtime the suites skip and say why; under CI (or
// MEMATTR_REQUIRE_NATIVE=1) that is a failure instead (./_native.ts). Only build/ is written.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { declareUnavailable, buildNative, nativeSkipReason, type ProgramRun, root, runProgram, withBuildLock } from "./_native.js";

const PROGRAMS = ["test_diff", "test_errors", "test_memory_limit", "test_trap", "test_threads", "test_conv"];

interface Suite {
  title: string;
  skipReason?: string;
  buildError?: string;
  runs: ProgramRun[];
}

async function prepare(title: string, buildDir: string, makeVars: string[], env: NodeJS.ProcessEnv, sanitizers: boolean): Promise<Suite> {
  const skipReason = nativeSkipReason(sanitizers);
  if (skipReason !== undefined) return { title, skipReason, runs: [] };
  return withBuildLock(async () => {
    const buildError = buildNative(["tests", `BUILD=${buildDir}`, ...makeVars]);
    if (buildError !== undefined) return { title, buildError, runs: [] };
    const runs = await Promise.all(PROGRAMS.map((p) => runProgram(join(buildDir, "test", p), env)));
    return { title, runs };
  });
}

const suites: Suite[] = [
  await prepare("libmemattr (C API over wasm2c)", join(root, "build/native"), [], {}, false),
  await prepare(
    "libmemattr under -fsanitize=address,undefined",
    join(root, "build/native-san"),
    ["SANITIZE=address,undefined"],
    {
      // the differential test's 10^6 operations take ~10 s under ASan; 2.5·10^5 keep it short
      MEMATTR_DIFF_OPS: "250000",
      ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0",
      UBSAN_OPTIONS: "print_stacktrace=1:halt_on_error=1",
    },
    true,
  ),
];

for (const suite of suites) {
  describe(suite.title, () => {
    if (declareUnavailable(suite, "the native toolchain it needs", "builds the library and its tests")) return;
    for (const run of suite.runs) {
      describe(run.program, () => {
        if (run.cases.length > 0) {
          it.each(run.cases)("$name", (c) => {
            expect(c.ok, c.diag.join("\n")).toBe(true);
          });
        }
        it("exits 0 after its plan", () => {
          const why = `status ${run.status}, signal ${run.signal} after ${run.ms} ms\n${run.stderr.slice(-4000)}`;
          expect(run.status, why).toBe(0);
          expect(run.plan, why).toBe(run.cases.length);
        });
      });
    }
  });
}
