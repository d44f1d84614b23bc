/**
 * Errors of the backing layer. Argument errors reuse the core's classes (MemattrTypeError,
 * MemattrRangeError) and the model's OutsideGuestMemoryError (EOUTSIDE); syscall failures are
 * the binding's KvmError; a call after close() is MemattrDisposedError (EDISPOSED).
 *
 * | class         | code       | when                                                          |
 * |---------------|------------|---------------------------------------------------------------|
 * | BackingError  | ELEAK      | a copy from the private side into the shared side             |
 * | BackingError  | ELAYOUT    | a copy between backings whose guest memory maps differ        |
 * | DiscardError  | errno name | a discard batch's fallocate failed part-way (a KvmError)      |
 */
import { MemattrError } from "../../core/errors.js";
import { KvmError } from "../../kvm/errors.js";
import type { GfnRange } from "../../model/errors.js";
import type { PartialDiscard } from "../contract.js";

/** A request a backing refuses because it would break its rules. */
export class BackingError extends MemattrError {
  constructor(code: "ELEAK" | "ELAYOUT", message: string) {
    super(code, message);
    this.name = "BackingError";
  }
}

/**
 * A discard batch stopped by a failed fallocate(PUNCH_HOLE): the kernel's error (same `op`,
 * `errno`, `code`, `hint`; the original as `cause`) and how far the batch got — its first
 * `discardedRanges` ranges were punched, `failedRange` and those after it were not.
 */
export class DiscardError extends KvmError implements PartialDiscard {
  /**
   * @param cause - the fallocate's KvmError
   * @param discardedRanges - leading ranges of the batch that were discarded
   * @param failedRange - the first range not discarded (its syscall failed, or one covering it and its neighbours)
   * @param nranges - the batch's length
   */
  constructor(
    cause: KvmError,
    readonly discardedRanges: number,
    readonly failedRange: GfnRange,
    nranges: number,
  ) {
    super(cause.op, cause.errno, cause.code, cause.hint);
    this.name = "DiscardError";
    this.cause = cause;
    this.message =
      `discard: ${cause.message}, at ranges[${discardedRanges}] (gfn 0x${failedRange.gfn.toString(16)} + ${failedRange.npages} pages): ` +
      `${discardedRanges} of ${nranges} ranges discarded, the rest untouched`;
  }
}
