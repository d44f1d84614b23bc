/**
 * `RangeMapBatch`: many set/update/get/isUniform calls for one Wasm call per 1024 commands.
 *
 * Commands are validated when added (the same checks as `RangeMap`), staged in a plain
 * Float64Array (stores into a view of Wasm memory measured 2–3× slower per add) and copied into
 * the core's command buffer by `run()`: one copy and one Wasm call per 1024 commands.
 * Command layout: see assembly/index.ts.
 * A map has one batch (`map.batch()` returns it): commands added anywhere run together.
 */
import { badGfn, badRange, badValue, isByte, isGfn, isRange } from "./_validate.js";
import { OP_COUNT, OP_GET, OP_IS_UNIFORM, OP_SET, OP_UNIFORM_VALUE, OP_UPDATE } from "./_abi.js";
import { codeToError, MemattrMemoryError } from "./errors.js";
import type { RangeMap } from "./range-map.js";

const F64_PER_COMMAND = 4;

/**
 * Staged commands for one map. Each add returns the index of its result in what `run()` returns.
 * @example
 * ```ts
 * import { RangeMap } from "memattr";
 * const map = await RangeMap.create();
 * const batch = map.batch();
 * batch.set(0, 512, 1);
 * const i = batch.get(7);
 * const j = batch.isUniform(0, 512, 1);
 * const results = batch.run();
 * console.log(results[i], results[j]); // 1 1
 * ```
 */
export class RangeMapBatch {
  private readonly capacity: number;
  private readonly commandsAt: number;
  private readonly staged: Float64Array;
  private count = 0;
  private flushedResults: Float64Array[] = [];
  private flushedCount = 0;

  /** @internal use `map.batch()` */
  constructor(private readonly map: RangeMap) {
    this.capacity = map.exports().batchCapacity();
    this.commandsAt = map.exports().batchCommands() / 8;
    this.staged = new Float64Array(this.capacity * F64_PER_COMMAND);
  }

  /** Commands added since the last `run()`. */
  get size(): number {
    return this.flushedCount + this.count;
  }

  private push(op: number, a: number, b: number, c: number): number {
    if (this.count === this.capacity) this.flush();
    const staged = this.staged;
    const at = this.count * F64_PER_COMMAND;
    staged[at] = op;
    staged[at + 1] = a;
    staged[at + 2] = b;
    staged[at + 3] = c;
    return this.flushedCount + this.count++;
  }

  /** Stages `map.set(start, end, value)`; its result is 0. */
  set(start: number, end: number, value: number): number {
    if (!isRange(start, end)) badRange(start, end);
    if (!isByte(value)) badValue("value", value);
    return this.push(OP_SET, start, end, value);
  }

  /** Stages `map.update(start, end, clearMask, setMask)`; its result is 0. */
  update(start: number, end: number, clearMask: number, setMask: number): number {
    if (!isRange(start, end)) badRange(start, end);
    if (!isByte(clearMask)) badValue("clearMask", clearMask);
    if (!isByte(setMask)) badValue("setMask", setMask);
    return this.push(OP_UPDATE, start, end, clearMask + 256 * setMask);
  }

  /** Stages `map.get(gfn)`; its result is the value. */
  get(gfn: number): number {
    if (!isGfn(gfn)) badGfn("gfn", gfn);
    return this.push(OP_GET, gfn, 0, 0);
  }

  /** Stages `map.isUniform(start, end, value)`; its result is 1 or 0. */
  isUniform(start: number, end: number, value: number): number {
    if (!isRange(start, end)) badRange(start, end);
    if (!isByte(value)) badValue("value", value);
    return this.push(OP_IS_UNIFORM, start, end, value);
  }

  /** Stages `map.uniformValue(start, end)`; its result is the value or -1. */
  uniformValue(start: number, end: number): number {
    if (!isRange(start, end)) badRange(start, end);
    return this.push(OP_UNIFORM_VALUE, start, end, 0);
  }

  /** Stages `map.countInRange(start, end, value)`; its result is a page count. */
  countInRange(start: number, end: number, value: number): number {
    if (!isRange(start, end)) badRange(start, end);
    if (!isByte(value)) badValue("value", value);
    return this.push(OP_COUNT, start, end, value);
  }

  private flush(): void {
    this.flushedResults.push(this.execute());
    this.flushedCount += this.count;
    this.count = 0;
  }

  private execute(): Float64Array {
    const x = this.map.exports();
    const n = this.count;
    this.map.f64().set(this.staged.subarray(0, n * F64_PER_COMMAND), this.commandsAt);
    const rc = x.runBatch(n, 1); // 1: every command was validated by its add
    if (rc !== 0) {
      const failed = this.flushedCount + x.batchErrorIndex();
      this.count = 0;
      this.flushedResults = [];
      this.flushedCount = 0;
      if (rc === -12) {
        throw new MemattrMemoryError(
          `batch command ${failed}: Wasm linear memory could not grow; commands before it stay applied, it and later ones were dropped`,
        );
      }
      throw codeToError(rc, `batch command ${failed}`);
    }
    const outBase = x.batchOut() / 8;
    const results = new Float64Array(n);
    results.set(this.map.f64().subarray(outBase, outBase + n)); // memcpy; slice() of a Wasm view copies element by element
    return results;
  }

  /**
   * Runs every staged command in order and returns one result per command (indices as returned
   * by the adds). Each command is atomic; on MemattrMemoryError the commands before the failing
   * one stay applied and the rest are dropped.
   */
  run(): Float64Array {
    const tail = this.execute();
    this.count = 0;
    if (this.flushedResults.length === 0) return tail;
    const all = new Float64Array(this.flushedCount + tail.length);
    let at = 0;
    for (const part of this.flushedResults) {
      all.set(part, at);
      at += part.length;
    }
    all.set(tail, at);
    this.flushedResults = [];
    this.flushedCount = 0;
    return all;
  }
}
