// `memattr viz`'s server and the page's trace sources, in Node: files with their MIME types, no
// way out of the served folder, a trace at /trace named in the URL, usage errors; loading
// JSONL, ftrace and QEMU text.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { request } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, serveViz, type VizServer } from "../../src/cli/viz.js";
import { generateTrace } from "../../src/trace/generate.js";
import { traceToString } from "../../src/trace/write.js";
import { loadBytes, loadGenerated, loadText } from "../../src/viz/sources.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = join(ROOT, "test", "fixtures");

function rawGet(url: string, path: string): Promise<number> {
  const u = new URL(url);
  return new Promise((done, fail) => {
    request({ host: u.hostname, port: u.port, path, method: "GET" }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    })
      .on("error", fail)
      .end();
  });
}

describe("memattr viz server", () => {
  let viz: VizServer;
  let root: string;
  beforeAll(async () => {
    const { buildViz } = (await import(pathToFileURL(join(ROOT, "scripts/build-viz.mjs")).href)) as { buildViz(o: { outDir: string }): Promise<string> };
    // Each test file builds its own copy: test files run in parallel.
    root = await buildViz({ outDir: mkdtempSync(join(tmpdir(), "memattr-viz-dist-")) });
    viz = await serveViz({ root, port: 0, tracePath: join(FIXTURES, "sample-trace.jsonl") });
  });
  afterAll(async () => {
    await viz?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("listens on 127.0.0.1 and names the trace in the URL", () => {
    expect(viz.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?trace=trace&name=sample-trace\.jsonl$/);
  });

  it("serves the page, the bundle and the .wasm with their MIME types", async () => {
    const types: Record<string, string> = { "": "text/html", "viz.js": "text/javascript", "style.css": "text/css", "memattr.wasm": "application/wasm" };
    for (const [path, type] of Object.entries(types)) {
      const res = await fetch(new URL(path, viz.url));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
    }
    const wasm = new Uint8Array(await (await fetch(new URL("memattr.wasm", viz.url))).arrayBuffer());
    expect(wasm).toEqual(new Uint8Array(readFileSync(join(ROOT, "wasm", "memattr.wasm"))));
  });

  it("serves the trace at /trace", async () => {
    const res = await fetch(new URL("trace", viz.url));
    expect(await res.text()).toBe(readFileSync(join(FIXTURES, "sample-trace.jsonl"), "utf8"));
  });

  it("refuses paths outside the folder and answers 404 for missing files", async () => {
    expect(await rawGet(viz.url, "/..%2fpackage.json")).toBe(403);
    expect(await rawGet(viz.url, "/%E0%A4%A")).toBe(400);
    expect(await rawGet(viz.url, "/nope.js")).toBe(404);
  });
});

describe("memattr viz usage", () => {
  it("exits 2 on a bad port, two traces, or a missing trace file", async () => {
    const err = process.stderr.write;
    process.stderr.write = () => true;
    try {
      expect(await run(["--port", "x"])).toBe(2);
      expect(await run(["a.jsonl", "b.jsonl"])).toBe(2);
      expect(await run(["/no/such/trace.jsonl"])).toBe(2);
      expect(await run(["--bogus"])).toBe(2);
    } finally {
      process.stderr.write = err;
    }
  });
});

describe("trace sources", () => {
  it("counts a generator's events and keeps its memory map", () => {
    const t = loadGenerated("ovmf-dma", 16 * 2 ** 20, 3, { transactions: 20 });
    const { header, events } = generateTrace("ovmf-dma", { guestBytes: 16 * 2 ** 20, seed: 3, transactions: 20 });
    expect(t.eventCount).toBe([...events].length);
    expect(t.regions).toEqual(header.regions);
    expect([...t.events]).toEqual([...t.events]); // re-iterable
  });

  it("reads memattr JSONL, and imports ftrace and QEMU text with a guessed memory map", () => {
    const jsonl = loadText(readFileSync(join(FIXTURES, "sample-trace.jsonl"), "utf8"), "sample-trace.jsonl");
    expect(jsonl.eventCount).toBeGreaterThan(0);
    expect([...jsonl.events].length).toBe(jsonl.eventCount);
    const ftrace = loadText(readFileSync(join(FIXTURES, "ftrace-set-mem-attributes.txt"), "utf8"), "ftrace-set-mem-attributes.txt");
    expect(ftrace.label).toBe("ftrace-set-mem-attributes.txt (ftrace)");
    expect(ftrace.eventCount).toBeGreaterThan(0);
    expect(ftrace.regions).toHaveLength(1);
    expect(ftrace.regions[0]!.npages % 512).toBe(0);
    expect(ftrace.notes.join(" ")).toContain("no memory map");
    // QEMU's kvm_set_user_memory line gives the log its memory map: 512 MiB at gpa 0
    const qemu = loadText(readFileSync(join(FIXTURES, "qemu-convert.log"), "utf8"), "qemu-convert.log");
    expect(qemu.label).toBe("qemu-convert.log (qemu)");
    expect(qemu.regions).toEqual([{ gfn: 0, npages: 0x20000 }]);
    expect(qemu.header.regions).toEqual(qemu.regions);
    expect(qemu.notes.join(" ")).toContain("memory map from its memslots");
  });

  it("reads a file's bytes in slices with progress, keeps the events, and shows hot-added memory in the extent", async () => {
    const { header, events } = generateTrace("hotplug", { guestBytes: 16 * 2 ** 20, deviceBytes: 8 * 2 ** 20, seed: 2, transactions: 3000, hotplugEvery: 40 });
    const text = traceToString(header, events);
    const seen: number[] = [];
    const t = await loadBytes(new TextEncoder().encode(text), "hp.jsonl", (done, total) => {
      expect(total).toBe(new TextEncoder().encode(text).length);
      seen.push(done);
    });
    expect(seen.at(-1)).toBe(new TextEncoder().encode(text).length); // progress ends at 100 %
    expect(Array.isArray(t.events)).toBe(true);
    expect(t.events).toEqual([...events]);
    expect(t.eventCount).toBe([...events].length);
    expect(t.header.regions).toEqual(header.regions); // the tracker starts with boot memory only
    // the map's extent: boot memory and the device's blocks above 1 GiB (as one range once merged)
    expect(t.regions[0]).toEqual(header.regions[0]);
    expect(t.regions.length).toBeGreaterThan(1);
    expect(t.regions.at(-1)!.gfn + t.regions.at(-1)!.npages).toBeLessThanOrEqual(2 ** 18 + 2 ** 11);
    expect(t.notes.join(" ")).toMatch(/range\(s\) plugged at runtime/);
  });

  it("names text that is no trace", () => {
    expect(() => loadText("hello\nworld\n", "notes.txt")).toThrow(/neither a memattr trace/);
  });
});
