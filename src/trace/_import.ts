// What the line grammars of import-ftrace.ts and import-qemu.ts hand to the importer
// (import.ts), and the number helpers they share. Internal.
//
// Short names: `gfn`/`npages` as in format.ts; `gpa` a guest physical address in bytes;
// `offsetBytes` an offset inside a QEMU RAMBlock (not a gpa); `timeUs` microseconds; a `u64` is
// a register value as the guest passed it, kept as a bigint (exact beyond 2^53).
import { MAX_GFN } from "../core/types.js";
import { MAX_GPA, PAGE_BYTES } from "./format.js";

/** One source line's meaning, before folding into trace events. */
export type SourceRecord =
  /** The attribute change itself: KVM_SET_MEMORY_ATTRIBUTES (kernel) or kvm_convert_memory (QEMU). */
  | { kind: "convert"; gfn: number; npages: number; to: "private" | "shared" }
  /** A KVM_HC_MAP_GPA_RANGE call, its three arguments as the guest passed them (u64s; the importer decides whether it was refused). */
  | { kind: "hypercall"; gpa: bigint; npages: bigint; attrs: bigint }
  /** A KVM_EXIT_MEMORY_FAULT. */
  | { kind: "fault"; gpa: number; size: number; private: boolean }
  /** QEMU's RamDiscardManager notification: a RAMBlock range changed side. */
  | { kind: "notify"; offsetBytes: number; npages: number; to: "private" | "shared" }
  /**
   * A memslot set by `KVM_SET_USER_MEMORY_REGION(2)` (QEMU's kvm_set_user_memory): address space,
   * slot id, `KVM_MEM_*` flags, gpa and size in bytes (0: deleted), and the ioctl's return value.
   */
  | { kind: "memslot"; as: number; slot: number; flags: number; gpa: number; size: number; ret: number }
  /** Understood and deliberately not used (a hypercall other than MAP_GPA_RANGE), counted under `key`. */
  | { kind: "ignored"; key: string };

/** A line recognised by a grammar. */
export interface LineMatch {
  /** The tracepoint or trace-event name. */
  event: string;
  timeUs?: number;
  /** Set when the event is one the importer uses and its text parsed. */
  record?: SourceRecord;
  /** Set when the event is one the importer uses but its text did not parse. */
  error?: string;
  /**
   * True when the line's timestamp is a plain integer: a raw clock count (trace_clock counter,
   * uptime, x86-tsc, …) or another unit the line does not name, so no `timeUs` was derived.
   */
  rawTimestamp?: boolean;
}

/** Parses a hex number, with or without "0x"; undefined unless it is a safe integer. */
export function hex(text: string): number | undefined {
  const digits = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (!/^[0-9a-fA-F]{1,16}$/.test(digits)) return undefined;
  const v = digits.length <= 13 ? parseInt(digits, 16) : Number(BigInt(`0x${digits}`));
  return Number.isSafeInteger(v) ? v : undefined;
}

/** Parses a u64 written as `0x…` hex (any case, up to 16 digits) or as decimal; undefined when it is neither or not below 2^64. */
export function u64(text: string): bigint | undefined {
  let v: bigint;
  if (/^0[xX][0-9a-fA-F]{1,16}$/.test(text)) v = BigInt(`0x${text.slice(2)}`);
  else if (/^\d{1,20}$/.test(text)) v = BigInt(text);
  else return undefined;
  return v < 1n << 64n ? v : undefined;
}

/** A u64 as a number, or undefined when it is not a safe integer. */
export function safeNumber(v: bigint): number | undefined {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

/** Largest `timeUs` an importer writes: 2^53 µs (285 years), so every timestamp is exact to the microsecond. */
const MAX_TIME_US = Number.MAX_SAFE_INTEGER;

/**
 * "1234.567890" seconds → microseconds, without float rounding in the integer part (digits past
 * the sixth are a fraction of a microsecond). Undefined beyond {@link MAX_TIME_US}.
 */
export function secondsToUs(sec: string, frac: string): number | undefined {
  const us = frac.length >= 6 ? Number(frac.slice(0, 6)) + (frac.length > 6 ? Number(`0.${frac.slice(6)}`) : 0) : Number(frac.padEnd(6, "0"));
  const t = Number(sec) * 1e6 + us;
  return t <= MAX_TIME_US ? t : undefined;
}

/** A microsecond count read from a line, when it is one an event can carry (finite, ≥ 0, ≤ 2^53). */
export function checkedUs(t: number): number | undefined {
  return Number.isFinite(t) && t >= 0 && t <= MAX_TIME_US ? t : undefined;
}

/** Checks a gfn range; returns an error text or undefined. */
export function checkPages(gfn: number, npages: number): string | undefined {
  if (npages < 1) return `empty range (npages ${npages})`;
  if (gfn + npages > MAX_GFN) return `range gfn ${gfn} + npages ${npages} ends beyond 2^40 pages`;
  return undefined;
}

/** Checks a byte range in guest physical memory; returns an error text or undefined. */
export function checkBytes(gpa: number, bytes: number): string | undefined {
  if (bytes < 1) return `empty range (size ${bytes})`;
  if (gpa + bytes > MAX_GPA) return `range gpa ${gpa} + size ${bytes} ends beyond 2^52 bytes`;
  return undefined;
}

/** Pages covering `[gpa, gpa + bytes)`. */
export function pagesCovering(gpa: number, bytes: number): { gfn: number; npages: number } {
  const gfn = Math.floor(gpa / PAGE_BYTES);
  return { gfn, npages: Math.ceil((gpa + bytes) / PAGE_BYTES) - gfn };
}
