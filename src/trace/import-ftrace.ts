/**
 * Line grammar for kernel traces: ftrace's `trace`/`trace_pipe` text, `trace-cmd report`
 * and `perf script` output, with or without their per-line prefix.
 *
 * Events read (formats from the kernel source, not guessed):
 * - `kvm:kvm_vm_set_mem_attributes` (include/trace/events/kvm.h):
 *   `TP_printk("%#016llx -- %#016llx [0x%lx]", start, end, attr)` — start and end are gfns
 *   of the half-open range `[start, end)` passed to kvm_vm_set_mem_attributes()
 *   (virt/kvm/kvm_main.c), attr the new attributes; `KVM_MEMORY_ATTRIBUTE_PRIVATE` is 1<<3.
 *   It fires before KVM's "range already has these attributes" check, so a line may be a no-op.
 *   `%#016llx` pads to 16 characters *including* "0x" (and a userspace printf prints a zero
 *   without "0x"), so both `0x00000000000100` and `0000000000000000` are read.
 * - `kvm:kvm_hypercall` (arch/x86/kvm/trace.h):
 *   `TP_printk("nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx", …)`; with nr 12
 *   (`KVM_HC_MAP_GPA_RANGE`) a0 is the gpa, a1 the number of 4 KiB pages, a2 the attributes
 *   (bit 4 encrypted = to private; bits 0–1 preferred page size), each a u64 as the guest
 *   passed it (KVM traces the call before checking it). Other hypercall numbers are ignored.
 *
 * Prefixes recognised (all optional):
 * - ftrace / trace-cmd: `<task>-<pid> [(<tgid>)] [<cpu>] [<flags>] <seconds>.<frac>: <event>: `
 *   (task names may contain spaces, as QEMU's "CPU 0/KVM" threads do);
 * - perf script: `<task> <pid> [<cpu>] <seconds>.<frac>: kvm:<event>: `;
 * - none: `kvm_hypercall: nr 0xc …` or `kvm:kvm_hypercall: …`.
 */
import { checkPages, hex, secondsToUs, u64 } from "./_import.js";
import type { LineMatch, SourceRecord } from "./_import.js";

const FTRACE_PREFIX = /^\s*(.+?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:(\S{4,6})\s+)?(\d+)\.(\d+):\s+([\w:]+):\s?(.*)$/;
const PERF_PREFIX = /^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+([\w:]+):\s?(.*)$/;
const BARE = /^\s*((?:kvm:)?(?:kvm_vm_set_mem_attributes|kvm_hypercall)):\s?(.*)$/;

const SET_ATTRS = /^\s*((?:0x)?[0-9a-fA-F]+)\s+--\s+((?:0x)?[0-9a-fA-F]+)\s+\[0x([0-9a-fA-F]+)\]\s*$/;
const HYPERCALL = /^\s*nr (0x[0-9a-fA-F]+) a0 (0x[0-9a-fA-F]+) a1 (0x[0-9a-fA-F]+) a2 (0x[0-9a-fA-F]+) a3 (0x[0-9a-fA-F]+)\s*$/;

/** `KVM_MEMORY_ATTRIBUTE_PRIVATE`. */
const ATTR_PRIVATE = 1 << 3;
/** `KVM_HC_MAP_GPA_RANGE`. */
const HC_MAP_GPA_RANGE = 12n;

/** The kernel events this grammar turns into records. */
export const FTRACE_EVENTS: readonly string[] = ["kvm_vm_set_mem_attributes", "kvm_hypercall"];

function readBody(event: string, body: string): { record?: SourceRecord; error?: string } {
  if (event === "kvm_vm_set_mem_attributes") {
    const m = SET_ATTRS.exec(body);
    const start = m ? hex(m[1]!) : undefined;
    const end = m ? hex(m[2]!) : undefined;
    const attr = m ? hex(m[3]!) : undefined;
    if (start === undefined || end === undefined || attr === undefined)
      return { error: `expected "<start gfn> -- <end gfn> [0x<attrs>]", got ${JSON.stringify(body)}` };
    const error = checkPages(start, end - start);
    if (error) return { error };
    return { record: { kind: "convert", gfn: start, npages: end - start, to: attr & ATTR_PRIVATE ? "private" : "shared" } };
  }
  const m = HYPERCALL.exec(body);
  if (!m) return { error: `expected "nr 0x… a0 0x… a1 0x… a2 0x… a3 0x…", got ${JSON.stringify(body)}` };
  const [nr, gpa, npages, attrs] = [u64(m[1]!), u64(m[2]!), u64(m[3]!), u64(m[4]!)];
  if (nr === undefined || gpa === undefined || npages === undefined || attrs === undefined || u64(m[5]!) === undefined) {
    return { error: `a hypercall argument is not a 64-bit value: ${JSON.stringify(body)}` };
  }
  if (nr !== HC_MAP_GPA_RANGE) return { record: { kind: "ignored", key: `kvm_hypercall nr 0x${nr.toString(16)}` } };
  return { record: { kind: "hypercall", gpa, npages, attrs } };
}

/**
 * Reads one line of kernel trace text.
 * @returns `null` when the line has no ftrace/perf shape at all; otherwise the event name,
 *   timestamp, and a record (events used), an error (events used, unreadable text), or
 *   neither (other events, which the importer counts as unknown).
 */
export function parseFtraceLine(line: string): LineMatch | null {
  let event: string;
  let body: string;
  let timeUs: number | undefined;
  let m = FTRACE_PREFIX.exec(line);
  if (m) {
    event = m[7]!;
    body = m[8]!;
    timeUs = secondsToUs(m[5]!, m[6]!);
  } else if ((m = PERF_PREFIX.exec(line))) {
    event = m[6]!;
    body = m[7]!;
    timeUs = secondsToUs(m[4]!, m[5]!);
  } else if ((m = BARE.exec(line))) {
    event = m[1]!;
    body = m[2]!;
  } else {
    return null;
  }
  if (event.startsWith("kvm:")) event = event.slice(4);
  const match: LineMatch = { event };
  if (timeUs !== undefined) match.timeUs = timeUs;
  if (FTRACE_EVENTS.includes(event)) Object.assign(match, readBody(event, body));
  return match;
}
