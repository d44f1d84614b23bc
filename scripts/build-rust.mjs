#!/usr/bin/env node
// Builds the Rust side of libmemattr (native/rust/) with plain rustc, no cargo and no crates:
// the wrapper native/rust/memattr.rs as an rlib that bundles build/native/libmemattr.a, then the
// example and the differential test linked against it. Everything goes under build/rust/.
//
//   node scripts/build-rust.mjs           (npm run build:rust) builds build/rust/{example,diff_test}
//   node scripts/build-rust.mjs --probe   prints {"ok": …, "reason": …, "rustc": …} as JSON
//
// rustc is $RUSTC or the first `rustc` on PATH; it must be 1.63 or newer (Debian 12's). Without
// it, or without the native toolchain (scripts/build-native.mjs), this prints one line saying why
// and exits 0, unless CI or MEMATTR_REQUIRE_NATIVE=1, where that is a failure. The library is
// (re)built first through scripts/build-native.mjs (make decides what is stale); the Rust outputs
// are rebuilt when an input is newer or the rustc version or flags changed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { probeNative } from "./build-native.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const rustc = process.env.RUSTC || "rustc";
const cc = process.env.CC || "cc";
const ciValue = process.env.CI ?? "";
const required = (ciValue !== "" && ciValue !== "0" && ciValue !== "false") || process.env.MEMATTR_REQUIRE_NATIVE === "1";

const SRC = join(root, "native/rust");
const OUT = join(root, "build/rust");
const LIB_DIR = join(root, "build/native");
const RUSTFLAGS = ["--edition", "2021", "-C", "opt-level=2"];
// The C side needs libm and pthread; libgcc (__popcountdi2) comes with the C linker rustc runs.
const SYSTEM_LIBS = ["-l", "m", "-l", "pthread"];

/** { major, minor } of `rustc --version`, or null. */
function rustcVersion() {
  const r = spawnSync(rustc, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return null;
  const m = /^rustc (\d+)\.(\d+)\.\d+/.exec(r.stdout);
  return m ? { line: r.stdout.trim(), major: Number(m[1]), minor: Number(m[2]) } : null;
}

/** Whether the Rust build can run here: { ok, reason?, rustc? }. */
export function probeRust() {
  const version = rustcVersion();
  if (!version) return { ok: false, reason: `missing ${rustc} (apt-get install rustc)` };
  if (version.major < 1 || (version.major === 1 && version.minor < 63)) {
    return { ok: false, reason: `${version.line} is older than 1.63 (Debian 12's rustc)`, rustc: version.line };
  }
  const native = probeNative();
  if (!native.ok) return { ok: false, reason: `the native library cannot build: ${native.reason}`, rustc: version.line };
  return { ok: true, rustc: version.line };
}

function mtimeMs(path) {
  return existsSync(path) ? statSync(path).mtimeMs : -1;
}

/** Runs cmd unless out is newer than every input; exits on failure. */
function make(out, inputs, cmd, args) {
  const outMs = mtimeMs(out);
  if (outMs >= 0 && inputs.every((i) => mtimeMs(i) <= outMs)) return;
  process.stdout.write(`build:rust: ${[cmd, ...args].map((a) => a.replace(`${root}/`, "")).join(" ")}\n`);
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(`build:rust: ${cmd} failed for ${out}\n`);
    process.exit(r.status ?? 1);
  }
}

function main(args) {
  if (args[0] === "--probe") {
    process.stdout.write(`${JSON.stringify(probeRust())}\n`);
    return 0;
  }
  const probe = probeRust();
  if (!probe.ok) {
    process.stderr.write(`build:rust: ${required ? "cannot build" : "skipped"}: ${probe.reason}\n`);
    return required ? 1 : 0;
  }
  const lib = spawnSync(process.execPath, [join(root, "scripts/build-native.mjs"), "lib"], { stdio: "inherit" });
  if (lib.status !== 0) return lib.status ?? 1;

  mkdirSync(OUT, { recursive: true });
  // A new rustc, cc or set of flags rebuilds everything: the stamp is an input of each output.
  const stamp = join(OUT, ".flags");
  const flagsNow = [probe.rustc, cc, ...RUSTFLAGS, ...SYSTEM_LIBS].join(" ");
  if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== flagsNow) writeFileSync(stamp, flagsNow);

  const header = [join(root, "native/include/memattr.h"), join(root, "native/include/memattr_abi.h")];
  const layout = join(OUT, "layout.o");
  make(layout, [join(SRC, "layout.c"), ...header, stamp], cc, [
    "-std=c11",
    "-O2",
    "-Wall",
    "-Werror",
    `-I${join(root, "native/include")}`,
    "-c",
    join(SRC, "layout.c"),
    "-o",
    layout,
  ]);

  const rlib = join(OUT, "libmemattr.rlib");
  const wrapper = [join(SRC, "memattr.rs"), join(SRC, "abi.rs"), join(LIB_DIR, "libmemattr.a"), stamp];
  make(rlib, wrapper, rustc, [
    ...RUSTFLAGS,
    "--crate-type",
    "rlib",
    "--crate-name",
    "memattr",
    join(SRC, "memattr.rs"),
    "-L",
    `native=${LIB_DIR}`,
    "-l",
    "static=memattr",
    "-o",
    rlib,
  ]);

  const link = ["--extern", `memattr=${rlib}`, ...SYSTEM_LIBS];
  const example = join(OUT, "example");
  make(example, [join(SRC, "example.rs"), rlib, stamp], rustc, [...RUSTFLAGS, join(SRC, "example.rs"), ...link, "-o", example]);
  const diffTest = join(OUT, "diff_test");
  make(diffTest, [...["diff_test.rs", "diff_map.rs", "diff_conv.rs"].map((f) => join(SRC, f)), rlib, layout, stamp], rustc, [
    ...RUSTFLAGS,
    join(SRC, "diff_test.rs"),
    ...link,
    "-C",
    `link-arg=${layout}`,
    "-o",
    diffTest,
  ]);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
