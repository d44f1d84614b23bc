// Fuzz of the command line (src/cli/*.ts). Two levels:
// - each subcommand's option parser (parseTraceArgs, parseReplayArgs, parseDemoArgs, parseVizArgs,
//   parseVmmArgs, parseProbeArgs) on thousands of argument lists — option names, known and not,
//   "--opt=value" forms, hostile numbers (1e400, 2^64, 0x…, "", " 5 ") — returns checked options
//   or a usage error, nothing else, and every number it returns is in its documented range;
// - the entry functions `memattr trace`, `memattr replay` and `memattr probe`, run in-process as
//   test/support/cli.ts does, on argument lists whose sizes stay small (a valid huge count would
//   just run long: the parsers' fuzz covers those), with files of fuzzed content, missing files
//   and directories: an exit code of 0, 1 or 2 (2 with a usage message), or a MemattrError —
//   never another error, never a hang.
// Paths written (-o) come only from a temporary folder, which is also the working directory here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_JOBS, UsageError } from "../../src/cli/_args.js";
import { parseDemoArgs } from "../../src/cli/demo.js";
import { parseProbeArgs, run as probe } from "../../src/cli/probe.js";
import { MAX_REPETITIONS, MAX_WARMUP_EVENTS, parseReplayArgs, run as replay } from "../../src/cli/replay.js";
import { parseTraceArgs, run as trace } from "../../src/cli/trace.js";
import { parseVizArgs } from "../../src/cli/viz.js";
import { parseVmmArgs } from "../../src/cli/vmm.js";
import { generateTrace, parseBytes, traceToString } from "../../src/trace/index.js";
import { captureCommand } from "../support/cli.js";
import { HUGE_NUMBERS, mutated, runs, typed, typedAsync } from "./_fuzz.js";

const dir = mkdtempSync(join(tmpdir(), "memattr-cli-fuzz-"));
const home = process.cwd();
beforeAll(() => process.chdir(dir)); // a relative path the fuzzer makes up lands here
afterAll(() => {
  console.log(`CLI runs by command and exit code (or error code): ${JSON.stringify(seen)}`);
  process.chdir(home);
  rmSync(dir, { recursive: true, force: true });
});

// ---- argument grammar --------------------------------------------------------------------

const ODD_VALUES = [...HUGE_NUMBERS, "", " ", " 5 ", "1e3", "0x10", "08", "1.5", "-", "--", "=", "abc", "constructor", "__proto__", "toString", "😀"];
const oddValue = fc.oneof(
  fc.constantFrom(...ODD_VALUES),
  fc.string({ maxLength: 8 }).filter((s) => !s.startsWith("/")),
);

/** An argument list from `options` (name → arbitrary of its value, or null for a flag) and `positionals`. */
function argList(options: Record<string, fc.Arbitrary<string> | null>, positionals: fc.Arbitrary<string>, maxLength = 6, junk = 1): fc.Arbitrary<string[]> {
  const names = Object.keys(options);
  const valued = names.filter((n) => n.startsWith("--") && options[n]);
  const items: fc.WeightedArbitrary<string[]>[] = [
    { weight: 20, arbitrary: fc.constantFrom(...names).chain((n) => (options[n] ? options[n].map((v) => [n, v]) : fc.constant([n]))) },
    { weight: Math.round(5 * junk), arbitrary: positionals.map((p) => [p]) },
    { weight: Math.round(5 * junk), arbitrary: fc.constantFrom("--bogus", "-x", "--", "-", "--help=1", "-h", "--json=yes").map((t) => [t]) },
  ];
  if (valued.length > 0) items.push({ weight: 5, arbitrary: fc.constantFrom(...valued).chain((n) => options[n]!.map((v) => [`${n}=${v}`])) });
  return fc.array(fc.oneof(...items), { maxLength }).map((list) => list.flat());
}
const anyValue = fc.oneof(oddValue, fc.constantFrom("0", "1", "3", "8MiB", "64MiB", "1GiB", "4PiB", "ovmf-dma", "all", "eager", "ftrace", "qemu", "auto"));
const anyPositional = fc.oneof(
  fc.constantFrom("ovmf-dma", "linux-boot", "adversarial", "generate", "import", "stats", "help", "constructor", "toString", "x.jsonl"),
  oddValue,
);

const TRACE_OPTIONS = {
  "--guest": anyValue,
  "--seed": anyValue,
  "--transactions": anyValue,
  "--phases": fc.oneof(anyValue, fc.constantFrom("alternate", "flood,random", "alternate,bogus", ",")),
  "--abort-rate": fc.oneof(anyValue, fc.constantFrom("0.5", ".5", "1.0", "1.01", "0.")),
  "-o": fc.constantFrom(join(dir, "out.jsonl")),
  "--format": anyValue,
  "--lenient": null,
  "--json": null,
};
const REPLAY_OPTIONS = {
  "--guest": anyValue,
  "--seed": anyValue,
  "--transactions": anyValue,
  "--policy": anyValue,
  "--budget": anyValue,
  "--warmup": anyValue,
  "--repeat": anyValue,
  "--jobs": anyValue,
  "--simulated": null,
  "--json": null,
  "-h": null,
};

const usage = (e: unknown) => e instanceof UsageError;

describe("fuzz: option parsers", () => {
  it("memattr trace: a checked command or a UsageError", () => {
    fc.assert(
      fc.property(argList(TRACE_OPTIONS, anyPositional), fc.constantFrom("generate", "import", "stats", "help", "bogus"), (args, sub) => {
        let cmd: ReturnType<typeof parseTraceArgs> | undefined;
        try {
          cmd = typed(() => parseTraceArgs([sub, ...args])).value;
        } catch (e) {
          expect(usage(e), String(e)).toBe(true);
          return;
        }
        if (cmd?.sub === "generate") expect(cmd.trace.header.regions[0]!.npages).toBeGreaterThan(0);
      }),
      { numRuns: runs(2500) },
    );
  });

  it("memattr replay: a checked command with every number in its range, or a UsageError", () => {
    fc.assert(
      fc.property(argList(REPLAY_OPTIONS, anyPositional), (args) => {
        let o: ReturnType<typeof parseReplayArgs>;
        try {
          o = typed(() => parseReplayArgs(args)).value!;
        } catch (e) {
          expect(usage(e), String(e)).toBe(true);
          return;
        }
        if (o === "help") return;
        expect(o.repetitions >= 1 && o.repetitions <= MAX_REPETITIONS && Number.isInteger(o.repetitions)).toBe(true);
        expect(o.warmupEvents >= 0 && o.warmupEvents <= MAX_WARMUP_EVENTS && Number.isInteger(o.warmupEvents)).toBe(true);
        expect(Number.isSafeInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32).toBe(true);
        if (o.jobs !== undefined) expect(o.jobs >= 1 && o.jobs <= MAX_JOBS && Number.isInteger(o.jobs)).toBe(true);
        if (o.transactions !== undefined) expect(Number.isSafeInteger(o.transactions) && o.transactions >= 0).toBe(true);
        for (const bytes of [o.guestBytes, o.budgetBytes]) expect(Number.isSafeInteger(bytes) && bytes >= 0).toBe(true);
      }),
      { numRuns: runs(2500) },
    );
  });

  it("memattr demo, viz and probe: checked options or a UsageError", () => {
    fc.assert(
      fc.property(
        argList(
          {
            "--guest": anyValue,
            "--budget": anyValue,
            "--seed": anyValue,
            "--simulated": null,
            "--port": anyValue,
            "--host": anyValue,
            "--device": anyValue,
            "--json": null,
            "-h": null,
          },
          anyPositional,
        ),
        (args) => {
          for (const parse of [parseDemoArgs, parseVizArgs, parseProbeArgs]) {
            let out: unknown;
            try {
              out = typed(() => parse(args)).value;
            } catch (e) {
              expect(usage(e), `${parse.name}: ${String(e)}`).toBe(true);
              continue;
            }
            if (parse === parseDemoArgs) {
              const d = out as ReturnType<typeof parseDemoArgs>;
              expect(d.guestBytes).toBe(parseBytes(args.includes("--guest") || args.some((a) => a.startsWith("--guest=")) ? d.guestBytes.toString() : "1GiB"));
            }
            if (parse === parseVizArgs && out !== "help") {
              const port = (out as { port: number }).port;
              expect(Number.isInteger(port) && port >= 0 && port <= 65535).toBe(true);
            }
          }
        },
      ),
      { numRuns: runs(2500) },
    );
  });

  it("memattr vmm: options with every count a decimal integer, or the usage message", () => {
    const int = fc.oneof(anyValue, fc.constantFrom("1000", "4", "64"));
    fc.assert(
      fc.property(
        argList(
          {
            "--policy": anyValue,
            "--transactions": int,
            "--ram-mib": int,
            "--budget-kib": int,
            "--timeout-s": int,
            "--doorbell": null,
            "--hypercall": null,
            "--no-verify": null,
            "--json": null,
          },
          oddValue,
        ),
        (args) => {
          const o = typed(() => parseVmmArgs(args)).value!;
          if (typeof o === "string") return;
          for (const [name, n, min] of [
            ["transactions", o.transactions, 0],
            ["ramMib", o.ramMib, 4],
            ["timeoutS", o.timeoutS, 1],
          ] as const) {
            expect(Number.isSafeInteger(n) && n >= min, `${name} ${n}`).toBe(true);
          }
          // every count came from decimal digits the user typed ("", "1e3", "0x10" are refused)
          for (let i = 0; i < args.length - 1; i++) {
            if (["--transactions", "--ram-mib", "--budget-kib", "--timeout-s"].includes(args[i]!)) expect(args[i + 1]).toMatch(/^\d+$/);
          }
        },
      ),
      { numRuns: runs(2500) },
    );
  });
});

// ---- entry functions, in-process ---------------------------------------------------------

const small = generateTrace("ovmf-dma", { guestBytes: 2 ** 23, transactions: 4, seed: 2 });
const SMALL_TRACE = traceToString(small.header, small.events);
const FTRACE =
  "  qemu-4142 [001] ..... 10.000001: kvm_vm_set_mem_attributes: 0x00000000000010 -- 0x00000000000012 [0x8]\nkvm_hypercall: nr 0xc a0 0x1001 a1 0x1 a2 0x10 a3 0x0\n";
const content = fc.oneof(fc.constantFrom(SMALL_TRACE, FTRACE, "", "\n", "{}\n"), mutated([SMALL_TRACE, FTRACE]), fc.string({ maxLength: 200 }));

/** A file to read: fuzzed content in the temp folder, a missing one, or a folder. */
let fileNo = 0;
function inputFile(text: string | null): string {
  if (text === null) return join(dir, "missing", "x.jsonl");
  const f = join(dir, `in-${fileNo++}.txt`);
  writeFileSync(f, text);
  return f;
}
mkdirSync(join(dir, "a-folder"), { recursive: true });

// mostly values that run, some that do not
const SAFE_COUNTS = fc.oneof({ weight: 3, arbitrary: fc.constantFrom("0", "1", "3") }, fc.constantFrom("x", "-1", "1e3", "0x10", "", "99999999999999999999"));
const SAFE_SIZES = fc.oneof({ weight: 3, arbitrary: fc.constantFrom("8MiB", "16MiB", "2MiB") }, fc.constantFrom("4096", "1e400", "abc", "8PiB", ""));
/** Exit codes (and "error" for a MemattrError) seen, by command: the test prints them, so a run that only ever meets usage errors shows. */
const seen: Record<string, Record<string, number>> = {};
const exitChecks = async (run: (args: string[]) => Promise<number>, args: string[]) => {
  const r = await typedAsync(() => captureCommand(run, args), 8000);
  const tally = (seen[run === trace ? `trace ${args[0]}` : run === replay ? "replay" : "probe"] ??= {});
  const key = r.error ? r.error.code : String(r.value.code);
  tally[key] = (tally[key] ?? 0) + 1;
  if (r.error) return; // a MemattrError (a TraceParseError names its line): the documented exit 1 via main
  expect([0, 1, 2], `exit code of ${JSON.stringify(args)}`).toContain(r.value.code);
  if (r.value.code === 2) expect(r.value.err, "a usage error says so").toMatch(/usage|must|unknown|needs|give one|one trace|applies/);
};

describe("fuzz: entry functions in-process", () => {
  it("memattr trace generate|import|stats", async () => {
    const out = fc.constantFrom(join(dir, "out.jsonl"), join(dir, "missing", "out.jsonl"), join(dir, "a-folder"));
    const extra = fc.constantFrom("extra", "--", "-");
    const SUB = {
      generate: argList(
        {
          "--guest": SAFE_SIZES,
          "--seed": SAFE_COUNTS,
          "--transactions": SAFE_COUNTS.filter((c) => c !== "99999999999999999999"),
          "--phases": fc.constantFrom("flood", "alternate,bogus", ""),
          "--abort-rate": fc.constantFrom("0.5", "2", "x"),
          "-o": out,
        },
        extra,
        3,
        0.2,
      ),
      import: argList({ "-o": out, "--format": fc.constantFrom("auto", "ftrace", "qemu", "bogus"), "--lenient": null }, extra, 3, 0.2),
      stats: argList({ "--json": null }, extra, 2, 0.2),
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("generate", "import", "stats").chain((sub) => fc.tuple(fc.constant(sub), SUB[sub as keyof typeof SUB])),
        fc.constantFrom("ovmf-dma", "linux-boot", "adversarial", "constructor", "nope"),
        fc.option(content, { nil: null }),
        async ([sub, args], generator, text) => {
          const head =
            sub === "generate"
              ? [sub, generator, "--guest", "16MiB", "--transactions", "3"]
              : [sub, text === null && fileNo % 5 === 0 ? join(dir, "a-folder") : inputFile(text)];
          await exitChecks(trace, [...head, ...args]);
        },
      ),
      { numRuns: runs(200) },
    );
  });

  it("memattr replay on small generators, fuzzed files, missing files and folders", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom("ovmf-dma", "adversarial", "constructor", join(dir, "a-folder")), fc.option(content, { nil: null }).map(inputFile)),
        argList(
          {
            "--guest": SAFE_SIZES,
            "--budget": SAFE_SIZES,
            "--seed": SAFE_COUNTS,
            "--policy": fc.constantFrom("adaptive", "eager", "all", "lazy"),
            "--repeat": SAFE_COUNTS.filter((c) => c !== "99999999999999999999"),
            "--warmup": SAFE_COUNTS,
            "--jobs": fc.constantFrom("1", "2", "0", "x"),
            "--json": null,
          },
          fc.constantFrom("extra"),
          3,
          0.2,
        ),
        async (spec, args) => {
          await exitChecks(replay, [
            spec,
            "--simulated",
            "--guest",
            "16MiB",
            "--transactions",
            "3",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--policy",
            "adaptive",
            ...args,
          ]);
        },
      ),
      { numRuns: runs(60) },
    );
  });

  it("memattr probe with odd devices and arguments", async () => {
    await fc.assert(
      fc.asyncProperty(
        argList({ "--device": fc.constantFrom("/dev/null", "/nonexistent/kvm", dir, "", "/proc/self/status"), "--json": null, "-h": null }, oddValue),
        async (args) => {
          await exitChecks(probe, args);
        },
      ),
      { numRuns: runs(150) },
    );
  });
});
