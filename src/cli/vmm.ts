/**
 * `memattr vmm --policy eager|never|batched|adaptive|all --transactions N [--doorbell|--hypercall]
 *  [--ram-mib M] [--budget-kib K] [--slot-updates N] [--no-verify] [--json]`: boots the DMA guest on /dev/kvm once
 * per policy (each in its own child process, with a timeout) and prints guest run time, exits,
 * discard syscalls, refaults and peak double allocation; a side-by-side table with `all`.
 * Exit code 0 when every run halted cleanly with every payload verified, 1 otherwise (or no
 * KVM, or `--hypercall` where this host never delivers the hypercall exit), 2 on a usage error.
 */
import { Kvm } from "../kvm/system.js";
import { POLICY_NAMES } from "../policy/create.js";
import type { PolicyName } from "../policy/types.js";
import { type ChildJob, jsonReplacer, probeHypercall, runVmmInChild } from "../vmm/child.js";
import type { RequestPath } from "../vmm/guest/program.js";
import type { VmmReport } from "../vmm/vmm.js";

const USAGE =
  "usage: memattr vmm --policy eager|never|batched|adaptive|all --transactions N [--doorbell|--hypercall]\n" +
  "                   [--ram-mib M] [--budget-kib K] [--slot-updates N] [--no-verify] [--json] [--timeout-s S]\n" +
  "  --slot-updates N: every N transactions, the next memslot update on the shared slot (dirty logging on,\n" +
  "                    dirty log read, logging off, slot deleted and re-created); the tracker must not change\n";

/** A checked `memattr vmm` command line. */
export interface Args {
  policies: PolicyName[];
  transactions: number;
  hypercall: boolean;
  ramMib: number;
  budgetKib: number | undefined;
  verify: boolean;
  slotUpdates: number;
  json: boolean;
  timeoutS: number;
}

/**
 * Reads a `memattr vmm` command line (help is handled before).
 * @returns the options, or the message of a usage error.
 */
export function parseVmmArgs(args: string[]): Args | string {
  const o: Args = {
    policies: ["eager"],
    transactions: 1000,
    hypercall: false,
    ramMib: 64,
    budgetKib: undefined,
    verify: true,
    slotUpdates: 0,
    json: false,
    timeoutS: 600,
  };
  // decimal digits only: Number() takes "", "1e3", "0x10" and " 5 " too
  const int = (v: string | undefined, name: string, min: number): number | string => {
    const n = v !== undefined && /^\d{1,16}$/.test(v) ? Number(v) : Number.NaN;
    return Number.isSafeInteger(n) && n >= min ? n : `${name} needs an integer ≥ ${min}, got '${v ?? ""}'`;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = (): string | undefined => args[++i];
    let v: number | string;
    switch (a) {
      case "--policy": {
        const p = next();
        if (p === "all") o.policies = [...POLICY_NAMES];
        else if (p !== undefined && (POLICY_NAMES as readonly string[]).includes(p)) o.policies = [p as PolicyName];
        else return `unknown policy '${p ?? ""}' (eager, never, batched, adaptive, all)`;
        continue;
      }
      case "--transactions":
        if (typeof (v = int(next(), a, 0)) === "string") return v;
        o.transactions = v;
        continue;
      case "--ram-mib":
        if (typeof (v = int(next(), a, 4)) === "string") return v;
        o.ramMib = v;
        continue;
      case "--budget-kib":
        if (typeof (v = int(next(), a, 4)) === "string") return v;
        o.budgetKib = v;
        continue;
      case "--slot-updates":
        if (typeof (v = int(next(), a, 0)) === "string") return v;
        o.slotUpdates = v;
        continue;
      case "--timeout-s":
        if (typeof (v = int(next(), a, 1)) === "string") return v;
        o.timeoutS = v;
        continue;
      case "--doorbell":
        o.hypercall = false;
        continue;
      case "--hypercall":
        o.hypercall = true;
        continue;
      case "--no-verify":
        o.verify = false;
        continue;
      case "--json":
        o.json = true;
        continue;
      default:
        return `unknown argument '${a}'`;
    }
  }
  return o;
}

const MIB = 2 ** 20;
function fmtMs(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)} m ${((ms % 60_000) / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(3)} s`;
}
function fmtBytes(b: number): string {
  return b >= MIB ? `${(b / MIB).toFixed(2)} MiB` : `${(b / 1024).toFixed(0)} KiB`;
}

/** The side-by-side table, one column per policy. */
export function formatTable(reports: readonly VmmReport[]): string {
  const rows: [string, (r: VmmReport) => string][] = [
    ["guest run time", (r) => fmtMs(r.guestMs)],
    ["  of which boot phase", (r) => fmtMs(r.bootMs)],
    ["  of which in KVM_RUN", (r) => fmtMs(r.kvmRunMs)],
    ["exits", (r) => String(r.exits)],
    ["conversions", (r) => String(r.conversions)],
    ["DMA transactions", (r) => String(r.transactionsDone)],
    ["discard syscalls", (r) => String(r.discardCalls)],
    ["pages discarded", (r) => String(r.discardedPages)],
    ["refaults (pages)", (r) => String(r.refaultPages)],
    ["peak double allocation", (r) => fmtBytes(r.peakDoubleAllocatedBytes)],
    ["final double allocation", (r) => fmtBytes(r.finalDoubleAllocatedBytes)],
    ["memfd in memory at end", (r) => fmtBytes(r.sharedAllocatedBytes)],
    ["guest_memfd in memory at end", (r) => fmtBytes(r.privateAllocatedBytes)],
    ["payloads verified / bad", (r) => `${r.payloadsChecked} / ${r.payloadsBad}`],
    ["private words seen shared", (r) => String(r.leakedWords)],
    ["end", (r) => r.end],
  ];
  if (reports.some((r) => (r.memslots?.updates ?? 0) > 0)) {
    rows.splice(
      rows.length - 1,
      0,
      ["memslot updates", (r) => String(r.memslots.updates)],
      ["  dirty pages logged / bounce missing", (r) => `${r.memslots.dirtyPages} / ${r.memslots.bouncePagesMissing}`],
      ["  tracker changed by an update", (r) => String(r.memslots.snapshotChanged)],
    );
  }
  const head = ["", ...reports.map((r) => r.policy)];
  const body = rows.map(([name, f]) => [name, ...reports.map(f)]);
  const widths = head.map((_, c) => Math.max(...[head, ...body].map((row) => row[c]!.length)));
  const line = (row: string[]): string => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  return `${[line(head), ...body.map(line)].join("\n")}\n`;
}

/** Entry of `memattr vmm`. @returns the process exit code */
export async function run(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = parseVmmArgs(args);
  if (typeof o === "string") {
    process.stderr.write(`memattr vmm: ${o}\n${USAGE}`);
    return 2;
  }
  if (!Kvm.isAvailable()) {
    process.stderr.write("memattr vmm: no usable /dev/kvm (or koffi missing): the VMM needs KVM\n");
    return 1;
  }
  let path: RequestPath = "doorbell";
  if (o.hypercall) {
    const probe = await probeHypercall();
    if (!probe.works) {
      process.stderr.write(`memattr vmm: --hypercall is not usable here: ${probe.reason}\n  (use --doorbell)\n`);
      return 1;
    }
    path = probe.path;
  }
  const reports: VmmReport[] = [];
  let ok = true;
  for (const policy of o.policies) {
    const job: ChildJob = {
      guest: { kind: "dma" },
      path,
      policy,
      transactions: o.transactions,
      ramBytes: o.ramMib * MIB,
      budgetBytes: o.budgetKib === undefined ? undefined : o.budgetKib * 1024,
      verify: o.verify,
      slotUpdates: o.slotUpdates,
    };
    if (!o.json) process.stderr.write(`memattr vmm: running ${policy} (${o.transactions} transactions, ${path})…\n`);
    const r = await runVmmInChild(job, o.timeoutS * 1000);
    if (!r.ok) {
      process.stderr.write(`memattr vmm: ${policy}: ${r.reason}: ${r.detail}\n`);
      ok = false;
      continue;
    }
    reports.push(r.report);
    const slots = r.report.memslots;
    if (r.report.end !== "halted" || r.report.payloadsBad > 0 || r.report.leakedWords > 0 || r.report.transactionsDone !== o.transactions) ok = false;
    if (slots.snapshotChanged > 0 || slots.bouncePagesMissing > 0) ok = false;
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ transactions: o.transactions, path, reports }, jsonReplacer, 2)}\n`);
  else if (reports.length > 0) {
    process.stdout.write(`memattr vmm: ${o.transactions} DMA transactions, ${o.ramMib} MiB guest, requests by ${path}\n\n`);
    process.stdout.write(formatTable(reports));
  }
  return ok ? 0 : 1;
}
