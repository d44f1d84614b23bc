// Random small traces for the policy and replay properties: a 64-page guest, conversions that
// commit (or abort) right away or stay open across a few touches, touches on the side each page
// is on, optional in-place encryption before launch. Every trace is valid for the model.
import fc from "fast-check";
import type { TraceEvent } from "../../src/trace/index.js";

export const GUEST_PAGES = 64;
export const REGIONS = [{ gfn: 0, npages: GUEST_PAGES }];

type Op =
  | { kind: "convert"; gfn: number; npages: number; to: "private" | "shared"; abort: boolean }
  | { kind: "touch"; gfn: number; npages: number; write: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("convert" as const),
    gfn: fc.integer({ min: 0, max: GUEST_PAGES - 1 }),
    npages: fc.integer({ min: 1, max: 8 }),
    to: fc.constantFrom("private" as const, "shared" as const),
    abort: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
  }),
  fc.record({
    kind: fc.constant("touch" as const),
    gfn: fc.integer({ min: 0, max: GUEST_PAGES - 1 }),
    npages: fc.integer({ min: 1, max: 8 }),
    write: fc.boolean(),
  }),
);

/** Options of {@link traceArb}. */
export interface TraceArbOptions {
  /** Start with an in-place-encrypted range and a launch. */
  preserve?: boolean;
  maxOps?: number;
}

/** A valid random trace (events only; the header is `REGIONS`). */
export function traceArb(o: TraceArbOptions = {}): fc.Arbitrary<TraceEvent[]> {
  return fc
    .record({
      ops: fc.array(opArb, { maxLength: o.maxOps ?? 60 }),
      firmware: fc.record({ gfn: fc.integer({ min: 0, max: GUEST_PAGES - 8 }), npages: fc.integer({ min: 1, max: 8 }) }),
    })
    .map(({ ops, firmware }) => build(ops, o.preserve === true ? firmware : null));
}

function build(ops: Op[], firmware: { gfn: number; npages: number } | null): TraceEvent[] {
  const priv = new Uint8Array(GUEST_PAGES); // committed attribute per page, 1 = private
  const out: TraceEvent[] = [];
  let id = 1;
  if (firmware !== null) {
    out.push({ type: "touch", gfn: firmware.gfn, npages: firmware.npages, side: "shared", write: true });
    out.push({ type: "request", id, gfn: firmware.gfn, npages: firmware.npages, to: "private", preserve: true });
    out.push({ type: "commit", id: id++ });
    priv.fill(1, firmware.gfn, firmware.gfn + firmware.npages);
  }
  out.push({ type: "launch" });
  for (const op of ops) {
    const npages = Math.min(op.npages, GUEST_PAGES - op.gfn);
    if (op.kind === "convert") {
      out.push({ type: "request", id, gfn: op.gfn, npages, to: op.to });
      out.push({ type: op.abort ? "abort" : "commit", id: id++ });
      if (!op.abort) priv.fill(op.to === "private" ? 1 : 0, op.gfn, op.gfn + npages);
    } else {
      // One touch per uniform run, on the side those pages are on.
      let s = op.gfn;
      for (let g = op.gfn + 1; g <= op.gfn + npages; g++) {
        if (g === op.gfn + npages || priv[g] !== priv[s]) {
          out.push({ type: "touch", gfn: s, npages: g - s, side: priv[s] ? "private" : "shared", write: op.write });
          s = g;
        }
      }
    }
  }
  return out;
}
