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
 * Both also in the field form `name=value …` — the kernel's `fields` trace option
 * (print_event_fields(), kernel/trace/trace_output.c: `" %s="` then `0x%llx (%lld)` for an
 * 8-byte field) and `trace-cmd report -R` — with the field names of TP_STRUCT__entry
 * (`start end attr`, `nr a0 a1 a2 a3`); a value is `0x…` hex or decimal.
 *
 * Line prefixes, and how each prints its timestamp (all optional; see TIMESTAMPS below):
 * - ftrace, trace_print_context() (kernel/trace/trace_output.c):
 *   `"%16s-%-7d "` task-pid, `"(%7d) "` or `"(-------) "` tgid with the record-tgid option,
 *   `"[%03d] "` cpu, the irq-info flags (trace_print_lat_fmt(): 4–5 characters such as `d..1.`,
 *   the first of `DdbX.`), then trace_print_time() and `": "`. Task names may contain spaces
 *   (QEMU's "CPU 0/KVM" threads) and dashes.
 * - ftrace with the latency-format option, trace_print_lat_context(): `"%8.8s-%-7d %3d"` then
 *   the flags with no space, then lat_print_timestamp(); with the verbose option
 *   `"%16s %7d %3d %d %08x %08lx "` (comm pid cpu flags preempt-count index) instead.
 * - trace-cmd report (tracecmd/trace-read.c, trace_show_data()): `"%16s-%-5d [%03d]"`, or with
 *   `-l` `"%8.8s-%-5d %3d"` + the latency flags (or `-0x%x` with `-R`), then its time format,
 *   then with `--ts-diff` `" %-8s"` of `(+delta)`, then `" %s: "` and the event name padded to
 *   20 characters. With several input files each line starts with `"%*s: "` and the file name,
 *   which the task-name pattern takes in.
 * - perf script (tools/perf/builtin-script.c, perf_sample__fprintf_start()): comm, `"%7d "` pid or
 *   `"%7d/%-7d "` pid/tid, `"[%03d] "` cpu, the optional `tod` date-time, then the time and
 *   `": "`, and the event as `kvm:<name>`.
 * - none: `kvm_hypercall: nr 0xc …` or `kvm:kvm_hypercall: …` (the context-info option off).
 * The `raw`, `hex` and `bin` trace options print no event arguments (trace_nop_print() writes
 * `type: <id>`), so such lines cannot be read and are counted as unknown.
 *
 * TIMESTAMPS. How the kernel prints one depends on the trace clock's `in_ns` flag in
 * trace_clocks[] (kernel/trace/trace.c): local, global, perf, mono, mono_raw, boot and tai are
 * in nanoseconds; counter, uptime (jiffies) and the architecture clocks (x86-tsc, ppc-tb,
 * s390-tod, arm64's) are not. Forms read, and the `timeUs` each gives:
 * | printer                           | in_ns clock                         | raw clock            |
 * |-----------------------------------|-------------------------------------|----------------------|
 * | trace_print_time()                | `%5lu.%06lu` secs.usecs → µs        | `%12llu` → none      |
 * | lat_print_timestamp()             | `%4lldus%c` µs since start → µs     | `%4lld` → none       |
 * | lat_print_timestamp(), verbose    | `[%08llx] %ld.%03ldms (+…ms)`: the bracket is ns2usecs(ts) in hex → µs | `[%016llx] %lld (+%lld)` → none |
 * | trace-cmd `%6.1000d` (default)    | secs.usecs → µs; below 1 s `%12llu` µs → none | —          |
 * | trace-cmd `-t` `%9.1d`            | secs.nsecs → µs (fractional); below 1 s `%12llu` ns → none | — |
 * | trace-cmd `%12d` (raw clock, `--raw-ts`) | —                            | `%12llu`, may touch the `]` → none |
 * | perf script                       | `%5lu.%06lu`, `--ns` `%5lu.%09lu` → µs | —                 |
 * (trace-cmd prints through libtraceevent's print_event_time(): with a precision p and a
 * divisor it prints `%5llu.%0*llu` when the divided time exceeds 10^p, else `%12llu`; it treats
 * local, global, uptime, perf, mono*, tai and tsc2nsec as nanoseconds.) A plain integer's unit
 * is not on the line — clock counts, or trace-cmd's sub-second µs or ns — so it gives no
 * `timeUs`; the line is marked `rawTimestamp` and the importer says so in its summary.
 */
import { checkedUs, checkPages, safeNumber, secondsToUs, u64 } from "./_import.js";
import type { LineMatch, SourceRecord } from "./_import.js";

// A timestamp as trace_print_time() or trace-cmd prints it: secs.frac, or a plain integer.
const TS = String.raw`(?:(?<sec>\d+)\.(?<frac>\d+)|(?<int>\d+))`;
// After the timestamp's colon: trace-cmd's optional `(+delta)`, then `event: body`.
const TAIL = String.raw`:\s+(?:\(\+\d+\)\s+)?(?<event>[\w:]+):\s?(?<body>.*)$`;
// trace_print_lat_fmt()'s flags: irqs-off is one of D d b X . (never a digit), then 2–6 more.
const FLAGS = String.raw`[DdbX.][.\w]{2,6}`;

const FTRACE_PREFIX = new RegExp(String.raw`^\s*(?<task>\S.*?)-(?<pid>\d+)\s+(?:\((?:\s*\d+|-+)\)\s+)?\[(?<cpu>\d+)\]\s*(?:${FLAGS}\s+)?${TS}${TAIL}`);
const LAT_PREFIX = new RegExp(String.raw`^\s*(?<task>\S.*?)-(?<pid>\d+)\s+(?<cpu>\d+)(?:${FLAGS}|-0x[0-9a-fA-F]+)\s+(?:(?<relUs>\d+)us[$@*#!+ ]|${TS})${TAIL}`);
const LAT_VERBOSE_PREFIX = new RegExp(
  String.raw`^\s*(?<task>\S.*?)\s+(?<pid>\d+)\s+(?<cpu>\d+)\s+\d+\s+[0-9a-fA-F]{8,}\s+[0-9a-fA-F]{8,}\s+\[(?<hexTs>[0-9a-fA-F]{1,16})\]\s+(?:(?<ms>\d+\.\d{3})ms\s+\(\+\d+\.\d{3}ms\)|\d+\s+\(\+\d+\))${TAIL}`,
);
const PERF_PREFIX = new RegExp(
  String.raw`^\s*(?<task>\S.*?)\s+(?<pid>\d+)(?:\/\d+)?\s+\[(?<cpu>\d+)\]\s+(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s+)?(?<sec>\d+)\.(?<frac>\d+)${TAIL}`,
);
const BARE = /^\s*(?<event>(?:kvm:)?(?:kvm_vm_set_mem_attributes|kvm_hypercall)):\s?(?<body>.*)$/;
const PREFIXES = [FTRACE_PREFIX, PERF_PREFIX, LAT_PREFIX, LAT_VERBOSE_PREFIX, BARE];

// One value of the field form: 0x-hex or decimal, with the kernel's " (%lld)" after hex.
const V = String.raw`(0x[0-9a-fA-F]+|\d+)(?: \(-?\d+\))?`;
const SET_ATTRS = /^\s*((?:0x)?[0-9a-fA-F]+)\s+--\s+((?:0x)?[0-9a-fA-F]+)\s+\[0x([0-9a-fA-F]+)\]\s*$/;
const SET_ATTRS_FIELDS = new RegExp(String.raw`^\s*start=${V}\s+end=${V}\s+attr=${V}\s*$`);
const HYPERCALL = /^\s*nr (0x[0-9a-fA-F]+) a0 (0x[0-9a-fA-F]+) a1 (0x[0-9a-fA-F]+) a2 (0x[0-9a-fA-F]+) a3 (0x[0-9a-fA-F]+)\s*$/;
const HYPERCALL_FIELDS = new RegExp(String.raw`^\s*nr=${V}\s+a0=${V}\s+a1=${V}\s+a2=${V}\s+a3=${V}\s*$`);

/** `KVM_MEMORY_ATTRIBUTE_PRIVATE`. */
const ATTR_PRIVATE = 1n << 3n;
/** `KVM_HC_MAP_GPA_RANGE`. */
const HC_MAP_GPA_RANGE = 12n;

/** The kernel events this grammar turns into records. */
export const FTRACE_EVENTS: readonly string[] = ["kvm_vm_set_mem_attributes", "kvm_hypercall"];

/** A `%#016llx` value: "0x" and hex digits, or digits alone for zero (hex either way). */
function printkHex(text: string): bigint | undefined {
  return u64(text.startsWith("0x") ? text : `0x${text}`);
}

function readSetAttributes(body: string): { record?: SourceRecord; error?: string } {
  let values: (bigint | undefined)[];
  let m = SET_ATTRS.exec(body);
  if (m) values = [printkHex(m[1]!), printkHex(m[2]!), u64(`0x${m[3]}`)];
  else if ((m = SET_ATTRS_FIELDS.exec(body))) values = [u64(m[1]!), u64(m[2]!), u64(m[3]!)];
  else return { error: `expected "<start gfn> -- <end gfn> [0x<attrs>]" or "start=… end=… attr=…", got ${JSON.stringify(body)}` };
  const [s, e, attr] = values;
  if (s === undefined || e === undefined || attr === undefined) return { error: `a value is not a 64-bit number: ${JSON.stringify(body)}` };
  const start = safeNumber(s);
  const end = safeNumber(e);
  if (start === undefined || end === undefined) return { error: `a gfn beyond 2^53: ${JSON.stringify(body)}` };
  const error = checkPages(start, end - start);
  if (error) return { error };
  return { record: { kind: "convert", gfn: start, npages: end - start, to: (attr & ATTR_PRIVATE) !== 0n ? "private" : "shared" } };
}

function readHypercall(body: string): { record?: SourceRecord; error?: string } {
  const m = HYPERCALL.exec(body) ?? HYPERCALL_FIELDS.exec(body);
  if (!m) return { error: `expected "nr 0x… a0 0x… a1 0x… a2 0x… a3 0x…" or "nr=… a0=… a1=… a2=… a3=…", got ${JSON.stringify(body)}` };
  const [nr, gpa, npages, attrs] = [u64(m[1]!), u64(m[2]!), u64(m[3]!), u64(m[4]!)];
  if (nr === undefined || gpa === undefined || npages === undefined || attrs === undefined || u64(m[5]!) === undefined) {
    return { error: `a hypercall argument is not a 64-bit value: ${JSON.stringify(body)}` };
  }
  if (nr !== HC_MAP_GPA_RANGE) return { record: { kind: "ignored", key: `kvm_hypercall nr 0x${nr.toString(16)}` } };
  return { record: { kind: "hypercall", gpa, npages, attrs } };
}

/** The µs a prefix's timestamp gives (undefined: none, or out of range), and whether it was a raw count. */
function timeOf(g: Record<string, string | undefined>): { timeUs?: number; raw?: boolean; bad?: boolean } {
  if (g.sec !== undefined) {
    const t = secondsToUs(g.sec, g.frac!);
    return t === undefined ? { bad: true } : { timeUs: t };
  }
  if (g.relUs !== undefined) {
    const t = checkedUs(Number(g.relUs));
    return t === undefined ? { bad: true } : { timeUs: t };
  }
  if (g.hexTs !== undefined) {
    if (g.ms === undefined) return { raw: true };
    const t = checkedUs(Number(BigInt(`0x${g.hexTs}`)));
    return t === undefined ? { bad: true } : { timeUs: t };
  }
  return g.int !== undefined ? { raw: true } : {};
}

/**
 * Reads one line of kernel trace text.
 * @returns `null` when the line has no ftrace/perf shape at all; otherwise the event name,
 *   timestamp, and a record (events used), an error (events used, unreadable text), or
 *   neither (other events, which the importer counts as unknown).
 */
export function parseFtraceLine(line: string): LineMatch | null {
  let g: Record<string, string | undefined> | undefined;
  for (const re of PREFIXES) {
    const m = re.exec(line);
    if (m) {
      g = m.groups!;
      break;
    }
  }
  if (g === undefined) return null;
  let event = g.event!;
  if (event.startsWith("kvm:")) event = event.slice(4);
  const match: LineMatch = { event };
  const time = timeOf(g);
  if (time.timeUs !== undefined) match.timeUs = time.timeUs;
  if (time.raw) match.rawTimestamp = true;
  if (!FTRACE_EVENTS.includes(event)) return match;
  if (time.bad) match.error = "timestamp beyond 2^53 µs";
  else Object.assign(match, event === "kvm_hypercall" ? readHypercall(g.body!) : readSetAttributes(g.body!));
  return match;
}
