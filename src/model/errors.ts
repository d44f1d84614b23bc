/**
 * Errors of the conversion model. All are `MemattrError`s with a stable `code`; every one is
 * thrown before the tracker changes anything, so a caught error means "state unchanged".
 *
 * | class                       | code       | when                                                          |
 * |-----------------------------|------------|---------------------------------------------------------------|
 * | ConversionError             | EPRESERVE  | preserve asked for a conversion to shared                     |
 * | ConversionConflictError     | ECONFLICT  | a page is pending the other way, or PRESERVE differs          |
 * | ConversionSettledError      | ESETTLED   | commit/abort of a handle already committed or aborted         |
 * | ConversionError             | EFOREIGN   | commit/abort through a tracker that did not create it         |
 * | ConversionError             | EREUSE     | `reuse` is still pending, or not a handle of this tracker     |
 * | ConversionError             | ENOSPC     | CONV_MAX_OPEN (4096) conversions are already open             |
 * | LaunchGateError             | ELAUNCHED  | preserve after launch(), or launch() twice                    |
 * | LaunchGateError             | EPENDING   | launch() while a preserving conversion is pending             |
 * | OutsideGuestMemoryError     | EOUTSIDE   | a range not wholly inside one guest memory region             |
 * | RegionError                 | EOVERLAP   | addRegion() of a range that is partly guest memory already    |
 * | RegionError                 | EBUSY      | removeRegion() while a page of the range is pending           |
 * | HypercallError              | EINVAL     | KVM_HC_MAP_GPA_RANGE arguments the kernel or we refuse        |
 * | MemattrTypeError (core)     | EINVALTYPE | NaN, Infinity, non-integer, not a number/bigint               |
 * | MemattrRangeError (core)    | ERANGE     | negative, npages 0, beyond 2^40 pages / 2^64 bytes            |
 * | MemattrMemoryError (core)   | ENOMEM     | the map's Wasm memory could not grow (its cap, or the engine) |
 * | MemattrDisposedError (core) | EDISPOSED  | a call after dispose()                                        |
 */
import { MemattrError } from "../core/errors.js";

/** A range in pages: `npages` pages from `gfn`. */
export interface GfnRange {
  gfn: number;
  npages: number;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Formats `gfn + npages` as an inclusive `first..last` range for messages. */
export function describeRange(gfn: number, npages: number): string {
  if (npages === 0) return "the whole guest";
  return `gfn ${hex(gfn)}..${hex(gfn + npages - 1)} (${npages} page${npages === 1 ? "" : "s"})`;
}

/**
 * An illegal step of the conversion state machine. Names the state it started from, the
 * state it was asked to reach, and the range.
 */
export class ConversionError extends MemattrError {
  constructor(
    code: string,
    /** State (or handle state) the step started from. */
    readonly from: string,
    /** State the step was asked to reach. */
    readonly to: string,
    /** First page of the refused range. */
    readonly gfn: number,
    /** Pages in the refused range. */
    readonly npages: number,
    reason: string,
  ) {
    super(code, `conversion ${from} → ${to} of ${describeRange(gfn, npages)} refused: ${reason}`);
    this.name = "ConversionError";
  }
}

/** A request overlaps a conversion pending the other way (or with another PRESERVE). Code `ECONFLICT`. */
export class ConversionConflictError extends ConversionError {
  constructor(
    from: string,
    to: string,
    gfn: number,
    npages: number,
    /** First page of the range found in conflict. */
    readonly conflictGfn: number,
    reason: string,
  ) {
    super("ECONFLICT", from, to, gfn, npages, reason);
    this.name = "ConversionConflictError";
  }
}

/** `commit()`/`abort()` of a handle that is already committed or aborted. Code `ESETTLED`. */
export class ConversionSettledError extends ConversionError {
  constructor(
    from: "committed" | "aborted",
    to: "committed" | "aborted",
    gfn: number,
    npages: number,
    readonly id: number,
  ) {
    super("ESETTLED", from, to, gfn, npages, `conversion #${id} is already ${from}`);
    this.name = "ConversionSettledError";
  }
}

/** The launch gate refused a step: preserve after launch, launch twice, launch with a preserve pending. */
export class LaunchGateError extends ConversionError {
  constructor(code: "ELAUNCHED" | "EPENDING", from: string, to: string, gfn: number, npages: number, reason: string) {
    super(code, from, to, gfn, npages, reason);
    this.name = "LaunchGateError";
  }
}

/** A range not wholly inside one guest memory region. Code `EOUTSIDE`. */
export class OutsideGuestMemoryError extends MemattrError {
  constructor(
    readonly gfn: number,
    readonly npages: number,
    what: string,
  ) {
    super("EOUTSIDE", `${what}: ${describeRange(gfn, npages)} is not inside guest memory`);
    this.name = "OutsideGuestMemoryError";
  }
}

/**
 * A change of the guest memory map refused, nothing changed. `EOVERLAP`: addRegion() of a range
 * with a page that already is guest memory. `EBUSY`: removeRegion() while a page of the range is
 * pending a conversion — commit or abort it first (`conversionId` names it).
 */
export class RegionError extends MemattrError {
  constructor(
    code: "EOVERLAP" | "EBUSY",
    /** The range asked for. */
    readonly gfn: number,
    readonly npages: number,
    /** The first page in the way. */
    readonly atGfn: number,
    /** EBUSY: the pending conversion that owns `atGfn`. */
    readonly conversionId: number | undefined,
    reason: string,
  ) {
    super(code, `${describeRange(gfn, npages)}: ${reason}`);
    this.name = "RegionError";
  }
}

/** Every reason a KVM_HC_MAP_GPA_RANGE call is refused, in the order decodeMapGpaRange checks them (src/model/hypercall.ts). */
export const HYPERCALL_FAULTS = [
  "unaligned-gpa", // gpa not 4 KiB aligned (KVM: -KVM_EINVAL)
  "zero-npages", // npages == 0 (KVM: -KVM_EINVAL)
  "wrap", // the range ends beyond 2^64 bytes (KVM: -KVM_EINVAL when gfn + npages wraps)
  "unknown-attrs", // bits other than page size and ENCRYPTED, or page size 3..15 (memattr only)
  "page-size-alignment", // 2M/1G page size with gpa or npages not a multiple of it (memattr only)
] as const;

/** Why a KVM_HC_MAP_GPA_RANGE call was refused: one of {@link HYPERCALL_FAULTS}. */
export type HypercallFault = (typeof HYPERCALL_FAULTS)[number];

/** Arguments of KVM_HC_MAP_GPA_RANGE the kernel (or memattr, stricter) refuses. Code `EINVAL`. */
export class HypercallError extends MemattrError {
  /** The value a VMM returns to the guest in `run.hypercall.ret` (-KVM_EINVAL). */
  readonly guestRet = -22;
  constructor(
    readonly reason: HypercallFault,
    message: string,
  ) {
    super("EINVAL", `KVM_HC_MAP_GPA_RANGE refused (${reason}): ${message}`);
    this.name = "HypercallError";
  }
}
