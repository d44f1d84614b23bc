/**
 * Writer of memattr JSONL traces: one header line, then one line per event, each checked
 * with the same rules the reader applies, so whatever this writes `parseTrace` reads back.
 * Short names as in format.ts (`gfn`, `npages`, `id`).
 */
import { MemattrRangeError, MemattrTypeError } from "../core/errors.js";
import { FieldError, validateEvent, validateHeader } from "./format.js";
import type { TraceEvent, TraceHeader } from "./format.js";
import { TraceVersionError } from "./errors.js";
import { TRACE_FORMAT, TRACE_VERSIONS_READ } from "./format.js";

function rethrow(e: unknown, what: string): never {
  if (e instanceof FieldError) {
    if (e.kind === "range") throw new MemattrRangeError(`${what}: ${e.message}`);
    throw new MemattrTypeError(`${what}: ${e.message}`);
  }
  throw e;
}

/**
 * One header as a JSON line (no trailing newline).
 * @throws MemattrTypeError or MemattrRangeError for a bad field; TraceVersionError for a foreign format/version.
 */
export function serializeHeader(header: TraceHeader): string {
  let checked: ReturnType<typeof validateHeader>;
  try {
    checked = validateHeader(header);
  } catch (e) {
    rethrow(e, "trace header");
  }
  if ("incompatible" in checked) throw new TraceVersionError(checked.incompatible, `${TRACE_FORMAT} version ${TRACE_VERSIONS_READ.join(" or ")}`);
  return JSON.stringify(checked);
}

/**
 * One event as a JSON line (no trailing newline), its fields in a fixed order.
 * @throws MemattrTypeError for a missing or mistyped field; MemattrRangeError for a gfn, npages or id out of range.
 * @example
 * ```ts
 * import { serializeEvent } from "memattr";
 * console.log(serializeEvent({ type: "touch", gfn: 7, npages: 1, side: "shared", write: true }));
 * // {"type":"touch","gfn":7,"npages":1,"side":"shared","write":true}
 * ```
 */
export function serializeEvent(event: TraceEvent): string {
  try {
    return JSON.stringify(validateEvent(event));
  } catch (e) {
    const type = (event as { type?: unknown } | null)?.type;
    rethrow(e, `trace event ${typeof type === "string" ? JSON.stringify(type) : typeof type}`);
  }
}

/**
 * The lines of a whole trace, lazily, each ending in "\n": pipe them to a file or a stream
 * without building the trace in memory.
 * @example
 * ```ts
 * import { createHeader, formatTrace } from "memattr";
 * const lines = formatTrace(createHeader([{ gfn: 0, npages: 512 }]), [{ type: "launch" }]);
 * console.log([...lines].join(""));
 * ```
 */
export function* formatTrace(header: TraceHeader, events: Iterable<TraceEvent>): Generator<string> {
  yield `${serializeHeader(header)}\n`;
  for (const ev of events) yield `${serializeEvent(ev)}\n`;
}

/**
 * A whole trace as one string. For large traces prefer {@link formatTrace}.
 * @example
 * ```ts
 * import { createHeader, parseTraceSync, traceToString } from "memattr";
 * const text = traceToString(createHeader([]), [{ type: "launch" }]);
 * console.log([...parseTraceSync(text).events]); // [ { type: 'launch' } ]
 * ```
 */
export function traceToString(header: TraceHeader, events: Iterable<TraceEvent>): string {
  let out = "";
  for (const line of formatTrace(header, events)) out += line;
  return out;
}
