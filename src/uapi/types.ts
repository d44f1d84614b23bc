/** A u64 of the kernel ABI as JavaScript gives it: a number (exact below 2^53) or a bigint. */
export type U64 = number | bigint;
