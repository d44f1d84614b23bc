// Public exports of the replay layer (browser-safe): the Backing contract, the simulated
// backing, the replay engine and the policy table.
export type { Backing, BackingStats } from "./backing.js";
export { SimulatedBacking, type SimulatedBackingOptions } from "./simulated.js";
export type { FaultCounts, ReplayResult, ReplaySeries } from "./metrics.js";
export { Replayer, type ReplayOptions, type ReplayProgress, type ReplayTarget } from "./engine.js";
export {
  materializeEvents,
  regionsForTrace,
  replayAll,
  type ReplayAllOptions,
  type ReplayEvents,
  ReplayStoppedError,
  replayTrace,
  replayTraceSync,
  simulatedTargets,
  type TargetFactory,
} from "./replay.js";
export { formatPolicyTable, POLICY_TABLE_FOOTNOTE } from "./table.js";
