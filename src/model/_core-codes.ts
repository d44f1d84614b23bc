/**
 * Internal: the errors for the codes the core's conversion exports refuse with (assembly/abi.ts),
 * named the way the model names its states. The core decides; this only phrases.
 */
import { CONV_MAX_OPEN, E_BUSY, E_NOSPC, E_NXIO, E_OPNOTSUPP, E_PERM, OUT_AT_GFN, OUT_AT_VALUE } from "../core/_abi.js";
import { codeToError, type MemattrError } from "../core/errors.js";
import { ConversionConflictError, ConversionError, LaunchGateError, OutsideGuestMemoryError } from "./errors.js";
import { type Attribute, conversionStateOf, PRIVATE } from "./states.js";

/** `x` (an integer read from a Float64Array) as a V8 small integer when it is one (below 2^30), so handle fields stay unboxed. */
export function smallInt(x: number): number {
  return x < 0x40000000 ? x | 0 : x;
}

/** The attribute a pending page is converting to. */
function pendingTarget(value: number): Attribute {
  return (value & PRIVATE) !== 0 ? "shared" : "private";
}

/**
 * The error for a request of `gfn + npages` to `to` (with `preserve`) that the core refused with
 * `rc`; `o` holds its result slots (OUT_AT_GFN / OUT_AT_VALUE name the page in conflict).
 */
export function requestError(rc: number, o: Float64Array, gfn: number, npages: number, to: Attribute, preserve: boolean, what: string): MemattrError {
  switch (rc) {
    case E_NXIO:
      return new OutsideGuestMemoryError(gfn, npages, what);
    case E_OPNOTSUPP:
      return new ConversionError("EPRESERVE", "private", "shared", gfn, npages, "private → shared never preserves contents");
    case E_PERM:
      return new LaunchGateError(
        "ELAUNCHED",
        "shared",
        "pending-private",
        gfn,
        npages,
        "preserving contents (in-place encryption) is only allowed before launch",
      );
    case E_BUSY: {
      const at = o[OUT_AT_GFN]!;
      const v = o[OUT_AT_VALUE]!;
      if (pendingTarget(v) !== to) {
        const state = conversionStateOf(v);
        return new ConversionConflictError(state, `pending-${to}`, gfn, npages, at, `gfn 0x${at.toString(16)} is ${state}`);
      }
      const reason = `gfn 0x${at.toString(16)} is pending to private ${preserve ? "without" : "with"} preserve`;
      return new ConversionConflictError("pending-private", "pending-private", gfn, npages, at, reason);
    }
    case E_NOSPC:
      return new ConversionError(
        "ENOSPC",
        "shared or private",
        `pending-${to}`,
        gfn,
        npages,
        `${CONV_MAX_OPEN} conversions are already open; commit or abort some first`,
      );
    default:
      return codeToError(rc, what);
  }
}

/** The error for a fault's access to `to` that meets a page pending away from it (E_BUSY; `o` as above). */
export function faultConflictError(o: Float64Array, gfn: number, npages: number, to: Attribute): ConversionConflictError {
  const at = o[OUT_AT_GFN]!;
  const from = conversionStateOf(o[OUT_AT_VALUE]!);
  return new ConversionConflictError(from, to, gfn, npages, at, `${to} access to gfn 0x${at.toString(16)}, which is ${from}`);
}
