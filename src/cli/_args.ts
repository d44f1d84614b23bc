// Option parsing shared by the subcommands: one error class for "this command line cannot run"
// (printed with the usage, exit code 2), node:util parseArgs with its errors turned into it, and
// the number and size options, read strictly (decimal digits only: Number("") is 0, Number("1e3")
// is 1000, Number("0x10") is 16 — none of them is what a user typed by accident).
import { type ParseArgsConfig, parseArgs } from "node:util";
import { MemattrError } from "../core/errors.js";
import { parseBytes } from "../trace/units.js";

/** A command line a subcommand cannot run. The subcommand prints the message and its usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** node:util parseArgs, its own errors (unknown option, missing value, stray positional) as UsageError. */
export function parseOptions<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_")) throw new UsageError((err as Error).message);
    throw err;
  }
}

/** An integer option written in decimal digits, in `[min, max]`; undefined when absent. */
export function intOption(name: string, text: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${text}'`);
  return n;
}

/** Most worker threads `--jobs` takes (a count past the machine's cores only queues). */
export const MAX_JOBS = 256;

/** `--jobs N`: worker threads, 1 (run in this thread) to {@link MAX_JOBS}; undefined when absent. */
export function jobsOption(text: string | undefined): number | undefined {
  return intOption("jobs", text, 1, MAX_JOBS);
}

/** A byte size option ("1GiB", "64MiB", "4096"); undefined when absent. */
export function bytesOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseBytes(text);
  } catch (err) {
    if (err instanceof MemattrError) throw new UsageError(`--${name}: ${err.message}`);
    throw err;
  }
}

/**
 * The message for a failed file operation (a Node system error: ENOENT, EISDIR, EACCES, …), or
 * undefined for any other error.
 */
export function fileErrorMessage(err: unknown): string | undefined {
  const e = err as { code?: unknown; syscall?: unknown; path?: unknown; message?: unknown };
  if (typeof e !== "object" || e === null || typeof e.code !== "string" || typeof e.syscall !== "string") return undefined;
  return typeof e.message === "string" ? e.message : `${e.syscall} failed: ${e.code}`;
}
