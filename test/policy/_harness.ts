// Steps a trace through a Replayer on simulated backings and calls `check` after every event.
import { createTracker, type Tracker } from "../../src/model/index.js";
import type { DiscardBatch, DiscardPolicy } from "../../src/policy/index.js";
import { Replayer, type ReplayResult } from "../../src/replay/index.js";
import { SimulatedBacking } from "../../src/backing/index.js";
import type { TraceEvent } from "../../src/trace/index.js";
import { REGIONS } from "./_traces.js";

/** Wraps a policy and records every non-null batch it returns. */
export function recording(policy: DiscardPolicy): { policy: DiscardPolicy; batches: DiscardBatch[] } {
  const batches: DiscardBatch[] = [];
  const keep = (b: DiscardBatch | null) => {
    if (b !== null) batches.push(b);
    return b;
  };
  return {
    batches,
    policy: {
      name: policy.name,
      onCommit: (t, c, now) => keep(policy.onCommit(t, c, now)),
      onAbort: (t, c, now) => keep(policy.onAbort(t, c, now)),
      onPopulate: (t, s, g, n, now) => keep(policy.onPopulate(t, s, g, n, now)),
      flush: (t, now) => keep(policy.flush(t, now)),
    },
  };
}

export interface Stepped {
  tracker: Tracker;
  shared: SimulatedBacking;
  private: SimulatedBacking;
  result: ReplayResult;
}

/** Replays `events`, calling `check(tracker, event)` after each; disposes nothing (the caller reads the state). */
export async function step(
  events: readonly TraceEvent[],
  policy: DiscardPolicy,
  check: (tracker: Tracker, ev: TraceEvent) => void = () => {},
  options: { trackContents?: boolean; regions?: { gfn: number; npages: number }[]; fillOf?: (ev: TraceEvent & { type: "touch" }) => number | undefined } = {},
): Promise<Stepped> {
  const tracker = await createTracker({ regions: options.regions ?? REGIONS });
  const shared = new SimulatedBacking("shared", { trackContents: options.trackContents });
  const priv = new SimulatedBacking("private", { trackContents: options.trackContents });
  let clock = 0;
  const r = new Replayer({ tracker, policy, shared, private: priv }, { clock: () => clock++, fillOf: options.fillOf });
  for (const ev of events) {
    r.apply(ev);
    check(tracker, ev);
  }
  const result = r.finish();
  return { tracker, shared, private: priv, result };
}
