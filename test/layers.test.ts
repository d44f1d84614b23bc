// The layering of docs/design.md, checked on the source: every folder of src/ is a layer with a
// table of the layers it may import, browser-safe layers import nothing Node-only, no module
// imports itself back through a cycle, and the browser entry bundles for the browser. A new or
// renamed folder fails here until it gets a row.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const src = new URL("../src", import.meta.url).pathname;

// layer → the layers it may import (itself always allowed). `backing` is the browser-safe
// contract and SimulatedBacking; `backing/real` the Node-only memfd / guest_memfd backings.
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  uapi: ["core"],
  model: ["core", "uapi"],
  policy: ["core", "model"],
  trace: ["core", "uapi", "model"],
  backing: ["core", "model"],
  replay: ["core", "model", "policy", "trace", "backing"],
  viz: ["core", "model", "policy", "trace", "backing", "replay"],
  kvm: ["core", "uapi"],
  "backing/real": ["core", "uapi", "model", "kvm", "backing"],
  vmm: ["core", "uapi", "model", "policy", "trace", "backing", "backing/real", "kvm"],
  cli: ["core", "uapi", "model", "policy", "trace", "backing", "backing/real", "replay", "kvm", "vmm", "viz"],
};
const BROWSER_SAFE = new Set(["core", "uapi", "model", "policy", "trace", "backing", "replay", "viz"]);
/** The package entries: they gather layers and belong to none. */
const ENTRIES = new Set(["index.ts", "node.ts"]);

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (name.endsWith(".ts")) yield path;
  }
}

/** The layer of a file under src/ ("backing/real" before "backing"), or null for an entry. */
function layerOf(file: string): string | null {
  const rel = relative(src, file);
  if (ENTRIES.has(rel)) return null;
  if (rel.startsWith("backing/real/")) return "backing/real";
  return rel.split("/")[0]!;
}

interface Import {
  spec: string;
  typeOnly: boolean;
}

function importsOf(text: string): Import[] {
  const out: Import[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^"';]*?\sfrom\s+["']([^"']+)["']/gm)) out.push({ spec: m[3]!, typeOnly: m[2] !== undefined });
  for (const m of text.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) out.push({ spec: m[1]!, typeOnly: false });
  // import("x") loads at run time; typeof import("x") is a type
  for (const m of text.matchAll(/(?<!typeof\s)import\(\s*(?:\/\*[^*]*\*\/\s*)?["']([^"']+)["']\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

const files = [...tsFiles(src)];
const graph = new Map<string, { file: string; imports: Import[] }>(files.map((f) => [f, { file: f, imports: importsOf(readFileSync(f, "utf8")) }]));
const target = (from: string, spec: string): string => resolve(dirname(from), spec.replace(/\.js$/, ".ts"));

describe("layers", () => {
  it("every folder of src/ is a layer of the table", () => {
    const layers = new Set(files.map(layerOf).filter((l): l is string => l !== null));
    expect([...layers].filter((l) => !(l in ALLOWED))).toEqual([]);
    expect(Object.keys(ALLOWED).filter((l) => !layers.has(l))).toEqual([]);
  });

  it("imports only point at the layers a layer may use", () => {
    const offenders: string[] = [];
    for (const { file, imports } of graph.values()) {
      const from = layerOf(file);
      if (from === null) continue;
      for (const { spec } of imports) {
        if (!spec.startsWith(".")) continue;
        const to = layerOf(target(file, spec));
        if (to === null) offenders.push(`${relative(src, file)} imports a package entry (${spec})`);
        else if (to !== from && !ALLOWED[from]!.includes(to)) offenders.push(`${relative(src, file)} (${from}) imports ${spec} (${to})`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("browser-safe layers import nothing Node-only", () => {
    const offenders: string[] = [];
    for (const { file, imports } of graph.values()) {
      if (!BROWSER_SAFE.has(layerOf(file) ?? "")) continue;
      for (const { spec } of imports) if (spec.startsWith("node:") || spec === "koffi") offenders.push(`${relative(src, file)} imports ${spec}`);
    }
    expect(offenders).toEqual([]);
  });

  it("no module reaches itself through its (runtime) imports", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, "open");
      stack.push(file);
      for (const { spec, typeOnly } of graph.get(file)?.imports ?? []) {
        if (typeOnly || !spec.startsWith(".")) continue;
        const next = target(file, spec);
        if (!graph.has(next)) continue;
        if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative(src, f)).join(" → "));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, "done");
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it("the browser entry bundles for the browser platform", async () => {
    const result = await build({
      entryPoints: [join(src, "index.ts")],
      bundle: true,
      write: false,
      platform: "browser",
      format: "esm",
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/^import .* from ["']node:/m);
    expect(code).not.toContain("koffi");
  });
});
