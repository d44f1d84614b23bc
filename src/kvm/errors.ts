/**
 * Errors of the KVM binding (pure, browser-safe: no koffi here).
 *
 * - {@link KvmError}: a syscall or ioctl returned -1; `code` is the errno name ("EINVAL").
 * - {@link KvmArgumentError}: an argument the kernel would refuse with EINVAL (unaligned,
 *   zero size, overflow), caught before the call; `code` is "EINVAL" so callers branch the
 *   same way whether the library or the kernel said no.
 * - {@link KvmCapabilityError}: the host lacks a capability the call needs; `code` is
 *   "ENOCAP" and `capability` names it ("KVM_CAP_MEMORY_ATTRIBUTES").
 */
import { MemattrError } from "../core/errors.js";

/** A KVM ioctl or a syscall failed; `errno` is the kernel's number, `code` its name. */
export class KvmError extends MemattrError {
  /**
   * @param op - the ioctl or syscall name, e.g. "KVM_CREATE_GUEST_MEMFD" or "fallocate"
   * @param errno - the errno value (0 when the library refused before calling)
   * @param code - symbolic name, e.g. "EINVAL"
   * @param hint - optional sentence on the likely cause (a capability, an alignment rule)
   */
  constructor(
    readonly op: string,
    readonly errno: number,
    code: string,
    readonly hint?: string,
  ) {
    super(code, `${op} failed: ${code} (${errno})${hint ? ` — ${hint}` : ""}`);
    this.name = "KvmError";
  }
}

/** An argument the kernel would reject with EINVAL, refused before the syscall. Code `EINVAL`. */
export class KvmArgumentError extends KvmError {
  /**
   * @param op - the ioctl or syscall that was not made
   * @param argument - the argument's name, e.g. "sizeBytes"
   * @param reason - what is wrong, quoting the value
   */
  constructor(
    op: string,
    readonly argument: string,
    reason: string,
  ) {
    super(op, 22, "EINVAL", `${argument}: ${reason}`);
    this.name = "KvmArgumentError";
  }
}

/** The host lacks a KVM capability (or a flag of one) that the call needs. Code `ENOCAP`. */
export class KvmCapabilityError extends KvmError {
  /**
   * @param op - the ioctl or operation that needs the capability
   * @param capability - the missing capability or flag, e.g. "KVM_CAP_MEMORY_ATTRIBUTES"
   * @param value - what KVM_CHECK_EXTENSION returned for it (0 when absent)
   * @param errno - the kernel's errno if the call was made (0 when refused before calling)
   * @param errnoName - the kernel's errno name, e.g. "ENOTTY"
   */
  constructor(
    op: string,
    readonly capability: string,
    readonly value: number,
    errno = 0,
    readonly errnoName?: string,
  ) {
    super(
      op,
      errno,
      "ENOCAP",
      `this host lacks ${capability} (KVM_CHECK_EXTENSION = ${value})${errnoName ? `; the kernel answered ${errnoName} (${errno})` : ""}`,
    );
    this.name = "KvmCapabilityError";
  }
}
