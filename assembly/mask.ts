// The value map of every masked update, written once:
//
//   v → (v & ~clear) | setMask   for the values that pass the update's test, (v & test) == want;
//   v → v                        for the others.
//
// The test rides in the clear mask's upper bytes (withTest()): bits 0–7 the bits to clear, bits
// 8–15 the test mask, bits 16–23 the value the tested bits must have. A plain masked update has
// 0 there (every value passes), so the set/update paths of tree.ts, leaf.ts and short.ts carry
// a conditional update (updateWhere) without an extra argument or a global read. The map is
// idempotent (applying it twice gives the same value), which the leaf code's "uniform now"
// shortcut relies on, and maps each value to one value, so an update can never add distinct
// values to a chunk it covers whole.

/** The value a masked update gives `v` (0–255). */
@inline export function applyMask(v: i32, clearMask: i32, setMask: i32): i32 {
  return (v & ((clearMask >> 8) & 0xff)) == ((clearMask >> 16) & 0xff) ? ((v & ~clearMask) | setMask) & 0xff : v;
}

/** `clearMask` (0–255) carrying the test (v & testMask) == testValue (both 0–255). */
@inline export function withTest(clearMask: i32, testMask: i32, testValue: i32): i32 {
  return clearMask | (testMask << 8) | (testValue << 16);
}
