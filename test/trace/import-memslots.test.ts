// QEMU's kvm_set_user_memory lines give an imported trace its memory map: header regions from
// the memslots mapped before the first conversion, region-add for memory mapped later,
// memslot events for every update; a QEMU trace then replays without --guest.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run as replay } from "../../src/cli/replay.js";
import type { ReplayResult } from "../../src/replay/index.js";
import { importTrace, parseQemuLine, parseTraceSync, traceToString } from "../../src/trace/index.js";
import { captureCommand } from "../support/cli.js";

const GIB = 0x40000000;
const at = (us: number) => `4120@1700000000.${String(us).padStart(6, "0")}:`;
const slotLine = (us: number, as: number, slot: number, flags: number, gpa: number, size: number, ret = 0) =>
  `${at(us)}kvm_set_user_memory AddrSpace#${as} Slot#${slot} flags=0x${flags.toString(16)} gpa=0x${gpa.toString(16)} size=0x${size.toString(16)} ua=0x7f0000000000 guest_memfd=20 guest_memfd_offset=0x0 ret=${ret}`;
const convert = (us: number, gpa: number, size: number, to: "private" | "shared") =>
  `${at(us)}kvm_convert_memory start 0x${gpa.toString(16)} size 0x${size.toString(16)} ${to === "private" ? "shared_to_private" : "private_to_shared"}`;

// A TDX-like boot: low RAM below the PCI hole and RAM above 4 GiB, SMRAM in address space 1,
// dirty logging on and off, a slot deleted and re-created, a failed ioctl, then a DIMM plugged at 8 GiB.
const LOG = [
  slotLine(10, 0, 0, 4, 0, 0x80000000),
  slotLine(11, 0, 1, 4, 0x100000000, GIB),
  slotLine(12, 1, 0, 0, 0, 0x80000000),
  convert(100, 0x100000, 0x200000, "private"),
  convert(101, 0x100000000, 0x1000, "private"),
  slotLine(200, 0, 0, 5, 0, 0x80000000), // dirty logging on
  slotLine(201, 0, 0, 0, 0, 0), // deleted …
  slotLine(202, 0, 0, 4, 0, 0x80000000), // … and re-created: a memslot update, not an unplug
  slotLine(203, 0, 9, 4, 0x300000000, GIB, -22), // failed: changes nothing
  convert(300, 0x90000000, 0x1000, "shared"), // in the PCI hole: QEMU refuses it
  slotLine(400, 0, 2, 4, 0x200000000, GIB), // a DIMM at 8 GiB
  convert(401, 0x200000000, 0x200000, "private"),
].join("\n");

describe("importing QEMU memslots", () => {
  const r = importTrace(LOG);

  it("reads all three forms of kvm_set_user_memory", () => {
    const old = parseQemuLine("kvm_set_user_memory Slot#65538 flags=0x1 gpa=0x100000 size=0x200000 ua=0x7f0000000000 ret=0");
    expect(old?.record).toEqual({ kind: "memslot", as: 1, slot: 2, flags: 1, gpa: 0x100000, size: 0x200000, ret: 0 });
    const two = parseQemuLine("kvm_set_user_memory AddrSpace#0 Slot#3 flags=0x0 gpa=0x0 size=0x0 ua=0x7f0000000000 ret=0");
    expect(two?.record).toEqual({ kind: "memslot", as: 0, slot: 3, flags: 0, gpa: 0, size: 0, ret: 0 });
    expect(parseQemuLine(slotLine(1, 0, 4, 4, 0x1000, 0x2000))?.record).toMatchObject({ slot: 4, gpa: 0x1000, size: 0x2000 });
    expect(parseQemuLine("kvm_set_user_memory AddrSpace#0 Slot#3 flags=0x0 gpa=0x800 size=0x1000 ua=0x0 ret=0")?.error).toMatch(/not 4 KiB aligned/);
    expect(parseQemuLine("kvm_set_user_memory Slot#3 gpa=0x0")?.error).toMatch(/expected/);
  });

  it("takes the header's regions from address space 0 before the first conversion", () => {
    expect(r.header.regions).toEqual([
      { gfn: 0, npages: 0x80000 },
      { gfn: 0x100000, npages: 0x40000 },
    ]);
  });

  it("writes every memslot update, adds memory mapped later, and drops a conversion outside every memslot", () => {
    const shape = r.events.map((e) =>
      e.type === "memslot" ? `memslot ${e.as ?? 0}:${e.slot} ${e.npages} ${e.flags}` : e.type === "region-add" ? `add ${e.gfn}+${e.npages}` : e.type,
    );
    expect(shape).toEqual([
      "memslot 0:0 524288 4",
      "memslot 0:1 262144 4",
      "memslot 1:0 524288 0",
      "request",
      "commit",
      "request",
      "commit",
      "memslot 0:0 524288 5",
      "memslot 0:0 0 0",
      "memslot 0:0 524288 4",
      "memslot 0:2 262144 4",
      `add ${0x200000}+${0x40000}`,
      "request",
      "commit",
    ]);
    expect(r.summary.ignored).toMatchObject({ "kvm_set_user_memory failed": 1, "kvm_convert_memory outside memslots": 1 });
    expect(r.summary.notes.join(" ")).toMatch(/outside every memslot/);
    // the result is a valid trace: the reader follows the map it carries
    expect([...parseTraceSync(traceToString(r.header, r.events)).events]).toEqual(r.events);
  });

  it("leaves the map unknown when no memslot line comes before the first conversion", () => {
    const late = importTrace([convert(1, 0x100000, 0x1000, "private"), slotLine(2, 0, 0, 4, 0, GIB)].join("\n"));
    expect(late.header.regions).toEqual([]);
    expect(late.events.map((e) => e.type)).toEqual(["request", "commit", "memslot"]);
  });

  it("refuses a memslot with flags KVM does not define, unless lenient", () => {
    const bad = slotLine(1, 0, 0, 0x10, 0, GIB);
    expect(() => importTrace(bad)).toThrow(/line 1: kvm_set_user_memory: flags 0x10 has bits/);
    expect(importTrace(bad, { lenient: true }).summary.unknown).toEqual({ "malformed kvm_set_user_memory": 1 });
  });

  describe("memattr replay of the QEMU log", () => {
    const dir = mkdtempSync(join(tmpdir(), "memattr-memslots-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("needs no --guest: the memslots are the memory map, the DIMM's conversion is taken", async () => {
      const file = join(dir, "qemu.log");
      writeFileSync(file, `${LOG}\n`);
      const out = await captureCommand(replay, [file, "--simulated", "--json", "--policy", "eager"]);
      expect(out.err).not.toMatch(/--guest/);
      expect(out.code).toBe(0);
      const [result] = (JSON.parse(out.out) as { results: ReplayResult[] }).results;
      expect(result).toMatchObject({ conversions: 3, refused: 0, memory: { regionsAdded: 1, memslotUpdates: 7 } });
    });
  });
});
