// Every ```ts block of README.md and docs/guide.md runs as written (with "memattr" pointing at src/), and the
// values its comments promise are what it prints.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";

const root = new URL("..", import.meta.url);
const docs = ["README.md", "docs/guide.md"].map((name) => readFileSync(new URL(name, root), "utf8"));
const blocks = docs.flatMap((text) => [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!));
const outDir = new URL("test-artifacts/readme/", root);

describe("README and guide examples", () => {
  it("has examples", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  blocks.forEach((code, i) => {
    it(`block ${i + 1} runs`, async () => {
      mkdirSync(outDir, { recursive: true });
      const file = new URL(`block-${i + 1}.ts`, outDir);
      // Expressions whose comment promises a value are checked: `expr; // value`.
      const checked = code.replace(/^(map\.(?:get|isUniform)\([^;]*\));\s*\/\/ (.*)$/gm, (_m, expr: string, want: string) => `__check(${expr}, ${want});`);
      writeFileSync(file, `import { expect as __expect } from "vitest";\nconst __check = (got: unknown, want: unknown) => __expect(got).toEqual(want);\n${checked.replaceAll('from "memattr"', 'from "../../src/index.js"')}\nexport {};\n`);
      const log = vi.spyOn(console, "log").mockImplementation(() => {});
      try {
        await import(/* @vite-ignore */ file.href);
        if (code.includes("console.log(t.isPrivate(0x100), t.totals().private)")) {
          expect(log.mock.calls).toContainEqual(["pending-private"]);
          expect(log.mock.calls).toContainEqual([true, 16]);
        }
        if (code.includes("eagerPolicy()")) expect(log.mock.calls).toContainEqual([true, [{ gfn: 256, npages: 2 }]]);
      } finally {
        log.mockRestore();
      }
    });
  });
});
