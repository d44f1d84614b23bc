#!/usr/bin/env node
// Builds libmemattr.a (native/Makefile): the same wasm/memattr.wasm that Node and browsers load,
// compiled to C by wasm2c (Debian's `wabt`) and linked with the C API of native/include/memattr.h.
// Everything goes under build/native/ (git-ignored).
//
//   node scripts/build-native.mjs [make targets and VAR=value ...]   (npm run build:native)
//   node scripts/build-native.mjs --probe              prints {"ok": …, "reason": …} as JSON
//   node scripts/build-native.mjs --probe-sanitizers   the same for -fsanitize=address,undefined
//
// Without wasm2c, a C compiler or make it prints one line saying why and exits 0, unless
// MEMATTR_REQUIRE_NATIVE=1 (CI), where that is a failure. A missing .wasm is built first.
// Also importable: probeNative() and probeSanitizers().
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cc = process.env.CC || "cc";
const wasm2c = process.env.WASM2C || "wasm2c";
const runtimeDir = process.env.WASM2C_RUNTIME || "/usr/share/wabt/wasm2c";
const required = process.env.MEMATTR_REQUIRE_NATIVE === "1";

/** First line of `cmd --version`, or null when it cannot run. */
function versionOf(cmd) {
  const r = spawnSync(cmd, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return null;
  return (r.stdout || r.stderr).split("\n")[0].trim();
}

/** Whether the native build can run here: { ok, reason?, wasm2c?, cc?, make? }. */
export function probeNative() {
  const found = { wasm2c: versionOf(wasm2c), cc: versionOf(cc), make: versionOf("make") };
  const missing = [];
  if (!found.wasm2c) missing.push(`${wasm2c} (apt-get install wabt)`);
  if (!found.cc) missing.push(`a C compiler '${cc}' (apt-get install gcc)`);
  if (!found.make) missing.push("make (apt-get install make)");
  if (found.wasm2c && !existsSync(join(runtimeDir, "wasm-rt-impl.c"))) {
    missing.push(`the wasm2c runtime source ${runtimeDir}/wasm-rt-impl.c (set WASM2C_RUNTIME)`);
  }
  if (missing.length > 0) return { ok: false, reason: `missing ${missing.join(", ")}`, ...found };
  return { ok: true, ...found };
}

/** Whether `cc -fsanitize=address,undefined` can build and run a program here. */
export function probeSanitizers() {
  const dir = mkdtempSync(join(tmpdir(), "memattr-san-"));
  try {
    writeFileSync(join(dir, "t.c"), "#include <stdlib.h>\nint main(void) { return abs(-0); }\n");
    const exe = join(dir, "t");
    const build = spawnSync(cc, ["-fsanitize=address,undefined", join(dir, "t.c"), "-o", exe], { encoding: "utf8" });
    if (build.error || build.status !== 0) {
      const why = (build.stderr || String(build.error)).split("\n").find((l) => l.trim()) ?? "unknown";
      return { ok: false, reason: `${cc} -fsanitize=address,undefined cannot link (${why.trim()}); install libasan/libubsan` };
    }
    const run = spawnSync(exe, [], { encoding: "utf8" });
    if (run.status !== 0) return { ok: false, reason: `a sanitized program does not run here: ${run.stderr.split("\n")[0]}` };
    return { ok: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ensureWasm() {
  if (existsSync(join(root, "wasm/memattr.wasm"))) return;
  process.stdout.write("build:native: wasm/memattr.wasm is missing; running npm run build:wasm\n");
  const r = spawnSync("npm", ["run", "--silent", "build:wasm"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function main(args) {
  if (args[0] === "--probe" || args[0] === "--probe-sanitizers") {
    process.stdout.write(`${JSON.stringify(args[0] === "--probe" ? probeNative() : probeSanitizers())}\n`);
    return 0;
  }
  const probe = probeNative();
  if (!probe.ok) {
    process.stderr.write(`build:native: ${required ? "cannot build" : "skipped"}: ${probe.reason}\n`);
    return required ? 1 : 0;
  }
  ensureWasm();
  const jobs = `-j${availableParallelism()}`;
  const r = spawnSync("make", ["--no-print-directory", jobs, "-C", join(root, "native"), ...args], { stdio: "inherit" });
  return r.status ?? 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
