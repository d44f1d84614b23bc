/**
 * Loading the core's `.wasm`, apart from the API that uses it (`range-map.ts`).
 *
 * One compiled `WebAssembly.Module` serves every map: it is compiled once and the promise is
 * cached. Three ways to get it:
 * - nothing: the loader finds `wasm/memattr.wasm` itself — in Node with `fs.readFile`, in a
 *   browser with `fetch(new URL("../../wasm/memattr.wasm", import.meta.url))`, which bundlers
 *   (Vite, esbuild with a file loader, webpack 5) understand as an asset;
 * - the `.wasm` bytes (`BufferSource`), for bundlers that inline assets;
 * - a `WebAssembly.Module` already compiled (Cloudflare-style workers, a module shared between threads).
 *
 * AssemblyScript's generated bindings are not used: they import `node:fs/promises` statically,
 * which breaks browser bundles. The Node path here imports it through a variable, hidden from bundlers.
 */
import { MemattrError, MemattrUnsupportedError } from "./errors.js";

/** What `loadCoreModule` and `RangeMap.create({ wasm })` accept. */
export type WasmSource = BufferSource | WebAssembly.Module;

/** The exports of `wasm/memattr.wasm` (see assembly/index.ts for the contract). */
export interface CoreExports {
  memory: WebAssembly.Memory;
  get(gfn: number): number;
  set(start: number, end: number, value: number): number;
  update(start: number, end: number, clearMask: number, setMask: number): number;
  uniformValue(start: number, end: number): number;
  updateIfUniform(start: number, end: number, testMask: number, testValue: number, clearMask: number, setMask: number): number;
  isUniform(start: number, end: number, value: number): number;
  countInRange(start: number, end: number, value: number): number;
  pages(value: number): number;
  pagesTable(): number;
  runCount(): number;
  runs(start: number, end: number, maxRuns: number): number;
  runsCapacity(): number;
  clear(): void;
  memoryBytes(): number;
  heapBytes(): number;
  staticBytes(): number;
  treeHeight(): number;
  checkInvariants(): number;
  invariantRule(): number;
  invariantDetail(): number;
  setMemoryLimitPages(pages: number): void;
  memoryLimitPages(): number;
  batchCommands(): number;
  batchIn(): number;
  batchOut(): number;
  batchCapacity(): number;
  getManyCapacity(): number;
  batchErrorIndex(): number;
  runBatch(count: number, prechecked: number): number;
  getMany(count: number): number;
  getManyU32(count: number): number;
  isUniformManyCapacity(): number;
  isUniformMany(count: number): number;
  uniformValueMany(count: number): number;
  updateWhere(start: number, end: number, testMask: number, testValue: number, clearMask: number, setMask: number): number;
  // the conversion model (assembly/conv.ts)
  guestAdd(start: number, end: number, initialPrivate: number): number;
  guestRemove(start: number, end: number): number;
  convRequest(start: number, end: number, flags: number): number;
  convCommit(slot: number, id: number): number;
  convAbort(slot: number, id: number): number;
  convOwnedRanges(slot: number, id: number, first: number, max: number): number;
  convOpenCount(): number;
  convNextId(): number;
  convFault(start: number, end: number, toPrivate: number): number;
  convLaunch(): number;
  convLaunched(): number;
  convOut(): number;
  pagesPopulate(start: number, end: number, side: number): number;
  pagesDiscard(start: number, end: number, side: number): number;
  pagesMatching(mask: number, match: number): number;
}

const WASM_URL_FROM_HERE = "../../wasm/memattr.wasm";

let defaultModule: Promise<WebAssembly.Module> | undefined;

function requireWebAssembly(): void {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.compile !== "function") {
    throw new MemattrUnsupportedError("memattr needs WebAssembly, and this environment has none");
  }
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === "string";
}

async function readDefaultBytes(): Promise<BufferSource> {
  const url = new URL(WASM_URL_FROM_HERE, import.meta.url);
  if (isNode() && url.protocol === "file:") {
    // A non-literal specifier keeps bundlers from pulling node:fs into browser builds.
    const fsName = "node:fs/promises";
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import("node:fs/promises");
    return fs.readFile(url);
  }
  const response = await fetch(url);
  if (!response.ok) throw new MemattrUnsupportedError(`cannot fetch ${url.href}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

/**
 * The compiled core module. With no argument, loads and compiles `wasm/memattr.wasm` once and
 * returns the same promise afterwards; with bytes or a module, uses those.
 * @param source the `.wasm` bytes or a compiled module; omit to load the bundled file
 * @returns the compiled module
 * @throws MemattrUnsupportedError when WebAssembly is missing or the file cannot be read
 * @example
 * ```ts
 * import { loadCoreModule } from "memattr/core";
 * const module = await loadCoreModule();
 * console.log(WebAssembly.Module.imports(module).length); // 0: the core needs nothing from JS
 * ```
 */
export function loadCoreModule(source?: WasmSource): Promise<WebAssembly.Module> {
  requireWebAssembly();
  if (source instanceof WebAssembly.Module) return Promise.resolve(source);
  if (source !== undefined) return WebAssembly.compile(source);
  if (defaultModule === undefined) {
    defaultModule = readDefaultBytes().then((bytes) => WebAssembly.compile(bytes));
    defaultModule.catch(() => {
      defaultModule = undefined; // let a later call retry
    });
  }
  return defaultModule;
}

/** Instantiates the core: one instance (and one linear memory) per map, so maps share no state. */
export async function instantiateCore(source?: WasmSource): Promise<CoreExports> {
  const module = await loadCoreModule(source);
  const instance = await WebAssembly.instantiate(module, {
    env: {
      // Only reachable through a bug: release builds call nothing that aborts.
      abort(_message: number, _file: number, line: number, column: number): never {
        throw new MemattrError("EWASMABORT", `memattr core aborted at line ${line}:${column}`);
      },
    },
  });
  return instance.exports as unknown as CoreExports;
}
