/**
 * Errors of the trace layer. Both carry a stable `code` (see `MemattrError`) so a caller can
 * tell a damaged file (`ETRACEPARSE`) from one written by an incompatible build (`ETRACEVERSION`).
 */
import { MemattrError } from "../core/errors.js";

/**
 * A trace line that is not valid JSON, is cut short, or holds a record whose fields are
 * missing, of the wrong type, or out of range. Code `ETRACEPARSE`.
 *
 * `line` is 1-based and counts every line of the input, blank ones included, so it matches
 * what an editor shows. Events before the bad line were already delivered to the caller;
 * nothing after it is.
 */
export class TraceParseError extends MemattrError {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super("ETRACEPARSE", `trace line ${line}: ${reason}`);
    this.name = "TraceParseError";
  }
}

/**
 * A trace whose header names another format or a version this build cannot read.
 * Code `ETRACEVERSION`. `found` is what the header said; `supported` what this build reads.
 */
export class TraceVersionError extends MemattrError {
  constructor(
    readonly found: string,
    readonly supported: string,
  ) {
    super("ETRACEVERSION", `incompatible trace: header says ${found}, this build reads ${supported}`);
    this.name = "TraceVersionError";
  }
}
