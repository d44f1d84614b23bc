// npm run bench:native: builds libmemattr.a (scripts/build-native.mjs) and the benchmark
// (bench/native/Makefile → build/bench-native/), runs it, and writes into the results directory
// (MEMATTR_BENCH_OUT, default bench/results):
//   native.json   bench.c's results plus the targets checked against them
//   summary.md    the native section spliced in between its markers (the file is created when
//                 missing; the rest of it, the JS suite's part, is left as it is)
// and prints the section. MEMATTR_BENCH_QUICK=1 runs the short version (a few seconds).
// Without wasm2c, a C compiler or make it says why and exits 0, or 1 under MEMATTR_REQUIRE_NATIVE=1.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { checkNativeTargets, nativeMarkdown, spliceNativeSection, type NativeResults } from "./_markdown.js";

const root = new URL("../..", import.meta.url).pathname;
const out = resolve(process.env.MEMATTR_BENCH_OUT || join(root, "bench/results"));
const required = process.env.MEMATTR_REQUIRE_NATIVE === "1";
const buildScript = join(root, "scripts/build-native.mjs");

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`bench:native: ${cmd} ${args.join(" ")} failed (${r.status ?? r.signal})`);
    process.exit(1);
  }
}

const probe = spawnSync(process.execPath, [buildScript, "--probe"], { encoding: "utf8" });
const tools = probe.status === 0 ? (JSON.parse(probe.stdout) as { ok: boolean; reason?: string }) : { ok: false, reason: probe.stderr };
if (!tools.ok) {
  console.error(`bench:native: ${required ? "cannot run" : "skipped"}: ${tools.reason}`);
  process.exit(required ? 1 : 0);
}

run(process.execPath, [buildScript]); // libmemattr.a
run("make", ["--no-print-directory", `-j${availableParallelism()}`, "-C", join(root, "bench/native")]);

mkdirSync(out, { recursive: true });
const json = join(out, "native.json");
const raw = `${json}.raw`;
run(join(root, "build/bench-native/bench_native"), [raw]);

const results = JSON.parse(readFileSync(raw, "utf8")) as NativeResults;
if (!results.verified || results.groups.some((g) => !g.verified.ok)) {
  console.error("bench:native: a contender was not verified against memattr");
  process.exit(1);
}
results.targets = checkNativeTargets(results);
writeFileSync(`${json}.tmp`, `${JSON.stringify(results, null, 1)}\n`);
renameSync(`${json}.tmp`, json);
rmSync(raw, { force: true });

const section = nativeMarkdown(results);
const summary = join(out, "summary.md");
const before = existsSync(summary) ? readFileSync(summary, "utf8") : "# memattr bench results\n";
writeFileSync(summary, spliceNativeSection(before, section));
console.log(`\n${section}`);
console.log(`bench:native: wrote ${json} and the native section of ${summary}`);
