// The module's exports (assembly/index.ts) called directly, as a Rust/C embedder would:
// imports, errno codes, the batch buffer and the runs buffer.
import { beforeEach, describe, expect, test } from "vitest";
import { instantiateCore, loadCoreModule, type CoreExports } from "../../src/core/load.js";

const MAX = 2 ** 40;
let x: CoreExports;

beforeEach(async () => {
  x = await instantiateCore();
});

function f64(): Float64Array {
  return new Float64Array(x.memory.buffer);
}

describe("module", () => {
  test("imports nothing but env.abort, so wasmtime embedders need no JS", async () => {
    const imports = WebAssembly.Module.imports(await loadCoreModule());
    for (const i of imports) expect(`${i.module}.${i.name}`).toBe("env.abort");
  });

  test("exports its own memory and the documented functions", async () => {
    const names = WebAssembly.Module.exports(await loadCoreModule()).map((e) => e.name);
    for (const name of ["memory", "get", "set", "update", "uniformValue", "isUniform", "runs", "runBatch", "getMany", "checkInvariants"]) {
      expect(names).toContain(name);
    }
  });
});

describe("errno codes", () => {
  test("set returns -EINVAL for start >= end, fractions and values over 255", () => {
    expect(x.set(5, 5, 1)).toBe(-22);
    expect(x.set(1.5, 5, 1)).toBe(-22);
    expect(x.set(1, 5, 256)).toBe(-22);
    expect(x.update(1, 5, 0, 300)).toBe(-22);
    expect(x.runCount()).toBe(1);
  });

  test("set returns -ERANGE beyond 2^40, for negatives and NaN", () => {
    expect(x.set(0, MAX + 1, 1)).toBe(-34);
    expect(x.set(-1, 5, 1)).toBe(-34);
    expect(x.set(Number.NaN, 5, 1)).toBe(-34);
    expect(x.checkInvariants()).toBe(0);
  });

  test("set returns -ENOMEM when memory may not grow, and changes nothing", () => {
    x.setMemoryLimitPages(0); // no growth at all: the first pages of heap are all there is
    let g = 1;
    let rc = 0;
    for (; g < 2 ** 30 && rc === 0; g += 4096) {
      const runs = x.runCount();
      rc = x.set(g, g + 1, 1);
      if (rc !== 0) {
        expect(x.get(g)).toBe(0);
        expect(x.runCount()).toBe(runs);
      }
    }
    expect(rc).toBe(-12);
    expect(x.checkInvariants()).toBe(0);
  });
});

describe("batch buffer", () => {
  test("runs mixed commands and writes one result each", () => {
    const inAt = x.batchCommands() / 8;
    f64().set([1, 10, 20, 3, 3, 15, 0, 0, 4, 10, 20, 3, 5, 0, 20, 0, 6, 0, 100, 3, 2, 10, 12, 0 + 256 * 4, 3, 11, 0, 0], inAt);
    expect(x.runBatch(7, 0)).toBe(0);
    const out = f64().slice(x.batchOut() / 8, x.batchOut() / 8 + 7);
    expect(Array.from(out)).toEqual([0, 3, 1, -1, 10, 0, 7]);
  });

  test("an invalid command stops the batch there, earlier commands applied", () => {
    const inAt = x.batchCommands() / 8;
    f64().set([1, 0, 10, 1, 1, 5, 5, 1, 1, 20, 30, 1], inAt);
    expect(x.runBatch(3, 0)).toBe(-22);
    expect(x.batchErrorIndex()).toBe(1);
    expect(x.get(0)).toBe(1);
    expect(x.get(20)).toBe(0);
    f64().set([9, 0, 1, 0], inAt);
    expect(x.runBatch(1, 0)).toBe(-38);
  });

  test("getMany reads gfns and writes a byte per page", () => {
    x.set(100, 200, 7);
    f64().set([99, 100, 199, 200, MAX - 1], x.batchIn() / 8);
    expect(x.getMany(5)).toBe(0);
    expect(Array.from(new Uint8Array(x.memory.buffer, x.batchOut(), 5))).toEqual([0, 7, 7, 0, 0]);
    f64().set([1, MAX], x.batchIn() / 8);
    expect(x.getMany(2)).toBe(-34);
    expect(x.batchErrorIndex()).toBe(1);
  });
});

describe("runs buffer", () => {
  test("writes at most maxRuns runs and resumes from the last end", () => {
    for (let g = 0; g < 20; g += 2) x.set(g, g + 1, 1);
    expect(x.runs(0, 30, 4)).toBe(4);
    const first = Array.from(f64().slice(x.batchIn() / 8, x.batchIn() / 8 + 12));
    expect(first).toEqual([0, 1, 1, 1, 2, 0, 2, 3, 1, 3, 4, 0]);
    expect(x.runs(4, 30, 1000)).toBe(16);
    const last = f64().slice(x.batchIn() / 8 + 15 * 3, x.batchIn() / 8 + 16 * 3);
    expect(Array.from(last)).toEqual([19, 30, 0]);
  });
});
