// Builds each contender's store on the same commands, timing the setup and measuring what it
// holds, and checks that every contender gives the same answers before anything is timed.
import { consume, type BenchCase } from "./_harness.js";
import type { Contender, Shape, Store } from "./contenders/index.js";
import { Cmds } from "./_inputs.js";

/** Set commands produced chunk by chunk (for maps too fragmented to list in one array). */
export interface CmdSource {
  chunks(): Iterable<Cmds>;
}

export interface Built {
  contender: Contender;
  /** Undefined when the contender cannot hold the shape; `skip` says why. */
  store?: Store;
  skip?: string;
  memoryBytes?: number;
  setupMs?: number;
}

/** A full GC, twice, with a turn of the event loop after each: freed array buffers leave the count only when the sweeper has run. */
async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 2; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
}

function heapBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * Creates the contender's store and applies `cmds` (its own bulk path), unless its documented
 * estimate says it cannot hold `shape`. Memory = its own report (Wasm memory, roaring's size)
 * or the growth of the JS heap + array buffers across a full GC.
 */
export async function build(contender: Contender, shape: Shape, cmds: Cmds | CmdSource): Promise<Built> {
  const why = contender.cannotHold(shape);
  if (why !== undefined) return { contender, skip: `cannot hold: ${why}` };
  await settle();
  const before = heapBytes();
  const t0 = performance.now();
  const store = await contender.create(shape.pages);
  const CHUNK = 65536;
  const chunks = cmds instanceof Cmds ? [cmds] : cmds.chunks();
  for (const c of chunks) {
    for (let i = 0; i < c.n; i += CHUNK) {
      const n = Math.min(CHUNK, c.n - i);
      store.setMany(c.a.subarray(3 * i, 3 * (i + n)), n);
    }
  }
  const setupMs = performance.now() - t0;
  await settle();
  // a JS heap delta of a small store is noise of a few KiB either way; never below 0
  const memoryBytes = store.ownBytes ? store.ownBytes() : Math.max(0, heapBytes() - before);
  return { contender, store, memoryBytes, setupMs };
}

export async function buildAll(contenders: Contender[], shape: Shape, cmds: Cmds | CmdSource): Promise<Built[]> {
  const out: Built[] = [];
  for (const c of contenders) out.push(await build(c, shape, cmds));
  return out;
}

export class MismatchError extends Error {
  override name = "MismatchError";
}

/**
 * Compares every store with the first (memattr, the reference) on gets of `gfns`, isUniform
 * queries `queries` and the runs of `[runsFrom, runsTo)`, each masked by what the contender
 * keeps (roaring: bit 0). Runs are compared only when every value fits the mask.
 * @throws MismatchError naming the contender, the query and both answers
 */
export function verify(built: Built[], gfns: Float64Array, queries?: Cmds, runsFrom?: number, runsTo?: number, valuesFitOneBit = true): void {
  const ref = built[0]!.store!;
  for (const b of built.slice(1)) {
    const s = b.store;
    if (!s) continue;
    const mask = b.contender.valueMask;
    const name = b.contender.name;
    for (const g of gfns) {
      const want = ref.get(g) & mask;
      const got = s.get(g);
      if (got !== want) throw new MismatchError(`${name}: get(${g}) = ${got}, memattr says ${want}`);
    }
    if (queries) {
      for (let i = 0; i < queries.n; i++) {
        const [a, e, v] = [queries.a[3 * i]!, queries.a[3 * i + 1]!, queries.a[3 * i + 2]!];
        if (mask !== 255 && !valuesFitOneBit) continue;
        const want = ref.isUniform(a, e, v);
        const got = s.isUniform(a, e, v);
        if (got !== want) throw new MismatchError(`${name}: isUniform(${a}, ${e}, ${v}) = ${got}, memattr says ${want}`);
      }
    }
    if (runsFrom !== undefined && runsTo !== undefined && (mask === 255 || valuesFitOneBit)) {
      const want: number[] = [];
      ref.forEachRun(runsFrom, runsTo, (a, e, v) => void want.push(a, e, v & mask));
      const got: number[] = [];
      s.forEachRun(runsFrom, runsTo, (a, e, v) => void got.push(a, e, v));
      if (got.length !== want.length || got.some((x, i) => x !== want[i])) {
        const at = got.findIndex((x, i) => x !== want[i]);
        throw new MismatchError(
          `${name}: runs of [${runsFrom}, ${runsTo}) differ (${got.length / 3} vs memattr ${want.length / 3} runs; first difference at triple ${Math.floor(at / 3)})`,
        );
      }
      const counted = s.countRuns(runsFrom, runsTo);
      if (counted !== want.length / 3) throw new MismatchError(`${name}: countRuns = ${counted}, memattr has ${want.length / 3} runs`);
    }
  }
}

/**
 * A case that runs `once()` (doing `opsPerCall` operations) as many times per sample as make
 * a sample last about `sampleMs`, so tinybench's per-sample overhead stays small for fast
 * contenders and slow ones still get several samples.
 */
export function repeatCase(name: string, once: () => number | void, opsPerCall: number, b: Built, sampleMs: number): BenchCase {
  let reps = 1;
  const t0 = performance.now();
  once();
  const first = performance.now() - t0;
  const t1 = performance.now();
  once();
  const ms = Math.min(first, performance.now() - t1);
  if (ms > 0) reps = Math.max(1, Math.min(1 << 16, Math.round(sampleMs / ms)));
  else reps = 1 << 10;
  return {
    name,
    opsPerSample: reps * opsPerCall,
    memoryBytes: b.memoryBytes,
    setupMs: b.setupMs,
    run: () => {
      let s = 0;
      for (let i = 0; i < reps; i++) s += once() ?? 0;
      consume(s);
    },
  };
}

/** The table row of a contender that could not be built. */
export function skipCase(b: Built): BenchCase {
  return { name: b.contender.name, opsPerSample: 1, run: () => 0, skip: b.skip ?? "not run" };
}
