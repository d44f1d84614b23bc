// Every timestamp form a kernel trace line can carry, each line written from the printing code
// named beside it (kernel/trace/trace_output.c and trace.c, trace-cmd's tracecmd/trace-read.c
// with libtraceevent's print_event_time(), perf's builtin-script.c), and what the importer makes
// of it: microseconds where the line says the unit, no timeUs (a raw clock count) where it does not.
import { describe, expect, it } from "vitest";
import { importTrace, parseFtraceLine } from "../../src/trace/index.js";

const SET = "kvm_vm_set_mem_attributes: 0x00000000000100 -- 0x00000000000110 [0x8]";
const HC = "kvm_hypercall: nr 0xc a0 0x100000 a1 0x10 a2 0x10 a3 0x0";
const CONVERT = { kind: "convert", gfn: 0x100, npages: 0x10, to: "private" };
const HYPERCALL = { kind: "hypercall", gpa: 0x100000n, npages: 0x10n, attrs: 0x10n };

interface Form {
  /** What prints it, and with which clock or option. */
  name: string;
  line: string;
  /** µs, or "raw" for a plain integer whose unit the line does not say. */
  time: number | "raw";
  record: object;
}

const FORMS: Form[] = [
  // trace_print_context(): "%16s-%-7d " "[%03d] " irq-info flags, then trace_print_time()
  {
    name: "ftrace, in_ns clock (local, global, perf, mono, mono_raw, boot, tai): ' %5lu.%06lu'",
    line: `       CPU 0/KVM-4142    [001] .....  8712.384719: ${SET}`,
    time: 8_712_384_719,
    record: CONVERT,
  },
  {
    name: "ftrace, x86-tsc clock: ' %12llu', 13 digits",
    line: `       CPU 0/KVM-4142    [001] ..... 8712384719999: ${SET}`,
    time: "raw",
    record: CONVERT,
  },
  {
    name: "ftrace, counter clock: ' %12llu' padded",
    line: `       CPU 0/KVM-4142    [001] .....           42: ${HC}`,
    time: "raw",
    record: HYPERCALL,
  },
  {
    name: "ftrace, uptime clock (jiffies), irq-info off",
    line: `       CPU 0/KVM-4142    [001]   4295123456: ${SET}`,
    time: "raw",
    record: CONVERT,
  },
  {
    name: "ftrace, x86-tsc clock, record-tgid '(-------)'",
    line: `       CPU 0/KVM-4142    (-------) [001] d..1. 8712384719999: ${HC}`,
    time: "raw",
    record: HYPERCALL,
  },
  // trace_print_lat_context(): "%8.8s-%-7d %3d" + flags, then lat_print_timestamp()
  {
    name: "ftrace latency-format, in_ns: ' %4lldus%c' (µs since the buffer started, mark '+')",
    line: `qemu-sys-4142      1d..1.    5us+: ${SET}`,
    time: 5,
    record: CONVERT,
  },
  {
    name: "ftrace latency-format, in_ns, no mark: ' %4lldus '",
    line: `qemu-sys-4142      1.....  123us : ${HC}`,
    time: 123,
    record: HYPERCALL,
  },
  {
    name: "ftrace latency-format, raw clock: ' %4lld'",
    line: `qemu-sys-4142      1d..1. 8712384719999: ${SET}`,
    time: "raw",
    record: CONVERT,
  },
  // verbose: "%16s %7d %3d %d %08x %08lx " then "[%08llx] %ld.%03ldms (+%ld.%03ldms): " / "[%016llx] %lld (+%lld): "
  {
    name: "ftrace latency-format + verbose, in_ns: '[%08llx]' = ns2usecs(ts) in hex",
    line: ` qemu-system-x86    4142   1 1 00000001 0000002a [05f5e1ac] 0.005ms (+0.001ms): ${SET}`,
    time: 0x05f5e1ac,
    record: CONVERT,
  },
  {
    name: "ftrace latency-format + verbose, raw clock: '[%016llx] %lld (+%lld)'",
    line: ` qemu-system-x86    4142   1 1 00000001 0000002a [0000007ed5ac2c1f] 1234 (+5): ${HC}`,
    time: "raw",
    record: HYPERCALL,
  },
  // trace-cmd report: "%16s-%-5d [%03d]" then " %6.1000d:" / " %9.1d:" / "%12d:", then " %s: " + padding to 20
  {
    name: "trace-cmd report, ns clock: ' %6.1000d' → '%5llu.%06llu'",
    line: `       CPU 0/KVM-4142  [001]  8712.384719: kvm_vm_set_mem_attributes:  0x00000000000100 -- 0x00000000000110 [0x8]`,
    time: 8_712_384_719,
    record: CONVERT,
  },
  {
    name: "trace-cmd report, ns clock, first second: ' %6.1000d' → '%12llu' µs",
    line: `       CPU 0/KVM-4142  [001]       384719: kvm_hypercall:       nr 0xc a0 0x100000 a1 0x10 a2 0x10 a3 0x0`,
    time: "raw",
    record: HYPERCALL,
  },
  {
    name: "trace-cmd report -t: ' %9.1d' → '%5llu.%09llu'",
    line: `       CPU 0/KVM-4142  [001]  8712.384719123: kvm_hypercall:       nr 0xc a0 0x100000 a1 0x10 a2 0x10 a3 0x0`,
    time: 8_712_384_719.123,
    record: HYPERCALL,
  },
  {
    name: "trace-cmd report, raw clock or --raw-ts: '%12d' (no space after the cpu when it fills 12 columns)",
    line: `       CPU 0/KVM-4142  [001]111264306005: kvm_vm_set_mem_attributes:  0x00000000000100 -- 0x00000000000110 [0x8]`,
    time: "raw",
    record: CONVERT,
  },
  {
    name: "trace-cmd report --ts-diff: ' %-8s' of '(+delta)' after the time",
    line: `       CPU 0/KVM-4142  [001]  8712.384719: (+12)    kvm_hypercall:       nr 0xc a0 0x100000 a1 0x10 a2 0x10 a3 0x0`,
    time: 8_712_384_719,
    record: HYPERCALL,
  },
  {
    name: "trace-cmd report -l: '%8.8s-%-5d %3d' + latency flags",
    line: `qemu-sys-4142    1d..1.  8712.384719: kvm_vm_set_mem_attributes:  0x00000000000100 -- 0x00000000000110 [0x8]`,
    time: 8_712_384_719,
    record: CONVERT,
  },
  {
    name: "trace-cmd report -l -R: '-0x%x' flags and the raw field form",
    line: `qemu-sys-4142    1-0x1  8712.384719: kvm_hypercall:        nr=0xc a0=0x100000 a1=0x10 a2=0x10 a3=0x0`,
    time: 8_712_384_719,
    record: HYPERCALL,
  },
  {
    name: "trace-cmd report with two input files: '%*s: ' file name first",
    line: `host.dat:        CPU 0/KVM-4142  [001]  8712.384719: kvm_vm_set_mem_attributes:  0x00000000000100 -- 0x00000000000110 [0x8]`,
    time: 8_712_384_719,
    record: CONVERT,
  },
  // perf script: comm, "%7d/%-7d " pid/tid, "[%03d] ", then "%5lu.%09llu: " (--ns) or "%12s: " of secs.usecs
  {
    name: "perf script --ns with pid/tid: '%5lu.%09llu'",
    line: `  qemu-system-x86 4142/4143    [001]  8712.384719123: kvm:${SET}`,
    time: 8_712_384_719.123,
    record: CONVERT,
  },
  {
    name: "perf script -F +tod: date-time before the time",
    line: `  qemu-system-x86    4142 [001] 2026-01-02 03:04:05.384719  8712.384719: kvm:${HC}`,
    time: 8_712_384_719,
    record: HYPERCALL,
  },
  // print_event_fields() (the `fields` trace option): " %s=" then "0x%llx (%lld)" per 8-byte field
  {
    name: "ftrace with the fields option: 'start=0x100 (256) …'",
    line: `       CPU 0/KVM-4142    [001] .....  8712.384719: kvm_vm_set_mem_attributes: start=0x100 (256) end=0x110 (272) attr=0x8 (8)`,
    time: 8_712_384_719,
    record: CONVERT,
  },
];

describe("kernel trace timestamps", () => {
  it.each(FORMS)("$name", ({ line, time, record }) => {
    const m = parseFtraceLine(line);
    expect(m?.record).toEqual(record);
    expect(m?.error).toBeUndefined();
    if (time === "raw") {
      expect(m?.rawTimestamp).toBe(true);
      expect(m?.timeUs).toBeUndefined();
    } else {
      expect(m?.timeUs).toBe(time);
      expect(m?.rawTimestamp).toBeUndefined();
    }
  });

  it("imports a whole raw-clock trace (the issue's x86-tsc line), with a note that its events carry no time", () => {
    const r = importTrace(
      [
        "# tracer: nop",
        `       CPU 0/KVM-4142 [001] ..... 8712384719999: ${SET}`,
        `       CPU 0/KVM-4142 [001] ..... 8712384729999: kvm_vm_set_mem_attributes: 0x00000000000100 -- 0x00000000000110 [0x0]`,
      ].join("\n"),
    );
    expect(r.summary.format).toBe("ftrace");
    expect(r.events).toEqual([
      { type: "request", id: 1, gfn: 0x100, npages: 0x10, to: "private" },
      { type: "commit", id: 1 },
      { type: "request", id: 2, gfn: 0x100, npages: 0x10, to: "shared" },
      { type: "commit", id: 2 },
    ]);
    expect(r.summary.rawTimestampLines).toBe(2);
    expect(r.summary.notes).toEqual([expect.stringMatching(/plain-integer timestamps .* carry no timeUs/)]);
  });

  it("stops at a used event whose timestamp is beyond 2^53 µs, and still counts others", () => {
    expect(parseFtraceLine(`  qemu-4142 [001] ..... 99999999999999.000000: ${SET}`)?.error).toMatch(/2\^53/);
    expect(parseFtraceLine(`  qemu-4142 [001] ..... 99999999999999.000000: kvm_exit: reason 12`)).toEqual({ event: "kvm_exit" });
  });

  it("the raw, hex and bin options print no arguments ('type: <id>'): such lines are not events", () => {
    expect(parseFtraceLine("4142 1 8712384719999 type: 1234")).toBeNull();
  });
});
