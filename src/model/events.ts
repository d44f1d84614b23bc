/**
 * The tracker's typed event stream. Listeners run synchronously, after the state change they
 * report is complete. With no listener the tracker builds no event object: it checks a counter
 * first (`EventHub.wants`).
 */
import type { MemattrError } from "../core/errors.js";
import type { GfnRange } from "./errors.js";
import type { Attribute, Side } from "./states.js";

/** Where a conversion request came from. */
export type RequestSource = "api" | "hypercall" | "fault";

/** A conversion was requested and its pages marked pending. */
export interface RequestedEvent {
  type: "requested";
  /** Handle id, unique per tracker. */
  id: number;
  gfn: number;
  npages: number;
  to: Attribute;
  preserve: boolean;
  source: RequestSource;
  /** Pages this request marked pending (it owns them). */
  npagesOwned: number;
}

/** A pending conversion was committed: its owned pages now have attribute `to`. */
export interface CommittedEvent {
  type: "committed";
  id: number;
  gfn: number;
  npages: number;
  to: Attribute;
  preserve: boolean;
  /** The owned ranges that changed attribute, ascending and coalesced. */
  runs: readonly GfnRange[];
  npagesOwned: number;
}

/** A pending conversion was aborted: its owned pages are back to their previous state. */
export interface AbortedEvent {
  type: "aborted";
  id: number;
  gfn: number;
  npages: number;
  to: Attribute;
  runs: readonly GfnRange[];
  npagesOwned: number;
}

/** A backing reported pages populated. */
export interface PopulatedEvent {
  type: "populated";
  side: Side;
  gfn: number;
  npages: number;
  /** Pages that were empty before (never populated, or never since the tracker started). */
  npagesNew: number;
  /** Pages populated again after a discard. */
  npagesRefault: number;
}

/** A backing reported pages discarded (hole-punched). */
export interface DiscardedEvent {
  type: "discarded";
  side: Side;
  gfn: number;
  npages: number;
  /** Pages that were populated and are now freed. */
  npagesFreed: number;
}

/** A call was refused; the state is unchanged. `decision` is set for a memory-fault violation. */
export interface RefusedEvent {
  type: "refused";
  /** The tracker method that refused: "requestConversion", "fromHypercall", "onMemoryFault", ... */
  op: string;
  /** The error thrown (or, for a fault violation, the error describing it). */
  error: MemattrError;
}

/** A KVM_EXIT_MEMORY_FAULT was decided. */
export interface FaultedEvent {
  type: "faulted";
  gfn: number;
  npages: number;
  to: Attribute;
  kind: "convert" | "in-flight" | "spurious" | "violation";
}

/** launch() was called: preserve-contents conversions are refused from now on. */
export interface LaunchedEvent {
  type: "launched";
}

/** addRegion(): guest RAM appeared (hotplug), in attribute `initial`, both backings empty. */
export interface RegionAddedEvent {
  type: "region-added";
  gfn: number;
  npages: number;
  initial: Attribute;
}

/**
 * removeRegion(): guest RAM went away (unplug). `populated` lists what was populated on each
 * side there: the backing the VMM drops with it.
 */
export interface RegionRemovedEvent {
  type: "region-removed";
  gfn: number;
  npages: number;
  populated: { shared: GfnRange[]; private: GfnRange[] };
}

/** Every event the tracker emits. */
export type TrackerEvent =
  | RequestedEvent
  | CommittedEvent
  | AbortedEvent
  | PopulatedEvent
  | DiscardedEvent
  | RefusedEvent
  | FaultedEvent
  | LaunchedEvent
  | RegionAddedEvent
  | RegionRemovedEvent;

/** Event type names. */
export type TrackerEventType = TrackerEvent["type"];

/** The event of type `K`. */
export type TrackerEventOf<K extends TrackerEventType> = Extract<TrackerEvent, { type: K }>;

/** Removes the listener it was returned for; calling it again does nothing. */
export type Unsubscribe = () => void;

/** Internal listener registry with O(1) "does anyone listen to this type?". */
export class EventHub {
  private readonly all = new Set<(e: TrackerEvent) => void>();
  private readonly byType = new Map<TrackerEventType, Set<(e: TrackerEvent) => void>>();
  private anyCount = 0;
  /** Listeners of any kind: 0 answers wants() with one compare (the hot path has none). */
  private listeners = 0;
  private readonly typeCount: Record<TrackerEventType, number> = {
    requested: 0,
    committed: 0,
    aborted: 0,
    populated: 0,
    discarded: 0,
    refused: 0,
    faulted: 0,
    launched: 0,
    "region-added": 0,
    "region-removed": 0,
  };

  /** True when a listener for `type` (or for all events) exists. */
  wants(type: TrackerEventType): boolean {
    return this.listeners !== 0 && (this.anyCount !== 0 || this.typeCount[type] !== 0);
  }

  on<K extends TrackerEventType>(type: K, fn: (e: TrackerEventOf<K>) => void): Unsubscribe {
    if (!(type in this.typeCount)) throw new TypeError(`unknown event type '${String(type)}'`);
    let set = this.byType.get(type);
    if (set === undefined) this.byType.set(type, (set = new Set()));
    // Wrap so the same function may be registered twice and removed independently.
    const wrapped = (e: TrackerEvent) => fn(e as TrackerEventOf<K>);
    set.add(wrapped);
    this.typeCount[type]++;
    this.listeners++;
    let live = true;
    return () => {
      if (!live) return;
      live = false;
      set.delete(wrapped);
      this.typeCount[type]--;
      this.listeners--;
    };
  }

  subscribe(fn: (e: TrackerEvent) => void): Unsubscribe {
    const wrapped = (e: TrackerEvent) => fn(e);
    this.all.add(wrapped);
    this.anyCount++;
    this.listeners++;
    let live = true;
    return () => {
      if (!live) return;
      live = false;
      this.all.delete(wrapped);
      this.anyCount--;
      this.listeners--;
    };
  }

  emit(e: TrackerEvent): void {
    const set = this.byType.get(e.type);
    if (set !== undefined) for (const fn of [...set]) fn(e);
    for (const fn of [...this.all]) fn(e);
  }
}
