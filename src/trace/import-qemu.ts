/**
 * Line grammar for QEMU's trace output (`-trace enable=…` with the default `log` backend,
 * written to stderr or `-D file`), with or without its per-line prefix.
 *
 * Events read (formats from QEMU's trace-events files, not guessed); every address and size
 * is in bytes:
 * - `kvm_convert_memory` (accel/kvm/trace-events):
 *   `"start 0x%" PRIx64 " size 0x%" PRIx64 " %s"`, the string being `shared_to_private` or
 *   `private_to_shared`. Traced on entry to kvm_convert_memory(start, size, to_private)
 *   (accel/kvm/kvm-all.c), whose arguments are a gpa and a byte count, checked there to be
 *   host-page aligned — so an unaligned line is read but flagged malformed.
 * - `kvm_memory_fault` (accel/kvm/trace-events):
 *   `"start 0x%" PRIx64 " size 0x%" PRIx64 " flags 0x%" PRIx64` = kvm_run.memory_fault gpa,
 *   size, flags; `KVM_MEMORY_EXIT_FLAG_PRIVATE` is 1<<3. QEMU then calls kvm_convert_memory.
 * - `kvm_hc_map_gpa_range` (target/i386/kvm/trace-events):
 *   `"gpa 0x%" PRIx64 " size 0x%" PRIx64 " attributes 0x%" PRIx64 " flags 0x%" PRIx64`; the
 *   size is `hypercall.args[1] * TARGET_PAGE_SIZE` (target/i386/kvm/kvm.c), i.e. bytes, not pages.
 * - `ram_block_attributes_state_change` (system/trace-events):
 *   `"offset 0x%"PRIx64" size 0x%"PRIx64" from '%s' to '%s'"`, states `discarded` (private),
 *   `populated` (shared) or `mixture`; the offset is inside the RAMBlock, not a gpa.
 *
 * - `kvm_set_user_memory` (accel/kvm/trace-events), in the three forms QEMU has printed:
 *   `"Slot#%d flags=0x%x gpa=0x%" PRIx64 " size=0x%" PRIx64 " ua=0x%" PRIx64 " ret=%d"` (the slot
 *   a u32 with the address space in its upper 16 bits, as KVM takes it);
 *   `"AddrSpace#%d Slot#%d flags=0x%x gpa=… size=… ua=… ret=%d"`; and the guest_memfd form
 *   `"AddrSpace#%d Slot#%d flags=0x%x gpa=… size=… ua=… guest_memfd=%d guest_memfd_offset=0x%" PRIx64 " ret=%d"`.
 *   Traced after the ioctl (`ret` is its result); size 0 deletes the slot.
 * Prefixes recognised (all optional): the log backend's `<tid>@<seconds>.<usec>:<event> `
 * (scripts/tracetool/backend/log.py, when `-msg timestamp=on` or by default in older QEMU),
 * the ISO form `<YYYY-MM-DDThh:mm:ss.uuuuuu>Z (<tid>) <event> ` proposed for newer QEMU, and
 * none (`<event> <args>`).
 */
import { checkBytes, checkedUs, hex, pagesCovering, u64 } from "./_import.js";
import type { LineMatch, SourceRecord } from "./_import.js";
import { PAGE_BYTES } from "./format.js";

const TID_PREFIX = /^(\d+)@(\d+)\.(\d+):(\w+) ?(.*)$/;
const ISO_PREFIX = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)Z \((\d+)\) (\w+) ?(.*)$/;
const BARE = /^(kvm_convert_memory|kvm_memory_fault|kvm_hc_map_gpa_range|ram_block_attributes_state_change|kvm_set_user_memory)(?: (.*))?$/;

const CONVERT = /^start 0x([0-9a-fA-F]+) size 0x([0-9a-fA-F]+) (shared_to_private|private_to_shared)\s*$/;
const FAULT = /^start 0x([0-9a-fA-F]+) size 0x([0-9a-fA-F]+) flags 0x([0-9a-fA-F]+)\s*$/;
const MAP_GPA = /^gpa 0x([0-9a-fA-F]+) size 0x([0-9a-fA-F]+) attributes 0x([0-9a-fA-F]+) flags 0x([0-9a-fA-F]+)\s*$/;
const H = "([0-9a-fA-F]+)";
const MEMSLOT_U32 = new RegExp(`^Slot#(\\d+) flags=0x${H} gpa=0x${H} size=0x${H} ua=0x${H} ret=(-?\\d+)\\s*$`);
const MEMSLOT_AS = new RegExp(
  `^AddrSpace#(\\d+) Slot#(\\d+) flags=0x${H} gpa=0x${H} size=0x${H} ua=0x${H}(?: guest_memfd=(-?\\d+) guest_memfd_offset=0x${H})? ret=(-?\\d+)\\s*$`,
);
const STATE_CHANGE = /^offset 0x([0-9a-fA-F]+) size 0x([0-9a-fA-F]+) from '(\w+)' to '(\w+)'\s*$/;

/** `KVM_MEMORY_EXIT_FLAG_PRIVATE`. */
const FAULT_PRIVATE = 1 << 3;

/** The QEMU trace events this grammar turns into records. */
export const QEMU_EVENTS: readonly string[] = [
  "kvm_convert_memory",
  "kvm_memory_fault",
  "kvm_hc_map_gpa_range",
  "ram_block_attributes_state_change",
  "kvm_set_user_memory",
];

function aligned(...bytes: number[]): boolean {
  return bytes.every((b) => b % PAGE_BYTES === 0);
}

function readBody(event: string, body: string): { record?: SourceRecord; error?: string } {
  const bad = (shape: string) => ({ error: `expected "${shape}", got ${JSON.stringify(body)}` });
  switch (event) {
    case "kvm_convert_memory": {
      const m = CONVERT.exec(body);
      const start = m ? hex(m[1]!) : undefined;
      const size = m ? hex(m[2]!) : undefined;
      if (start === undefined || size === undefined) return bad("start 0x… size 0x… shared_to_private|private_to_shared");
      const error =
        checkBytes(start, size) ?? (aligned(start, size) ? undefined : `start 0x${start.toString(16)} or size 0x${size.toString(16)} is not 4 KiB aligned`);
      if (error) return { error };
      return { record: { kind: "convert", gfn: start / PAGE_BYTES, npages: size / PAGE_BYTES, to: m![3] === "shared_to_private" ? "private" : "shared" } };
    }
    case "kvm_memory_fault": {
      const m = FAULT.exec(body);
      const gpa = m ? hex(m[1]!) : undefined;
      const size = m ? hex(m[2]!) : undefined;
      const flags = m ? hex(m[3]!) : undefined;
      if (gpa === undefined || size === undefined || flags === undefined) return bad("start 0x… size 0x… flags 0x…");
      const error = checkBytes(gpa, size);
      if (error) return { error };
      return { record: { kind: "fault", gpa, size, private: (flags & FAULT_PRIVATE) !== 0 } };
    }
    case "kvm_hc_map_gpa_range": {
      // The guest's three u64s as KVM passed them on; the importer decides whether memattr takes them.
      const m = MAP_GPA.exec(body);
      const gpa = m ? u64(`0x${m[1]}`) : undefined;
      const size = m ? u64(`0x${m[2]}`) : undefined;
      const attrs = m ? u64(`0x${m[3]}`) : undefined;
      if (gpa === undefined || size === undefined || attrs === undefined || u64(`0x${m![4]}`) === undefined) {
        return bad("gpa 0x… size 0x… attributes 0x… flags 0x…");
      }
      // size = args[1] * TARGET_PAGE_SIZE in a uint64_t: always a multiple of 4096 (mod 2^64).
      if (size % BigInt(PAGE_BYTES) !== 0n) return { error: `size 0x${size.toString(16)} is not a whole number of 4 KiB pages` };
      return { record: { kind: "hypercall", gpa, npages: size / BigInt(PAGE_BYTES), attrs } };
    }
    case "kvm_set_user_memory":
      return readMemslot(body);
    default: {
      const m = STATE_CHANGE.exec(body);
      const offsetBytes = m ? hex(m[1]!) : undefined;
      const size = m ? hex(m[2]!) : undefined;
      const to = m?.[4];
      if (offsetBytes === undefined || size === undefined || (to !== "discarded" && to !== "populated")) {
        return bad("offset 0x… size 0x… from '…' to 'discarded|populated'");
      }
      const error = checkBytes(offsetBytes, size) ?? (aligned(offsetBytes, size) ? undefined : "offset or size is not 4 KiB aligned");
      if (error) return { error };
      return { record: { kind: "notify", offsetBytes, npages: pagesCovering(offsetBytes, size).npages, to: to === "discarded" ? "private" : "shared" } };
    }
  }
}

function readMemslot(body: string): { record?: SourceRecord; error?: string } {
  let as: number;
  let slot: number;
  let rest: string[];
  const u32 = MEMSLOT_U32.exec(body);
  const two = u32 ? null : MEMSLOT_AS.exec(body);
  if (u32) {
    const id = Number(u32[1]);
    [as, slot, rest] = [Math.floor(id / 0x10000), id % 0x10000, [u32[2]!, u32[3]!, u32[4]!, u32[6]!]];
    if (!(id < 2 ** 32)) return { error: `slot ${u32[1]} is not a u32` };
  } else if (two) {
    [as, slot, rest] = [Number(two[1]), Number(two[2]), [two[3]!, two[4]!, two[5]!, two[9]!]];
    if (!(as < 0x10000 && slot < 0x10000)) return { error: `AddrSpace#${two[1]} Slot#${two[2]} is not two u16s` };
  } else {
    return {
      error: `expected "[AddrSpace#… ]Slot#… flags=0x… gpa=0x… size=0x… ua=0x… [guest_memfd=… guest_memfd_offset=0x…] ret=…", got ${JSON.stringify(body)}`,
    };
  }
  const flags = hex(rest[0]!);
  const gpa = hex(rest[1]!);
  const size = hex(rest[2]!);
  const ret = Number(rest[3]);
  if (flags === undefined || !(flags < 2 ** 32) || gpa === undefined || size === undefined)
    return { error: `flags, gpa or size out of range in ${JSON.stringify(body)}` };
  if (ret === 0) {
    const error =
      (size > 0 ? checkBytes(gpa, size) : undefined) ??
      (aligned(gpa, size) ? undefined : `gpa 0x${gpa.toString(16)} or size 0x${size.toString(16)} is not 4 KiB aligned`);
    if (error) return { error };
  }
  return { record: { kind: "memslot", as, slot, flags, gpa, size, ret } };
}

/**
 * Reads one line of QEMU trace output.
 * @returns `null` when the line has neither a QEMU trace prefix nor starts with one of
 *   {@link QEMU_EVENTS}; otherwise the event name, timestamp, and a record, an error, or
 *   neither (other trace events, counted as unknown by the importer).
 */
export function parseQemuLine(line: string): LineMatch | null {
  let event: string;
  let body: string;
  let timeUs: number | undefined;
  let m = TID_PREFIX.exec(line);
  let badTime = false;
  if (m) {
    event = m[4]!;
    body = m[5]!;
    timeUs = checkedUs(Number(m[2]) * 1e6 + Number(m[3]!.padEnd(6, "0").slice(0, 6)));
    badTime = timeUs === undefined;
  } else if ((m = ISO_PREFIX.exec(line))) {
    event = m[4]!;
    body = m[5]!;
    timeUs = checkedUs(Date.parse(`${m[1]}Z`) * 1000 + Number(m[2]!.padEnd(6, "0").slice(0, 6)));
    badTime = timeUs === undefined;
  } else if ((m = BARE.exec(line))) {
    event = m[1]!;
    body = m[2] ?? "";
  } else {
    return null;
  }
  const match: LineMatch = { event };
  if (timeUs !== undefined) match.timeUs = timeUs;
  if (!QEMU_EVENTS.includes(event)) return match;
  if (badTime) match.error = "timestamp not a date from 1970 on, or beyond 2^53 µs";
  else Object.assign(match, readBody(event, body));
  return match;
}
