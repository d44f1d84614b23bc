// Public exports of the backing layer's browser-safe part: the contract every backing of guest
// memory keeps, and SimulatedBacking (counts only, no memory). The real memfd and guest_memfd
// backings are Node-only: ./real/, reached through `memattr/node`.
export { type Backing, type BackingStats, discardedRangesOf, type PartialDiscard } from "./contract.js";
export { SimulatedBacking, type SimulatedBackingOptions } from "./simulated.js";
