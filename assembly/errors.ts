// Every export returns 0 (or a non-negative result) on success and one of these negative
// codes on failure. Numbers follow Linux errno so a C or Rust embedder can read them as -errno.
// The TypeScript facade maps them in src/core/range-map.ts (codeToError).
//
//   code       errno  meaning
//   E_NOMEM     -12   linear memory could not grow; the map is unchanged
//   E_FAULT     -14   checkInvariants() found a broken invariant (see invariantFailure())
//   E_INVAL     -22   an argument is not an integer, start >= end, or a value is outside 0–255
//   E_RANGE     -34   a gfn is outside [0, 2^40]
//   E_NOSYS     -38   a batch command has an unknown opcode

@inline export const E_NOMEM: i32 = -12;
@inline export const E_FAULT: i32 = -14;
@inline export const E_INVAL: i32 = -22;
@inline export const E_RANGE: i32 = -34;
@inline export const E_NOSYS: i32 = -38;
