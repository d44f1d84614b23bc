// Public exports of the replay layer (browser-safe): the replay engine and the policy table.
// (The Backing contract and SimulatedBacking are the backing layer's: src/backing/index.ts.)
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
