/**
 * `RangeMap`: the typed, validated face of the Wasm core. Every method checks its arguments in
 * TypeScript (cheap tests first, a slow path only to build the error), then makes one Wasm call.
 *
 * Conventions: `gfn` = 4 KiB guest page number in [0, 2^40); ranges are half-open `[start, end)`
 * in gfns; `value` = 0–255 per page.
 */
import { codeToError, MemattrDisposedError, MemattrError, MemattrMemoryError, MemattrRangeError, MemattrTypeError } from "./errors.js";
import { ModelCore } from "./model-core.js";
import { instantiateCore, type CoreExports, type WasmSource } from "./load.js";
import { MAX_GFN, type RangeMapLike, type Run } from "./types.js";
import { badGfn, badRange, badValue, isRange, listLength, type NumberList, stageNumbers } from "./_validate.js";
import { RangeMapBatch } from "./batch.js";

export { codeToError };

/** Options of {@link RangeMap.create}. */
export interface RangeMapOptions {
  /** The core's `.wasm` bytes or compiled module; omit to load the bundled `wasm/memattr.wasm`. */
  wasm?: WasmSource;
  /** Cap on the map's linear memory in bytes (rounded down to 64 KiB); growth beyond it throws `MemattrMemoryError`. */
  maxMemoryBytes?: number;
}

const WASM_PAGE_BYTES = 65536;

/** A result array of `n` entries for a bulk method, or MemattrMemoryError when the engine cannot make one. */
function results<T>(make: (n: number) => T, n: number, what: string): T {
  try {
    return make(n);
  } catch {
    throw new MemattrMemoryError(`${what}: cannot allocate ${n} results`);
  }
}

/** Checks a bulk method's `out`: the typed array it promises to fill, long enough. */
function checkOut(out: unknown, type: typeof Uint8Array | typeof Int16Array, n: number): void {
  if (!(out instanceof type)) throw new MemattrTypeError(`out must be a ${type.name}`);
  if (out.length < n) badValue("out.length", out.length);
}

function disposedExports(real: CoreExports): CoreExports {
  const dead: Record<string, unknown> = {};
  for (const name of Object.keys(real)) {
    dead[name] = () => {
      throw new MemattrDisposedError("RangeMap");
    };
  }
  Object.defineProperty(dead, "memory", {
    get() {
      throw new MemattrDisposedError("RangeMap");
    },
  });
  return dead as unknown as CoreExports;
}

/**
 * A map from every page number in [0, 2^40) to a value 0–255, stored as maximal runs inside its
 * own WebAssembly instance. Starts with every page 0.
 *
 * @remarks Not thread-safe; one map per VM. Several maps never share state (one instance each).
 * @example
 * ```ts
 * import { RangeMap } from "memattr";
 * using map = await RangeMap.create();
 * map.set(0x100, 0x110, 1);
 * console.log(map.get(0x105), map.runCount()); // 1 3
 * ```
 */
export class RangeMap implements RangeMapLike {
  // The live exports: the real ones, or stubs that throw EDISPOSED after dispose().
  private x: CoreExports;
  private readonly real: CoreExports;
  private f64View: Float64Array;
  private u8View: Uint8Array;
  private u32View: Uint32Array;
  /** Index of COUNTS[0]'s low word in u32View. */
  private readonly pagesAt: number;
  /** forEachRun copies runs here when not called from inside another forEachRun callback. */
  private readonly runsScratch: Float64Array;
  private runsDepth = 0;

  private constructor(exports: CoreExports) {
    this.x = exports;
    this.real = exports;
    this.f64View = new Float64Array(exports.memory.buffer);
    this.u8View = new Uint8Array(exports.memory.buffer);
    this.u32View = new Uint32Array(exports.memory.buffer);
    this.pagesAt = exports.pagesTable() / 4;
    this.runsScratch = new Float64Array(3 * exports.runsCapacity());
  }

  /**
   * Creates an empty map (every page 0) in a new Wasm instance.
   * @param opts where to get the `.wasm` from, and an optional memory cap
   * @returns the map
   * @throws MemattrUnsupportedError when WebAssembly is missing or the `.wasm` cannot be loaded
   * @example
   * ```ts
   * import { RangeMap } from "memattr";
   * const map = await RangeMap.create();
   * map.dispose();
   * ```
   */
  static async create(opts: RangeMapOptions = {}): Promise<RangeMap> {
    if (typeof opts !== "object" || opts === null) throw new MemattrTypeError("RangeMap.create options must be an object");
    const map = new RangeMap(await instantiateCore(opts.wasm));
    if (opts.maxMemoryBytes !== undefined) map.setMemoryLimit(opts.maxMemoryBytes);
    return map;
  }

  private modelCoreOnce: ModelCore | undefined;

  /**
   * @internal The raw exports (stubs that throw EDISPOSED once disposed), for what sits next to
   * the map in this layer — the batch builder — and the benchmarks' "no validation" case.
   * The model uses {@link RangeMap.modelCore}.
   */
  exports(): CoreExports {
    return this.x;
  }

  /**
   * @internal The conversion model's way into the core (src/model/tracker.ts): the exports of
   * assembly/conv.ts and their result slots. Not part of the public API.
   */
  modelCore(): ModelCore {
    if (this.x !== this.real) throw new MemattrDisposedError("RangeMap");
    return (this.modelCoreOnce ??= new ModelCore(this.real));
  }

  /** @internal Float64 view of linear memory, rebuilt when memory.grow detached the old one. */
  f64(): Float64Array {
    if (this.f64View[0] === undefined) this.refreshViews(); // detached by memory.grow (see model-core.ts)
    return this.f64View;
  }

  /** @internal */
  u8(): Uint8Array {
    if (this.u8View[0] === undefined) this.refreshViews();
    return this.u8View;
  }

  private refreshViews(): void {
    const buffer = this.x.memory.buffer;
    this.f64View = new Float64Array(buffer);
    this.u8View = new Uint8Array(buffer);
    this.u32View = new Uint32Array(buffer);
  }

  /** Value of page `gfn`. O(tree height). */
  get(gfn: number): number {
    if (!(typeof gfn === "number" && gfn >= 0 && gfn < MAX_GFN && Number.isInteger(gfn))) badGfn("gfn", gfn);
    return this.x.get(gfn);
  }

  /**
   * Sets every page of `[start, end)` to `value`.
   * @throws MemattrTypeError / MemattrRangeError for bad arguments, MemattrMemoryError when memory
   * cannot grow; the map is unchanged in every case
   */
  set(start: number, end: number, value: number): void {
    if (!isRange(start, end)) badRange(start, end);
    if (typeof value !== "number" || (value & 255) !== value) badValue("value", value);
    const rc = this.x.set(start, end, value);
    if (rc !== 0) throw codeToError(rc, "set");
  }

  /** Masked update of `[start, end)`: `v = (v & ~clearMask) | setMask` per page. Throws as `set`. */
  update(start: number, end: number, clearMask: number, setMask: number): void {
    if (!isRange(start, end)) badRange(start, end);
    if (typeof clearMask !== "number" || (clearMask & 255) !== clearMask) badValue("clearMask", clearMask);
    if (typeof setMask !== "number" || (setMask & 255) !== setMask) badValue("setMask", setMask);
    const rc = this.x.update(start, end, clearMask, setMask);
    if (rc !== 0) throw codeToError(rc, "update");
  }

  /**
   * The value all of `[start, end)` holds and, when it passes `(u & testMask) === testValue`,
   * the masked update `(u & ~clearMask) | setMask` of the whole range — one Wasm call and one
   * descent where `uniformValue` + `set` take two of each (a conversion request, a populate).
   * @returns the value before (0–255) whether or not it passed the test, or -1 when the range
   *   is mixed (nothing changed).
   * @throws as `update`; the map is unchanged in every case.
   */
  updateIfUniform(start: number, end: number, testMask: number, testValue: number, clearMask: number, setMask: number): number {
    if (!isRange(start, end)) badRange(start, end);
    if (typeof testMask !== "number" || (testMask & 255) !== testMask) badValue("testMask", testMask);
    if (typeof testValue !== "number" || (testValue & 255) !== testValue) badValue("testValue", testValue);
    if (typeof clearMask !== "number" || (clearMask & 255) !== clearMask) badValue("clearMask", clearMask);
    if (typeof setMask !== "number" || (setMask & 255) !== setMask) badValue("setMask", setMask);
    const rc = this.x.updateIfUniform(start, end, testMask, testValue, clearMask, setMask);
    if (rc < -1) throw codeToError(rc, "updateIfUniform");
    return rc;
  }

  /**
   * The masked update `v = (v & ~clearMask) | setMask` of the pages of `[start, end)` whose value
   * passes `(v & testMask) === testValue`; the others keep theirs. One pass over the range (a
   * conversion marks only the pages it owns pending this way).
   * @throws as `update`; the map is unchanged in every case.
   * @example
   * ```ts
   * import { RangeMap } from "memattr";
   * const map = await RangeMap.create();
   * map.set(0, 4, 1);
   * map.set(2, 3, 2);
   * map.updateWhere(0, 4, 0xff, 1, 0, 4); // only the pages holding 1 gain bit 2
   * map.runs(0, 4); // [{start:0,end:2,value:5}, {start:2,end:3,value:2}, {start:3,end:4,value:5}]
   * ```
   */
  updateWhere(start: number, end: number, testMask: number, testValue: number, clearMask: number, setMask: number): void {
    if (!isRange(start, end)) badRange(start, end);
    if (typeof testMask !== "number" || (testMask & 255) !== testMask) badValue("testMask", testMask);
    if (typeof testValue !== "number" || (testValue & 255) !== testValue) badValue("testValue", testValue);
    if (typeof clearMask !== "number" || (clearMask & 255) !== clearMask) badValue("clearMask", clearMask);
    if (typeof setMask !== "number" || (setMask & 255) !== setMask) badValue("setMask", setMask);
    const rc = this.x.updateWhere(start, end, testMask, testValue, clearMask, setMask);
    if (rc !== 0) throw codeToError(rc, "updateWhere");
  }

  /** True when every page of `[start, end)` holds `value`. Stops at the first other page. */
  isUniform(start: number, end: number, value: number): boolean {
    if (!isRange(start, end)) badRange(start, end);
    if (typeof value !== "number" || (value & 255) !== value) badValue("value", value);
    return this.x.isUniform(start, end, value) === 1;
  }

  /** The value all of `[start, end)` holds, or -1 when it is mixed. */
  uniformValue(start: number, end: number): number {
    if (!isRange(start, end)) badRange(start, end);
    return this.x.uniformValue(start, end);
  }

  /** Maximal runs overlapping `[start, end)`, clipped to it, in ascending order. O(runs). */
  runs(start: number, end: number): Run[] {
    const out: Run[] = [];
    this.forEachRun(start, end, (s, e, value) => {
      out.push({ start: s, end: e, value });
    });
    return out;
  }

  /** Calls `fn` per clipped maximal run of `[start, end)`; return false to stop. */
  forEachRun(start: number, end: number, fn: (start: number, end: number, value: number) => void | boolean): void {
    if (!isRange(start, end)) badRange(start, end);
    if (typeof fn !== "function") throw new MemattrTypeError("forEachRun needs a callback function");
    const capacity = this.x.runsCapacity();
    // copy out before calling fn: fn may touch the map and reuse the buffer. The outermost call
    // copies into one scratch array (no allocation per call); a nested one gets its own.
    const nested = this.runsDepth > 0;
    this.runsDepth++;
    try {
      let from = start;
      while (from < end) {
        const n = this.x.runs(from, end, capacity);
        if (n < 0) throw codeToError(n, "runs");
        const base = this.x.batchIn() / 8;
        const f64 = this.f64();
        let triples: Float64Array;
        if (n === 1) {
          // the common case (a uniform range): read into locals, no copy
          const s = f64[base]!;
          const e = f64[base + 1]!;
          const v = f64[base + 2]!;
          fn(s, e, v);
          return;
        }
        if (nested) triples = new Float64Array(3 * n);
        else triples = this.runsScratch;
        triples.set(f64.subarray(base, base + 3 * n)); // memcpy; slice() of a Wasm view is slow
        for (let i = 0; i < n; i++) {
          if (fn(triples[3 * i]!, triples[3 * i + 1]!, triples[3 * i + 2]!) === false) return;
        }
        if (n < capacity) return;
        from = triples[3 * n - 2]!;
      }
    } finally {
      this.runsDepth--;
    }
  }

  /** Pages of the whole map holding `value`. O(1). */
  pages(value: number): number {
    if (typeof value !== "number" || (value & 255) !== value) badValue("value", value);
    return this.x.pages(value);
  }

  /**
   * Sum of `pages(v)` over the values in `values`, read straight from the core's table (no call
   * per value). O(values.length).
   */
  pagesOfValues(values: Int32Array): number {
    if (this.x !== this.real) throw new MemattrDisposedError("RangeMap");
    if (!(values instanceof Int32Array)) throw new MemattrTypeError("values must be an Int32Array");
    let u32 = this.u32View;
    if (u32[0] === undefined) {
      this.refreshViews();
      u32 = this.u32View;
    }
    const at = this.pagesAt;
    let n = 0;
    for (let i = 0; i < values.length; i++) {
      const k = at + 2 * (values[i]! & 255);
      n += u32[k]! + u32[k + 1]! * 4294967296;
    }
    return n;
  }

  /** Pages of `[start, end)` holding `value`. O(pieces in range). */
  countInRange(start: number, end: number, value: number): number {
    if (!isRange(start, end)) badRange(start, end);
    if (typeof value !== "number" || (value & 255) !== value) badValue("value", value);
    return this.x.countInRange(start, end, value);
  }

  /** Maximal runs in the whole map (the empty map is one run). O(1). */
  runCount(): number {
    return this.x.runCount();
  }

  /** Resets every page to 0; all blocks return to the allocator. */
  clear(): void {
    this.x.clear();
  }

  /** Bytes of live tree data (nodes and leaves) in linear memory. */
  memoryBytes(): number {
    return this.x.memoryBytes();
  }

  /** Bytes of the instance's whole linear memory (static buffers, heap, free blocks, slack). */
  linearMemoryBytes(): number {
    return this.x.memory.buffer.byteLength;
  }

  /** Bytes of heap ever handed out, live or free (free blocks are reused before memory grows). */
  heapBytes(): number {
    return this.x.heapBytes();
  }

  /** Height of the radix tree (0 … 4); grows only with the highest page touched. */
  treeHeight(): number {
    return this.x.treeHeight();
  }

  /** Caps linear memory at `bytes` (rounded down to 64 KiB); later growth beyond it throws MemattrMemoryError. */
  setMemoryLimit(bytes: number): void {
    if (!(typeof bytes === "number" && bytes >= 0 && Number.isInteger(bytes))) badValue("bytes", bytes);
    this.x.setMemoryLimitPages(Math.min(65536, Math.floor(bytes / WASM_PAGE_BYTES)));
  }

  /**
   * Walks the whole map and checks every invariant (runs sorted and merged, containers
   * consistent, totals right, no bytes lost). Slow; for tests.
   * @throws MemattrError with code `EINVARIANT` naming the broken rule
   */
  checkInvariants(): void {
    if (this.x.checkInvariants() !== 0) {
      throw new MemattrError(
        "EINVARIANT",
        `range map invariant ${this.x.invariantRule()} broken (detail ${this.x.invariantDetail()}); see assembly/invariants.ts`,
      );
    }
  }

  /**
   * Values of many pages in one Wasm call per 4096 gfns.
   * @param gfns page numbers: an array (each entry must be a number) or a typed array of numbers;
   *   the core checks every value (a bad one throws, naming its index)
   * @param out where to write the values (default: a new array)
   * @throws MemattrTypeError for a list that is not an array or a typed array of numbers, an
   *   entry that is not a number or not an integer, or an `out` that is not a Uint8Array;
   *   MemattrRangeError for a page number outside [0, 2^40) or an `out` too short
   */
  getMany(gfns: NumberList, out?: Uint8Array): Uint8Array {
    const total = listLength("gfns", gfns);
    if (out === undefined) out = results((n) => new Uint8Array(n), total, "getMany");
    else checkOut(out, Uint8Array, total);
    if (gfns instanceof Uint32Array) return this.getManyU32(gfns, out);
    const capacity = this.x.getManyCapacity();
    const inBase = this.x.batchIn() / 8;
    const outBase = this.x.batchOut();
    for (let done = 0; done < total; done += capacity) {
      const n = Math.min(capacity, total - done);
      stageNumbers("gfns", gfns, done, n, this.f64(), inBase);
      const rc = this.x.getMany(n);
      if (rc !== 0) {
        const at = done + this.x.batchErrorIndex();
        badGfn(`gfns[${at}]`, gfns[at]);
      }
      out.set(this.u8().subarray(outBase, outBase + n), done);
    }
    return out;
  }

  /** getMany for a Uint32Array (every gfn below 2^32 by its type, so nothing to check): 4-byte loads, no f64 conversion. */
  private getManyU32(gfns: Uint32Array, out: Uint8Array): Uint8Array {
    const capacity = this.x.getManyCapacity();
    const inAt = this.x.batchIn() / 4;
    const outBase = this.x.batchOut();
    for (let done = 0; done < gfns.length; done += capacity) {
      const n = Math.min(capacity, gfns.length - done);
      let u32 = this.u32View;
      if (u32[0] === undefined) {
        this.refreshViews();
        u32 = this.u32View;
      }
      u32.set(n === gfns.length ? gfns : gfns.subarray(done, done + n), inAt);
      this.x.getManyU32(n);
      out.set(this.u8View.subarray(outBase, outBase + n), done);
    }
    return out;
  }

  /**
   * `isUniform` of many ranges in one Wasm call per 1365 queries, with no staging per query: the
   * queries are copied into the core as they are (one memcpy) and checked there.
   * @param queries f64 triples `(start, end, value)`, one per query (the layout of a batch's
   * isUniform arguments); an array of numbers is taken too (each entry checked)
   * @param out one byte per query, 1 when every page of `[start, end)` holds `value`, else 0
   * (default: a new array)
   * @throws MemattrTypeError / MemattrRangeError naming the first bad query (answers before it are
   *   written), or for a list that is not an array or a typed array of numbers, or a bad `out`
   * @example
   * ```ts
   * import { RangeMap } from "memattr";
   * const map = await RangeMap.create();
   * map.set(0, 512, 1);
   * console.log(map.isUniformMany(Float64Array.of(0, 512, 1, 0, 1024, 1))); // Uint8Array [1, 0]
   * ```
   */
  isUniformMany(queries: NumberList, out?: Uint8Array): Uint8Array {
    const length = listLength("queries", queries);
    const total = Math.floor(length / 3);
    if (length !== 3 * total) throw new MemattrRangeError(`queries.length must be a multiple of 3, got ${length}`);
    if (out === undefined) out = results((n) => new Uint8Array(n), total, "isUniformMany");
    else checkOut(out, Uint8Array, total);
    const capacity = this.x.isUniformManyCapacity();
    const inBase = this.x.batchIn() / 8;
    const outBase = this.x.batchOut();
    for (let done = 0; done < total; done += capacity) {
      const n = Math.min(capacity, total - done);
      stageNumbers("queries", queries, 3 * done, 3 * n, this.f64(), inBase);
      if (this.x.isUniformMany(n) !== 0) {
        const bad = this.x.batchErrorIndex();
        out.set(this.u8View.subarray(outBase, outBase + bad), done); // the answers before the bad query
        const at = done + bad;
        const [s, e, v] = [queries[3 * at]!, queries[3 * at + 1]!, queries[3 * at + 2]!];
        if (!isRange(s, e)) badRange(s, e);
        badValue(`queries[${at}].value`, v);
      }
      out.set(this.u8View.subarray(outBase, outBase + n), done);
    }
    return out;
  }

  /**
   * `uniformValue` of many ranges in one Wasm call per 2048 ranges.
   * @param ranges f64 pairs `(start, end)`; an array of numbers is taken too (each entry checked)
   * @param out per range the value all its pages hold, or -1 when mixed (default: a new array)
   * @throws MemattrTypeError / MemattrRangeError naming the first bad range, or for a list that is
   *   not an array or a typed array of numbers, or a bad `out`
   */
  uniformValueMany(ranges: NumberList, out?: Int16Array): Int16Array {
    const length = listLength("ranges", ranges);
    const total = Math.floor(length / 2);
    if (length !== 2 * total) throw new MemattrRangeError(`ranges.length must be even, got ${length}`);
    if (out === undefined) out = results((n) => new Int16Array(n), total, "uniformValueMany");
    else checkOut(out, Int16Array, total);
    const capacity = this.x.getManyCapacity() / 2;
    const inBase = this.x.batchIn() / 8;
    const outBase = this.x.batchOut() / 2;
    for (let done = 0; done < total; done += capacity) {
      const n = Math.min(capacity, total - done);
      stageNumbers("ranges", ranges, 2 * done, 2 * n, this.f64(), inBase);
      if (this.x.uniformValueMany(n) !== 0) {
        const at = done + this.x.batchErrorIndex();
        badRange(ranges[2 * at], ranges[2 * at + 1]);
      }
      out.set(new Int16Array(this.x.memory.buffer, 2 * outBase, n), done);
    }
    return out;
  }

  private theBatch: RangeMapBatch | undefined;

  /** The map's command buffer: many set/update/get/isUniform calls per Wasm call. Always the same object. */
  batch(): RangeMapBatch {
    if (this.x !== this.real) throw new MemattrDisposedError("RangeMap");
    return (this.theBatch ??= new RangeMapBatch(this));
  }

  /** Releases the instance; any later call throws MemattrDisposedError. Idempotent. */
  dispose(): void {
    if (this.x === this.real) {
      this.x = disposedExports(this.real);
      this.modelCoreOnce?.dispose(this.x);
    }
    this.f64View = new Float64Array(0);
    this.u8View = new Uint8Array(0);
    this.u32View = new Uint32Array(0);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
