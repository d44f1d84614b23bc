// A misbehaving guest's KVM_HC_MAP_GPA_RANGE calls in real traces: KVM traces kvm_hypercall
// before it checks the arguments, and QEMU logs kvm_hc_map_gpa_range for what KVM passed on.
// Each refused call imports as a `refused` event with its reason, round-trips through JSONL, and
// replay counts it, apart from what the model refuses during the replay.
import { describe, expect, it } from "vitest";
import { createTracker } from "../../src/model/index.js";
import { eagerPolicy } from "../../src/policy/index.js";
import { SimulatedBacking } from "../../src/backing/index.js";
import { replayTraceSync } from "../../src/replay/index.js";
import { hypercallRefusal, importTrace, parseTraceSync, traceToString } from "../../src/trace/index.js";

const GUEST_PAGES = 1024;
const hc = (time: string, a0: string, a1: string, a2: string) =>
  `       CPU 0/KVM-4121    [001] .....   ${time}: kvm_hypercall: nr 0xc a0 ${a0} a1 ${a1} a2 ${a2} a3 0x0`;
const setAttrs = (time: string, start: string, end: string, attr: string) =>
  `       CPU 0/KVM-4121    [001] .....   ${time}: kvm_vm_set_mem_attributes: ${start} -- ${end} [${attr}]`;

const FTRACE = [
  "# tracer: nop",
  hc("10.000001", "0x100000", "0x2", "0x10"), // fine: folded into the next line
  setAttrs("10.000002", "0x00000000000100", "0x00000000000102", "0x8"),
  hc("10.000010", "0x100000", "0x0", "0x10"), // npages 0
  hc("10.000020", "0x100001", "0x1", "0x10"), // unaligned gpa
  hc("10.000030", "0xfffffffffffff000", "0x2", "0x0"), // wraps past 2^64
  hc("10.000040", "0xfffffffffffff000", "0x1", "0x0"), // KVM takes it; no guest memory up there
  hc("10.000050", "0x200000", "0x1", "0x30"), // unknown attribute bit 5
  hc("10.000060", "0x200000", "0x1", "0x11"), // 2M page size, 1 page
  hc("10.000070", "0x200000", "0x200", "0x11"), // 2M page size, aligned: fine, never served
].join("\n");

const QEMU = [
  "4121@1700000000.000100:kvm_hc_map_gpa_range gpa 0x300000 size 0x0 attributes 0x10 flags 0x1", // npages 0
  "4121@1700000000.000200:kvm_hc_map_gpa_range gpa 0x300000 size 0x1000 attributes 0x50 flags 0x1", // unknown bit 6
  "4121@1700000000.000300:kvm_convert_memory start 0x300000 size 0x1000 shared_to_private", // QEMU converted anyway
  "4121@1700000000.000400:kvm_hc_map_gpa_range gpa 0x10000000000000 size 0x1000 attributes 0x10 flags 0x1", // beyond 2^40 pages
].join("\n");

function target() {
  return createTracker({ regions: [{ gfn: 0, npages: GUEST_PAGES }] }).then((tracker) => ({
    tracker,
    policy: eagerPolicy(),
    shared: new SimulatedBacking("shared"),
    private: new SimulatedBacking("private"),
  }));
}

describe("hostile MAP_GPA_RANGE calls in real traces", () => {
  it("an ftrace trace imports without error: each call KVM or memattr refuses is a `refused` event with its reason", () => {
    const r = importTrace(FTRACE);
    const refused = r.events.filter((e) => e.type === "refused");
    expect(refused).toEqual([
      { type: "refused", call: "hypercall", gpa: "0x100000", npages: "0x0", attrs: "0x10", reason: "zero-npages", timeUs: 10_000_010 },
      { type: "refused", call: "hypercall", gpa: "0x100001", npages: "0x1", attrs: "0x10", reason: "unaligned-gpa", timeUs: 10_000_020 },
      { type: "refused", call: "hypercall", gpa: "0xfffffffffffff000", npages: "0x2", attrs: "0x0", reason: "wrap", timeUs: 10_000_030 },
      { type: "refused", call: "hypercall", gpa: "0xfffffffffffff000", npages: "0x1", attrs: "0x0", reason: "outside-guest-memory", timeUs: 10_000_040 },
      { type: "refused", call: "hypercall", gpa: "0x200000", npages: "0x1", attrs: "0x30", reason: "unknown-attrs", timeUs: 10_000_050 },
      { type: "refused", call: "hypercall", gpa: "0x200000", npages: "0x1", attrs: "0x11", reason: "page-size-alignment", timeUs: 10_000_060 },
    ]);
    expect(r.events.filter((e) => e.type !== "refused")).toEqual([
      { type: "request", id: 1, gfn: 0x100, npages: 2, to: "private", cause: "hypercall", timeUs: 10_000_002 },
      { type: "commit", id: 1, timeUs: 10_000_002 },
      { type: "hypercall", id: 2, gpa: 0x200000, npages: 0x200, attrs: 0x11, timeUs: 10_000_070 },
      { type: "commit", id: 2, timeUs: 10_000_070 },
    ]);
    expect(r.summary.refused).toEqual({
      "zero-npages": 1,
      "unaligned-gpa": 1,
      wrap: 1,
      "outside-guest-memory": 1,
      "unknown-attrs": 1,
      "page-size-alignment": 1,
    });
    expect(r.summary.recognized).toEqual({ kvm_vm_set_mem_attributes: 1, kvm_hypercall: 7 });
  });

  it("gives each reason exactly as the model's decodeMapGpaRange does", () => {
    for (const ev of importTrace(FTRACE).events) {
      if (ev.type === "refused") expect(hypercallRefusal(BigInt(ev.gpa), BigInt(ev.npages), BigInt(ev.attrs))).toBe(ev.reason);
    }
  });

  it("a QEMU log: refused calls recorded, the conversion QEMU made anyway kept as a request", () => {
    const r = importTrace(QEMU);
    expect(r.events).toEqual([
      { type: "refused", call: "hypercall", gpa: "0x300000", npages: "0x0", attrs: "0x10", reason: "zero-npages", timeUs: 1_700_000_000_000_100 },
      { type: "refused", call: "hypercall", gpa: "0x300000", npages: "0x1", attrs: "0x50", reason: "unknown-attrs", timeUs: 1_700_000_000_000_200 },
      { type: "request", id: 1, gfn: 0x300, npages: 1, to: "private", timeUs: 1_700_000_000_000_300 },
      { type: "commit", id: 1, timeUs: 1_700_000_000_000_300 },
      {
        type: "refused",
        call: "hypercall",
        gpa: "0x10000000000000",
        npages: "0x1",
        attrs: "0x10",
        reason: "outside-guest-memory",
        timeUs: 1_700_000_000_000_400,
      },
    ]);
  });

  it("round-trips through the JSONL writer and reader", () => {
    for (const text of [FTRACE, QEMU]) {
      const r = importTrace(text);
      expect([...parseTraceSync(traceToString(r.header, r.events)).events]).toEqual(r.events);
    }
  });

  it("replays: recorded refusals counted apart from the model's own", async () => {
    const r = importTrace(FTRACE);
    const result = replayTraceSync(r.events, await target());
    // 6 recorded; the never-served 2M hypercall at gfn 0x200 + 512 pages lies inside the 1024-page guest: taken.
    expect({ refused: result.refused, refusedRecorded: result.refusedRecorded, conversions: result.conversions }).toEqual({
      refused: 6,
      refusedRecorded: 6,
      conversions: 2,
    });
    const small = await createTracker({ regions: [{ gfn: 0, npages: 0x200 }] });
    const inSmall = replayTraceSync(r.events, {
      tracker: small,
      policy: eagerPolicy(),
      shared: new SimulatedBacking("shared"),
      private: new SimulatedBacking("private"),
    });
    // in a 2 MiB guest the 2M hypercall is outside guest memory: the model refuses it during the replay
    expect({ refused: inSmall.refused, refusedRecorded: inSmall.refusedRecorded, conversions: inSmall.conversions }).toEqual({
      refused: 7,
      refusedRecorded: 6,
      conversions: 1,
    });
  });
});
