/**
 * What a replay reports. Every quantity names its unit; counts are of calls or 4 KiB pages.
 */

/** The time series the visualiser charts: one sample every `sampleEvery` events, plus the last. */
export interface ReplaySeries {
  /** Events applied when the sample was taken (1-based count). */
  events: number[];
  /** Double-allocated bytes at that point. */
  doubleAllocatedBytes: number[];
  /** Discard syscalls made so far (both backings). */
  discardCalls: number[];
}

/** Memory faults by decision. */
export interface FaultCounts {
  convert: number;
  inFlight: number;
  spurious: number;
  violation: number;
}

/** The metrics of one replay of one trace through one policy. */
/** Memory-map events of a replay. */
export interface MemoryMapCounts {
  /** `region-add` events the tracker took (refused ones count in `refused`). */
  regionsAdded: number;
  /** `region-remove` events the tracker took. */
  regionsRemoved: number;
  /** Pages the removed regions held on either backing, discarded with them (also in `discardedPages`). */
  unpluggedPages: number;
  /** `memslot` events: counted only, they change no page state. */
  memslotUpdates: number;
}

export interface ReplayResult {
  /** Policy name. */
  policy: string;
  /** True when any backing was simulated: every table and chart fed by this must say "simulated backing". */
  simulated: boolean;
  /** `kind` of the shared and private backings. */
  backingKinds: { shared: string; private: string };
  /** Trace events applied (the stopping line excluded). */
  events: number;
  /** Conversions committed (requests, hypercalls and fault-implied conversions). */
  conversions: number;
  /** Conversions aborted. */
  aborts: number;
  /**
   * Guest or trace operations refused, all told: the `refused` events the trace recorded
   * ({@link refusedRecorded}) plus what the model refused during the replay (hostile
   * hypercalls, conflicts, ranges outside guest memory). The replay goes on after each.
   */
  refused: number;
  /** Of {@link refused}: hypercalls the trace recorded as refused (by KVM, or by memattr's checks when it was imported). */
  refusedRecorded: number;
  /** Memory-fault events by the model's decision. */
  faults: FaultCounts;
  /** What the trace did to the guest memory map (`region-add`, `region-remove`, `memslot` events). */
  memory: MemoryMapCounts;
  /** Pages copied into private memory by in-place encryption (pre-launch `preserve`). */
  copiedPages: number;
  /** Discard syscalls made (both backings; one per coalesced range). */
  discardCalls: number;
  /** Pages covered by those discards. */
  discardedPages: number;
  /** Bytes covered by those discards. */
  discardedBytes: number;
  /** Pages populated again after a discard (refaults). */
  refaultPages: number;
  /** Pages populated for the first time. */
  newPages: number;
  /**
   * Most bytes held on both sides at any point of the replay, launch included (measured each
   * time a backing populates pages, before the policy reacts). Before launch this is usually
   * the in-place encryption's transient chunk (one `preserveChunkPages` chunk, 1 MiB by
   * default, whatever the policy): see {@link peakDoubleAllocatedAfterLaunchBytes}.
   */
  peakDoubleAllocatedBytes: number;
  /**
   * The same peak, counted only from the trace's `launch` event on (starting from the bytes
   * held at launch) — what a running guest makes the policy hold. `null` when the tracker never
   * launched (an imported trace of a running guest carries no launch: read the overall peak).
   */
  peakDoubleAllocatedAfterLaunchBytes: number | null;
  /** Bytes held on both sides at the end. */
  finalDoubleAllocatedBytes: number;
  /** Bytes populated on a side their page no longer uses, at the end. */
  finalStaleBytes: number;
  /**
   * Wall time of the pre-launch in-place encryption: copying shared contents into private
   * memory and dropping each chunk's shared copy, for every `preserve` conversion. The same
   * work under every policy (it discards whatever the policy says), so it is kept out of
   * `conversionPathMs` and `conversionCostMs`; `totalConversionCostMs` includes it.
   */
  launchCopyMs: number;
  /**
   * Wall time in the runtime conversion path: request, commit/abort, fault/hypercall decoding,
   * policy, discard, and the final flush — everything a conversion costs the VMM except the
   * in-place copy (`launchCopyMs`). How the clock is read: src/replay/engine.ts, "How time is
   * measured".
   */
  conversionPathMs: number;
  /** Wall time carrying out guest touches (including refaults on real backings) and the policy's reaction. */
  touchPathMs: number;
  /** Wall time of the guest touches that refaulted (part of `touchPathMs`): what discards cost later. */
  refaultTouchMs: number;
  /**
   * `conversionPathMs + refaultTouchMs`: what flipping pages costs in all, the figure the
   * policy targets compare (a flip under eager pays a discard now and a refault later).
   */
  conversionCostMs: number;
  /** `conversionCostMs + launchCopyMs`: everything conversions cost, launch-time copies included. */
  totalConversionCostMs: number;
  /** Transactions still pending at the end. */
  pendingAtEnd: number;
  /** The time series for charts. */
  series: ReplaySeries;
  /**
   * Set by `replayAll` with `repetitions` > 1: how many fresh replays of the trace were timed
   * for this policy (this result is the one with the median `conversionCostMs`) and each one's
   * `conversionCostMs`, in the order they ran.
   */
  repetitions?: { runs: number; conversionCostMs: number[] };
}
