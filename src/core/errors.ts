/**
 * memattr's error classes. Every error the library throws on purpose is a `MemattrError`
 * with a stable `code`, so callers and tests can branch on `err.code` rather than on text.
 * Argument errors also keep the standard classes' meaning: a wrong type is reported by
 * `MemattrTypeError`, a value outside its range by `MemattrRangeError`.
 */

import { E_FAULT, E_INVAL, E_NOMEM, E_NOSYS, E_RANGE, ERROR_CODES } from "./_abi.js";

/** Base class of every error memattr throws deliberately. */
export class MemattrError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "MemattrError";
  }
}

/** An argument of the wrong type: not a finite integer, not a number at all. Code `EINVALTYPE`. */
export class MemattrTypeError extends MemattrError {
  constructor(message: string) {
    super("EINVALTYPE", message);
    this.name = "MemattrTypeError";
  }
}

/** An argument outside its allowed range (gfn beyond 2^40, start >= end, value > 255). Code `ERANGE`. */
export class MemattrRangeError extends MemattrError {
  constructor(message: string) {
    super("ERANGE", message);
    this.name = "MemattrRangeError";
  }
}

/** Wasm linear memory could not grow; the operation was rolled back. Code `ENOMEM`. */
export class MemattrMemoryError extends MemattrError {
  constructor(message: string) {
    super("ENOMEM", message);
    this.name = "MemattrMemoryError";
  }
}

/** A call on an object after `dispose()`/`close()`. Code `EDISPOSED`. */
export class MemattrDisposedError extends MemattrError {
  constructor(what: string) {
    super("EDISPOSED", `${what} was used after dispose()`);
    this.name = "MemattrDisposedError";
  }
}

/** The environment lacks something required (no WebAssembly, no koffi). Code `EUNSUPPORTED`. */
export class MemattrUnsupportedError extends MemattrError {
  constructor(message: string) {
    super("EUNSUPPORTED", message);
    this.name = "MemattrUnsupportedError";
  }
}

/**
 * Turns a negative code of the core's map exports into the matching error (codes: assembly/abi.ts).
 * The conversion model's codes get errors with more context in src/model.
 */
export function codeToError(rc: number, op: string): MemattrError {
  switch (rc) {
    case E_NOMEM:
      return new MemattrMemoryError(`${op}: Wasm linear memory could not grow; the map is unchanged`);
    case E_RANGE:
      return new MemattrRangeError(`${op}: a page number is outside [0, 2^40]`);
    case E_INVAL:
      return new MemattrRangeError(`${op}: invalid argument (not an integer, start >= end, or a value outside 0–255)`);
    case E_NOSYS:
      return new MemattrRangeError(`${op}: unknown batch opcode`);
    case E_FAULT:
      return new MemattrError("EFAULT", `${op}: ${ERROR_CODES.get(E_FAULT)!.text}`);
    default: {
      const known = ERROR_CODES.get(rc);
      return new MemattrError("EFAULT", `${op}: core returned ${rc}${known ? ` (${known.errno}: ${known.text})` : ""}`);
    }
  }
}
