// The layering of docs/design.md: browser-safe layers never import Node-only code, and the browser
// entry bundles for the browser without any Node built-in.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const src = new URL("../src", import.meta.url).pathname;
const BROWSER_SAFE = ["core", "model", "policy", "trace", "replay", "viz"];
const FORBIDDEN = [/from\s+["']node:/, /from\s+["']koffi["']/, /from\s+["'][./]*\/(kvm|backing|vmm|cli)\//, /import\(\s*["']koffi["']/];

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (name.endsWith(".ts")) yield path;
  }
}

describe("layers", () => {
  it("browser-safe layers import nothing Node-only", () => {
    const offenders: string[] = [];
    for (const layer of BROWSER_SAFE) {
      let files: string[] = [];
      try {
        files = [...tsFiles(join(src, layer))];
      } catch {
        continue; // layer not written yet
      }
      for (const file of files) {
        const text = readFileSync(file, "utf8");
        for (const rule of FORBIDDEN) if (rule.test(text)) offenders.push(`${file.slice(src.length + 1)} matches ${rule}`);
      }
    }
    expect(offenders).toEqual([]);
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
