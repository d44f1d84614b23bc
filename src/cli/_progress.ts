// Progress on a terminal for long work: one line per task — a bar when the total is known,
// events done / total, events per second and the time left — several tasks at once as a
// multi-bar (policies replayed side by side on worker threads). Drawn by cli-progress on
// stderr; nothing at all is written when stderr is not a terminal, with --json, or with
// MEMATTR_PROGRESS=0 (MEMATTR_PROGRESS=1 draws even to a pipe, for a look at what it prints).
//
// For the `trace` subcommands too:
//   const progress = createProgress({ quiet: json });
//   const task = progress.task("generate", totalEvents);   // total may be unknown
//   task.update(done);  …  progress.stop();                  // stop in a finally
import cliProgress from "cli-progress";
import type { ReplayProgress } from "../replay/index.js";

/** One line of the display. */
export interface ProgressTask {
  /** Sets the events done (and the total, once known). A count lower than the last starts the line afresh (a new run). */
  update(done: number, total?: number): void;
}

/** A display of progress lines; a no-op one when progress is off. */
export interface Progress {
  /** False when nothing will be drawn: callers may skip work done only to report progress (counting events). */
  readonly enabled: boolean;
  /** Adds a line labelled `label`; `totalEvents` undefined when not known (no bar, no time left). */
  task(label: string, totalEvents?: number): ProgressTask;
  /** Draws the last state and lets go of the stream and timer. Call it before writing anything else to the stream. */
  stop(): void;
}

/** Where and whether to draw. */
export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Draw nothing (e.g. `--json`). */
  quiet?: boolean;
  /** Draw even when the stream is not a terminal. Default: MEMATTR_PROGRESS=1 in the environment. */
  force?: boolean;
  /** Milliseconds, for tests. Default Date.now. */
  now?: () => number;
}

const NO_TASK: ProgressTask = { update: () => {} };
const OFF: Progress = { enabled: false, task: () => NO_TASK, stop: () => {} };

/** True when {@link createProgress} with these options draws. */
export function progressEnabled(options: ProgressOptions = {}): boolean {
  if (options.quiet === true) return false;
  const env = process.env.MEMATTR_PROGRESS;
  if (env === "0") return false;
  if (options.force ?? env === "1") return true;
  return (options.stream ?? process.stderr).isTTY === true;
}

/** "1.2 M" style counts for rates. */
function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)} k`;
  return `${Math.round(n)} `;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

/**
 * A progress display on `options.stream` (stderr), or a silent one (see {@link progressEnabled}).
 * Call `stop()` in a `finally`: the display holds a redraw timer.
 */
export function createProgress(options: ProgressOptions = {}): Progress {
  if (!progressEnabled(options)) return OFF;
  const now = options.now ?? Date.now;
  const labelWidth = { chars: 8 };
  const format: cliProgress.GenericFormatter = (barOptions, params, payload: { label: string; known: boolean; startMs: number | undefined }) => {
    if (payload.startMs === undefined) return `${payload.label.padEnd(labelWidth.chars)} waiting`;
    const elapsedS = Math.max(1e-3, (now() - payload.startMs) / 1000);
    const rate = params.value / elapsedS;
    const label = payload.label.padEnd(labelWidth.chars);
    // 80 columns hold a line: cli-progress cuts what is wider than the terminal
    const done = `${params.value.toLocaleString("en-US")}${payload.known ? `/${params.total.toLocaleString("en-US")}` : " events"}`;
    const speed = `${formatCount(rate)}ev/s`;
    if (!payload.known) return `${label} ${done}  ${speed}  ${formatSeconds(elapsedS)}`;
    const frac = params.total > 0 ? Math.min(1, params.value / params.total) : 1;
    const bar = cliProgress.Format.BarFormat(frac, barOptions);
    const pct = `${Math.floor(frac * 100)}%`.padStart(4);
    const left = rate > 0 ? (params.total - params.value) / rate : Number.POSITIVE_INFINITY;
    const time = params.value >= params.total ? `in ${formatSeconds(elapsedS)}` : `ETA ${formatSeconds(left)}`;
    return `${label} ${bar} ${pct}  ${done}  ${speed}  ${time}`;
  };
  const multi = new cliProgress.MultiBar(
    {
      stream: options.stream ?? process.stderr,
      format,
      barsize: 16,
      // a hidden cursor would stay hidden after Ctrl-C (cli-progress's gracefulExit handler would
      // restore it, but takes SIGINT over and the process would not end)
      hideCursor: false,
      clearOnComplete: false,
      stopOnComplete: false,
      noTTYOutput: options.force ?? process.env.MEMATTR_PROGRESS === "1",
      notTTYSchedule: 1000,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    enabled: true,
    task(label, totalEvents) {
      labelWidth.chars = Math.max(labelWidth.chars, label.length);
      const payload = { label, known: totalEvents !== undefined, startMs: undefined as number | undefined };
      const bar = multi.create(totalEvents ?? 0, 0, payload);
      let last = 0;
      return {
        update(done, total) {
          if (payload.startMs === undefined || done < last) payload.startMs = now(); // the first update, or a new run of the same task
          last = done;
          if (total !== undefined && (!payload.known || total !== bar.getTotal())) {
            payload.known = true;
            bar.setTotal(total);
          }
          bar.update(done, payload);
        },
      };
    },
    stop() {
      multi.stop();
    },
  };
}

/**
 * A replay's `onProgress` drawing one line per policy on `progress` (the lines of `policies`
 * drawn at once, in that order, "waiting" until their replay starts), or undefined when
 * progress is off.
 */
export function policyProgress(progress: Progress, policies: readonly string[] = []): ((p: ReplayProgress) => void) | undefined {
  if (!progress.enabled) return undefined;
  const tasks = new Map<string, ProgressTask>(policies.map((p) => [p, progress.task(p)]));
  return (p) => {
    let task = tasks.get(p.policy);
    if (task === undefined) tasks.set(p.policy, (task = progress.task(p.policy, p.totalEvents)));
    task.update(p.events, p.totalEvents);
  };
}
