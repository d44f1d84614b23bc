/**
 * memattr's error classes. Every error the library throws on purpose is a `MemattrError`
 * with a stable `code`, so callers and tests can branch on `err.code` rather than on text.
 * Argument errors also keep the standard classes' meaning: a wrong type is reported by
 * `MemattrTypeError`, a value outside its range by `MemattrRangeError`.
 */

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
