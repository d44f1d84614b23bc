// Public exports of the policy layer (browser-safe): discard policies on one small interface.
export type { DiscardBatch, DiscardPolicy, PolicyName, SettledConversion } from "./types.js";
export { eagerPolicy } from "./eager.js";
export { neverPolicy } from "./never.js";
export { batchedPolicy, type BatchedOptions } from "./batched.js";
export { adaptivePolicy, type AdaptiveOptions } from "./adaptive.js";
export { createPolicy, POLICY_NAMES, type PolicyOptions } from "./create.js";
