/**
 * Policies by name, for the CLI, the visualiser and `replayAll`.
 */
import { MemattrRangeError } from "../core/errors.js";
import { type AdaptiveOptions, adaptivePolicy } from "./adaptive.js";
import { type BatchedOptions, batchedPolicy } from "./batched.js";
import { eagerPolicy } from "./eager.js";
import { neverPolicy } from "./never.js";
import type { DiscardPolicy, PolicyName } from "./types.js";

/** Every built-in policy, in the order tables list them. */
export const POLICY_NAMES: readonly PolicyName[] = ["eager", "never", "batched", "adaptive"];

/** Options for {@link createPolicy}: `budgetBytes` sets adaptive's budget and batched's queue limit. */
export interface PolicyOptions {
  /** Adaptive: most bytes stale or held twice; batched: default `maxQueuedBytes`. Default 2 MiB. */
  budgetBytes?: number;
  batched?: BatchedOptions;
  adaptive?: AdaptiveOptions;
}

/**
 * Creates a fresh policy by name.
 * @param name - `eager`, `never`, `batched` or `adaptive`.
 * @param options - budget (bytes) and per-policy options.
 * @returns a new policy instance (policies keep state: one per tracker).
 * @throws MemattrRangeError for an unknown name or a bad option.
 * @example
 * ```ts
 * import { createPolicy } from "memattr";
 * const p = createPolicy("adaptive", { budgetBytes: 4 * 2 ** 20 });
 * console.log(p.name); // "adaptive"
 * ```
 */
export function createPolicy(name: PolicyName, options: PolicyOptions = {}): DiscardPolicy {
  switch (name) {
    case "eager":
      return eagerPolicy();
    case "never":
      return neverPolicy();
    case "batched":
      return batchedPolicy({ maxQueuedBytes: options.budgetBytes, ...options.batched });
    case "adaptive":
      return adaptivePolicy({ budgetBytes: options.budgetBytes, ...options.adaptive });
    default:
      throw new MemattrRangeError(`unknown policy ${JSON.stringify(name)} (known: ${POLICY_NAMES.join(", ")})`);
  }
}
