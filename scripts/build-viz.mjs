#!/usr/bin/env node
// Builds the browser visualiser into viz-dist/: index.html, style.css, viz.js (esbuild bundle of
// src/viz/main.ts) and memattr.wasm (the same core Node loads). Every URL in it is relative, so
// the folder opens from any static host.
//
//   node scripts/build-viz.mjs [outDir]        (default: viz-dist)
//
// Also importable: `await buildViz({ outDir })` returns the folder's absolute path.
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Bundles the page into `outDir` (absolute, or relative to the repository root). */
export async function buildViz({ outDir = "viz-dist", minify = true } = {}) {
  const { build } = await import("esbuild");
  const out = resolve(root, outDir);
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [join(root, "src/viz/main.ts")],
    outfile: join(out, "viz.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify,
    sourcemap: true,
    legalComments: "none",
    logLevel: "warning",
  });
  await copyFile(join(root, "src/viz/index.html"), join(out, "index.html"));
  await copyFile(join(root, "src/viz/style.css"), join(out, "style.css"));
  await copyFile(join(root, "wasm/memattr.wasm"), join(out, "memattr.wasm"));
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = await buildViz({ outDir: process.argv[2] ?? "viz-dist" });
  process.stdout.write(`viz: built ${out}\n`);
}
