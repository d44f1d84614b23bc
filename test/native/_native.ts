// What the native test files share: whether the C toolchain is required here, the probes of
// scripts/build-native.mjs, one build at a time across processes, and running a test program
// whose TAP lines ("ok 3 - name") become vitest tests.
//
// Without wasm2c, a C compiler or the sanitizer runtime a native suite skips and says why; under
// CI (or MEMATTR_REQUIRE_NATIVE=1) that is a failure instead. Only build/ is written.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";

export const root = new URL("../..", import.meta.url).pathname;
const script = join(root, "scripts/build-native.mjs");
const ciValue = process.env.CI ?? "";

/** True under CI or MEMATTR_REQUIRE_NATIVE=1: a missing toolchain fails instead of skipping. */
export const required = (ciValue !== "" && ciValue !== "0" && ciValue !== "false") || process.env.MEMATTR_REQUIRE_NATIVE === "1";

function probe(flag: string): { ok: boolean; reason?: string } {
  const r = spawnSync(process.execPath, [script, flag], { encoding: "utf8" });
  if (r.status !== 0) return { ok: false, reason: `${script} ${flag} failed: ${r.stderr}` };
  return JSON.parse(r.stdout) as { ok: boolean; reason?: string };
}

/** Why the native build cannot run here (with `sanitizers`: also ASan+UBSan), or undefined when it can. */
export function nativeSkipReason(sanitizers: boolean): string | undefined {
  const tools = probe("--probe");
  if (!tools.ok) return tools.reason ?? "no native toolchain";
  if (sanitizers) {
    const san = probe("--probe-sanitizers");
    if (!san.ok) return san.reason ?? "no sanitizer runtime";
  }
  return undefined;
}

/** Runs native/Makefile through the build script (`targets` and VAR=value); the tail of its output on failure, else undefined. */
export function buildNative(args: string[]): string | undefined {
  const build = spawnSync(process.execPath, [script, ...args], { encoding: "utf8" });
  if (build.status === 0) return undefined;
  return `${build.stdout}\n${build.stderr}`.trim().slice(-6000);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** One build at a time across processes (two `npm test` runs, or two test files, share build/): a mkdir lock. */
export async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(root, "build/.native-lock");
  mkdirSync(join(root, "build"), { recursive: true });
  for (let waitedMs = 0; ; waitedMs += 250) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number(existsSync(join(lock, "pid")) ? readFileSync(join(lock, "pid"), "utf8") : "0");
      if (owner > 0 && !isAlive(owner)) rmSync(lock, { recursive: true, force: true }); // its owner died
      if (waitedMs > 300_000) throw new Error(`${lock} held for 5 minutes`);
      await sleep(250);
    }
  }
  writeFileSync(join(lock, "pid"), String(process.pid));
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface TapCase {
  name: string;
  ok: boolean;
  /** The "# " lines printed before the result line: why it failed. */
  diag: string[];
}

export interface ProgramRun {
  program: string;
  cases: TapCase[];
  plan: number | null;
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** "ok N - name" / "not ok N - name" lines, each with the "# " lines printed before it, and the plan "1..N". */
export function parseTap(stdout: string): { cases: TapCase[]; plan: number | null } {
  const cases: TapCase[] = [];
  let diag: string[] = [];
  let plan: number | null = null;
  for (const line of stdout.split("\n")) {
    const result = /^(not )?ok \d+ - (.*)$/.exec(line);
    if (result) {
      cases.push({ name: result[2]!, ok: result[1] === undefined, diag });
      diag = [];
    } else if (line.startsWith("#")) {
      diag.push(line);
    } else if (/^1\.\.\d+$/.test(line)) {
      plan = Number(line.slice(3));
    }
  }
  return { cases, plan };
}

/** Runs a program with `env` added to this process's, and parses its TAP output. */
export function runProgram(path: string, env: NodeJS.ProcessEnv): Promise<ProgramRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(path, [], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => (stderr += String(e)));
    child.on("close", (status, signal) => {
      const program = path.split("/").pop()!;
      resolve({ program, ...parseTap(stdout), status, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/**
 * Inside a describe: when the suite could not be set up, declares what that means — a skipped
 * test naming the reason (or, under CI, a failing one saying what is missing), or a failing
 * build test with the build's output — and returns true; the caller then returns. `needs` says
 * what was missing; `builds` names the build test.
 */
export function declareUnavailable(suite: { skipReason?: string; buildError?: string }, needs: string, builds: string): boolean {
  if (suite.skipReason !== undefined) {
    const reason = suite.skipReason;
    if (required) it(`has ${needs} (required under CI)`, () => expect.fail(reason));
    else it.skip(`skipped: ${reason}`, () => {});
    return true;
  }
  if (suite.buildError !== undefined) {
    const output = suite.buildError;
    it(builds, () => expect.fail(output));
    return true;
  }
  return false;
}
