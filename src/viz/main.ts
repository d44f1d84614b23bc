/**
 * Entry of the visualiser page (bundled by scripts/build-viz.mjs into viz-dist/viz.js).
 * Thin wiring: the controls, the player loop and the test hook; the work lives in
 * src/trace (generators, importers), src/replay (stepping and comparing policies),
 * map-canvas.ts and compare.ts.
 *
 * URL query (all optional): `trace=<url>&name=<file name>` loads a served trace file (what
 * `memattr viz TRACE` opens); otherwise `gen=<generator>&guest=<bytes>&seed=<n>&transactions=<n>`
 * picks the generated trace; `policy=<name>` the policy shown on the map.
 */
import type { GfnRange } from "../model/errors.js";
import type { Tracker } from "../model/tracker.js";
import { PAGE_BYTES } from "../model/states.js";
import { POLICY_NAMES } from "../policy/create.js";
import type { TraceEvent } from "../trace/format.js";
import type { GeneratorName } from "../trace/generate.js";
import { formatBytes, parseBytes } from "../trace/units.js";
import { type ComparisonRow, moveCursors, renderComparison, selectRow } from "./compare.js";
import type { VizHook, VizCounters } from "./hook.js";
import { MapCanvas } from "./map-canvas.js";
import { CLASS_DOUBLE, CLASS_PENDING_PRIVATE, CLASS_PENDING_SHARED, CLASS_PRIVATE, CLASS_SHARED, CLASSES, cssColor } from "./palette.js";
import { compareAllPolicies, POLICY_HINTS, stepperFactory } from "./stepper.js";
import { PlayerSession } from "./session.js";
import { type LoadedTrace, loadBytes, loadGenerated, MAX_GUEST_BYTES } from "./sources.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const ui = {
  genName: $<HTMLSelectElement>("gen-name"),
  genGuest: $<HTMLInputElement>("gen-guest"),
  genSeed: $<HTMLInputElement>("gen-seed"),
  genTransactions: $<HTMLInputElement>("gen-transactions"),
  genLoad: $<HTMLButtonElement>("gen-load"),
  drop: $("drop-zone"),
  file: $<HTMLInputElement>("file-input"),
  policy: $<HTMLSelectElement>("policy"),
  policyHint: $("policy-hint"),
  counters: $<HTMLTableElement>("counters"),
  label: $("trace-label"),
  notes: $("trace-notes"),
  status: $("status"),
  play: $<HTMLButtonElement>("play"),
  step: $<HTMLButtonElement>("step"),
  speed: $<HTMLSelectElement>("speed"),
  scrub: $<HTMLInputElement>("scrub"),
  position: $("position"),
  lastEvent: $("last-event"),
  legend: $("legend"),
  charts: $("charts"),
  chartLegend: $("chart-legend"),
  table: $<HTMLTableElement>("policy-table"),
  compareNote: $("compare-note"),
};

const map = new MapCanvas($<HTMLCanvasElement>("map"), $("hover"), $("zoom-label"));
let wasm: WebAssembly.Module | undefined;
let session: PlayerSession | undefined;
let playing = false;
let busy = 0;
let rows: ComparisonRow[] = [];
let charts: SVGSVGElement[] = [];
let loadToken = 0;

// ---- status -------------------------------------------------------------------------------

function setStatus(text: string, error = false): void {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", error);
}

async function withBusy<T>(text: string, body: () => Promise<T>): Promise<T> {
  busy++;
  setStatus(text);
  try {
    return await body();
  } finally {
    busy--;
    if (busy === 0 && !ui.status.classList.contains("error")) setStatus("");
  }
}

// ---- counters -----------------------------------------------------------------------------

function counters(): VizCounters | null {
  if (session === undefined) return null;
  const t = session.tracker.totals();
  return {
    guestPages: t.guest,
    shared: t.shared,
    private: t.private,
    pendingPrivate: t.pendingPrivate,
    pendingShared: t.pendingShared,
    doubleAllocatedPages: t.doubleAllocated,
    sharedPopulated: t.sharedPopulated,
    privatePopulated: t.privatePopulated,
    runs: session.tracker.runCount(),
    mapBytes: session.tracker.memoryBytes(),
    refused: session.refused,
  };
}

function renderCounters(): void {
  const c = counters();
  if (c === null) {
    ui.counters.replaceChildren();
    return;
  }
  const pages = (n: number) => `${n.toLocaleString("en-US")}`;
  const rowsOut: [string, string, number | null, string?][] = [
    ["shared", pages(c.shared), CLASS_SHARED],
    ["private", pages(c.private), CLASS_PRIVATE],
    ["pending → private", pages(c.pendingPrivate), CLASS_PENDING_PRIVATE],
    ["pending → shared", pages(c.pendingShared), CLASS_PENDING_SHARED],
    ["double-allocated", pages(c.doubleAllocatedPages), CLASS_DOUBLE, "sep"],
    ["guest memory", formatBytes(c.guestPages * PAGE_BYTES), null],
    ["populated shared", formatBytes(c.sharedPopulated * PAGE_BYTES), null],
    ["populated private", formatBytes(c.privatePopulated * PAGE_BYTES), null, "sep"],
    ["runs in the map", pages(c.runs), null],
    ["map memory", formatBytes(c.mapBytes), null],
    ["refused events", pages(c.refused), null],
  ];
  const trs = rowsOut.map(([label, value, cls, sep]) => {
    const tr = document.createElement("tr");
    if (sep) tr.className = "sep";
    const name = document.createElement("td");
    if (cls !== null) {
      const sw = document.createElement("i");
      sw.className = "swatch";
      sw.style.background = cssColor(cls);
      name.append(sw);
    }
    name.append(label);
    const v = document.createElement("td");
    v.textContent = value;
    tr.append(name, v);
    return tr;
  });
  const head = document.createElement("tr");
  head.className = "head";
  head.innerHTML = "<th>state</th><th>pages</th>";
  ui.counters.replaceChildren(head, ...trs);
}

// ---- player -------------------------------------------------------------------------------

function describe(ev: TraceEvent | undefined, index: number): string {
  if (ev === undefined) return index === 0 ? "before the first event" : "";
  const hex = (n: number) => `0x${n.toString(16)}`;
  switch (ev.type) {
    case "request":
      return `#${index} request ${ev.id}: ${hex(ev.gfn)} +${ev.npages} → ${ev.to}${ev.preserve ? " (preserve)" : ""}`;
    case "commit":
    case "abort":
      return `#${index} ${ev.type} ${ev.id}`;
    case "touch":
      return `#${index} touch ${ev.side} ${hex(ev.gfn)} +${ev.npages}${ev.write ? " (write)" : ""}`;
    case "fault":
      return `#${index} fault gpa ${hex(ev.gpa)} size ${ev.size} ${ev.private ? "private" : "shared"}`;
    case "hypercall":
      return `#${index} hypercall ${ev.id}: gpa ${hex(ev.gpa)} +${ev.npages} attrs ${hex(ev.attrs)}`;
    case "launch":
      return `#${index} launch`;
    case "refused":
      return `#${index} refused hypercall: gpa ${ev.gpa} +${ev.npages} attrs ${ev.attrs} (${ev.reason})`;
    case "region-add":
      return `#${index} region added: ${hex(ev.gfn)} +${ev.npages}${ev.initial === "private" ? " (private)" : ""}`;
    case "region-remove":
      return `#${index} region removed: ${hex(ev.gfn)} +${ev.npages}`;
    case "memslot":
      return `#${index} memslot ${ev.as ? `${ev.as}:` : ""}${ev.slot} ${ev.npages === 0 ? "deleted" : `${hex(ev.gfn)} +${ev.npages} flags ${hex(ev.flags)}`}`;
  }
}

function showPosition(): void {
  const s = session;
  const count = s?.trace.eventCount ?? 0;
  const index = s?.index ?? 0;
  ui.scrub.max = String(count);
  ui.scrub.value = String(index);
  ui.position.textContent = `${index.toLocaleString("en-US")} / ${count.toLocaleString("en-US")}`;
  ui.lastEvent.textContent = s === undefined ? "" : describe(s.lastEvent, index);
  ui.play.textContent = playing ? "❚❚ Pause" : s?.atEnd ? "↺ Replay" : "▶ Play";
  moveCursors(charts, index, count);
  renderCounters();
  map.invalidate();
}

function setPlaying(on: boolean): void {
  playing = on;
  showPosition();
  if (on) requestAnimationFrame(tick);
}

function tick(): void {
  if (!playing || session === undefined) return;
  if (busy === 0) {
    session.advance(Number(ui.speed.value));
    if (session.atEnd) playing = false;
    showPosition();
  }
  if (playing) requestAnimationFrame(tick);
}

async function seek(target: number): Promise<void> {
  const s = session;
  if (s === undefined) return;
  await withBusy(`replaying to event ${target.toLocaleString("en-US")}…`, () =>
    s.seek(target, (i) => {
      setStatus(`replaying to event ${target.toLocaleString("en-US")}… ${Math.round((i / Math.max(1, target)) * 100)}%`);
      ui.position.textContent = `${i.toLocaleString("en-US")} / ${s.trace.eventCount.toLocaleString("en-US")}`;
    }),
  );
  showPosition();
}

// ---- loading ------------------------------------------------------------------------------

async function loadWasm(): Promise<WebAssembly.Module> {
  const url = new URL("memattr.wasm", import.meta.url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url.href}: HTTP ${response.status}`);
  // compileStreaming needs the application/wasm MIME type; some static hosts lack it.
  return WebAssembly.compile(await response.arrayBuffer());
}

async function useTrace(make: () => LoadedTrace | Promise<LoadedTrace>): Promise<void> {
  const token = ++loadToken;
  setPlaying(false);
  try {
    await withBusy("loading trace…", async () => {
      await new Promise((done) => setTimeout(done, 0)); // let the status paint
      const trace = await make();
      progress = null;
      if (token !== loadToken) return;
      const next = new PlayerSession(trace, stepperFactory(wasm!), ui.policy.value);
      await next.start();
      session?.dispose();
      session = next;
      ui.label.textContent = trace.label;
      ui.notes.textContent = [`${trace.eventCount.toLocaleString("en-US")} events`, `${regionsText(trace.regions)}`, ...trace.notes].join(" · ");
      map.setGuest(trace.regions);
      // Through the session: a seek backwards or a policy change swaps its tracker.
      map.setSource({ forEachRawRun: (fn, gfn, npages) => runsWithHoles(next.tracker, fn, gfn, npages) });
      rows = [];
      charts = [];
      ui.charts.replaceChildren();
      ui.chartLegend.replaceChildren();
      ui.table.replaceChildren();
      showPosition();
    });
    if (token === loadToken && session !== undefined) await compare(session.trace, token);
  } catch (err) {
    setStatus(`${(err as Error).name ?? "Error"}: ${(err as Error).message}`, true);
  }
}

/**
 * The tracker's raw runs over `[gfn, gfn + npages)`, with the parts that are not guest memory
 * right now (a range not plugged yet, or unplugged) given as value 0 ("not guest memory"): the
 * map's extent covers every range the trace ever plugs, the tracker only what is plugged now.
 */
function runsWithHoles(tracker: Tracker, fn: (gfn: number, npages: number, value: number) => void, gfn?: number, npages?: number): void {
  if (gfn === undefined || npages === undefined) {
    tracker.forEachRawRun(fn);
    return;
  }
  if (tracker.memory.contains(gfn, npages)) {
    tracker.forEachRawRun(fn, gfn, npages);
    return;
  }
  const end = gfn + npages;
  let at = gfn;
  tracker.memory.forEach((s: number, e: number) => {
    const a = Math.max(s, gfn);
    const b = Math.min(e, end);
    if (a >= b) return;
    if (a > at) fn(at, a - at, 0);
    tracker.forEachRawRun(fn, a, b - a);
    at = b;
  });
  if (at < end) fn(at, end - at, 0);
}

function regionsText(regions: GfnRange[]): string {
  const pages = regions.reduce((n, r) => n + r.npages, 0);
  return `guest ${formatBytes(pages * PAGE_BYTES)} in ${regions.length} region${regions.length === 1 ? "" : "s"}`;
}

async function compare(trace: LoadedTrace, token: number): Promise<void> {
  ui.compareNote.textContent = "replaying every policy on the simulated backing…";
  const t0 = performance.now();
  const total = trace.eventCount * POLICY_NAMES.length;
  const result = await compareAllPolicies(
    wasm!,
    trace,
    () => token !== loadToken,
    (policyIndex, done) => {
      const all = policyIndex * trace.eventCount + done;
      const s = (performance.now() - t0) / 1000;
      const rate = s > 0.5 ? `, ${Math.round(all / s / 1000).toLocaleString("en-US")}k events/s` : "";
      showProgress(`replaying every policy: ${POLICY_NAMES[policyIndex] ?? ""} (${policyIndex + 1} of ${POLICY_NAMES.length})${rate}`, all, total, "compare");
    },
  );
  if (token === loadToken) {
    progress = null;
    compareMs = performance.now() - t0;
  }
  if (token !== loadToken || result === null) return;
  rows = result.rows;
  charts = renderComparison(ui.charts, ui.chartLegend, ui.table, result.rows, result.series, trace.eventCount, ui.policy.value);
  ui.compareNote.textContent = result.note;
  showPosition();
}

function loadFromGenerator(): Promise<void> {
  return useTrace(() => {
    const guestBytes = parseBytes(ui.genGuest.value);
    if (guestBytes > MAX_GUEST_BYTES) throw new RangeError(`guest size ${formatBytes(guestBytes)} is above the page's ${formatBytes(MAX_GUEST_BYTES)}`);
    const extra: Record<string, number> = {};
    if (ui.genTransactions.value.trim() !== "") extra.transactions = Number(ui.genTransactions.value);
    return loadGenerated(ui.genName.value as GeneratorName, guestBytes, Number(ui.genSeed.value) || 0, extra);
  });
}

function loadFile(file: File): Promise<void> {
  return useTrace(async () => loadBytes(new Uint8Array(await file.arrayBuffer()), file.name, readingProgress(file.name)));
}

// ---- progress -----------------------------------------------------------------------------

/** Long work in progress (reading a file, replaying every policy), or null. */
let progress: { phase: string; done: number; total: number } | null = null;
/** Wall time of the last finished comparison (every policy replayed), ms. */
let compareMs: number | null = null;
let progressShownAt = 0;

/** Records progress and shows it (at most every 100 ms; always the last step). */
function showProgress(phase: string, done: number, total: number, where: "status" | "compare"): void {
  progress = { phase, done, total };
  const now = performance.now();
  if (done < total && now - progressShownAt < 100) return;
  progressShownAt = now;
  const pct = total > 0 ? Math.floor((done / total) * 100) : 0;
  const text = `${phase}… ${pct}%`;
  if (where === "status") setStatus(text);
  else ui.compareNote.textContent = text;
}

function readingProgress(name: string): (done: number, total: number) => void {
  const t0 = performance.now();
  return (done, total) => {
    const s = (performance.now() - t0) / 1000;
    showProgress(`reading ${name}: ${formatBytes(done)} of ${formatBytes(total)}${s > 0.5 ? `, ${formatBytes(done / s)}/s` : ""}`, done, total, "status");
  };
}

// ---- wiring -------------------------------------------------------------------------------

function buildLegend(): void {
  const items = CLASSES.map((c, i) => {
    const li = document.createElement("li");
    const sw = document.createElement("i");
    sw.style.background = cssColor(i);
    li.title = c.hint;
    li.append(sw, c.label);
    return li;
  });
  const rule = document.createElement("li");
  rule.className = "rule";
  rule.textContent = "a cell of many pages shows the rarest state in it";
  ui.legend.replaceChildren(...items, rule);
}

function wire(): void {
  for (const name of POLICY_NAMES) ui.policy.add(new Option(name, name));
  ui.policy.value = "adaptive";
  ui.policyHint.textContent = POLICY_HINTS[ui.policy.value] ?? "";
  ui.policy.addEventListener("change", async () => {
    ui.policyHint.textContent = POLICY_HINTS[ui.policy.value] ?? "";
    selectRow(ui.table, ui.policy.value);
    const s = session;
    if (s === undefined) return;
    await withBusy(`replaying under ${ui.policy.value}…`, () => s.setPolicy(ui.policy.value));
    showPosition();
  });
  ui.genLoad.addEventListener("click", () => void loadFromGenerator());
  ui.file.addEventListener("change", () => {
    const f = ui.file.files?.[0];
    if (f !== undefined) void loadFile(f);
    ui.file.value = "";
  });
  ui.drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    ui.drop.classList.add("over");
  });
  ui.drop.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
  ui.drop.addEventListener("drop", (e) => {
    e.preventDefault();
    ui.drop.classList.remove("over");
    const f = e.dataTransfer?.files[0];
    if (f !== undefined) void loadFile(f);
  });
  document.body.addEventListener("dragover", (e) => e.preventDefault());
  document.body.addEventListener("drop", (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files[0];
    if (f !== undefined) void loadFile(f);
  });
  ui.play.addEventListener("click", async () => {
    if (session === undefined) return;
    if (!playing && session.atEnd) await seek(0);
    setPlaying(!playing);
  });
  ui.step.addEventListener("click", () => {
    if (session === undefined || busy > 0) return;
    setPlaying(false);
    session.advance(1);
    showPosition();
  });
  ui.scrub.addEventListener("input", () => {
    const target = Number(ui.scrub.value); // read before setPlaying() redraws the slider
    playing = false;
    void seek(target);
  });
  $("zoom-in").addEventListener("click", () => map.zoom(1));
  $("zoom-out").addEventListener("click", () => map.zoom(-1));
  $("zoom-fit").addEventListener("click", () => map.fit());
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    if (e.key === " ") {
      e.preventDefault();
      ui.play.click();
    } else if (e.key === "ArrowRight") ui.step.click();
    else if (e.key === "+" || e.key === "=") map.zoom(1);
    else if (e.key === "-") map.zoom(-1);
  });
}

function installHook(): void {
  const hook: VizHook = {
    get ready() {
      return wasm !== undefined && session !== undefined && busy === 0;
    },
    get busy() {
      return busy > 0;
    },
    get playing() {
      return playing;
    },
    get eventIndex() {
      return session?.index ?? 0;
    },
    get eventCount() {
      return session?.trace.eventCount ?? 0;
    },
    get traceLabel() {
      return session?.trace.label ?? "";
    },
    get policy() {
      return session?.policy ?? ui.policy.value;
    },
    get counters() {
      return counters();
    },
    get table() {
      return rows.map((r) => ({ ...r }));
    },
    get view() {
      return { ...map.window };
    },
    get render() {
      return { runsVisited: map.lastRunsVisited, drawMs: map.lastDrawMs };
    },
    get progress() {
      return progress === null ? null : { ...progress };
    },
    get compareMs() {
      return compareMs;
    },
    get error() {
      return ui.status.classList.contains("error") ? ui.status.textContent : null;
    },
    pageToPixel(gfn: number) {
      map.draw(); // make the canvas match the state the caller just read
      return map.viewport.pageToPixel(gfn);
    },
  };
  Object.defineProperty(window, "memattrViz", { value: Object.freeze(hook), enumerable: true });
}

async function boot(): Promise<void> {
  buildLegend();
  wire();
  installHook();
  const q = new URLSearchParams(location.search);
  if (q.has("policy") && (POLICY_NAMES as readonly string[]).includes(q.get("policy")!)) ui.policy.value = q.get("policy")!;
  ui.policyHint.textContent = POLICY_HINTS[ui.policy.value] ?? "";
  try {
    wasm = await withBusy("loading memattr.wasm…", loadWasm);
  } catch (err) {
    setStatus(`cannot load the core: ${(err as Error).message}`, true);
    return;
  }
  const traceUrl = q.get("trace");
  if (traceUrl !== null) {
    const name = q.get("name") ?? traceUrl;
    await useTrace(async () => {
      const response = await fetch(new URL(traceUrl, location.href));
      if (!response.ok) throw new Error(`cannot fetch ${traceUrl}: HTTP ${response.status}`);
      return loadBytes(new Uint8Array(await response.arrayBuffer()), name, readingProgress(name));
    });
    return;
  }
  if (q.has("gen")) ui.genName.value = q.get("gen")!;
  if (q.has("guest")) ui.genGuest.value = q.get("guest")!;
  if (q.has("seed")) ui.genSeed.value = q.get("seed")!;
  if (q.has("transactions")) ui.genTransactions.value = q.get("transactions")!;
  else if (!q.has("gen")) ui.genTransactions.value = "2000"; // a quick first trace
  await loadFromGenerator();
}

void boot();
