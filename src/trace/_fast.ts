// The fast path of the JSONL reader (internal): the event lines the writer emits most often,
// recognised byte by byte in their exact canonical form, with no string made and no JSON.parse.
//
// A line is taken here only when it is, byte for byte, what `serializeEvent` writes (then "\n"
// or "\r\n") for a
// `commit`, `abort`, `launch`, `request` (no preserve/cause/timeUs) or `touch` (no timeUs), with
// integers of 1–15 digits, no leading zero, inside the ranges `validateEvent` checks. Anything
// else — another type or field order, whitespace, a timestamp, an out-of-range number, a
// malformed line — returns undefined and goes to the slow path (JSON.parse + validateEvent,
// format.ts), which is the one definition of the rules and so gives every error. The fast path
// therefore never accepts a line the slow path refuses, and gives the same event for every line
// it accepts (test/trace/parse-fast.test.ts checks both on random and mutated lines).
import { MAX_GFN } from "../core/types.js";
import type { TraceEvent } from "./format.js";

const encoder = new TextEncoder();
const T_TYPE = encoder.encode('{"type":"');
const T_COMMIT = encoder.encode('commit","id":');
const T_ABORT = encoder.encode('abort","id":');
const T_REQUEST = encoder.encode('request","id":');
const T_TOUCH = encoder.encode('touch","gfn":');
const T_LAUNCH = encoder.encode('launch"');
const T_GFN = encoder.encode(',"gfn":');
const T_NPAGES = encoder.encode(',"npages":');
const T_TO = encoder.encode(',"to":"');
const T_SIDE = encoder.encode(',"side":"');
const T_PRIVATE = encoder.encode('private"');
const T_SHARED = encoder.encode('shared"');
const T_WRITE = encoder.encode(',"write":');
const T_TRUE = encoder.encode("true");
const T_FALSE = encoder.encode("false");
const CLOSE = 0x7d; // }
const LF = 0x0a;
const CR = 0x0d;

/** Where the line {@link fastEvent} just read ends: the index of its "\n" (after any "\r"). */
export const fastLine = { end: 0 };

/** True when the cursor is at `}` followed by the end of the line ("\n" or "\r\n"); records where it ends. */
function closes(b: Uint8Array, limit: number): boolean {
  if (at >= limit || b[at] !== CLOSE) return false;
  let nl = at + 1;
  if (nl < limit && b[nl] === CR) nl++;
  if (nl >= limit || b[nl] !== LF) return false;
  fastLine.end = nl;
  return true;
}

// The scanner's cursor: module state, so reading a number allocates nothing.
let at = 0;

/** True when `tpl` sits at the cursor (which then moves past it). */
function take(b: Uint8Array, end: number, tpl: Uint8Array): boolean {
  const p = at;
  const n = tpl.length;
  if (p + n > end) return false;
  for (let i = 0; i < n; i++) if (b[p + i] !== tpl[i]) return false;
  at = p + n;
  return true;
}

/** A canonical JSON integer of 1–15 digits at the cursor, or -1. */
function int(b: Uint8Array, end: number): number {
  const start = at;
  let p = start;
  let v = 0;
  while (p < end) {
    const c = b[p]!;
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
    p++;
  }
  at = p;
  const digits = p - start;
  if (digits === 0 || digits > 15 || (digits > 1 && b[start] === 48)) return -1;
  return v;
}

/** `,"gfn":G,"npages":N` (or `G,"npages":N` after a touch's prefix): a range validateEvent accepts, else false. */
function range(b: Uint8Array, end: number, out: { gfn: number; npages: number }): boolean {
  const gfn = int(b, end);
  if (gfn < 0 || gfn >= MAX_GFN || !take(b, end, T_NPAGES)) return false;
  const npages = int(b, end);
  if (npages < 1 || npages > MAX_GFN || gfn + npages > MAX_GFN) return false;
  out.gfn = gfn;
  out.npages = npages;
  return true;
}

const scratch = { gfn: 0, npages: 0 };

/**
 * The event of the line starting at `b[start]` when it is in one of the canonical hot forms and
 * ends with a newline before `limit` (then `fastLine.end` is that newline's index), else undefined.
 * @param b - the bytes (UTF-8) holding the line (a plain Uint8Array: one element kind keeps the loop monomorphic).
 */
export function fastEvent(b: Uint8Array, start: number, limit: number): TraceEvent | undefined {
  const end = limit;
  at = start;
  if (!take(b, end, T_TYPE)) return undefined;
  switch (b[at]) {
    case 0x63: {
      // c: {"type":"commit","id":N}
      if (!take(b, end, T_COMMIT)) return undefined;
      const id = int(b, end);
      if (id < 0 || !closes(b, end)) return undefined;
      return { type: "commit", id };
    }
    case 0x61: {
      // a: {"type":"abort","id":N}
      if (!take(b, end, T_ABORT)) return undefined;
      const id = int(b, end);
      if (id < 0 || !closes(b, end)) return undefined;
      return { type: "abort", id };
    }
    case 0x72: {
      // r: {"type":"request","id":N,"gfn":G,"npages":P,"to":"private"|"shared"}
      if (!take(b, end, T_REQUEST)) return undefined;
      const id = int(b, end);
      if (id < 0 || !take(b, end, T_GFN) || !range(b, end, scratch) || !take(b, end, T_TO)) return undefined;
      let to: "private" | "shared";
      if (take(b, end, T_PRIVATE)) to = "private";
      else if (take(b, end, T_SHARED)) to = "shared";
      else return undefined;
      if (!closes(b, end)) return undefined;
      return { type: "request", id, gfn: scratch.gfn, npages: scratch.npages, to };
    }
    case 0x74: {
      // t: {"type":"touch","gfn":G,"npages":P,"side":"shared"|"private"[,"write":true|false]}
      if (!take(b, end, T_TOUCH) || !range(b, end, scratch) || !take(b, end, T_SIDE)) return undefined;
      let side: "private" | "shared";
      if (take(b, end, T_SHARED)) side = "shared";
      else if (take(b, end, T_PRIVATE)) side = "private";
      else return undefined;
      if (closes(b, end)) return { type: "touch", gfn: scratch.gfn, npages: scratch.npages, side };
      if (!take(b, end, T_WRITE)) return undefined;
      let write: boolean;
      if (take(b, end, T_TRUE)) write = true;
      else if (take(b, end, T_FALSE)) write = false;
      else return undefined;
      if (!closes(b, end)) return undefined;
      return { type: "touch", gfn: scratch.gfn, npages: scratch.npages, side, write };
    }
    case 0x6c:
      // l: {"type":"launch"}
      return take(b, end, T_LAUNCH) && closes(b, end) ? { type: "launch" } : undefined;
    default:
      return undefined;
  }
}
