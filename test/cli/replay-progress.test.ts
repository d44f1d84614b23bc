// Terminal progress of `memattr replay` (src/cli/_progress.ts): drawn on a terminal — one line
// per policy with events done / total, events/s and the time left, within 80 columns — and silent off a terminal,
// with --json, or with MEMATTR_PROGRESS=0.
import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createProgress, policyProgress, progressEnabled } from "../../src/cli/_progress.js";
import { run as replay } from "../../src/cli/replay.js";
import { captureCommand } from "../support/cli.js";

/** A stream that says it is a terminal and keeps what is written to it. */
function fakeTty(isTTY = true): Writable & { isTTY: boolean; columns: number; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return Object.assign(stream, { isTTY, columns: 160, text: () => chunks.join("") });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape codes
const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");

afterEach(() => vi.unstubAllEnvs());

describe("replay progress", () => {
  it("draws one line per policy with events done / total, events/s and the time left", () => {
    vi.stubEnv("MEMATTR_PROGRESS", "");
    let ms = 0;
    const stream = fakeTty();
    const progress = createProgress({ stream, now: () => ms });
    const onProgress = policyProgress(progress, ["eager", "never"])!;
    onProgress({ policy: "eager", events: 0, totalEvents: 1_000_000 });
    ms = 500;
    onProgress({ policy: "eager", events: 500_000, totalEvents: 1_000_000 });
    progress.stop();
    const lines = plain(stream.text());
    expect(lines).toMatch(/eager +\S+ +50% +500,000\/1,000,000 +1\.00 Mev\/s +ETA 0\.5s/);
    expect(lines).toMatch(/never +waiting/);
  });

  it("a line of a million-event policy fits in 80 columns", () => {
    vi.stubEnv("MEMATTR_PROGRESS", "");
    let ms = 0;
    const stream = fakeTty();
    const progress = createProgress({ stream, now: () => ms });
    const task = progress.task("adaptive", 1_062_682);
    task.update(0);
    ms = 700;
    task.update(1_040_000);
    progress.stop();
    const lines = plain(stream.text())
      .split(/[\r\n]/)
      .filter((l) => l.includes("adaptive"));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.trimEnd().length, line).toBeLessThanOrEqual(80);
  });

  it("a total not known: the count and the rate, no bar", () => {
    vi.stubEnv("MEMATTR_PROGRESS", "");
    let ms = 0;
    const stream = fakeTty();
    const progress = createProgress({ stream, now: () => ms });
    const task = progress.task("parse");
    task.update(0);
    ms = 2000;
    task.update(60_000);
    progress.stop();
    expect(plain(stream.text())).toMatch(/parse +60,000 events +30 kev\/s +2\.0s/);
  });

  it("silent off a terminal, with quiet (--json) and with MEMATTR_PROGRESS=0; MEMATTR_PROGRESS=1 forces it", () => {
    vi.stubEnv("MEMATTR_PROGRESS", "");
    const pipe = fakeTty(false);
    const progress = createProgress({ stream: pipe });
    expect(progress.enabled).toBe(false);
    expect(policyProgress(progress, ["eager"])).toBeUndefined();
    progress.task("eager", 10).update(5);
    progress.stop();
    expect(pipe.text()).toBe("");
    expect(progressEnabled({ stream: fakeTty(), quiet: true })).toBe(false);
    vi.stubEnv("MEMATTR_PROGRESS", "0");
    expect(progressEnabled({ stream: fakeTty() })).toBe(false);
    vi.stubEnv("MEMATTR_PROGRESS", "1");
    expect(progressEnabled({ stream: fakeTty(false) })).toBe(true);
  });

  it("memattr replay writes no progress when its stderr is not a terminal", async () => {
    vi.stubEnv("MEMATTR_PROGRESS", "");
    const r = await captureCommand(replay, ["ovmf-dma", "--guest", "64MiB", "--transactions", "300", "--simulated", "--repeat", "1", "--warmup", "0"]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("simulated backing (no real memory) — --simulated\n");
  });
});
