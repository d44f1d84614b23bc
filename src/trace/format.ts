/**
 * The memattr trace format: records, limits and field-by-field validation.
 *
 * A trace is JSON Lines. Line 1 is a {@link TraceHeader}; every later line is one
 * {@link TraceEvent}. docs/trace-format.md describes the format for people; this file is
 * the reference.
 *
 * Short names used here:
 * - `gfn`: guest frame number, a 4 KiB page index in `[0, MAX_GFN)`.
 * - `npages`: a count of 4 KiB pages; a range is `gfn + npages`, half-open `[gfn, gfn + npages)`.
 * - `gpa`: guest physical address in bytes (`gfn * PAGE_BYTES` plus an offset).
 * - `size`: bytes, kept only where it mirrors a KVM struct field (`kvm_run.memory_fault.size`)
 *   and the model's `onMemoryFault({ gpa, size, private })`.
 * - `attrs`: the `KVM_HC_MAP_GPA_RANGE` attribute word (bit 4 = encrypted, bits 0–1 = page size).
 * - `id`: a transaction number, unique among the requests still pending in one trace.
 * - `u64`: a 64-bit register value as the guest passed it, written `"0x…"` (exact beyond 2^53).
 */
import { MAX_GFN } from "../core/types.js";
import { HYPERCALL_FAULTS, HypercallError, type HypercallFault } from "../model/errors.js";
import { decodeMapGpaRange } from "../model/hypercall.js";
import { PAGE_BYTES } from "../model/states.js";
import { KVM_MEM_GUEST_MEMFD, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY } from "../uapi/constants.js";

/** The `format` tag every memattr trace header carries. */
export const TRACE_FORMAT = "memattr-trace";
/**
 * The trace version this build writes. Version 2 added the `refused` event, version 3 the
 * memory-map events (`region-add`, `region-remove`, `memslot`); every older trace is a
 * version-3 trace, so readers take all three (see {@link TRACE_VERSIONS_READ}) and refuse any other.
 */
export const TRACE_VERSION = 3;
/** The versions this build reads: 1 (no `refused` events), 2 (no memory-map events) and 3. An older header reads as version 3. */
export const TRACE_VERSIONS_READ: readonly number[] = [1, 2, 3];
/** Bytes per guest page: every `gfn` and `npages` in a trace counts 4 KiB pages. */
export { PAGE_BYTES };
/** One past the largest guest physical address a trace may name (2^40 pages of 4 KiB). */
export const MAX_GPA = MAX_GFN * PAGE_BYTES;
/** `KVM_MAP_GPA_RANGE_ENCRYPTED`: the attrs bit of `KVM_HC_MAP_GPA_RANGE` meaning "to private". */
export const MAP_GPA_RANGE_ENCRYPTED = 1 << 4;

/** A range of guest memory, half-open `[gfn, gfn + npages)`. */
export interface GuestRegion {
  gfn: number;
  npages: number;
}

/** Who produced a trace: the generator name, its seed and every parameter it used. */
export interface TraceGenerator {
  name: string;
  seed: number;
  params: Record<string, number | string | boolean>;
}

/** Where an imported trace came from. */
export interface TraceSource {
  /** The importer that read it: `"ftrace"` or `"qemu"`. */
  importer: string;
  /** A file name, when known. */
  file?: string;
}

/**
 * Line 1 of a trace. `regions` lists guest memory in gfns; an empty list means "unknown"
 * (imported traces), and then only the 2^40-page limit applies.
 */
export interface TraceHeader {
  format: typeof TRACE_FORMAT;
  /** 3 when this build made the header; 1 and 2 also type-check (an older header is read, and written, as 3). */
  version: 1 | 2 | typeof TRACE_VERSION;
  pageBytes: typeof PAGE_BYTES;
  regions: GuestRegion[];
  generator?: TraceGenerator;
  source?: TraceSource;
}

/** Fields every event may carry: a timestamp in microseconds (fractional allowed). */
interface EventBase {
  timeUs?: number;
}

/** The guest starts running; from now on contents may no longer be copied into private memory. */
export interface LaunchEvent extends EventBase {
  type: "launch";
}

/**
 * The guest (or the VMM) asks to convert `[gfn, gfn + npages)` to `to`. Opens transaction
 * `id`, which a later `commit` or `abort` closes. `preserve` asks to keep the contents
 * (in-place encryption), legal only before `launch`. `cause` records, for imported traces,
 * what triggered the conversion (a hypercall or a memory fault folded into this record).
 */
export interface RequestEvent extends EventBase {
  type: "request";
  id: number;
  gfn: number;
  npages: number;
  to: "private" | "shared";
  preserve?: boolean;
  cause?: "hypercall" | "fault";
}

/** The VMM applied transaction `id` (`KVM_SET_MEMORY_ATTRIBUTES` succeeded). */
export interface CommitEvent extends EventBase {
  type: "commit";
  id: number;
}

/** Transaction `id` failed; its range returns to the state it had before the request. */
export interface AbortEvent extends EventBase {
  type: "abort";
  id: number;
}

/** The guest (or a device, on the shared side) reads or writes `[gfn, gfn + npages)`. */
export interface TouchEvent extends EventBase {
  type: "touch";
  gfn: number;
  npages: number;
  side: "shared" | "private";
  write?: boolean;
}

/** `KVM_EXIT_MEMORY_FAULT`: an access at `gpa`, `size` bytes, whose attribute did not match. */
export interface FaultEvent extends EventBase {
  type: "fault";
  gpa: number;
  size: number;
  private: boolean;
}

/**
 * A raw `KVM_HC_MAP_GPA_RANGE` exit: `gpa`, `npages` and `attrs` as the guest passed them
 * (not validated beyond their integer ranges: a hostile guest may pass anything). Opens
 * transaction `id` like a request.
 */
export interface HypercallEvent extends EventBase {
  type: "hypercall";
  id: number;
  gpa: number;
  npages: number;
  attrs: number;
}

/**
 * Why a recorded `KVM_HC_MAP_GPA_RANGE` call was refused: a {@link HypercallFault} of the
 * model's `decodeMapGpaRange` (KVM's own `unaligned-gpa`, `zero-npages`, `wrap`; memattr's
 * stricter `unknown-attrs`, `page-size-alignment`), or `outside-guest-memory` when the range
 * passes those checks but ends beyond the 2^40 pages any guest memory can have.
 */
export type RefusalReason = HypercallFault | "outside-guest-memory";
/** Every {@link RefusalReason}. */
export const REFUSAL_REASONS: readonly RefusalReason[] = [...HYPERCALL_FAULTS, "outside-guest-memory"];

/**
 * A `KVM_HC_MAP_GPA_RANGE` call that was refused before it became a conversion: by KVM (which
 * traces the hypercall before checking it and returns -EINVAL to the guest) or by memattr's
 * stricter checks. `gpa`, `npages` and `attrs` are the guest's three u64 arguments as `"0x…"`
 * strings; `reason` is what {@link hypercallRefusal} says of them (readers check it). Opens no
 * transaction: nothing commits or aborts it.
 */
export interface RefusedHypercallEvent extends EventBase {
  type: "refused";
  call: "hypercall";
  gpa: string;
  npages: string;
  attrs: string;
  reason: RefusalReason;
}

/**
 * Guest RAM `[gfn, gfn + npages)` appears (a DIMM or virtio-mem block plugged): the tracker's
 * `addRegion`. It must not overlap guest memory, and the header must list regions (a trace
 * whose memory map is unknown cannot change it). `initial` is the pages' attribute, `shared`
 * when omitted (KVM's default).
 */
export interface RegionAddEvent extends EventBase {
  type: "region-add";
  gfn: number;
  npages: number;
  initial?: "shared" | "private";
}

/**
 * Guest RAM `[gfn, gfn + npages)` goes away (unplugged): the tracker's `removeRegion`; what
 * either backing held there is discarded. It must lie inside guest memory and no conversion
 * still pending in the trace may own a page of it.
 */
export interface RegionRemoveEvent extends EventBase {
  type: "region-remove";
  gfn: number;
  npages: number;
}

/**
 * A `KVM_SET_USER_MEMORY_REGION(2)` the VMM made: memslot `slot` of address space `as` now
 * maps `[gfn, gfn + npages)` with `flags` (`KVM_MEM_*`), or is deleted (`npages` 0). A memslot
 * is how KVM reaches memory, not what the guest owns: it changes no page's attribute or
 * pending state (docs/design.md, "Guest memory at runtime"), and replay only counts it.
 */
export interface MemslotEvent extends EventBase {
  type: "memslot";
  slot: number;
  as?: number;
  gfn: number;
  npages: number;
  flags: number;
}

/** Any record after the header. */
export type TraceEvent =
  | LaunchEvent
  | RequestEvent
  | CommitEvent
  | AbortEvent
  | TouchEvent
  | FaultEvent
  | HypercallEvent
  | RefusedHypercallEvent
  | RegionAddEvent
  | RegionRemoveEvent
  | MemslotEvent;
/** The `type` tags of {@link TraceEvent}. */
export type TraceEventType = TraceEvent["type"];

/** Every event type, in the order docs and statistics list them. */
export const TRACE_EVENT_TYPES: readonly TraceEventType[] = [
  "launch",
  "request",
  "commit",
  "abort",
  "touch",
  "fault",
  "hypercall",
  "refused",
  "region-add",
  "region-remove",
  "memslot",
];

/** The `KVM_MEM_*` flags a `memslot` event may carry (any other bit is refused, as KVM does). */
export const MEMSLOT_FLAGS = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY | KVM_MEM_GUEST_MEMFD;
/** One past the largest memslot id of one address space (KVM's slot id is 16 bits; the address space sits above it). */
export const MEMSLOT_IDS = 1 << 16;
/** Address spaces a memslot may belong to (x86: 0 = normal, 1 = SMM). */
export const MEMSLOT_ADDRESS_SPACES = 2;

/** One past the largest u64. */
const U64_END = 1n << 64n;

/**
 * Whether memattr (or KVM before it) refuses these `KVM_HC_MAP_GPA_RANGE` arguments, and why.
 * Decided by the model's `decodeMapGpaRange` — the one definition of the checks — plus the
 * 2^40-page limit of every guest memory map.
 * @param gpa - a0: the guest physical address in bytes, a u64 (`[0, 2^64)`)
 * @param npages - a1: 4 KiB pages, a u64
 * @param attrs - a2: page size and ENCRYPTED bits, a u64
 * @returns the reason, or undefined when the call would become a conversion request.
 * @throws MemattrRangeError when an argument is not a u64.
 * @example
 * ```ts
 * import { hypercallRefusal } from "memattr";
 * console.log(hypercallRefusal(0x1001n, 1n, 0x10n), hypercallRefusal(0x1000n, 1n, 0x10n)); // unaligned-gpa undefined
 * ```
 */
export function hypercallRefusal(gpa: bigint, npages: bigint, attrs: bigint): RefusalReason | undefined {
  let r: ReturnType<typeof decodeMapGpaRange>;
  try {
    r = decodeMapGpaRange({ gpa, npages, attrs });
  } catch (e) {
    if (e instanceof HypercallError) return e.reason;
    throw e;
  }
  return r.gfn + r.npages > BigInt(MAX_GFN) ? "outside-guest-memory" : undefined;
}

/** A u64 as a trace writes it: `"0x"` and lowercase hex digits, no leading zeros. */
export function u64Text(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** Builds a header for guest memory `regions`. */
export function createHeader(regions: GuestRegion[], extra: { generator?: TraceGenerator; source?: TraceSource } = {}): TraceHeader {
  const header: TraceHeader = { format: TRACE_FORMAT, version: TRACE_VERSION, pageBytes: PAGE_BYTES, regions };
  if (extra.generator) header.generator = extra.generator;
  if (extra.source) header.source = extra.source;
  return header;
}

// ---- validation -------------------------------------------------------------------------
// Validators throw a plain `FieldError`; the parser turns it into a TraceParseError with the
// line number, the writer into MemattrTypeError/MemattrRangeError.

/** A field that is missing, of the wrong type (`kind: "type"`) or out of range (`kind: "range"`). */
export class FieldError extends Error {
  constructor(
    readonly kind: "type" | "range",
    message: string,
  ) {
    super(message);
    this.name = "FieldError";
  }
}

type Rec = Record<string, unknown>;

function isRecord(v: unknown): v is Rec {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A value quoted for a message: JSON where it has one, else its type (a bigint, a symbol, a cycle). */
function show(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  try {
    return JSON.stringify(v) ?? String(typeof v);
  } catch {
    return typeof v;
  }
}

function int(r: Rec, key: string, min: number, max: number): number {
  const v = r[key];
  if (v === undefined) throw new FieldError("type", `missing field '${key}'`);
  if (typeof v !== "number" || !Number.isInteger(v)) throw new FieldError("type", `'${key}' must be an integer, got ${show(v)}`);
  if (v < min || v > max) throw new FieldError("range", `'${key}' = ${v} is outside [${min}, ${max}]`);
  return v === 0 ? 0 : v; // -0 (JSON "-0") reads as 0, as it is written back
}

function oneOf<T extends string>(r: Rec, key: string, allowed: readonly T[]): T {
  const v = r[key];
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
    throw new FieldError("type", `'${key}' must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${show(v)}`);
  }
  return v as T;
}

/** A u64 field: `"0x"` and 1–16 hex digits (any case; returned as a bigint). */
function u64Field(r: Rec, key: string): bigint {
  const v = r[key];
  if (v === undefined) throw new FieldError("type", `missing field '${key}'`);
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{1,16}$/.test(v)) {
    throw new FieldError("type", `'${key}' must be a u64 written "0x" and 1–16 hex digits, got ${show(v)}`);
  }
  const n = BigInt(v);
  if (n >= U64_END) throw new FieldError("range", `'${key}' = ${v} is not below 2^64`);
  return n;
}

function optBool(r: Rec, key: string): boolean | undefined {
  const v = r[key];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new FieldError("type", `'${key}' must be true or false, got ${show(v)}`);
  return v;
}

/** Checks `[gfn, gfn + npages)`: integers, `npages >= 1`, inside the 2^40-page space. */
function pageRange(r: Rec): { gfn: number; npages: number } {
  const gfn = int(r, "gfn", 0, MAX_GFN - 1);
  const npages = int(r, "npages", 1, MAX_GFN);
  if (gfn + npages > MAX_GFN) throw new FieldError("range", `range gfn ${gfn} + npages ${npages} ends beyond 2^40 pages`);
  return { gfn, npages };
}

function allowOnly(r: Rec, keys: readonly string[]): void {
  for (const k of Object.keys(r)) {
    if (!keys.includes(k)) throw new FieldError("type", `unexpected field '${k}' in a '${String(r.type)}' record`);
  }
}

function withTime<T extends TraceEvent>(r: Rec, ev: T): T {
  const t = r.timeUs;
  if (t !== undefined) {
    if (typeof t !== "number" || !Number.isFinite(t) || t < 0) throw new FieldError("type", `'timeUs' must be a finite number >= 0, got ${show(t)}`);
    ev.timeUs = t === 0 ? 0 : t; // -0 reads as 0, as it is written back
  }
  return ev;
}

const MAX_ID = Number.MAX_SAFE_INTEGER;
const MAX_ATTRS = 2 ** 53 - 1;

/**
 * Checks one decoded event record and returns a clean copy holding only its known fields.
 * @throws FieldError naming the first bad field.
 */
export function validateEvent(value: unknown): TraceEvent {
  if (!isRecord(value)) throw new FieldError("type", `an event must be a JSON object, got ${show(value)}`);
  const r = value;
  const type = oneOf(r, "type", TRACE_EVENT_TYPES);
  switch (type) {
    case "launch":
      allowOnly(r, ["type", "timeUs"]);
      return withTime(r, { type });
    case "request": {
      allowOnly(r, ["type", "timeUs", "id", "gfn", "npages", "to", "preserve", "cause"]);
      const id = int(r, "id", 0, MAX_ID);
      const { gfn, npages } = pageRange(r);
      const to = oneOf(r, "to", ["private", "shared"] as const);
      const ev: RequestEvent = { type, id, gfn, npages, to };
      const preserve = optBool(r, "preserve");
      if (preserve !== undefined) ev.preserve = preserve;
      if (r.cause !== undefined) ev.cause = oneOf(r, "cause", ["hypercall", "fault"] as const);
      return withTime(r, ev);
    }
    case "commit":
    case "abort":
      allowOnly(r, ["type", "timeUs", "id"]);
      return withTime(r, { type, id: int(r, "id", 0, MAX_ID) });
    case "touch": {
      allowOnly(r, ["type", "timeUs", "gfn", "npages", "side", "write"]);
      const { gfn, npages } = pageRange(r);
      const side = oneOf(r, "side", ["shared", "private"] as const);
      const ev: TouchEvent = { type, gfn, npages, side };
      const write = optBool(r, "write");
      if (write !== undefined) ev.write = write;
      return withTime(r, ev);
    }
    case "fault": {
      allowOnly(r, ["type", "timeUs", "gpa", "size", "private"]);
      const gpa = int(r, "gpa", 0, MAX_GPA - 1);
      const size = int(r, "size", 1, MAX_GPA);
      if (gpa + size > MAX_GPA) throw new FieldError("range", `fault gpa ${gpa} + size ${size} ends beyond 2^52 bytes`);
      const priv = optBool(r, "private");
      if (priv === undefined) throw new FieldError("type", "missing field 'private'");
      return withTime(r, { type, gpa, size, private: priv });
    }
    case "hypercall": {
      allowOnly(r, ["type", "timeUs", "id", "gpa", "npages", "attrs"]);
      const id = int(r, "id", 0, MAX_ID);
      const gpa = int(r, "gpa", 0, MAX_GPA - 1);
      const npages = int(r, "npages", 1, MAX_GFN);
      const attrs = int(r, "attrs", 0, MAX_ATTRS);
      return withTime(r, { type, id, gpa, npages, attrs });
    }
    case "refused": {
      allowOnly(r, ["type", "timeUs", "call", "gpa", "npages", "attrs", "reason"]);
      const call = oneOf(r, "call", ["hypercall"] as const);
      const gpa = u64Field(r, "gpa");
      const npages = u64Field(r, "npages");
      const attrs = u64Field(r, "attrs");
      const reason = oneOf(r, "reason", REFUSAL_REASONS);
      const actual = hypercallRefusal(gpa, npages, attrs);
      if (actual !== reason) {
        const said = actual === undefined ? "would be accepted" : `is refused for ${actual}`;
        throw new FieldError("range", `refused hypercall says "${reason}", but gpa ${u64Text(gpa)} npages ${u64Text(npages)} attrs ${u64Text(attrs)} ${said}`);
      }
      return withTime(r, { type, call, gpa: u64Text(gpa), npages: u64Text(npages), attrs: u64Text(attrs), reason });
    }
    case "region-add": {
      allowOnly(r, ["type", "timeUs", "gfn", "npages", "initial"]);
      const ev: RegionAddEvent = { type, ...pageRange(r) };
      if (r.initial !== undefined) ev.initial = oneOf(r, "initial", ["shared", "private"] as const);
      return withTime(r, ev);
    }
    case "region-remove":
      allowOnly(r, ["type", "timeUs", "gfn", "npages"]);
      return withTime(r, { type, ...pageRange(r) });
    case "memslot": {
      allowOnly(r, ["type", "timeUs", "slot", "as", "gfn", "npages", "flags"]);
      const slot = int(r, "slot", 0, MEMSLOT_IDS - 1);
      const ev: MemslotEvent = { type, slot, gfn: 0, npages: 0, flags: 0 };
      if (r.as !== undefined) ev.as = int(r, "as", 0, MEMSLOT_ADDRESS_SPACES - 1);
      ev.gfn = int(r, "gfn", 0, MAX_GFN - 1);
      ev.npages = int(r, "npages", 0, MAX_GFN);
      if (ev.gfn + ev.npages > MAX_GFN) throw new FieldError("range", `range gfn ${ev.gfn} + npages ${ev.npages} ends beyond 2^40 pages`);
      ev.flags = int(r, "flags", 0, 2 ** 32 - 1);
      if ((ev.flags & ~MEMSLOT_FLAGS) !== 0) {
        throw new FieldError(
          "range",
          `'flags' = 0x${ev.flags.toString(16)} has bits KVM does not define for a memslot (known: 0x${MEMSLOT_FLAGS.toString(16)})`,
        );
      }
      return withTime(r, ev);
    }
  }
}

/**
 * Checks a decoded header record. A wrong `format` or `version` is a {@link TraceVersionError}
 * (thrown by the caller, which knows it); anything else is a `FieldError`.
 * @returns the header, or `{ incompatible }` describing what the header claimed.
 */
export function validateHeader(value: unknown): TraceHeader | { incompatible: string } {
  if (!isRecord(value)) throw new FieldError("type", "line 1 must be a header object");
  const r = value;
  if (r.format !== TRACE_FORMAT) return { incompatible: `format ${show(r.format)}` };
  if (typeof r.version !== "number" || !TRACE_VERSIONS_READ.includes(r.version)) return { incompatible: `${TRACE_FORMAT} version ${show(r.version)}` };
  if (r.pageBytes !== PAGE_BYTES) throw new FieldError("range", `'pageBytes' must be ${PAGE_BYTES}, got ${show(r.pageBytes)}`);
  if (!Array.isArray(r.regions)) throw new FieldError("type", "'regions' must be an array");
  const regions = r.regions.map((reg: unknown) => {
    if (!isRecord(reg)) throw new FieldError("type", "each region must be an object {gfn, npages}");
    return pageRange(reg);
  });
  const sorted = [...regions].sort((a, b) => a.gfn - b.gfn);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.gfn < sorted[i - 1]!.gfn + sorted[i - 1]!.npages) throw new FieldError("range", `regions overlap at gfn ${sorted[i]!.gfn}`);
  }
  const header = createHeader(regions);
  if (r.generator !== undefined) {
    const g = r.generator;
    if (!isRecord(g) || typeof g.name !== "string" || !isRecord(g.params)) throw new FieldError("type", "'generator' must be {name, seed, params}");
    const params: TraceGenerator["params"] = {};
    for (const [k, v] of Object.entries(g.params)) {
      // what JSON writes back as it was read: a finite number, a string, a boolean
      if (!((typeof v === "number" && Number.isFinite(v)) || typeof v === "string" || typeof v === "boolean")) {
        throw new FieldError("type", `generator param '${k}' must be a finite number, a string or a boolean, got ${show(v)}`);
      }
      params[k] = v === 0 ? 0 : v;
    }
    header.generator = { name: g.name, seed: int(g, "seed", 0, 2 ** 32 - 1), params };
  }
  if (r.source !== undefined) {
    const s = r.source;
    if (!isRecord(s) || typeof s.importer !== "string" || (s.file !== undefined && typeof s.file !== "string")) {
      throw new FieldError("type", "'source' must be {importer, file?}");
    }
    header.source = s.file === undefined ? { importer: s.importer } : { importer: s.importer, file: s.file };
  }
  return header;
}

/** Total pages in `regions`. */
export function regionPages(regions: readonly GuestRegion[]): number {
  let n = 0;
  for (const r of regions) n += r.npages;
  return n;
}

/** True when `[gfn, gfn + npages)` lies inside one of `regions` (or `regions` is empty). */
export function insideRegions(regions: readonly GuestRegion[], gfn: number, npages: number): boolean {
  if (regions.length === 0) return true;
  for (const r of regions) if (gfn >= r.gfn && gfn + npages <= r.gfn + r.npages) return true;
  return false;
}
