// The value map of every masked update, written once:
//
//   v → (v & ~clearMask) | setMask   for the values that pass the update's test, (v & testMask) == testValue;
//   v → v                            for the others.
//
// The test is module state: updateWhere() (index.ts) sets it for the length of one update and
// puts back "every value passes" (0, 0), so the set/update paths of tree.ts, leaf.ts and
// short.ts take no extra arguments. The map is idempotent (applying it twice gives the same
// value), which the leaf code's "uniform now" shortcut relies on, and it maps each value to
// one value, so an update can never add distinct values to a chunk it covers whole.

let testMask: i32 = 0;
let testValue: i32 = 0;

/** The value a masked update gives `v`. */
@inline export function applyMask(v: i32, clearMask: i32, setMask: i32): i32 {
  return (v & testMask) == testValue ? ((v & ~clearMask) | setMask) & 0xff : v;
}

/** Restricts the next masked updates to values with (v & mask) == value; (0, 0) lifts it. */
export function setMaskTest(mask: i32, value: i32): void {
  testMask = mask;
  testValue = value;
}

/** True while no test restricts the masked updates. */
@inline export function maskTestIsOff(): bool {
  return testMask == 0 && testValue == 0;
}
