// The conversion model twice: the same random sequence runs through the TypeScript Tracker (the
// core's conv exports from JavaScript) and through the C API (libmemattr.a over wasm2c, driven by
// native/test/drive_conv.c), and after EVERY step the two must agree on accepted vs refused and
// the error, the ids and owned pages of new conversions, the fault kinds, the populate/discard
// counts, and every page of [0, 2^40).
//
// One driver process serves the whole file: each sequence starts with `reset`, is sent in one
// write, and its answers are read back line by line (one per command, plus the runs after each
// step). Error codes: the Tracker's typed errors map to the C codes below (ERROR_MAP).
//
// Without wasm2c, a C compiler or make the test skips and says why; under CI (or
// MEMATTR_REQUIRE_NATIVE=1) that is a failure instead (./_native.ts).
import fc from "fast-check";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CONV_PRESERVE, CONV_TO_PRIVATE, E_ALREADY, E_BUSY, E_INPROGRESS, E_NOENT, E_NOSPC, E_NXIO, E_OPNOTSUPP, E_PERM } from "../../src/core/_abi.js";
import { type Attribute, createTracker, type PendingConversion, type Tracker } from "../../src/model/index.js";
import { buildNative, nativeSkipReason, required, root, withBuildLock } from "./_native.js";

const LONG = process.env.MEMATTR_LONG === "1";
const RUNS = LONG ? 10_000 : 1000;
const MAX_STEPS = 150;
// Guest: [0, 512) and [600, 640); the hole [512, 600) and everything from 640 are outside.
const REGIONS = [
  { gfn: 0, npages: 512 },
  { gfn: 600, npages: 40 },
];
const GUEST_END = 640;
const MAP_END = 2 ** 40;
const PAGE_BYTES = 4096;

// ---- the driver --------------------------------------------------------------------------------

/** drive_conv over stdin/stdout: send a batch of commands, read one answer line per command. */
class Driver {
  private readonly child: ChildProcessWithoutNullStreams;
  private pending = "";
  private readonly lines: string[] = [];
  private waiter: { count: number; resolve: (lines: string[]) => void; reject: (err: Error) => void } | null = null;
  private exited: string | null = null;
  private stderr = "";

  constructor(path: string) {
    this.child = spawn(path, [], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => {
      this.pending += chunk;
      const parts = this.pending.split("\n");
      this.pending = parts.pop()!;
      for (const line of parts) this.lines.push(line);
      this.wake();
    });
    this.child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.child.on("close", (status, signal) => {
      this.exited = `drive_conv exited (status ${status}, signal ${signal}): ${this.stderr.slice(-2000)}`;
      this.wake();
    });
    this.child.on("error", (err) => {
      this.exited = `drive_conv: ${err.message}`;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    if (w === null) return;
    if (this.lines.length >= w.count) {
      this.waiter = null;
      w.resolve(this.lines.splice(0, w.count));
    } else if (this.exited !== null) {
      this.waiter = null;
      w.reject(new Error(this.exited));
    }
  }

  /** Sends `commands` (one per line) and resolves with their answers, in order. */
  run(commands: string[]): Promise<string[]> {
    return new Promise((resolve, reject) => {
      if (this.exited !== null) return reject(new Error(this.exited));
      this.waiter = { count: commands.length, resolve, reject };
      this.child.stdin.write(`${commands.join("\n")}\n`);
      this.wake();
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}

// ---- the TypeScript side, in the driver's answer format ----------------------------------------

// Tracker error codes → the C API's codes, per operation (memattr.h).
const ERROR_MAP: Record<string, Record<string, number>> = {
  req: { EOUTSIDE: E_NXIO, ECONFLICT: E_BUSY, EPRESERVE: E_OPNOTSUPP, ELAUNCHED: E_PERM, ENOSPC: E_NOSPC },
  commit: { ESETTLED: E_NOENT },
  abort: { ESETTLED: E_NOENT },
  pop: { EOUTSIDE: E_NXIO },
  disc: { EOUTSIDE: E_NXIO },
  launch: { ELAUNCHED: E_ALREADY, EPENDING: E_INPROGRESS },
};

type Side = "shared" | "private";
type Op =
  | { op: "req"; gfn: number; npages: number; to: Attribute; preserve: boolean }
  | { op: "fault"; gfn: number; npages: number; priv: boolean }
  | { op: "commit" | "abort"; k: number }
  | { op: "pop" | "disc"; side: Side; gfn: number; npages: number }
  | { op: "launch" };

/** One step as run through the Tracker: the driver commands, the answers expected, and the outcome for the tally. */
interface Step {
  commands: string[];
  expected: string[];
  outcome: string;
}

/** A step of one command. */
function one(command: string, expected: string, outcome: string): Step {
  return { commands: [command], expected: [expected], outcome };
}

/** The step that opened conversion c, handle k: its answer, then its owned ranges (`owned k`). */
function opened(command: string, answer: string, k: number, c: PendingConversion, outcome: string): Step {
  const owned = c.runs.map((r) => `${r.gfn}+${r.npages}`).join(",") || "-";
  return { commands: [command, `owned ${k}`], expected: [answer, owned], outcome };
}

const seen = new Map<string, number>();
const tally = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);
let totalSteps = 0;
let totalSequences = 0;
let propertyHeld = false;

/** The Tracker's error as the driver would print it (an unmapped code prints as itself and cannot match). */
function refusal(op: string, err: unknown): { expected: string; code: string } {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string") throw err; // not a typed error: a bug in the Tracker
  const c = ERROR_MAP[op]?.[code];
  return { expected: c === undefined ? `err ts:${code}` : `err ${c}`, code };
}

/** Every page of [0, 2^40) as the driver's `runs` answer: the guest regions from the Tracker, 0 elsewhere. */
function runsOf(t: Tracker, values: Uint8Array): string {
  values.fill(0);
  t.forEachRawRun((g, n, v) => values.fill(v, g, g + n));
  const out: string[] = [];
  let start = 0;
  for (let g = 1; g <= GUEST_END; g++) {
    if (g < GUEST_END && values[g] === values[start]) continue;
    if (g === GUEST_END && values[start] === 0) break; // the last run runs on to 2^40
    out.push(`${start}:${g}:${values[start]}`);
    start = g;
  }
  out.push(`${start}:${MAP_END}:0`);
  return out.join(",");
}

/** Runs one op through the Tracker; null when it does not apply (commit/abort with no handle yet). */
function stepOf(t: Tracker, handles: PendingConversion[], o: Op): Step | null {
  switch (o.op) {
    case "req": {
      const flags = (o.to === "private" ? CONV_TO_PRIVATE : 0) | (o.preserve ? CONV_PRESERVE : 0);
      const command = `req ${o.gfn} ${o.npages} ${flags}`; // never JOIN_ANY_PRESERVE: the Tracker's requests are strict
      try {
        const c = t.requestConversion({ gfn: o.gfn, npages: o.npages, to: o.to, preserve: o.preserve });
        handles.push(c);
        const answer = `ok ${c.id} ${c.npagesOwned} ${c.runs.length}`;
        return opened(command, answer, handles.length - 1, c, c.runs.length > 1 ? "req:ok:ranges" : "req:ok");
      } catch (err) {
        const r = refusal("req", err);
        const preserveConflict = r.code === "ECONFLICT" && (err as { from?: string; to?: string }).from === (err as { to?: string }).to;
        return one(command, r.expected, `req:${r.code}${preserveConflict ? ":preserve" : ""}`);
      }
    }
    case "fault": {
      const command = `fault ${o.gfn} ${o.npages} ${o.priv ? 1 : 0}`;
      const d = t.onMemoryFault({ gpa: o.gfn * PAGE_BYTES, size: o.npages * PAGE_BYTES, private: o.priv });
      if (d.kind === "convert") {
        const c = d.conversion;
        handles.push(c);
        return opened(command, `convert ${c.id} ${c.npagesOwned} ${c.runs.length}`, handles.length - 1, c, "fault:convert");
      }
      if (d.kind === "violation") {
        const code = d.reason === "outside-guest-memory" ? E_NXIO : E_BUSY;
        return one(command, `err ${code}`, `fault:${d.reason}`);
      }
      return one(command, d.kind, `fault:${d.kind}`);
    }
    case "commit":
    case "abort": {
      if (handles.length === 0) return null;
      const k = o.k % handles.length;
      const command = `${o.op} ${k}`;
      try {
        if (o.op === "commit") handles[k]!.commit();
        else handles[k]!.abort();
        return one(command, "ok", `${o.op}:ok`);
      } catch (err) {
        const r = refusal(o.op, err);
        return one(command, r.expected, `${o.op}:${r.code}`);
      }
    }
    case "pop": {
      const command = `pop ${o.side === "shared" ? 0 : 1} ${o.gfn} ${o.npages}`;
      try {
        const r = t.markPopulated(o.side, o.gfn, o.npages);
        return one(command, `ok ${r.npagesNew} ${r.npagesRefault}`, r.npagesRefault > 0 ? "pop:ok:refault" : "pop:ok");
      } catch (err) {
        const r = refusal("pop", err);
        return one(command, r.expected, `pop:${r.code}`);
      }
    }
    case "disc": {
      const command = `disc ${o.side === "shared" ? 0 : 1} ${o.gfn} ${o.npages}`;
      try {
        const r = t.markDiscarded(o.side, o.gfn, o.npages);
        return one(command, `ok ${r.npagesFreed}`, r.npagesFreed > 0 ? "disc:ok:freed" : "disc:ok");
      } catch (err) {
        const r = refusal("disc", err);
        return one(command, r.expected, `disc:${r.code}`);
      }
    }
    case "launch":
      try {
        t.launch();
        return one("launch", "ok", "launch:ok");
      } catch (err) {
        const r = refusal("launch", err);
        return one("launch", r.expected, `launch:${r.code}`);
      }
  }
}

/** Runs ops through a fresh Tracker and through the driver (after a reset); throws at the first difference. */
async function runBoth(driver: Driver, ops: Op[]): Promise<void> {
  const t = await createTracker({ regions: REGIONS });
  const handles: PendingConversion[] = [];
  const values = new Uint8Array(GUEST_END);
  const steps: Step[] = [];
  const runsAfter: string[] = [];
  try {
    for (const o of ops) {
      const s = stepOf(t, handles, o);
      if (s === null) continue;
      steps.push(s);
      runsAfter.push(runsOf(t, values));
    }
    totalSequences++;
    totalSteps += steps.length;
    const commands = [`reset ${REGIONS.map((r) => `${r.gfn} ${r.npages}`).join(" ")}`];
    for (const s of steps) commands.push(...s.commands, `runs 0 ${MAP_END}`);
    commands.push("open", "check");
    const answers = await driver.run(commands);
    const trail = (i: number) =>
      steps
        .slice(0, i + 1)
        .map((s, j) => `  ${j}: ${s.commands.join("; ")} -> ${s.expected.join("; ")}`)
        .join("\n");
    if (answers[0] !== "ok") throw new Error(`reset: ${answers[0]}`);
    let at = 1;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!;
      for (let j = 0; j < s.commands.length; j++, at++) {
        if (answers[at] === s.expected[j]) continue;
        throw new Error(`step ${i} (${s.commands[j]}): Tracker "${s.expected[j]}", C "${answers[at]}"\nthe steps (Tracker's answers):\n${trail(i)}`);
      }
      const runs = answers[at++];
      if (runs !== runsAfter[i]) {
        throw new Error(`pages after step ${i} (${s.commands[0]}) differ:\n  Tracker ${runsAfter[i]}\n  C       ${runs}\nthe steps:\n${trail(i)}`);
      }
      tally(s.outcome);
    }
    const [open, check] = answers.slice(at);
    if (open !== String(t.pendingConversions().length)) throw new Error(`open conversions: Tracker ${t.pendingConversions().length}, C ${open}`);
    if (check !== "ok") throw new Error(`check_invariants in C after the sequence: ${check}\n${trail(steps.length - 1)}`);
  } finally {
    t.dispose();
  }
}

// ---- generators --------------------------------------------------------------------------------

const gfnArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 48 }) }, // a hot window: joins and conflicts
  { weight: 2, arbitrary: fc.integer({ min: 590, max: 645 }) }, // around the second region and its edges
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 700 }) }, // anywhere, the hole and past the end included
);
const npagesArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 24 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 600 }) },
  { weight: 1, arbitrary: fc.constantFrom(1, 40, 512) },
);
const faultPagesArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: npagesArb });
const sideArb = fc.constantFrom<Side>("shared", "private");

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("req" as const),
      gfn: gfnArb,
      npages: npagesArb,
      to: fc.constantFrom<Attribute>("shared", "private"),
      preserve: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("fault" as const), gfn: gfnArb, npages: faultPagesArb, priv: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constantFrom("commit" as const, "abort" as const), k: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom("pop" as const, "disc" as const), side: sideArb, gfn: gfnArb, npages: npagesArb }) },
  { weight: 1, arbitrary: fc.constant({ op: "launch" as const }) },
);

// ---- the property ------------------------------------------------------------------------------

interface Prepared {
  driverPath?: string;
  skipReason?: string;
  buildError?: string;
}

async function prepare(): Promise<Prepared> {
  const skipReason = nativeSkipReason(false);
  if (skipReason !== undefined) return { skipReason };
  const buildDir = join(root, "build/native");
  const driverPath = join(buildDir, "test/drive_conv");
  const buildError = await withBuildLock(async () => buildNative([driverPath, `BUILD=${buildDir}`]));
  return buildError === undefined ? { driverPath } : { buildError };
}

const prepared = await prepare();

describe("the Tracker and the C API run the same random sequences", () => {
  if (prepared.skipReason !== undefined) {
    if (required) it("has the native toolchain it needs (required under CI)", () => expect.fail(prepared.skipReason));
    else it.skip(`skipped: ${prepared.skipReason}`, () => {});
    return;
  }
  if (prepared.buildError !== undefined) {
    it("builds drive_conv", () => expect.fail(prepared.buildError));
    return;
  }
  const driver = new Driver(prepared.driverPath!);
  afterAll(() => driver.close());

  it(`agrees on every answer and every page after every step (${RUNS} sequences of up to ${MAX_STEPS} steps)`, async () => {
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: MAX_STEPS, size: "max" }), (ops) => runBoth(driver, ops)),
      { numRuns: RUNS },
    );
    propertyHeld = true;
    console.log(`conv-differential: ${totalSequences} sequences, ${totalSteps} steps, ${Date.now() - started} ms`);
  });

  it("reached every outcome (so the property cannot go quiet)", ({ skip }) => {
    if (!propertyHeld) skip(); // the property failed: its own report says why
    const outcomes = [
      "req:ok",
      "req:ok:ranges",
      "req:EOUTSIDE",
      "req:ECONFLICT",
      "req:ECONFLICT:preserve",
      "req:EPRESERVE",
      "req:ELAUNCHED",
      "fault:spurious",
      "fault:in-flight",
      "fault:convert",
      "fault:outside-guest-memory",
      "fault:pending-opposite",
      "commit:ok",
      "commit:ESETTLED",
      "abort:ok",
      "abort:ESETTLED",
      "pop:ok",
      "pop:ok:refault",
      "pop:EOUTSIDE",
      "disc:ok",
      "disc:ok:freed",
      "disc:EOUTSIDE",
      "launch:ok",
      "launch:ELAUNCHED",
      "launch:EPENDING",
    ];
    const missing = outcomes.filter((k) => (seen.get(k) ?? 0) === 0);
    expect(missing, `outcomes seen: ${JSON.stringify(Object.fromEntries(seen))}`).toEqual([]);
    expect(totalSteps).toBeGreaterThanOrEqual(RUNS * 30);
  });
});
