/**
 * fallocate range checks shared by GuestMemfd and SharedMemfd (Node only): refuse what the
 * kernel would refuse with EINVAL (negative, zero length, unaligned for guest_memfd, offset +
 * length past 2^63), then make the call and let every other errno through.
 */
import { sysFallocate } from "./_syscall.js";
import { requireNoOverflow, requireNonZero, requirePageAligned, toSafeBytes, type U64 } from "./_validate.js";

export function fallocateChecked(fd: number, mode: number, offsetBytes: U64, lengthBytes: U64, pageAligned: boolean): void {
  const op = "fallocate";
  const offset = toSafeBytes(op, "offsetBytes", offsetBytes);
  const length = toSafeBytes(op, "lengthBytes", lengthBytes);
  requireNonZero(op, "lengthBytes", BigInt(length));
  if (pageAligned) {
    requirePageAligned(op, "offsetBytes", BigInt(offset));
    requirePageAligned(op, "lengthBytes", BigInt(length));
  }
  // vfs_fallocate: offset + len must not pass the largest loff_t (2^63 - 1).
  requireNoOverflow(op, "offsetBytes + lengthBytes", BigInt(offset), BigInt(length), (1n << 63n) - 1n);
  sysFallocate(fd, mode, offset, length);
}
