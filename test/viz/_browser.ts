// What the browser tests of the visualiser share: Debian's Chromium through playwright-core (a
// persistent context in its own profile folder), a page built from src/viz into a temporary
// folder, and the page's canvas read back pixel by pixel, scrubbed through its own controls.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
const ROOT = new URL("../../", import.meta.url).pathname;
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/viz: skipped: ${CHROMIUM} is missing (CI installs it with apt-get install chromium)`);

/** Builds the page into a fresh temporary folder (test files run in parallel: each its own copy). */
export async function buildPage(prefix: string): Promise<string> {
  const { buildViz } = (await import(pathToFileURL(join(ROOT, "scripts/build-viz.mjs")).href)) as { buildViz(o: { outDir: string }): Promise<string> };
  return buildViz({ outDir: mkdtempSync(join(tmpdir(), prefix)) });
}

/** Chromium, headless, 1400 × 1000 at one device pixel per CSS pixel, with its profile in `userDataDir`. */
export function launchChromium(userDataDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    deviceScaleFactor: 1,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export type Rgb = [number, number, number];

/** The canvas pixel at the centre of the cell showing `gfn`. */
export async function pixelAtPage(page: Page, gfn: number): Promise<Rgb> {
  return page.evaluate((g) => {
    const at = window.memattrViz!.pageToPixel(g);
    if (at === null) throw new Error(`gfn ${g} is out of view`);
    const canvas = document.getElementById("map") as HTMLCanvasElement;
    const dpr = window.devicePixelRatio || 1;
    const d = canvas.getContext("2d")!.getImageData(Math.floor(at.x * dpr), Math.floor(at.y * dpr), 1, 1).data;
    return [d[0]!, d[1]!, d[2]!] as [number, number, number];
  }, gfn);
}

// The colours the page must paint, written here (the legend's colours are part of the page's
// contract), not read from src/viz/palette.ts: a change there must show up as a failing test.
export const EXPECTED_RGB: Record<"shared" | "private" | "outside", Rgb> = { shared: [56, 189, 248], private: [52, 168, 110], outside: [38, 44, 56] };

export async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => window.memattrViz?.ready === true, null, { timeout: 60_000 });
}

/** Moves the scrubber to event `index` (as a user drags it) and waits for the page to get there. */
export async function scrubTo(page: Page, index: number): Promise<void> {
  await page.evaluate((i) => {
    const scrub = document.getElementById("scrub") as HTMLInputElement;
    scrub.value = String(i);
    scrub.dispatchEvent(new Event("input", { bubbles: true }));
  }, index);
  await page.waitForFunction((i) => window.memattrViz!.ready && window.memattrViz!.eventIndex === i, index, { timeout: 60_000 });
}
