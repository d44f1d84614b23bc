// The visualiser in a real browser: Debian's Chromium driven by playwright-core. The page is
// built with scripts/build-viz.mjs, served by `memattr viz`'s server on 127.0.0.1, loaded with
// the ovmf-dma generator through its controls, played to the end, and checked against a Node
// replay of the same trace: counters, the policy table, canvas pixels at known pages, zoom.
// Screenshots: test-artifacts/viz.png (artefact); docs/viz.png (README) only under npm run docs:screenshot.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveViz, type VizServer } from "../../src/cli/viz.js";
import type { Tracker } from "../../src/model/tracker.js";
import { Replayer } from "../../src/replay/engine.js";
import { replayAll, simulatedTargets } from "../../src/replay/replay.js";
import { createPolicy } from "../../src/policy/create.js";
import { generateTrace } from "../../src/trace/generate.js";
import type { TraceEvent } from "../../src/trace/format.js";
import { buildPage, EXPECTED_RGB, haveChromium, launchChromium, pixelAtPage, scrubTo, waitReady } from "./_browser.js";

const ROOT = new URL("../../", import.meta.url).pathname;

// A small guest so the test is quick: 32 MiB, 400 DMA transactions.
const GEN = { name: "ovmf-dma" as const, guest: "32MiB", guestBytes: 32 * 2 ** 20, seed: 7, transactions: 400 };
const POLICY = "adaptive";

function traceEvents(): { regions: { gfn: number; npages: number }[]; events: TraceEvent[] } {
  const { header, events } = generateTrace(GEN.name, { guestBytes: GEN.guestBytes, seed: GEN.seed, transactions: GEN.transactions });
  return { regions: header.regions, events: [...events] };
}

/** Node replay of the first `upTo` events under `policy` (flushed at the end of the trace, as the page does). */
async function nodeReplay(upTo: number): Promise<Tracker> {
  const { regions, events } = traceEvents();
  const target = await simulatedTargets(regions)(createPolicy(POLICY));
  const r = new Replayer(target);
  for (const ev of events.slice(0, upTo)) r.apply(ev);
  if (upTo >= events.length) r.finish();
  return target.tracker;
}

describe.skipIf(!haveChromium)("viz in Chromium", () => {
  let server: VizServer;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let distDir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    distDir = await buildPage("memattr-viz-dist-");
    server = await serveViz({ root: distDir, port: 0, host: "127.0.0.1" });
    userDataDir = mkdtempSync(join(tmpdir(), "memattr-viz-chromium-"));
    context = await launchChromium(userDataDir);
    page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(server.url);
    await waitReady(page); // the default trace
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  it("serves the .wasm with its MIME type and says the backing is simulated", async () => {
    const res = await fetch(new URL("memattr.wasm", server.url));
    expect(res.headers.get("content-type")).toBe("application/wasm");
    await expect(page.locator("#simulated-badge").textContent()).resolves.toContain("Simulated backing");
  });

  it("loads the ovmf-dma generator from its controls and plays to the end", async () => {
    await page.selectOption("#gen-name", GEN.name);
    await page.fill("#gen-guest", GEN.guest);
    await page.fill("#gen-seed", String(GEN.seed));
    await page.fill("#gen-transactions", String(GEN.transactions));
    await page.selectOption("#policy", POLICY);
    await page.click("#gen-load");
    await page.waitForFunction((label) => window.memattrViz!.ready && window.memattrViz!.traceLabel.startsWith(label), GEN.name, { timeout: 60_000 });
    const { events } = traceEvents();
    expect(await page.evaluate(() => window.memattrViz!.eventCount)).toBe(events.length);
    expect(await page.evaluate(() => window.memattrViz!.eventIndex)).toBe(0);

    await page.selectOption("#speed", "1000");
    await page.click("#play");
    await page.waitForFunction(() => !window.memattrViz!.playing && window.memattrViz!.eventIndex === window.memattrViz!.eventCount, null, { timeout: 60_000 });
    expect(pageErrors).toEqual([]);
  });

  it("shows the counters of a Node replay of the same trace", async () => {
    const { events } = traceEvents();
    const tracker = await nodeReplay(events.length);
    const t = tracker.totals();
    const c = await page.evaluate(() => window.memattrViz!.counters);
    expect(c).toEqual({
      guestPages: t.guest,
      shared: t.shared,
      private: t.private,
      pendingPrivate: t.pendingPrivate,
      pendingShared: t.pendingShared,
      doubleAllocatedPages: t.doubleAllocated,
      sharedPopulated: t.sharedPopulated,
      privatePopulated: t.privatePopulated,
      runs: tracker.runCount(),
      mapBytes: tracker.memoryBytes(),
      refused: 0,
    });
    tracker.dispose();
  });

  it("fills the policy table with the numbers of replayAll in Node", async () => {
    await page.waitForFunction(() => window.memattrViz!.table.length === 4, null, { timeout: 60_000 });
    const { regions, events } = traceEvents();
    const results = await replayAll(() => events, simulatedTargets(regions));
    const expected = results.map((r) => ({
      policy: r.policy,
      conversions: r.conversions,
      discardCalls: r.discardCalls,
      discardedBytes: r.discardedBytes,
      refaultPages: r.refaultPages,
      peakDoubleBytes: r.peakDoubleAllocatedBytes,
      finalDoubleBytes: r.finalDoubleAllocatedBytes,
      simulated: true,
    }));
    expect(await page.evaluate(() => window.memattrViz!.table)).toEqual(expected);
    // and the table on the page prints them
    const eagerCalls = await page.locator('#policy-table tr[data-policy="eager"] td[data-key="discardCalls"]').getAttribute("data-value");
    expect(Number(eagerCalls)).toBe(expected[0]!.discardCalls);
    await expect(page.locator("#policy-table").textContent()).resolves.toContain("(simulated)");
  });

  it("paints a private page in the private colour and a shared bounce page in the shared colour, before and after zoom", async () => {
    const { events } = traceEvents();
    // Known private: the middle of the longest private run at the end.
    const end = await nodeReplay(events.length);
    const longest = end
      .runs()
      .filter((r) => r.state.conversion === "private")
      .sort((a, b) => b.npages - a.npages)[0]!;
    end.dispose();
    const privateGfn = longest.gfn + Math.floor(longest.npages / 2);
    expect(await pixelAtPage(page, privateGfn)).toEqual(EXPECTED_RGB.private);

    // Known shared: a bounce page right after its first conversion to shared commits.
    const reqIndex = events.findIndex((e, i) => i > 0 && e.type === "request" && e.to === "shared");
    const req = events[reqIndex] as Extract<TraceEvent, { type: "request" }>;
    const commitIndex = events.findIndex((e) => e.type === "commit" && e.id === req.id);
    await scrubTo(page, commitIndex + 1); // scrubbing back rebuilds from the start
    const mid = await nodeReplay(commitIndex + 1);
    const st = mid.state(req.gfn);
    expect([st.conversion, st.shared === "populated" && st.private === "populated"]).toEqual(["shared", false]); // shared, not held twice
    mid.dispose();
    const view = await page.evaluate(() => window.memattrViz!.view);
    expect(view.pagesPerCell).toBe(1); // 32 MiB fits at one page per cell: the pixel is that page's
    expect(await pixelAtPage(page, req.gfn)).toEqual(EXPECTED_RGB.shared);
    expect(await pixelAtPage(page, privateGfn === req.gfn ? privateGfn + 1 : privateGfn)).toEqual(EXPECTED_RGB.private);

    // Zoom in with the wheel over the shared page: it stays under the pointer, now bigger.
    const box = (await page.locator("#map").boundingBox())!;
    const at = (await page.evaluate((g) => window.memattrViz!.pageToPixel(g), req.gfn))!;
    await page.mouse.move(box.x + at.x, box.y + at.y);
    for (let i = 0; i < 3; i++) await page.mouse.wheel(0, -120);
    await page.waitForFunction((cell) => window.memattrViz!.view.cellPx > cell, view.cellPx);
    const zoomed = await page.evaluate(() => window.memattrViz!.view);
    expect(zoomed.cellPx).toBeGreaterThan(view.cellPx);
    const after = (await page.evaluate((g) => window.memattrViz!.pageToPixel(g), req.gfn))!;
    expect(Math.abs(after.x - at.x)).toBeLessThanOrEqual(zoomed.cellPx);
    expect(Math.abs(after.y - at.y)).toBeLessThanOrEqual(zoomed.cellPx);
    expect(await pixelAtPage(page, req.gfn)).toEqual(EXPECTED_RGB.shared);
    // Hovering it names the page, its run and its state.
    await page.mouse.move(box.x + after.x, box.y + after.y);
    await expect(page.locator("#hover").textContent()).resolves.toContain(`gfn 0x${req.gfn.toString(16)} · shared`);

    // Fit goes back to the whole guest.
    await page.click("#zoom-fit");
    expect((await page.evaluate(() => window.memattrViz!.view)).cellPx).toBe(view.cellPx);
  });

  it("opens with a served trace file loaded (memattr viz TRACE)", async () => {
    const file = join(ROOT, "test", "fixtures", "qemu-convert.log");
    const withTrace = await serveViz({ root: distDir, port: 0, tracePath: file });
    const other = await context.newPage();
    try {
      await other.goto(withTrace.url);
      await other.waitForFunction(() => window.memattrViz?.ready === true && window.memattrViz.table.length === 4, null, { timeout: 60_000 });
      expect(await other.evaluate(() => window.memattrViz!.traceLabel)).toBe("qemu-convert.log (qemu)");
      expect(await other.evaluate(() => window.memattrViz!.eventCount)).toBeGreaterThan(0);
    } finally {
      await other.close();
      await withTrace.close();
    }
  });

  // test-artifacts/viz.png always; docs/viz.png (the README's picture, a tracked file) only when
  // asked for with `npm run docs:screenshot` — tests never rewrite tracked files.
  it("saves a screenshot (test-artifacts/viz.png; docs/viz.png with npm run docs:screenshot)", async () => {
    // A late moment of the trace: a bounce page just made shared, hovered.
    const { events } = traceEvents();
    let last = -1;
    for (let i = events.length - 1; i >= 0 && last < 0; i--) {
      const e = events[i]!;
      if (e.type === "request" && e.to === "shared") last = i;
    }
    const req = events[last] as Extract<TraceEvent, { type: "request" }>;
    const commitIndex = events.findIndex((e) => e.type === "commit" && e.id === req.id);
    await scrubTo(page, commitIndex + 3); // after the device's write and the guest's read
    const box = (await page.locator("#map").boundingBox())!;
    const at = (await page.evaluate((g) => window.memattrViz!.pageToPixel(g), req.gfn))!;
    await page.mouse.move(box.x + at.x, box.y + at.y);
    mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
    const shot = join(ROOT, "test-artifacts", "viz.png");
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.MEMATTR_UPDATE_DOCS_SCREENSHOT === "1") copyFileSync(shot, join(ROOT, "docs", "viz.png"));
    expect(existsSync(shot)).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
