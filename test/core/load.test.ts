// The loader (src/core/load.ts): one compiled module, from the bundled file, bytes or a module.
import { readFile } from "node:fs/promises";
import { describe, expect, test } from "vitest";
import { instantiateCore, loadCoreModule } from "../../src/core/load.js";
import { RangeMap } from "../../src/core/range-map.js";

const WASM_URL = new URL("../../wasm/memattr.wasm", import.meta.url);

describe("loadCoreModule", () => {
  test("compiles the bundled .wasm once and caches the promise", async () => {
    const first = loadCoreModule();
    expect(loadCoreModule()).toBe(first);
    expect(await first).toBeInstanceOf(WebAssembly.Module);
  });

  test("accepts the bytes of the .wasm", async () => {
    const bytes = await readFile(WASM_URL);
    using map = await RangeMap.create({ wasm: bytes });
    map.set(0, 2, 1);
    expect(map.get(1)).toBe(1);
  });

  test("accepts a compiled WebAssembly.Module", async () => {
    const module = new WebAssembly.Module(await readFile(WASM_URL));
    expect(await loadCoreModule(module)).toBe(module);
    using map = await RangeMap.create({ wasm: module });
    expect(map.get(0)).toBe(0);
  });

  test("gives every instance its own memory", async () => {
    const a = await instantiateCore();
    const b = await instantiateCore();
    expect(a.memory).not.toBe(b.memory);
  });

  test("rejects bytes that are not WebAssembly", async () => {
    await expect(loadCoreModule(new Uint8Array([1, 2, 3]))).rejects.toThrow();
  });
});
