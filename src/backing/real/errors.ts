/**
 * Errors of the backing layer. Argument errors reuse the core's classes (MemattrTypeError,
 * MemattrRangeError) and the model's OutsideGuestMemoryError (EOUTSIDE); syscall failures are
 * the binding's KvmError; a call after close() is MemattrDisposedError (EDISPOSED).
 *
 * | class         | code    | when                                                             |
 * |---------------|---------|------------------------------------------------------------------|
 * | BackingError  | ELEAK   | a copy from the private side into the shared side                |
 * | BackingError  | ELAYOUT | a copy between backings whose guest memory maps differ           |
 */
import { MemattrError } from "../../core/errors.js";

/** A request a backing refuses because it would break its rules. */
export class BackingError extends MemattrError {
  constructor(code: "ELEAK" | "ELAYOUT", message: string) {
    super(code, message);
    this.name = "BackingError";
  }
}
