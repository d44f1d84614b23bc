/**
 * Argument checks shared by the KVM objects (pure). Each check throws before the syscall
 * where the kernel would answer EINVAL, naming the argument and quoting its value.
 *
 * Units: `...Bytes` are byte counts, `gpa` a guest physical address in bytes, `gfn` a
 * guest frame number (4 KiB page), `npages` a count of such pages.
 */
import { PAGE_BYTES, PAGE_SHIFT } from "../core/_abi.js";
import { MemattrTypeError } from "../core/errors.js";
import { KvmArgumentError } from "./errors.js";

/** A 64-bit unsigned quantity given as a safe integer number or a bigint. */
export type { U64 } from "../uapi/types.js";

/** Page size of x86-64 KVM guests and of the host mappings used here. */
export const PAGE_SIZE = PAGE_BYTES;
export { PAGE_SHIFT };
export const U64_LIMIT = 1n << 64n;

/** Converts a number/bigint to bigint, refusing non-integers, negatives and values ≥ 2^64. */
export function toU64(op: string, name: string, value: unknown): bigint {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new MemattrTypeError(`${op}: ${name} must be a safe integer or a bigint, got ${String(value)}`);
    }
    value = BigInt(value);
  } else if (typeof value !== "bigint") {
    throw new MemattrTypeError(`${op}: ${name} must be a number or a bigint, got ${typeof value}`);
  }
  const v = value as bigint;
  if (v < 0n) throw new KvmArgumentError(op, name, `must not be negative, got ${v}`);
  if (v >= U64_LIMIT) throw new KvmArgumentError(op, name, `does not fit in 64 bits, got ${v}`);
  return v;
}

/** Like {@link toU64} but bounded to 32 bits. */
export function toU32(op: string, name: string, value: unknown): number {
  const v = toU64(op, name, value);
  if (v >= 1n << 32n) throw new KvmArgumentError(op, name, `does not fit in 32 bits, got ${v}`);
  return Number(v);
}

/** A byte count or offset that must also be a safe JS number (mappings, file offsets). */
export function toSafeBytes(op: string, name: string, value: unknown): number {
  const v = toU64(op, name, value);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new KvmArgumentError(op, name, `exceeds 2^53-1, got ${v}`);
  return Number(v);
}

export function requirePageAligned(op: string, name: string, value: bigint): void {
  if (value % BigInt(PAGE_SIZE) !== 0n) {
    throw new KvmArgumentError(op, name, `must be a multiple of ${PAGE_SIZE} bytes, got 0x${value.toString(16)}`);
  }
}

export function requireNonZero(op: string, name: string, value: bigint): void {
  if (value === 0n) throw new KvmArgumentError(op, name, "must not be zero");
}

/** start + length must not pass `limit` (default 2^64), the kernel's overflow check. */
export function requireNoOverflow(op: string, name: string, start: bigint, lengthBytes: bigint, limit = U64_LIMIT): void {
  if (start + lengthBytes > limit) {
    throw new KvmArgumentError(op, name, `0x${start.toString(16)} + 0x${lengthBytes.toString(16)} overflows (limit 0x${limit.toString(16)})`);
  }
}
