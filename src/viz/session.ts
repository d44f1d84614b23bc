/**
 * The player: one trace replayed event by event through one policy, with play, step and seek.
 * DOM-free; main.ts drives it from animation frames.
 *
 * Short names: `index` is the number of events applied so far (0 = the state before the first
 * event, `eventCount` = the end); a `stepper` applies one event to a tracker through a policy.
 * Seeking backwards rebuilds from the first event (a fresh tracker) in chunks, yielding to the
 * browser between chunks so the page stays responsive on long traces.
 */
import type { Tracker } from "../model/tracker.js";
import type { TraceEvent } from "../trace/format.js";
import type { LoadedTrace } from "./sources.js";

/** Applies events, one at a time, to its own tracker. */
export interface ReplayStepper {
  /** The tracker the map draws. */
  readonly tracker: Tracker;
  /** Applies one event (a refused event is counted by the stepper, not thrown). */
  apply(ev: TraceEvent): void;
  /** Events the model refused so far. */
  readonly refused: number;
  /** The trace has ended: flush the policy (the map then shows what the comparison reports). */
  finish(): void;
  dispose(): void;
}

/** Makes a fresh stepper for a trace and a policy name. */
export type StepperFactory = (trace: LoadedTrace, policy: string) => Promise<ReplayStepper>;

/** Time given to one chunk of a long seek before yielding to the browser, in ms. */
const CHUNK_MS = 12;

const nextFrame = () => new Promise<void>((done) => setTimeout(done, 0));

export class PlayerSession {
  private stepper: ReplayStepper | undefined;
  private iterator: Iterator<TraceEvent> | undefined;
  private seekToken = 0;
  /** Events applied. */
  index = 0;
  /** The last event applied, if any. */
  lastEvent: TraceEvent | undefined;

  constructor(
    readonly trace: LoadedTrace,
    private readonly makeStepper: StepperFactory,
    public policy: string,
  ) {}

  get tracker(): Tracker {
    if (this.stepper === undefined) throw new Error("PlayerSession: start() first");
    return this.stepper.tracker;
  }

  get refused(): number {
    return this.stepper?.refused ?? 0;
  }

  get atEnd(): boolean {
    return this.index >= this.trace.eventCount;
  }

  /** (Re)starts at event 0 with a fresh tracker. */
  async start(): Promise<void> {
    const fresh = await this.makeStepper(this.trace, this.policy);
    this.stepper?.dispose();
    this.stepper = fresh;
    this.iterator = this.trace.events[Symbol.iterator]();
    this.index = 0;
    this.lastEvent = undefined;
  }

  /** Applies up to `n` events; returns how many were applied. */
  advance(n: number): number {
    const it = this.iterator;
    const stepper = this.stepper;
    if (it === undefined || stepper === undefined) return 0;
    let done = 0;
    while (done < n) {
      const r = it.next();
      if (r.done) break;
      stepper.apply(r.value);
      this.lastEvent = r.value;
      done++;
    }
    this.index += done;
    if (this.index >= this.trace.eventCount) stepper.finish();
    return done;
  }

  /**
   * Moves to event `target`, rebuilding from the start when it lies behind. Applies events in
   * time-boxed chunks; a later seek cancels an earlier one (it resolves false).
   * @param onProgress called between chunks with the index reached.
   */
  async seek(target: number, onProgress?: (index: number) => void): Promise<boolean> {
    const token = ++this.seekToken;
    const goal = Math.max(0, Math.min(this.trace.eventCount, Math.floor(target)));
    if (goal < this.index) await this.start();
    while (this.index < goal) {
      if (token !== this.seekToken) return false;
      const t0 = performance.now();
      let batch = 256;
      while (this.index < goal && performance.now() - t0 < CHUNK_MS) {
        if (this.advance(Math.min(batch, goal - this.index)) === 0) return true; // trace shorter than counted
        batch = Math.min(batch * 2, 65_536);
      }
      if (this.index < goal) {
        onProgress?.(this.index);
        await nextFrame();
      }
    }
    return token === this.seekToken;
  }

  /** Replays to the same index under another policy. */
  async setPolicy(policy: string, onProgress?: (index: number) => void): Promise<void> {
    const at = this.index;
    this.policy = policy;
    await this.start();
    await this.seek(at, onProgress);
  }

  /** Cancels any running seek. */
  cancelSeek(): void {
    this.seekToken++;
  }

  dispose(): void {
    this.cancelSeek();
    this.stepper?.dispose();
    this.stepper = undefined;
  }
}
