// The C example VMM (native/examples/vmm): built against libmemattr.a at collection time, then
// - without a KVM device it says so in one line and exits 77 ("skipped"), never a made-up table;
// - its dry run (the same guest bytes and VMM code, the guest in user mode, no KVM) must verify
//   every payload and show what each policy costs;
// - where /dev/kvm has guest_memfd (MMAP | INIT_SHARED) and KVM_SET_USER_MEMORY_REGION2, the real
//   run on KVM must do the same; elsewhere it skips with the program's own reason.
//
// Without wasm2c, a C compiler or make the suite skips and says why; under CI (or
// MEMATTR_REQUIRE_NATIVE=1) that is a failure instead (./_native.ts). Only build/ is written.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { declareUnavailable, buildNative, nativeSkipReason, root, withBuildLock } from "./_native.js";

const program = join(root, "build/native/examples/vmm/vmm");
const EXIT_SKIPPED = 77;
const TRANSACTIONS = 300;
const BUDGET_BYTES = 64 * 1024; // the default: more than the guest's 12 hot bounce pages
const SMALL_BUDGET_BYTES = 16 * 1024; // less than them: the lazy policy has to punch

interface Suite {
  skipReason?: string;
  buildError?: string;
}

async function prepare(): Promise<Suite> {
  const skipReason = nativeSkipReason(false);
  if (skipReason !== undefined) return { skipReason };
  return withBuildLock(async () => {
    const libError = buildNative(["lib"]);
    if (libError !== undefined) return { buildError: libError };
    const make = spawnSync("make", ["--no-print-directory", "-C", join(root, "native/examples/vmm")], { encoding: "utf8" });
    if (make.status !== 0) return { buildError: `${make.stdout}\n${make.stderr}`.trim().slice(-6000) };
    return {};
  });
}

interface Run {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], timeoutMs = 150_000): Run {
  const r = spawnSync(program, args, { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? String(r.error ?? "") };
}

const why = (r: Run) => `status ${r.status}, signal ${r.signal}\n${r.stdout}\n${r.stderr}`;

/** The printed table: policy names, and each row's label → one cell per policy. */
interface Table {
  policies: string[];
  rows: Map<string, string[]>;
  result: string;
}

function parseTable(stdout: string): Table {
  const lines = stdout.split("\n");
  const header = lines.find((l) => /^\s+(eager|lazy)(\s+(eager|lazy))?\s*$/.test(l));
  const policies = header?.trim().split(/\s+/) ?? [];
  const rows = new Map<string, string[]>();
  for (const line of lines) {
    const [label, ...values] = line.split(/\s{2,}/);
    if (label && values.length === policies.length) rows.set(label, values);
  }
  return { policies, rows, result: lines.find((l) => l.startsWith("result: ")) ?? "" };
}

/** One policy's cell of a row, as a number (or the text for "payloads verified" / "guest end"). */
function cell(t: Table, label: string, policy: string): string {
  const value = t.rows.get(label)?.[t.policies.indexOf(policy)];
  if (value === undefined) throw new Error(`no row "${label}" for ${policy} in the table (${[...t.rows.keys()].join(", ")})`);
  return value;
}
const num = (t: Table, label: string, policy: string): number => Number(cell(t, label, policy));

/** What every run must show for each of its policies. */
function expectHonestRun(t: Table, r: Run, transactions: number): void {
  expect(t.result, why(r)).toMatch(/^result: ok/);
  for (const p of t.policies) {
    expect(cell(t, "guest end", p), why(r)).toBe("done");
    expect(cell(t, "payloads verified", p), why(r)).toBe(`${transactions}/${transactions}`);
    expect(num(t, "private words on shared side", p), why(r)).toBe(0);
    expect(num(t, "conversions", p), why(r)).toBe(2 * transactions);
    expect(num(t, "refused requests", p), why(r)).toBe(0);
  }
}

/** Eager against lazy with a budget above the hot bounce pages. */
function expectEagerVsLazy(r: Run, transactions: number): void {
  expect(r.status, why(r)).toBe(0);
  const t = parseTable(r.stdout);
  expect(t.policies).toEqual(["eager", "lazy"]);
  expectHonestRun(t, r, transactions);
  // eager: one punch per conversion, never a page held twice, a refault on each side per flip
  expect(num(t, "discard syscalls", "eager"), why(r)).toBe(2 * transactions);
  expect(num(t, "peak double allocation (bytes)", "eager"), why(r)).toBe(0);
  expect(num(t, "refault pages", "eager"), why(r)).toBeGreaterThan(transactions);
  // lazy: far fewer punches and refaults, and never more than the budget held twice
  expect(num(t, "discard syscalls", "lazy") * 10, why(r)).toBeLessThanOrEqual(num(t, "discard syscalls", "eager"));
  expect(num(t, "refault pages", "lazy") * 10, why(r)).toBeLessThanOrEqual(num(t, "refault pages", "eager"));
  expect(num(t, "peak double allocation (bytes)", "lazy"), why(r)).toBeGreaterThan(0);
  expect(num(t, "peak double allocation (bytes)", "lazy"), why(r)).toBeLessThanOrEqual(BUDGET_BYTES);
}

/** Lazy with a budget below the hot bounce pages: it punches the oldest, and stays within it. */
function expectLazyOverBudget(r: Run, transactions: number): void {
  expect(r.status, why(r)).toBe(0);
  const t = parseTable(r.stdout);
  expect(t.policies).toEqual(["lazy"]);
  expectHonestRun(t, r, transactions);
  expect(num(t, "discard syscalls", "lazy"), why(r)).toBeGreaterThan(0);
  expect(num(t, "refault pages", "lazy"), why(r)).toBeGreaterThan(0);
  expect(num(t, "peak double allocation (bytes)", "lazy"), why(r)).toBeLessThanOrEqual(SMALL_BUDGET_BYTES);
}

const suite = await prepare();

describe("native/examples/vmm (a C VMM on /dev/kvm over libmemattr.a)", () => {
  if (declareUnavailable(suite, "the native toolchain it needs", "builds with -Wall -Wextra -Werror")) return;

  it("says in one line that it is skipped, and exits 77, when the KVM device does not exist", () => {
    const r = run(["--kvm", "/nonexistent/memattr-kvm", "--transactions", "10"]);
    expect(r.status, why(r)).toBe(EXIT_SKIPPED);
    expect(r.stdout).toBe("vmm: skipped: cannot open /nonexistent/memattr-kvm: No such file or directory\n");
  });

  if (existsSync("/dev/kvm")) {
    it.skip("without /dev/kvm the default run exits 77 (this host has /dev/kvm: the real runs below cover it)", () => {});
  } else {
    it("without /dev/kvm here, the default run exits 77 and names /dev/kvm", () => {
      const r = run([]);
      expect(r.status, why(r)).toBe(EXIT_SKIPPED);
      expect(r.stdout).toBe("vmm: skipped: cannot open /dev/kvm: No such file or directory\n");
    });
  }

  it("refuses bad arguments with status 2", () => {
    for (const args of [
      ["--policy", "sometimes"],
      ["--transactions", "many"],
      ["--budget", "100"],
      ["--frobnicate", "1"],
    ]) {
      const r = run(args);
      expect(r.status, `${args.join(" ")}: ${why(r)}`).toBe(2);
      expect(r.stderr).toContain("usage: vmm");
    }
  });

  describe("dry run: the guest's bytes in user mode, the same VMM code, no KVM", () => {
    it(`${TRANSACTIONS} transactions, eager vs lazy: every payload verified, lazy punches far less, eager never holds a page twice`, (ctx) => {
      const r = run(["--dry-run", "--transactions", String(TRANSACTIONS)]);
      if (r.status === EXIT_SKIPPED) return ctx.skip(r.stdout.trim());
      expect(r.stdout).toContain("DRY RUN without KVM");
      expectEagerVsLazy(r, TRANSACTIONS);
    });

    it(`lazy with a ${SMALL_BUDGET_BYTES / 1024} KiB budget punches the oldest stale ranges and stays within the budget`, (ctx) => {
      const r = run(["--dry-run", "--policy", "lazy", "--budget", `${SMALL_BUDGET_BYTES / 1024}K`, "--transactions", String(TRANSACTIONS)]);
      if (r.status === EXIT_SKIPPED) return ctx.skip(r.stdout.trim());
      expectLazyOverBudget(r, TRANSACTIONS);
    });
  });

  describe("on /dev/kvm (skipped with the program's reason where KVM or a capability is missing)", () => {
    it(`${TRANSACTIONS} transactions, eager vs lazy: every payload verified, lazy punches far less, eager never holds a page twice`, (ctx) => {
      const r = run(["--transactions", String(TRANSACTIONS), "--timeout", "120"]);
      if (r.status === EXIT_SKIPPED) return ctx.skip(r.stdout.trim());
      expect(r.stdout).toContain("memattr VMM example on /dev/kvm");
      expectEagerVsLazy(r, TRANSACTIONS);
    });

    it(`lazy with a ${SMALL_BUDGET_BYTES / 1024} KiB budget punches the oldest stale ranges and stays within the budget`, (ctx) => {
      const r = run(["--policy", "lazy", "--budget", `${SMALL_BUDGET_BYTES / 1024}K`, "--transactions", String(TRANSACTIONS), "--timeout", "120"]);
      if (r.status === EXIT_SKIPPED) return ctx.skip(r.stdout.trim());
      expectLazyOverBudget(r, TRANSACTIONS);
    });
  });
});
