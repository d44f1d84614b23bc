/**
 * Running a guest in a child process with a timeout (Node only).
 *
 * KVM_RUN blocks the calling thread until the guest exits; a guest that spins, or a hypercall
 * this host never completes (see probeHypercall), blocks it for good and no JS timer can fire.
 * So untrusted guests, probes and measurements run in a child that is killed on timeout.
 *
 * Short names: `job` what the child runs (guest kind, policy, transactions, path).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { PolicyName } from "../policy/types.js";
import type { HostileRequest, RequestPath } from "./guest/program.js";
import type { RequestRecord, VmmReport } from "./vmm.js";

/** What a child runs. Hostile requests carry u64 values as decimal strings (JSON has no bigint). */
export interface ChildJob {
  guest: { kind: "dma"; boot?: boolean } | { kind: "hostile"; requests: SerializedRequest[]; floodFromGfn?: number };
  path?: RequestPath;
  policy?: PolicyName;
  budgetBytes?: number;
  transactions?: number;
  ramBytes?: number;
  verify?: boolean;
  recordRequests?: boolean;
  maxExits?: number;
  slotUpdates?: number;
}

export type SerializedRequest = { [K in keyof HostileRequest]: HostileRequest[K] extends bigint ? string : HostileRequest[K] } & Record<string, unknown>;

/** JSON.stringify replacer: bigint → decimal string. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** Hostile requests for a job (bigint → string). */
export function serializeRequests(requests: readonly HostileRequest[]): SerializedRequest[] {
  return requests.map((r) => JSON.parse(JSON.stringify(r, jsonReplacer)) as SerializedRequest);
}

/** Inverse of serializeRequests. */
export function reviveRequests(requests: readonly SerializedRequest[]): HostileRequest[] {
  return requests.map((r) =>
    r.op === "map"
      ? { op: "map", gpa: BigInt(r.gpa as string), npages: BigInt(r.npages as string), attrs: BigInt(r.attrs as string) }
      : { op: "dma", gpa: BigInt(r.gpa as string), npages: BigInt(r.npages as string), txn: Number(r.txn) },
  );
}

/** A child's answer: the report, or why there is none. */
export type ChildResult =
  | { ok: true; report: VmmReport & { requestsLog?: RequestRecord[] }; wallMs: number }
  | { ok: false; reason: "timeout" | "crashed"; detail: string };

/** node arguments that run `./_child` from source (.ts through tsx) or from dist (.js). */
function childCommand(): string[] {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    const tsx = pathToFileURL(createRequire(here).resolve("tsx")).href;
    return ["--import", tsx, fileURLToPath(new URL("./_child.ts", here))];
  }
  return [fileURLToPath(new URL("./_child.js", here))];
}

/**
 * Runs `job` in a child Node process; kills it after `timeoutMs`.
 * @returns the report with request statuses as bigint, or `{ok: false}` with the reason
 * @example
 * ```ts
 * import { Kvm, runVmmInChild } from "memattr/node";
 * if (Kvm.isAvailable()) {
 *   const r = await runVmmInChild({ guest: { kind: "dma" }, policy: "never", transactions: 100 }, 60_000);
 *   if (r.ok) console.log(r.report.guestMs);
 * }
 * ```
 */
export function runVmmInChild(job: ChildJob, timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...childCommand(), JSON.stringify(job)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ ok: false, reason: "timeout", detail: `no answer within ${timeoutMs} ms` });
      const line = out.trim().split("\n").pop() ?? "";
      try {
        const parsed = JSON.parse(line) as { report: VmmReport; wallMs: number };
        parsed.report.results = parsed.report.results.map((v) => BigInt(v as unknown as string));
        for (const r of parsed.report.requestsLog ?? []) {
          for (const k of ["gpa", "npages", "attrs", "status"] as const) r[k] = BigInt(r[k] as unknown as string);
        }
        resolve({ ok: true, report: parsed.report, wallMs: parsed.wallMs });
      } catch {
        resolve({ ok: false, reason: "crashed", detail: `exit ${code ?? signal}: ${(err || out).trim().slice(0, 800)}` });
      }
    });
  });
}

/** The hypercall instruction this CPU's vendor uses: vmmcall on AMD, vmcall on Intel. */
export function nativeHypercallPath(): "vmcall" | "vmmcall" {
  try {
    return /AuthenticAMD|HygonGenuine/.test(readFileSync("/proc/cpuinfo", "utf8")) ? "vmmcall" : "vmcall";
  } catch {
    return "vmcall";
  }
}

/** What probeHypercall found. */
export type HypercallProbe = { works: true; path: "vmcall" | "vmmcall" } | { works: false; path: "vmcall" | "vmmcall"; reason: string };

/**
 * Does KVM_HC_MAP_GPA_RANGE from a long-mode guest reach the VMM as KVM_EXIT_HYPERCALL here?
 * Runs a one-transaction DMA guest on the hypercall path in a child with a timeout.
 * @param timeoutMs - how long the child may take (default 10 s)
 */
export async function probeHypercall(timeoutMs = 10_000): Promise<HypercallProbe> {
  const path = nativeHypercallPath();
  const r = await runVmmInChild({ guest: { kind: "dma", boot: false }, path, transactions: 1, ramBytes: 4 * 2 ** 20, maxExits: 100 }, timeoutMs);
  if (!r.ok) return { works: false, path, reason: `long-mode ${path} did not exit to the VMM: ${r.detail}` };
  const hc = r.report.exitsByReason.hypercall ?? 0;
  if (r.report.end === "halted" && hc >= 2) return { works: true, path };
  return { works: false, path, reason: `long-mode ${path}: run ended '${r.report.end}' after ${JSON.stringify(r.report.exitsByReason)}` };
}
