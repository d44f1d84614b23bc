// The tracker's running totals (src/model/tracker.ts): totalStalePages() and
// doubleAllocatedPages() are kept by the one-run fast paths (request, commit/abort of one owned
// range, markPopulated, markDiscarded) and recounted after any multi-run edit. A property test
// drives random operation sequences, accepted and refused, and compares both totals with counts
// made here from the tracker's raw runs and from staleRuns(), reading the totals after every
// step, at random steps, or only at the end, so both the incremental and the recount paths run.
import fc from "fast-check";
import { OUT_VALUE_AFTER, OUT_VALUE_BEFORE } from "../../src/core/_abi.js";
import { describe, expect, it } from "vitest";
import { MemattrError } from "../../src/core/errors.js";
import {
  createTracker,
  PENDING,
  PRIVATE,
  PRIVATE_POPULATED,
  SHARED_POPULATED,
  type PendingConversion,
  type Side,
  type Tracker,
} from "../../src/model/index.js";

// Two regions with a hole; gfns up to LIMIT, so some ranges fall outside (EOUTSIDE).
const REGIONS = [
  { gfn: 0, npages: 256 },
  { gfn: 300, npages: 100 },
];
const LIMIT = 420;
const SIDES: readonly Side[] = ["shared", "private"];

// ---- independent counts -------------------------------------------------------------------

/** Stale on `side`, from the rules: populated on it, attribute the other one, not pending. */
function staleOn(value: number, side: Side): boolean {
  const populated = (value & (side === "shared" ? SHARED_POPULATED : PRIVATE_POPULATED)) !== 0;
  const isPrivate = (value & PRIVATE) !== 0;
  return populated && (value & PENDING) === 0 && isPrivate !== (side === "private");
}

interface Counts {
  stale: number;
  double: number;
}

/** Both totals counted page by page from the raw runs of all guest memory. */
function countFromRawRuns(t: Tracker): Counts {
  const c = { stale: 0, double: 0 };
  t.forEachRawRun((_gfn, npages, value) => {
    if (staleOn(value, "shared") || staleOn(value, "private")) c.stale += npages;
    if ((value & SHARED_POPULATED) !== 0 && (value & PRIVATE_POPULATED) !== 0) c.double += npages;
  });
  return c;
}

function pagesOf(ranges: readonly { npages: number }[]): number {
  return ranges.reduce((n, r) => n + r.npages, 0);
}

/** The running totals agree with every other way of counting the same pages. */
function expectTotalsConsistent(t: Tracker): void {
  const raw = countFromRawRuns(t);
  const staleBySide = pagesOf(t.staleRuns("shared")) + pagesOf(t.staleRuns("private"));
  expect(staleBySide).toBe(raw.stale);
  expect(t.stalePages("shared") + t.stalePages("private")).toBe(raw.stale);
  expect(t.totals().doubleAllocated).toBe(raw.double);
  expect(t.totalStalePages()).toBe(raw.stale);
  expect(t.doubleAllocatedPages()).toBe(raw.double);
  expect(t.doubleAllocatedBytes()).toBe(raw.double * 4096);
}

// ---- operations ---------------------------------------------------------------------------

type Op =
  | { kind: "request"; gfn: number; npages: number; to: Side; preserve: boolean }
  | { kind: "fault"; gfn: number; npages: number; to: Side }
  | { kind: "settle"; pick: number; commit: boolean }
  | { kind: "settleAgain"; pick: number }
  | { kind: "populate"; side: Side; gfn: number; npages: number }
  | { kind: "discard"; side: Side; gfn: number; npages: number }
  | { kind: "launch" }
  | { kind: "read" };

// Mostly small ranges (the one-run fast paths), sometimes wide ones over many runs.
const rangeArb = fc
  .tuple(
    fc.integer({ min: 0, max: LIMIT }),
    fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: 1, max: 4 }) },
      { weight: 2, arbitrary: fc.integer({ min: 5, max: 40 }) },
      { weight: 1, arbitrary: fc.integer({ min: 41, max: 300 }) },
    ),
  )
  .map(([gfn, npages]) => ({ gfn, npages }));
const sideArb = fc.constantFrom<Side>("shared", "private");

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(rangeArb, sideArb, fc.integer({ min: 0, max: 3 })).map(([r, to, p]) => ({ kind: "request" as const, ...r, to, preserve: p === 0 })),
  },
  { weight: 1, arbitrary: fc.tuple(rangeArb, sideArb).map(([r, to]) => ({ kind: "fault" as const, ...r, to })) },
  { weight: 6, arbitrary: fc.tuple(fc.nat(), fc.integer({ min: 0, max: 4 })).map(([pick, c]) => ({ kind: "settle" as const, pick, commit: c !== 0 })) },
  { weight: 1, arbitrary: fc.nat().map((pick) => ({ kind: "settleAgain" as const, pick })) },
  { weight: 6, arbitrary: fc.tuple(sideArb, rangeArb).map(([side, r]) => ({ kind: "populate" as const, side, ...r })) },
  { weight: 3, arbitrary: fc.tuple(sideArb, rangeArb).map(([side, r]) => ({ kind: "discard" as const, side, ...r })) },
  { weight: 1, arbitrary: fc.constant({ kind: "launch" as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: "read" as const }) },
);

/** When the test reads the totals: after every step, at random steps (and `read` ops), or only at the end. */
type ReadMode = "every" | "random" | "end";

interface Stats {
  steps: number;
  refused: number;
  fastEdits: number; // one-run edits made while the totals were clean (the incremental path)
  multiRunEdits: number; // edits over several values (the totals go dirty)
  instrumented: boolean; // count edits by path
}

/**
 * Counts the tracker's edits by path. White-box, for the coverage check only: every edit the
 * core makes for the tracker reports its value before and after when it was one value
 * (OUT_VALUE_BEFORE ≥ 0: the incremental path) or -1 (the totals go dirty); the tracker hands
 * that report to its running totals' `edited`, which this wraps.
 */
function instrument(t: Tracker, stats: Stats): void {
  const running = Reflect.get(t, "running") as { edited(o: Float64Array, n: number): void };
  const edited = running.edited.bind(running);
  running.edited = (o: Float64Array, n: number) => {
    const clean = Reflect.get(running, "dirty") === false;
    if (o[OUT_VALUE_BEFORE]! < 0) stats.multiRunEdits++;
    else if (clean && o[OUT_VALUE_AFTER] !== o[OUT_VALUE_BEFORE]) stats.fastEdits++;
    edited(o, n);
  };
}

function apply(t: Tracker, op: Op, handles: PendingConversion[], settled: PendingConversion[]): void {
  switch (op.kind) {
    case "request":
      handles.push(t.requestConversion({ gfn: op.gfn, npages: op.npages, to: op.to, preserve: op.preserve || undefined }));
      return;
    case "fault": {
      const d = t.onMemoryFault({ gpa: op.gfn * 4096, size: op.npages * 4096, private: op.to === "private" });
      if (d.kind === "convert") handles.push(d.conversion);
      return;
    }
    case "settle": {
      if (handles.length === 0) return;
      const [h] = handles.splice(op.pick % handles.length, 1);
      settled.push(h!);
      if (op.commit) h!.commit();
      else h!.abort();
      return;
    }
    case "settleAgain":
      if (settled.length > 0) settled[op.pick % settled.length]!.commit(); // ESETTLED
      return;
    case "populate":
      t.markPopulated(op.side, op.gfn, op.npages);
      return;
    case "discard":
      t.markDiscarded(op.side, op.gfn, op.npages);
      return;
    case "launch":
      t.launch();
      return;
    case "read":
      return;
  }
}

async function run(ops: Op[], mode: ReadMode, readBits: boolean[], stats: Stats): Promise<void> {
  using t = await createTracker({ regions: REGIONS });
  if (stats.instrumented) instrument(t, stats);
  const handles: PendingConversion[] = [];
  const settled: PendingConversion[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const before = t.snapshot();
    try {
      apply(t, op, handles, settled);
    } catch (err) {
      expect(err).toBeInstanceOf(MemattrError);
      expect(t.snapshot()).toBe(before); // a refused call changes nothing
      stats.refused++;
    }
    stats.steps++;
    const read = mode === "every" || (mode === "random" && (op.kind === "read" || readBits[i % readBits.length]!));
    if (read) expectTotalsConsistent(t);
  }
  expectTotalsConsistent(t);
  // settle everything left, then the totals still agree
  for (const h of handles) h.commit();
  expectTotalsConsistent(t);
}

/** Runs the property 200 times, counting into a fresh Stats. */
async function property(instrumented: boolean): Promise<Stats> {
  const stats: Stats = { steps: 0, refused: 0, fastEdits: 0, multiRunEdits: 0, instrumented };
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArb, { minLength: 1, maxLength: 60, size: "max" }),
      fc.constantFrom<ReadMode>("every", "random", "end"),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
      async (ops, mode, readBits) => {
        await run(ops, mode, readBits, stats);
      },
    ),
    { numRuns: 200 },
  );
  return stats;
}

describe("Tracker running totals", () => {
  it("totalStalePages() and doubleAllocatedPages() match recounts after random operation sequences", async () => {
    const stats = await property(true);
    // both paths ran many times, and so did refusals
    expect(stats.fastEdits).toBeGreaterThan(400);
    expect(stats.multiRunEdits).toBeGreaterThan(100);
    expect(stats.refused).toBeGreaterThan(300);
  });

  it("the same with the one-run edits going straight to the Wasm exports (not instrumented)", async () => {
    const stats = await property(false);
    expect(stats.steps).toBeGreaterThan(2000);
  });

  it("a flip-heavy sequence on one page keeps the totals exact through the incremental path alone", async () => {
    using t = await createTracker({ regions: REGIONS });
    t.markPopulated("shared", 10, 1);
    expectTotalsConsistent(t); // clean from here on: every step below is a one-run edit
    for (let i = 0; i < 50; i++) {
      t.requestConversion({ gfn: 10, npages: 1, to: "private" }).commit();
      t.markPopulated("private", 10, 1); // the guest accepts the page
      expectTotalsConsistent(t); // populated on both sides, the shared copy stale
      t.requestConversion({ gfn: 10, npages: 1, to: "shared" }).commit();
      expectTotalsConsistent(t);
      if (i % 3 === 0) t.markDiscarded(SIDES[i % 2]!, 10, 1);
      expectTotalsConsistent(t);
    }
  });

  it("a multi-run edit followed by fast-path edits before any read still recounts", async () => {
    using t = await createTracker({ regions: REGIONS });
    expect(t.totalStalePages()).toBe(0);
    t.markPopulated("shared", 0, 64);
    t.markPopulated("private", 20, 10); // one run: incremental
    t.requestConversion({ gfn: 0, npages: 40, to: "private" }).commit(); // mixed range → multi-run
    t.markPopulated("private", 50, 2); // a fast path while the totals are dirty
    t.requestConversion({ gfn: 50, npages: 2, to: "shared" }).abort();
    expectTotalsConsistent(t);
    expect(t.totalStalePages()).toBe(42); // [0, 40) shared-stale, [50, 52) private-stale
    expect(t.doubleAllocatedPages()).toBe(12); // [20, 30) and [50, 52)
  });
});
