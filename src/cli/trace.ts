/**
 * `memattr trace`: make, convert and inspect conversion traces.
 *
 *   memattr trace generate <ovmf-dma|linux-boot|adversarial|hotplug> [--guest 1GiB] [--seed N]
 *                          [--transactions N] [--phases alternate,random,flood]
 *                          [--abort-rate P] [-o FILE]
 *   memattr trace import <FILE> [-o OUT.jsonl] [--format auto|ftrace|qemu] [--lenient]
 *   memattr trace stats <FILE> [--json]
 *
 * Traces go to stdout unless `-o` is given; summaries and errors go to stderr. Exit codes:
 * 0 done, 1 an error while reading or writing (a file that cannot be opened is printed; a
 * TraceParseError, naming the line, is thrown to the caller), 2 usage.
 * `--transactions` sizes each generator's main loop: ovmf-dma and hotplug transactions, linux-boot
 * allocate-and-convert calls, adversarial flood requests.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { Writable } from "node:stream";
import { MemattrError } from "../core/errors.js";
import {
  detectTraceFormat,
  formatBytes,
  formatImportSummary,
  formatTrace,
  GENERATORS,
  generateTrace,
  parseTrace,
  serializeEvent,
  serializeHeader,
  TraceImporter,
  TraceStatsCounter,
} from "../trace/index.js";
import type { AdversarialPhase, GeneratedTrace, GeneratorName, ImportFormat, ImportSummary, TraceEvent, TraceHeader, TraceStats } from "../trace/index.js";
import { bytesOption, fileErrorMessage, intOption, parseOptions, UsageError } from "./_args.js";

const USAGE = `usage:
  memattr trace generate <${Object.keys(GENERATORS).join("|")}> [--guest 1GiB] [--seed N] [--transactions N]
                         [--phases alternate,random,flood] [--abort-rate P] [-o FILE]
  memattr trace import <FILE> [-o OUT.jsonl] [--format auto|ftrace|qemu] [--lenient]
  memattr trace stats <FILE> [--json]

generators:
${Object.entries(GENERATORS)
  .map(([n, g]) => `  ${n.padEnd(12)} ${g.summary}`)
  .join("\n")}
--transactions sets ovmf-dma and hotplug transactions, linux-boot conversions, adversarial flood requests.
`;

/** Writes lines to `out` in 64 KiB batches, waiting when the stream asks to. */
async function writeLines(lines: Iterable<string> | AsyncIterable<string>, out: Writable): Promise<void> {
  let batch = "";
  for await (const line of lines) {
    batch += line;
    if (batch.length >= 65_536) {
      if (!out.write(batch)) await once(out, "drain");
      batch = "";
    }
  }
  if (batch.length > 0 && !out.write(batch)) await once(out, "drain");
}

/**
 * Runs `body` writing to `file` (or stdout). The file appears only when `body` succeeds: it is
 * written beside it under a temporary name and renamed at the end, so a missing input or a
 * trace that fails half-way leaves no empty or partial output behind.
 */
async function withOutput(file: string | undefined, body: (out: Writable) => Promise<void>): Promise<void> {
  if (file === undefined) {
    await body(process.stdout);
    return;
  }
  const part = `${file}.${process.pid}.part`;
  const out = createWriteStream(part);
  try {
    await once(out, "open");
    await body(out);
    out.end();
    await once(out, "finish");
    await rename(part, file);
  } catch (err) {
    out.destroy();
    await rm(part, { force: true });
    throw err;
  }
}

/** A `memattr trace` command line, checked. */
export type TraceCommand =
  | { sub: "help" }
  | { sub: "generate"; name: GeneratorName; trace: GeneratedTrace; output: string | undefined }
  | { sub: "import"; file: string; output: string | undefined; format: ImportFormat | "auto"; lenient: boolean }
  | { sub: "stats"; file: string; json: boolean };

/**
 * Reads a `memattr trace` command line. A generator's options are checked by building the
 * (lazy) trace, so every option error is found here.
 * @throws UsageError for anything the command cannot run.
 */
export function parseTraceArgs(args: string[]): TraceCommand {
  const [sub, ...rest] = args;
  switch (sub) {
    case "generate":
      return parseGenerate(rest);
    case "import": {
      const { values, positionals } = parseOptions({
        args: rest,
        allowPositionals: true,
        options: { output: { type: "string", short: "o" }, format: { type: "string" }, lenient: { type: "boolean" } },
      });
      if (positionals.length !== 1) throw new UsageError("trace import needs one input file");
      const format = values.format ?? "auto";
      if (format !== "auto" && format !== "ftrace" && format !== "qemu") throw new UsageError(`--format must be auto, ftrace or qemu, got '${format}'`);
      return { sub, file: positionals[0]!, output: values.output, format, lenient: values.lenient ?? false };
    }
    case "stats": {
      const { values, positionals } = parseOptions({ args: rest, allowPositionals: true, options: { json: { type: "boolean" } } });
      if (positionals.length !== 1) throw new UsageError("trace stats needs one trace file");
      return { sub, file: positionals[0]!, json: values.json ?? false };
    }
    case "-h":
    case "--help":
    case "help":
      return { sub: "help" };
    default:
      throw new UsageError(sub === undefined ? "missing subcommand" : `unknown subcommand '${sub}'`);
  }
}

const PHASES: readonly string[] = ["alternate", "random", "flood"];

function parseGenerate(args: string[]): TraceCommand {
  const { values, positionals } = parseOptions({
    args,
    allowPositionals: true,
    options: {
      guest: { type: "string" },
      seed: { type: "string" },
      transactions: { type: "string" },
      phases: { type: "string" },
      "abort-rate": { type: "string" },
      output: { type: "string", short: "o" },
    },
  });
  const name = positionals[0] as GeneratorName | undefined;
  if (name === undefined || !Object.hasOwn(GENERATORS, name) || positionals.length > 1)
    throw new UsageError(`trace generate needs one generator name: ${Object.keys(GENERATORS).join(", ")}`);
  const common: { guestBytes?: number; seed?: number; abortRate?: number } = {};
  const guestBytes = bytesOption("guest", values.guest);
  if (guestBytes !== undefined) common.guestBytes = guestBytes;
  const seed = intOption("seed", values.seed, 0, 2 ** 32 - 1);
  if (seed !== undefined) common.seed = seed;
  const rate = values["abort-rate"];
  if (rate !== undefined) {
    common.abortRate = /^(?:\d+\.?\d*|\.\d+)$/.test(rate) ? Number(rate) : Number.NaN;
    if (!(common.abortRate >= 0 && common.abortRate <= 1)) throw new UsageError(`--abort-rate must be a probability from 0 to 1, got '${rate}'`);
  }
  const count = intOption("transactions", values.transactions);
  if (values.phases !== undefined && name !== "adversarial") throw new UsageError("--phases applies to the adversarial generator only");
  const phases = values.phases?.split(",");
  if (phases?.some((p) => !PHASES.includes(p))) throw new UsageError(`--phases must list ${PHASES.join(", ")}, got '${values.phases}'`);
  let trace: GeneratedTrace;
  try {
    trace =
      name === "ovmf-dma"
        ? generateTrace(name, { ...common, ...(count !== undefined && { transactions: count }) })
        : name === "linux-boot"
          ? generateTrace(name, { ...common, ...(count !== undefined && { conversions: count }) })
          : name === "hotplug"
            ? generateTrace(name, { ...common, ...(count !== undefined && { transactions: count }) })
            : generateTrace(name, {
                ...common,
                ...(count !== undefined && { floodRequests: count }),
                ...(phases !== undefined && { phases: phases as AdversarialPhase[] }),
              });
  } catch (err) {
    // the generator's own option checks (a guest too small for it, …)
    if (err instanceof MemattrError) throw new UsageError(err.message);
    throw err;
  }
  return { sub: "generate", name, trace, output: values.output };
}

async function generate(cmd: Extract<TraceCommand, { sub: "generate" }>): Promise<number> {
  const { trace, output } = cmd;
  await withOutput(output, (out) => writeLines(formatTrace(trace.header, trace.events), out));
  if (output !== undefined) {
    process.stderr.write(`memattr trace: wrote ${cmd.name} for a ${formatBytes(trace.header.regions[0]!.npages * 4096)} guest to ${output}\n`);
  }
  return 0;
}

/** Streams a real trace through the importer; the header is written before the first event, once the format is known. */
async function* importLines(file: string, format: ImportFormat | "auto", lenient: boolean, summary: { value?: ImportSummary }): AsyncGenerator<string> {
  const importer = new TraceImporter({ format, lenient, file: file.split("/").pop()! });
  summary.value = importer.summary;
  let headerWritten = false;
  const emit = function* (events: TraceEvent[]): Generator<string> {
    for (const ev of events) {
      if (!headerWritten) {
        headerWritten = true;
        yield `${serializeHeader(importer.header())}\n`;
      }
      yield `${serializeEvent(ev)}\n`;
    }
  };
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) yield* emit(importer.pushLine(line));
  yield* emit(importer.finish());
  if (!headerWritten) yield `${serializeHeader(importer.header())}\n`;
}

async function importCommand(cmd: Extract<TraceCommand, { sub: "import" }>): Promise<number> {
  const summary: { value?: ImportSummary } = {};
  await withOutput(cmd.output, (out) => writeLines(importLines(cmd.file, cmd.format, cmd.lenient, summary), out));
  process.stderr.write(formatImportSummary(summary.value!));
  return summary.value!.format === null ? 1 : 0;
}

function formatStats(header: TraceHeader | undefined, s: TraceStats): string {
  const pct = (n: number) => (s.totalEvents === 0 ? "0" : ((100 * n) / s.totalEvents).toFixed(1));
  const lines: string[] = [];
  if (header) {
    const pages = header.regions.reduce((a, r) => a + r.npages, 0);
    lines.push(
      `trace: ${header.generator ? `generator ${header.generator.name} seed ${header.generator.seed}` : `imported (${header.source?.importer ?? "unknown"})`}`,
    );
    lines.push(`guest: ${pages > 0 ? `${formatBytes(pages * 4096)} in ${header.regions.length} region(s)` : "size unknown"}`);
    if (header.generator) lines.push(`params: ${JSON.stringify(header.generator.params)}`);
  }
  lines.push(`events: ${s.totalEvents}`);
  for (const [type, n] of Object.entries(s.events)) if (n > 0) lines.push(`  ${type.padEnd(13)} ${String(n).padStart(10)}  ${pct(n)}%`);
  lines.push(`to private: ${s.toPrivate.requests} requests, ${s.toPrivate.pages} pages (${formatBytes(s.toPrivate.pages * 4096)})`);
  lines.push(`to shared:  ${s.toShared.requests} requests, ${s.toShared.pages} pages (${formatBytes(s.toShared.pages * 4096)})`);
  lines.push(
    `request sizes (pages): 1: ${s.requestSizes["1"]}, 2-7: ${s.requestSizes["2-7"]}, 8-511: ${s.requestSizes["8-511"]}, 512+: ${s.requestSizes["512+"]}`,
  );
  lines.push(`preserve (in-place encryption) requests: ${s.preserveRequests}`);
  lines.push(
    `touches: shared ${s.touches.shared.count} (${s.touches.shared.pages} pages), private ${s.touches.private.count} (${s.touches.private.pages} pages)`,
  );
  if (s.extent) lines.push(`extent: gfn 0x${s.extent.firstGfn.toString(16)}..0x${(s.extent.endGfn - 1).toString(16)}`);
  if (s.timeUs) lines.push(`time: ${((s.timeUs.last - s.timeUs.first) / 1e6).toFixed(6)} s`);
  lines.push(`pending at end: ${s.pendingAtEnd}`);
  return `${lines.join("\n")}\n`;
}

async function readSample(file: string): Promise<string> {
  const stream = createReadStream(file, { start: 0, end: 65_535, encoding: "utf8" });
  let text = "";
  for await (const chunk of stream) text += chunk;
  return text;
}

async function stats(cmd: Extract<TraceCommand, { sub: "stats" }>): Promise<number> {
  const { file } = cmd;
  const kind = detectTraceFormat(await readSample(file));
  const counter = new TraceStatsCounter();
  let header: TraceHeader | undefined;
  let summary: ImportSummary | undefined;
  if (kind === "memattr") {
    const trace = await parseTrace(createReadStream(file, { highWaterMark: 1 << 20 }));
    header = trace.header;
    for (let batch = await trace.events.nextBatch(); batch !== null; batch = await trace.events.nextBatch()) {
      for (const ev of batch) counter.add(ev);
    }
  } else if (kind !== null) {
    const importer = new TraceImporter({ format: kind, file });
    summary = importer.summary;
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of rl) for (const ev of importer.pushLine(line)) counter.add(ev);
    for (const ev of importer.finish()) counter.add(ev);
    header = importer.header();
  } else {
    process.stderr.write(`memattr trace stats: ${file} is neither a memattr trace nor kernel/QEMU trace text\n`);
    return 1;
  }
  const result = counter.result();
  if (cmd.json) process.stdout.write(`${JSON.stringify({ header, stats: result, import: summary }, null, 2)}\n`);
  else {
    process.stdout.write(formatStats(header, result));
    if (summary) process.stdout.write(formatImportSummary(summary));
  }
  return 0;
}

/** Entry of `memattr trace`. @returns the process exit code */
export async function run(args: string[]): Promise<number> {
  let cmd: TraceCommand;
  try {
    cmd = parseTraceArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`memattr trace: ${err.message}\n${USAGE}`);
    return 2;
  }
  try {
    switch (cmd.sub) {
      case "help":
        process.stdout.write(USAGE);
        return 0;
      case "generate":
        return await generate(cmd);
      case "import":
        return await importCommand(cmd);
      case "stats":
        return await stats(cmd);
    }
  } catch (err) {
    const message = fileErrorMessage(err);
    if (message === undefined) throw err;
    process.stderr.write(`memattr trace: ${message}\n`);
    return 1;
  }
}
