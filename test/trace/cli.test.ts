// Tests src/cli/trace.ts (kept beside the trace tests: the command is a thin entry over src/trace).
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run } from "../../src/cli/trace.js";
import { captureCommand } from "../support/cli.js";
import { parseTraceSync } from "../../src/trace/index.js";

const dir = mkdtempSync(join(tmpdir(), "memattr-trace-cli-"));
const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

const capture = (args: string[]) => captureCommand(run, args);

afterEach(() => vi.restoreAllMocks());

describe("memattr trace", () => {
  it("generate writes a readable trace with the requested size, seed and count", async () => {
    const file = join(dir, "ovmf.jsonl");
    const r = await capture(["generate", "ovmf-dma", "--guest", "64MiB", "--seed", "3", "--transactions", "25", "-o", file]);
    expect(r.code).toBe(0);
    const { header, events } = parseTraceSync(readFileSync(file, "utf8"));
    expect(header.generator).toMatchObject({ name: "ovmf-dma", seed: 3, params: { transactions: 25, guestBytes: 2 ** 26 } });
    expect([...events].filter((e) => e.type === "request" && e.to === "shared")).toHaveLength(25);
  });

  it("generate to stdout is the same trace as to a file", async () => {
    const file = join(dir, "adv.jsonl");
    await capture(["generate", "adversarial", "--guest", "2MiB", "--phases", "alternate", "-o", file]);
    const r = await capture(["generate", "adversarial", "--guest", "2MiB", "--phases", "alternate"]);
    expect(r.out).toBe(readFileSync(file, "utf8"));
  });

  it("import writes JSONL and prints the unknown-line summary to stderr", async () => {
    const file = join(dir, "q.jsonl");
    const r = await capture(["import", fixture("qemu-convert.log"), "-o", file]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/unknown: 2 line\(s\)/);
    expect(r.err).toMatch(/kvm_run_exit 1/);
    const { header, events } = parseTraceSync(readFileSync(file, "utf8"));
    expect(header.source).toEqual({ importer: "qemu", file: "qemu-convert.log" });
    expect(header.regions).toEqual([{ gfn: 0, npages: 0x20000 }]); // from its kvm_set_user_memory line
    expect([...events]).toHaveLength(11);
  });

  it("import of text in no known format fails with exit code 1", async () => {
    const r = await capture(["import", fixture("sample-trace.jsonl"), "-o", join(dir, "x.jsonl")]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not recognised/);
  });

  it("an import that fails writes no output file (missing input, a malformed line half-way)", async () => {
    const sub = mkdtempSync(join(dir, "fail-"));
    const missing = await capture(["import", join(sub, "no-such.log"), "-o", join(sub, "a.jsonl")]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/ENOENT/);
    const bad = join(sub, "bad.log");
    writeFileSync(bad, `${readFileSync(fixture("qemu-convert.log"), "utf8")}kvm_convert_memory start 0x1000 size 0x10\n`);
    // a malformed used line is a TraceParseError (main prints it and exits 1)
    await expect(capture(["import", bad, "-o", join(sub, "b.jsonl")])).rejects.toThrow(/line 14: kvm_convert_memory/);
    expect(readdirSync(sub)).toEqual(["bad.log"]); // neither output nor a temporary file left
  });

  it("stats reads a memattr trace and a kernel trace", async () => {
    const a = await capture(["stats", fixture("sample-trace.jsonl")]);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/events: 16/);
    const b = await capture(["stats", fixture("ftrace-set-mem-attributes.txt"), "--json"]);
    expect(JSON.parse(b.out)).toMatchObject({ stats: { totalEvents: 12 }, import: { format: "ftrace", unknownLines: 4 } });
  });

  it("usage errors exit with 2", async () => {
    expect((await capture(["generate", "nope"])).code).toBe(2);
    expect((await capture(["generate", "ovmf-dma", "--bogus"])).code).toBe(2);
    expect((await capture(["generate", "linux-boot", "--phases", "flood"])).code).toBe(2);
    expect((await capture(["frobnicate"])).code).toBe(2);
    expect((await capture(["--help"])).code).toBe(0);
  });

  // Found by test/fuzz/cli.test.ts; before, each threw (a Node ENOENT/EISDIR error, or a MemattrError
  // that main.ts turned into exit 1 for what is a usage error).
  it("a file that cannot be opened is exit 1 with the system's message, not a thrown error", async () => {
    for (const args of [
      ["import", join(dir, "missing.log")],
      ["stats", join(dir, "missing.jsonl")],
      ["stats", dir],
      ["generate", "ovmf-dma", "--transactions", "1", "-o", join(dir, "no", "such", "dir.jsonl")],
    ]) {
      const r = await capture(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.err).toMatch(/ENOENT|EISDIR/);
    }
  });

  it("an option the generator refuses, or one not in decimal digits, is a usage error (exit 2)", async () => {
    for (const args of [
      ["generate", "ovmf-dma", "--guest", "4096"], // below the generator's minimum
      ["generate", "ovmf-dma", "--abort-rate", "x"],
      ["generate", "ovmf-dma", "--seed", "4294967296"],
      ["generate", "adversarial", "--phases", "alternate,bogus"],
      ["generate", "constructor"], // an Object.prototype name is no generator
    ]) {
      const r = await capture(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(/usage:/);
    }
  });
});
