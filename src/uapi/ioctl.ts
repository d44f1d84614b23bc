/**
 * Linux ioctl request encoding, computed in TypeScript (pure, browser-safe).
 *
 * A request number packs four fields (include/uapi/asm-generic/ioctl.h, used by x86):
 *
 * ```
 *  31 30 29          16 15        8 7          0
 * +-----+--------------+-----------+------------+
 * | dir |  size (14b)  | type (8b) |  nr (8b)   |
 * +-----+--------------+-----------+------------+
 * ```
 * `dir` is seen from user space: `_IOW` = user writes to the kernel (1), `_IOR` = user
 * reads from the kernel (2), `_IOWR` = both (3), `_IO` = no argument struct (0).
 */
import { MemattrRangeError, MemattrTypeError } from "../core/errors.js";

export const IOC_NRBITS = 8;
export const IOC_TYPEBITS = 8;
export const IOC_SIZEBITS = 14;
export const IOC_DIRBITS = 2;

export const IOC_NRSHIFT = 0;
export const IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS;
export const IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS;
export const IOC_DIRSHIFT = IOC_SIZESHIFT + IOC_SIZEBITS;

export const IOC_NONE = 0;
export const IOC_WRITE = 1;
export const IOC_READ = 2;

function checkField(name: string, value: number, bits: number): void {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new MemattrTypeError(`ioctl ${name} must be an integer, got ${String(value)}`);
  }
  if (value < 0 || value >= 2 ** bits) {
    throw new MemattrRangeError(`ioctl ${name} ${value} does not fit in ${bits} bits`);
  }
}

/** Encodes an ioctl request number; the result is an unsigned 32-bit number. */
export function _IOC(dir: number, type: number, nr: number, sizeBytes: number): number {
  checkField("dir", dir, IOC_DIRBITS);
  checkField("type", type, IOC_TYPEBITS);
  checkField("nr", nr, IOC_NRBITS);
  checkField("size", sizeBytes, IOC_SIZEBITS);
  // `>>> 0` keeps bit 31 (the READ direction) from turning the number negative.
  return ((dir << IOC_DIRSHIFT) | (sizeBytes << IOC_SIZESHIFT) | (type << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT)) >>> 0;
}

/** `_IO(type, nr)`: a request without an argument struct. */
export function _IO(type: number, nr: number): number {
  return _IOC(IOC_NONE, type, nr, 0);
}

/** `_IOR(type, nr, struct)`: the kernel fills a struct of `sizeBytes`. */
export function _IOR(type: number, nr: number, sizeBytes: number): number {
  return _IOC(IOC_READ, type, nr, sizeBytes);
}

/** `_IOW(type, nr, struct)`: the kernel reads a struct of `sizeBytes`. */
export function _IOW(type: number, nr: number, sizeBytes: number): number {
  return _IOC(IOC_WRITE, type, nr, sizeBytes);
}

/** `_IOWR(type, nr, struct)`: the kernel reads and writes back a struct of `sizeBytes`. */
export function _IOWR(type: number, nr: number, sizeBytes: number): number {
  return _IOC(IOC_READ | IOC_WRITE, type, nr, sizeBytes);
}

/** Splits a request number back into its fields (for messages and tests). */
export function decodeIoctl(request: number): { dir: number; type: number; nr: number; sizeBytes: number } {
  return {
    dir: (request >>> IOC_DIRSHIFT) & ((1 << IOC_DIRBITS) - 1),
    type: (request >>> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1),
    nr: (request >>> IOC_NRSHIFT) & ((1 << IOC_NRBITS) - 1),
    sizeBytes: (request >>> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1),
  };
}
