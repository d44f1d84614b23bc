// Every code example runs as written and says what it prints: the ```ts blocks of README.md and
// docs/*.md, and every TSDoc `@example` block in src/. Imports of "memattr" (and its subpaths)
// point at src/. Each example is type-checked (tsc) and run; a line `expr; // value` whose comment
// is a JavaScript expression checks that `expr` equals it, and in the Markdown documents a line
// `console.log(...); // text` checks that it prints exactly `text`. A Markdown block with no such
// check fails: a document cannot go quiet.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { formatWithOptions } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { ERROR_CODES } from "../src/core/_abi.js";
import { buildNative, nativeSkipReason, required, withBuildLock } from "./native/_native.js";

const root = new URL("..", import.meta.url).pathname;
const outDir = join(root, "test-artifacts", "docs");

interface Example {
  name: string;
  code: string;
  /** Markdown blocks must check something; TSDoc examples may only run. */
  markdown: boolean;
}

function* files(dir: string, ext: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path, ext);
    else if (name.endsWith(ext)) yield path;
  }
}

function markdownExamples(): Example[] {
  const docs = ["README.md", ...[...files(join(root, "docs"), ".md")].map((p) => relative(root, p))];
  return docs.flatMap((doc) =>
    [...readFileSync(join(root, doc), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m, i) => ({
      name: `${doc} block ${i + 1}`,
      code: m[1]!,
      markdown: true,
    })),
  );
}

function tsdocExamples(): Example[] {
  const out: Example[] = [];
  for (const file of files(join(root, "src"), ".ts")) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/@example\n(\s*)\* ```ts\n([\s\S]*?)\n\s*\* ```/g)) {
      const code = m[2]!
        .split("\n")
        .map((line) => line.replace(/^\s*\* ?/, ""))
        .join("\n");
      const line = text.slice(0, m.index).split("\n").length;
      out.push({ name: `${relative(root, file)}:${line}`, code, markdown: false });
    }
  }
  return out;
}

const SUBPATHS: Record<string, string> = {
  memattr: "src/index.ts",
  "memattr/core": "src/core/index.ts",
  "memattr/model": "src/model/index.ts",
  "memattr/policy": "src/policy/index.ts",
  "memattr/trace": "src/trace/index.ts",
  "memattr/replay": "src/replay/index.ts",
  "memattr/node": "src/node.ts",
  "memattr/node/kvm": "src/kvm/index.ts",
  "memattr/node/backing": "src/backing/index.ts",
  "memattr/node/vmm": "src/vmm/index.ts",
};

const STATEMENT_START = /^(?:const|let|var|import|export|if|for|while|return|using|await using|function|class|\}|\/\/)/;

// A value comment is a literal: true/false/null, a number or bigint, a string, or an array or
// object literal (prose such as `// Uint8Array [1, 2]` or `// [a, …]` is not checked).
const LITERAL = /^(?:true|false|null|-?(?:0x[0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)n?|"[^"]*"|'[^']*'|\[.*\]|\{.*\})$/;

/** A comment that is a literal value, or null (prose). */
function asExpression(comment: string): string | null {
  if (!LITERAL.test(comment.trim())) return null;
  try {
    new Function(`return (${comment});`);
    return comment;
  } catch {
    return null;
  }
}

function balanced(s: string): boolean {
  let depth = 0;
  for (const ch of s) {
    if (ch === "(" || ch === "[" || ch === "{") depth++;
    else if (ch === ")" || ch === "]" || ch === "}") depth--;
    if (depth < 0) return false;
  }
  return depth === 0;
}

/** The example as a module, with its value comments turned into checks; and how many there are. */
function instrument(ex: Example): { source: string; checks: number } {
  let checks = 0;
  const lines = ex.code.split("\n").map((line) => {
    const m = /^(\s*)(.+?);\s*\/\/ (.+)$/.exec(line);
    if (!m || STATEMENT_START.test(m[2]!.trim()) || !balanced(m[2]!)) return line;
    const [, indent, stmt, comment] = m as unknown as [string, string, string, string];
    const log = /^console\.log\((.*)\)$/.exec(stmt);
    if (log) {
      if (!ex.markdown) return line;
      checks++;
      return `${indent}__checkLog([${log[1]}], ${JSON.stringify(comment)});`;
    }
    const want = asExpression(comment);
    if (want === null) return line;
    checks++;
    return `${indent}__check(${stmt}, (${want}));`;
  });
  let source = lines.join("\n");
  for (const [spec, path] of Object.entries(SUBPATHS)) {
    source = source.replaceAll(`from "${spec}"`, `from ${JSON.stringify(relative(outDir, join(root, path)).replace(/\.ts$/, ".js"))}`);
  }
  const prelude = [
    'import { expect as __expect } from "vitest";',
    'import { formatWithOptions as __format } from "node:util";',
    "const __check = (got: unknown, want: unknown): void => __expect(got).toEqual(want);",
    "const __checkLog = (args: unknown[], want: string): void => { console.log(...args); __expect(__format({ colors: false }, ...args)).toBe(want); };",
  ].join("\n");
  return { source: `${prelude}\n${source}\nexport {};\n`, checks };
}

const examples = [...markdownExamples(), ...tsdocExamples()];
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const written = examples.map((ex, i) => {
  const { source, checks } = instrument(ex);
  const file = join(outDir, `example-${String(i + 1).padStart(3, "0")}.ts`);
  writeFileSync(file, source);
  return { ex, file, checks };
});

describe("documentation examples", () => {
  it("exist: the README, the guide and the public API have them", () => {
    expect(written.filter((w) => w.ex.markdown).length).toBeGreaterThanOrEqual(5);
    expect(written.filter((w) => !w.ex.markdown).length).toBeGreaterThanOrEqual(50);
  });

  it("type-check as written (tsc)", () => {
    const config = join(outDir, "tsconfig.json");
    writeFileSync(
      config,
      JSON.stringify({
        extends: "../../tsconfig.json",
        compilerOptions: { noEmit: true, noUnusedLocals: false, noUnusedParameters: false },
        include: ["./*.ts"],
      }),
    );
    const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", config], { encoding: "utf8" });
    const names = new Map(written.map((w) => [relative(root, w.file), w.ex.name]));
    const report = (tsc.stdout + tsc.stderr).replace(/test-artifacts\/docs\/example-\d+\.ts/g, (p) => names.get(p) ?? p);
    expect(report, report).toBe("");
    expect(tsc.status).toBe(0);
  });

  it.each(written.map((w) => [w.ex.name, w] as const))("%s runs and prints what it says", async (_name, w) => {
    if (w.ex.markdown) expect(w.checks, "a Markdown example must check at least one value").toBeGreaterThan(0);
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      await import(/* @vite-ignore */ `${w.file}?t=${Date.now()}`);
    } finally {
      log.mockRestore();
    }
  });
});

// formatWithOptions is what console.log prints; imported here so a missing node:util fails loudly
void formatWithOptions;

// ```c blocks: compiled against build/native/libmemattr.a and run; a printf line's trailing
// `/* text */` comment is the line it must print. (Skipped with the reason where the native
// toolchain is missing; a failure under CI.)
const cBlocks = ["README.md", ...[...files(join(root, "docs"), ".md")].map((p) => relative(root, p))].flatMap((doc) =>
  [...readFileSync(join(root, doc), "utf8").matchAll(/```c\n([\s\S]*?)```/g)].map((m, i) => ({ name: `${doc} C block ${i + 1}`, code: m[1]! })),
);
const nativeMissing = nativeSkipReason(false);
if (nativeMissing && !required) console.warn(`[test/docs] skipping the C examples: ${nativeMissing}`);

describe.skipIf(nativeMissing !== undefined && !required)("documentation C examples", () => {
  it("exist", () => {
    expect(cBlocks.length).toBeGreaterThanOrEqual(1);
  });

  it.each(cBlocks.map((b) => [b.name, b] as const))("%s compiles, runs and prints what it says", async (_name, block) => {
    expect(nativeMissing, nativeMissing).toBeUndefined();
    const failed = await withBuildLock(async () => buildNative(["lib"]));
    expect(failed, failed).toBeUndefined();
    const src = join(outDir, `${block.name.replace(/[^a-z0-9]+/gi, "-")}.c`);
    const bin = src.replace(/\.c$/, "");
    writeFileSync(src, block.code);
    const lib = join(root, "build", "native");
    const cc = spawnSync(
      "cc",
      ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", `-I${join(lib, "include")}`, src, join(lib, "libmemattr.a"), "-lm", "-pthread", "-o", bin],
      { encoding: "utf8" },
    );
    expect(cc.stderr, cc.stderr).toBe("");
    expect(cc.status).toBe(0);
    const want = [...block.code.matchAll(/printf\(.*\);\s*\/\* (.+?) \*\/\s*$/gm)].map((m) => m[1]!);
    expect(want.length, "a C example must say what it prints").toBeGreaterThan(0);
    const run = spawnSync(bin, [], { encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(run.stdout.trimEnd().split("\n")).toEqual(want);
  });
});

describe("the error table of docs/native.md", () => {
  it("lists exactly the core's error codes (assembly/abi.ts)", () => {
    const text = readFileSync(join(root, "docs", "native.md"), "utf8");
    const listed = [...text.matchAll(/^\s*\| `-(E[A-Z]+)`\s*\|/gm)].map((m) => m[1]!).sort();
    expect(listed).toEqual([...ERROR_CODES.values()].map((e) => e.errno).sort());
  });
});
