// Before any test: make sure wasm/memattr.wasm exists and is newer than every assembly/ source,
// so `npm test` never runs against a stale core.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    newest = Math.max(newest, st.isDirectory() ? newestSourceMs(path) : st.mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const wasm = join(root, "wasm/memattr.wasm");
  if (existsSync(wasm) && statSync(wasm).mtimeMs >= newestSourceMs(join(root, "assembly"))) return;
  execFileSync("npm", ["run", "--silent", "build:wasm"], { cwd: root, stdio: "inherit" });
}
