// Property test: random guest requests, hypercalls, faults, commits, aborts, populate/discard,
// launch, and guest memory added and removed at runtime, with valid and hostile arguments, against a per-page reference state machine
// written from the rules (test/support/ref-tracker.ts; not from the tracker's or the core's code). After every step all queries
// must agree; after every refused step the snapshot must be unchanged.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { RangeMap } from "../../src/core/range-map.js";
import { type PendingConversion, Tracker, type TrackerEvent } from "../../src/model/index.js";
import { loadWasmRangeMap } from "../support/tracker-helpers.js";
import { type Code, RefModel, type RefHandle, type To } from "../support/ref-tracker.js";

const LONG = process.env.MEMATTR_LONG === "1";
// Guest: [0, 512) (one 2 MiB-aligned block) and [600, 640); the hole and everything past 640 is outside.
const REGIONS = [
  { gfn: 0, npages: 512 },
  { gfn: 600, npages: 40 },
];
const LIMIT = 640;

// ---- generators ----------------------------------------------------------------------------

const badNumber = fc.constantFrom<unknown>(NaN, -1, 1.5, Infinity, 2 ** 40, 2 ** 53, -1n, 2n ** 64n, "7", null);
const gfnArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 48 }) }, // hot window: overlaps and conflicts
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 700 }) }, // anywhere, the hole and beyond included
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 48 }).map((n) => BigInt(n)) },
  { weight: 1, arbitrary: badNumber },
);
const npagesArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 24 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 600 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(0, 512, 2n, 2n ** 41n) },
  { weight: 1, arbitrary: badNumber },
);
const gpaArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 48 }).map((g) => g * 4096) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 700 }).map((g) => BigInt(g) * 4096n) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 48 * 4096 }) }, // usually unaligned
  { weight: 1, arbitrary: fc.constantFrom<unknown>(0x200000, 2n ** 64n - 4096n, 2n ** 52n * 4096n - 4096n, 2 ** 60) },
  { weight: 1, arbitrary: badNumber },
);
const attrsArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom<unknown>(0, 16, 0n, 16n) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(1, 17, 2, 18, 3, 19, 0x20, 0x100, 1n << 63n, 15) },
  { weight: 1, arbitrary: badNumber },
);
const toArb = fc.constantFrom<To>("shared", "private");
const sideArb = fc.constantFrom<0 | 1>(0, 1);

type Op =
  | { op: "req"; gfn: unknown; npages: unknown; to: To; preserve: boolean }
  | { op: "hc"; gpa: unknown; npages: unknown; attrs: unknown }
  | { op: "fault"; gpa: unknown; size: unknown; priv: unknown }
  | { op: "commit" | "abort"; k: number }
  | { op: "pop" | "disc"; side: 0 | 1; gfn: unknown; npages: unknown }
  | { op: "launch" }
  | { op: "addr"; gfn: unknown; npages: unknown; initial: To }
  | { op: "rmr"; gfn: unknown; npages: unknown };

// Regions added or removed lie inside the model's pages [0, LIMIT); sometimes malformed.
const regionArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: LIMIT - 1 }), fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: LIMIT })))
      .map(([gfn, n]) => ({ gfn, npages: Math.min(n, LIMIT - gfn) })),
  },
  // malformed (2^40 pages from 0 would be well-formed and past the model's pages: not drawn)
  {
    weight: 1,
    arbitrary: fc.record({
      gfn: fc.oneof(fc.integer({ min: 0, max: 48 }), badNumber),
      npages: fc.constantFrom<unknown>(NaN, -1, 0, 1.5, Infinity, 2 ** 53, -1n, 2n ** 64n, "7", null),
    }),
  },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("req" as const), gfn: gfnArb, npages: npagesArb, to: toArb, preserve: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("hc" as const), gpa: gpaArb, npages: npagesArb, attrs: attrsArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("fault" as const),
      gpa: gpaArb,
      size: fc.oneof({ weight: 6, arbitrary: fc.constantFrom<unknown>(4096, 8192, 1, 4096n) }, { weight: 1, arbitrary: badNumber }),
      priv: fc.oneof({ weight: 9, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constant<unknown>(1) }),
    }),
  },
  { weight: 5, arbitrary: fc.record({ op: fc.constantFrom("commit" as const, "abort" as const), k: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom("pop" as const, "disc" as const), side: sideArb, gfn: gfnArb, npages: npagesArb }) },
  { weight: 1, arbitrary: fc.constant({ op: "launch" as const }) },
  { weight: 1, arbitrary: fc.tuple(regionArb, toArb).map(([r, initial]) => ({ op: "addr" as const, ...r, initial })) },
  { weight: 1, arbitrary: regionArb.map((r) => ({ op: "rmr" as const, ...r })) },
);

// ---- the runner ----------------------------------------------------------------------------

let totalSteps = 0;
const seen = new Map<string, number>(); // outcomes seen: error codes, fault kinds, "ok:<op>"
const tally = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);

// vitest's expect() costs microseconds per call (its state bookkeeping dominated a profile),
// so the hot loop compares with plain code and only builds a message on a mismatch.
function show(x: unknown): string {
  return JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
}
function same(got: unknown, want: unknown, what: string): void {
  const [g, w] = [show(got), show(want)];
  if (g !== w) expect.fail(`${what}: tracker ${g}, model ${w}`);
}

function codeOf(fn: () => unknown): [Code, unknown] {
  try {
    return [null, fn()];
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === undefined) throw err; // not a typed error: a bug
    return [code, undefined];
  }
}

function compare(t: Tracker, m: RefModel, handles: PendingConversion[]): void {
  const got = new Uint8Array(LIMIT);
  t.forEachRawRun((g, n, v) => got.fill(v, g, g + n));
  for (let g = 0; g < LIMIT; g++) {
    if (got[g] !== m.value(g)) expect.fail(`page ${g}: tracker 0x${got[g]!.toString(16)}, model 0x${m.value(g).toString(16)}`);
  }
  const totals = t.totals();
  let [shared, priv, pp, ps, pres, sp, prp, dbl, sst, pst] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  for (let g = 0; g < LIMIT; g++) {
    if (!m.guest[g]) continue;
    const a = m.attr[g]!;
    const p = m.pend[g]! !== 0;
    if (p) a ? ps++ : pp++;
    else a ? priv++ : shared++;
    if (m.pres[g]) pres++;
    const [s1, p1] = [m.back[0]![g] === 1, m.back[1]![g] === 1];
    if (s1) sp++;
    if (p1) prp++;
    if (s1 && p1) dbl++;
    if (s1 && a && !p) sst++;
    if (p1 && !a && !p) pst++;
  }
  same([totals.shared, totals.private, totals.pendingPrivate, totals.pendingShared, totals.preserving], [shared, priv, pp, ps, pres], "conversion totals");
  same(
    [totals.sharedPopulated, totals.privatePopulated, totals.doubleAllocated, totals.sharedStale, totals.privateStale],
    [sp, prp, dbl, sst, pst],
    "backing totals",
  );
  same(
    [t.doubleAllocatedBytes(), t.pagesIn("pending-private"), t.populatedPages("private"), t.stalePages("shared")],
    [dbl * 4096, pp, prp, sst],
    "single totals",
  );
  same(t.launched, m.launched, "launched");
  same(
    t.pendingConversions().map((c) => c.id),
    m.handles.filter((h) => h.status === "pending").map((h) => h.id),
    "pending ids",
  );
  for (let i = 0; i < handles.length; i++) if (handles[i]!.status !== m.handles[i]!.status) same(handles[i]!.status, m.handles[i]!.status, `handle ${i}`);
}

function sameHandle(c: PendingConversion, h: RefHandle): void {
  const pages: number[] = [];
  for (const r of c.runs) for (let g = r.gfn; g < r.gfn + r.npages; g++) pages.push(g);
  same([c.id, c.npagesOwned, pages], [h.id, h.owned.length, h.owned], "handle");
}

function runOps(map: RangeMap, ops: Op[], listen: boolean): void {
  const t = new Tracker(map, { regions: REGIONS });
  const m = new RefModel(REGIONS, LIMIT);
  const handles: PendingConversion[] = [];
  const events: TrackerEvent[] = [];
  if (listen) t.subscribe((e) => events.push(e));
  for (const op of ops) {
    totalSteps++;
    const before = t.snapshot();
    events.length = 0;
    let code: Code;
    let expected: Code;
    switch (op.op) {
      case "req": {
        const [c, r] = codeOf(() => t.requestConversion({ gfn: op.gfn, npages: op.npages, to: op.to, preserve: op.preserve } as never));
        const e = m.requestApi(op.gfn, op.npages, op.to, op.preserve);
        [code, expected] = [c, typeof e === "string" ? e : null];
        if (c === null && typeof e !== "string" && e !== null) {
          sameHandle(r as PendingConversion, e);
          handles.push(r as PendingConversion);
        }
        break;
      }
      case "hc": {
        const [c, r] = codeOf(() => t.fromHypercall({ gpa: op.gpa, npages: op.npages, attrs: op.attrs } as never));
        const e = m.hypercall(op.gpa, op.npages, op.attrs);
        [code, expected] = [c, typeof e === "string" ? e : null];
        if (c === null && typeof e !== "string" && e !== null) {
          sameHandle(r as PendingConversion, e);
          handles.push(r as PendingConversion);
        }
        break;
      }
      case "fault": {
        const [c, r] = codeOf(() => t.onMemoryFault({ gpa: op.gpa, size: op.size, private: op.priv } as never));
        const e = m.fault(op.gpa, op.size, op.priv);
        [code, expected] = [c, typeof e === "string" ? e : null];
        if (c === null && typeof e === "object" && e !== null) {
          const d = r as ReturnType<Tracker["onMemoryFault"]>;
          same([d.kind, d.gfn, d.npages], [e.kind, e.gfn, e.npages], "fault decision");
          tally(`fault:${d.kind}`);
          if (d.kind === "convert") {
            sameHandle(d.conversion, e.handle!);
            handles.push(d.conversion);
          } else if (t.snapshot() !== before) expect.fail("a fault decided without conversion changed the state");
        }
        break;
      }
      case "commit":
      case "abort": {
        if (handles.length === 0) continue;
        const i = op.k % handles.length;
        const outcome = op.op === "commit" ? "committed" : "aborted";
        [code] = codeOf(() => (op.op === "commit" ? handles[i]!.commit() : handles[i]!.abort()));
        expected = m.settle(m.handles[i]!, outcome);
        break;
      }
      case "pop":
      case "disc": {
        const side = op.side === 0 ? "shared" : "private";
        const [c, r] = codeOf(() =>
          op.op === "pop" ? t.markPopulated(side, op.gfn as number, op.npages as number) : t.markDiscarded(side, op.gfn as number, op.npages as number),
        );
        const e = m.backing(op.op, op.side, op.gfn, op.npages);
        [code, expected] = [c, typeof e === "string" ? e : null];
        if (c === null && Array.isArray(e)) {
          const counts =
            op.op === "pop"
              ? [(r as { npagesNew: number }).npagesNew, (r as { npagesRefault: number }).npagesRefault]
              : [(r as { npagesFreed: number }).npagesFreed];
          same(counts, e, "backing counts");
        }
        break;
      }
      case "launch":
        [code] = codeOf(() => t.launch());
        expected = m.launch();
        break;
      case "addr":
        [code] = codeOf(() => t.addRegion({ gfn: op.gfn, npages: op.npages } as never, { initial: op.initial }));
        expected = m.addRegion(op.gfn, op.npages, op.initial);
        break;
      case "rmr": {
        const [c, r] = codeOf(() => t.removeRegion({ gfn: op.gfn, npages: op.npages } as never));
        const e = m.removeRegion(op.gfn, op.npages);
        [code, expected] = [c, typeof e === "string" ? e : null];
        if (c === null && Array.isArray(e)) {
          const pages = (rs: { gfn: number; npages: number }[]) => rs.flatMap((x) => Array.from({ length: x.npages }, (_v, k) => x.gfn + k));
          const got = r as ReturnType<Tracker["removeRegion"]>;
          same([pages(got.populated.shared), pages(got.populated.private)], e, "populated at removal");
        }
        break;
      }
    }
    if (code !== expected) expect.fail(`${show(op)}: tracker ${code}, model ${expected}`);
    tally(code ?? `ok:${op.op}`);
    if (code !== null) {
      if (t.snapshot() !== before) expect.fail(`${show(op)} was refused (${code}) but changed the snapshot`);
      if (listen)
        same(
          events.map((e) => e.type),
          ["refused"],
          `events of refused ${show(op)}`,
        );
    } else if (listen && op.op !== "fault" && events.length !== 1)
      same(
        events.map((e) => e.type),
        ["one event"],
        `events of ${show(op)}`,
      );
    compare(t, m, handles);
  }
}

// ---- the properties ------------------------------------------------------------------------

const wasm = await loadWasmRangeMap();
const cases: { name: string; make: () => Promise<RangeMap>; runs: number }[] = [{ name: "RangeMap (wasm)", make: wasm, runs: LONG ? 10000 : 1100 }];

describe("Tracker against a per-page reference state machine", () => {
  afterAll(() => {
    // ≥ 10^5 steps per `npm test` (about 200 per run, 1 100 runs).
    expect(totalSteps).toBeGreaterThanOrEqual(100_000);
    // The generators reach every outcome (else the property proves less than it claims).
    const outcomes = ["EINVALTYPE", "ERANGE", "EOUTSIDE", "EINVAL", "ECONFLICT", "ESETTLED", "ELAUNCHED", "EPENDING", "EPRESERVE", "EOVERLAP", "EBUSY"];
    const ops = ["ok:req", "ok:hc", "ok:commit", "ok:abort", "ok:pop", "ok:disc", "ok:launch", "ok:addr", "ok:rmr"];
    const faults = ["fault:convert", "fault:in-flight", "fault:spurious", "fault:violation"];
    for (const k of [...outcomes, ...ops, ...faults]) expect(seen.get(k) ?? 0, k).toBeGreaterThan(0);
  });

  it.each(cases)("agrees on every query after every step over $name", async ({ make, runs }) => {
    const maps: RangeMap[] = [];
    for (let i = 0; i < 8; i++) maps.push(await make());
    let next = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 400, size: "max" }), fc.boolean(), (ops, listen) => {
        // Trackers reuse maps (the constructor clears them), so a run costs no Wasm instantiation.
        runOps(maps[next++ % maps.length]!, ops, listen);
      }),
      { numRuns: runs },
    );
  });
});
