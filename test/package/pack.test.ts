// The published tarball works in a fresh project: built .wasm and type declarations inside,
// importable from Node with koffi absent (it is an optional dependency).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "memattr-pack-"));
const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("npm pack", () => {
  it("installs into a fresh project and runs from Node", () => {
    run("npm", ["run", "--silent", "build"], root);
    run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", work], root);
    const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
    expect(tarball).toBeDefined();

    const listing = run("tar", ["-tzf", join(work, tarball!)], work);
    expect(listing).toContain("package/wasm/memattr.wasm");
    expect(listing).toContain("package/dist/index.d.ts");
    expect(listing).toContain("package/dist/node.d.ts");

    const app = join(work, "app");
    run("mkdir", ["-p", app], work);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", type: "module" }));
    run("npm", ["install", "--omit=optional", "--no-audit", "--no-fund", "--silent", join(work, tarball!)], app);
    writeFileSync(
      join(app, "main.js"),
      [
        'import { RangeMap, MAX_GFN } from "memattr";',
        'import * as node from "memattr/node";',
        "const map = await RangeMap.create();",
        "map.set(0x100, 0x110, 3);",
        "console.log(JSON.stringify({ value: map.get(0x105), runs: map.runCount(), max: MAX_GFN, node: typeof node.RangeMap }));",
      ].join("\n"),
    );
    const out = JSON.parse(run("node", ["main.js"], app)) as Record<string, unknown>;
    expect(out).toEqual({ value: 3, runs: 3, max: 2 ** 40, node: "function" });
  });
});
