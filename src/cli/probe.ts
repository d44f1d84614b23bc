/**
 * `memattr probe [--json] [--device PATH]`: prints this host's KVM capabilities for private
 * memory and one line on what memattr can do here. Exit code 0 when KVM answered, 1 when
 * there is no usable KVM device (or no koffi), 2 on a usage error.
 */
import { existsSync } from "node:fs";
import {
  capabilityName,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_CAP,
  KVM_HC_MAP_GPA_RANGE,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  KVM_X86_VM_TYPE_NAMES,
} from "../uapi/constants.js";
import { KvmError } from "../kvm/errors.js";
import { Kvm, type KvmCapabilityReport } from "../kvm/system.js";
import { UsageError } from "./_args.js";

interface VmTypeRow {
  type: number;
  name: string;
  guestMemfdFlags: number;
  memoryAttributes: number;
}

const USAGE = "usage: memattr probe [--json] [--device PATH]\n";

/**
 * Reads a `memattr probe` command line.
 * @returns the device and output form, or `"help"` for -h/--help.
 * @throws UsageError for an unknown argument or --device without a path.
 */
export function parseProbeArgs(args: string[]): { device: string; json: boolean } | "help" {
  let device = "/dev/kvm";
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--json") json = true;
    else if (a === "--device" && args[i + 1] !== undefined) device = args[++i]!;
    else if (a === "-h" || a === "--help") return "help";
    else throw new UsageError(`unknown argument '${a}'`);
  }
  return { device, json };
}

/** Entry of `memattr probe`. @returns the process exit code */
export async function run(args: string[]): Promise<number> {
  let cmd: ReturnType<typeof parseProbeArgs>;
  try {
    cmd = parseProbeArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`memattr probe: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (cmd === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const { device, json } = cmd;
  if (!existsSync(device)) {
    process.stderr.write(`memattr probe: ${device} does not exist: KVM is not available on this host (no private-memory support to probe)\n`);
    return 1;
  }
  let kvm: Kvm;
  try {
    kvm = Kvm.open(device);
  } catch (err) {
    process.stderr.write(`memattr probe: cannot open ${device}: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    let report: KvmCapabilityReport;
    try {
      report = kvm.capabilities();
    } catch (err) {
      // opened, but it answers no KVM ioctl (ENOTTY): a file or another device
      if (!(err instanceof KvmError)) throw err;
      process.stderr.write(`memattr probe: ${device} is not a KVM device: ${err.message}\n`);
      return 1;
    }
    const vmTypes = probeVmTypes(kvm, report);
    if (json) process.stdout.write(`${JSON.stringify({ device, ...report, perVmType: vmTypes }, null, 2)}\n`);
    else process.stdout.write(formatReport(device, report, vmTypes));
    return 0;
  } finally {
    kvm.close();
  }
}

/** VM-scoped answers (KVM_CHECK_EXTENSION on a VM of each supported type). */
function probeVmTypes(kvm: Kvm, report: KvmCapabilityReport): VmTypeRow[] {
  const types = report.vmTypes === 0 ? [0] : [0, 1, 2, 3, 4, 5, 6, 7].filter((t) => (report.vmTypes >>> t) & 1);
  const rows: VmTypeRow[] = [];
  for (const type of types) {
    try {
      using vm = kvm.createVm(type);
      rows.push({
        type,
        name: KVM_X86_VM_TYPE_NAMES[type] ?? `type ${type}`,
        guestMemfdFlags: vm.checkExtension(KVM_CAP.GUEST_MEMFD_FLAGS),
        memoryAttributes: vm.checkExtension(KVM_CAP.MEMORY_ATTRIBUTES),
      });
    } catch {
      // SEV/TDX types need firmware and extra setup; a refused create is not a probe failure
    }
  }
  return rows;
}

const hex = (v: number): string => `0x${v.toString(16)}`;

function formatReport(device: string, r: KvmCapabilityReport, vms: VmTypeRow[]): string {
  const rows: [string, string, string][] = [
    ["KVM_GET_API_VERSION", String(r.apiVersion), r.apiVersion === 12 ? "ok" : "unexpected"],
    ["KVM_GET_VCPU_MMAP_SIZE", String(r.vcpuMmapSizeBytes), "bytes"],
    [cap("GUEST_MEMFD"), r.guestMemfd ? "1" : "0", r.guestMemfd ? "KVM_CREATE_GUEST_MEMFD available" : "no guest_memfd"],
    [cap("GUEST_MEMFD_FLAGS"), hex(r.guestMemfdFlags), names(r.guestMemfdFlagNames)],
    [cap("USER_MEMORY2"), r.userMemory2 ? "1" : "0", r.userMemory2 ? "KVM_SET_USER_MEMORY_REGION2 available" : "no memslot2"],
    [cap("MEMORY_ATTRIBUTES"), hex(r.memoryAttributes), r.memoryAttributes ? names(r.memoryAttributeNames) : "none: KVM_SET_MEMORY_ATTRIBUTES is refused"],
    [
      cap("EXIT_HYPERCALL"),
      hex(r.exitHypercall),
      names(r.exitHypercallNames.map((n) => (n === "MAP_GPA_RANGE" ? `MAP_GPA_RANGE (${KVM_HC_MAP_GPA_RANGE})` : n))),
    ],
    [cap("MEMORY_FAULT_INFO"), r.memoryFaultInfo ? "1" : "0", r.memoryFaultInfo ? "KVM_EXIT_MEMORY_FAULT reported" : "no memory-fault exits"],
    [cap("VM_TYPES"), hex(r.vmTypes), names(r.vmTypeNames)],
    [cap("NR_MEMSLOTS"), String(r.nrMemslots), ""],
    [cap("MAX_VCPUS"), String(r.maxVcpus), ""],
  ];
  for (const vm of vms) {
    rows.push([`VM ${vm.name}: GUEST_MEMFD_FLAGS`, hex(vm.guestMemfdFlags), ""]);
    rows.push([`VM ${vm.name}: MEMORY_ATTRIBUTES`, hex(vm.memoryAttributes), ""]);
  }
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  const lines = rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`.trimEnd());
  return `KVM capabilities for private memory (${device})\n${lines.join("\n")}\n\n${summary(r)}\n`;
}

function cap(name: keyof typeof KVM_CAP): string {
  return `${capabilityName(KVM_CAP[name])} (${KVM_CAP[name]})`;
}
function names(list: string[]): string {
  return list.length ? list.join(" | ") : "none";
}

/** One line: what memattr can do on this host. */
export function summary(r: KvmCapabilityReport): string {
  if (!r.guestMemfd || !r.userMemory2) {
    return "memattr here: tracking, policies and shared-memfd discard only; this KVM has no guest_memfd memslots (needs KVM_CAP_GUEST_MEMFD and KVM_CAP_USER_MEMORY2).";
  }
  const can = ["guest_memfd memslots", "punch-hole discard of both backings"];
  if (r.guestMemfdFlags & GUEST_MEMFD_FLAG_MMAP) can.push("host mmap of guest_memfd");
  if (r.exitHypercall & (1 << KVM_HC_MAP_GPA_RANGE)) can.push("MAP_GPA_RANGE hypercall exits (advertised by KVM_CAP_EXIT_HYPERCALL)");
  const enforced = (BigInt(r.memoryAttributes) & KVM_MEMORY_ATTRIBUTE_PRIVATE) !== 0n;
  return enforced
    ? `memattr here: ${can.join(", ")}, and private/shared conversions enforced by KVM_SET_MEMORY_ATTRIBUTES.`
    : `memattr here: ${can.join(", ")}; conversions are tracked and discarded but not enforced, since KVM_SET_MEMORY_ATTRIBUTES is unavailable (KVM_CAP_MEMORY_ATTRIBUTES = 0).`;
}
