// Test helper: replays a generated trace against a page-state array and checks that it is
// sane — readable back, inside guest memory, every request closed, touches on the side the
// page is on, preserve only before launch. Not a test file itself.
import { expect } from "vitest";
import { formatTrace, TraceLineParser } from "../../src/trace/index.js";
import type { GeneratedTrace, RequestEvent } from "../../src/trace/index.js";

export interface CheckResult {
  events: number;
  requests: number;
  aborts: number;
  touches: number;
  privatePagesAtEnd: number;
}

/** Page states: 0 shared (KVM's initial attribute), 1 private. */
export function checkGenerated(trace: GeneratedTrace): CheckResult {
  const guestPages = trace.header.regions[0]!.npages;
  const state = new Uint8Array(guestPages);
  const parser = new TraceLineParser();
  const pending = new Map<number, RequestEvent>();
  let launched = false;
  const r: CheckResult = { events: 0, requests: 0, aborts: 0, touches: 0, privatePagesAtEnd: 0 };
  let first = true;
  for (const line of formatTrace(trace.header, trace.events)) {
    const ev = parser.pushLine(line.slice(0, -1)); // throws on anything the reader refuses
    if (first) {
      first = false;
      continue;
    }
    r.events++;
    switch (ev!.type) {
      case "launch":
        launched = true;
        break;
      case "request":
        r.requests++;
        if (ev!.preserve) expect(launched, "preserve after launch").toBe(false);
        pending.set(ev!.id, ev!);
        break;
      case "commit": {
        const req = pending.get(ev!.id)!;
        state.fill(req.to === "private" ? 1 : 0, req.gfn, req.gfn + req.npages);
        pending.delete(ev!.id);
        break;
      }
      case "abort":
        r.aborts++;
        pending.delete(ev!.id);
        break;
      case "touch": {
        r.touches++;
        const want = ev!.side === "private" ? 1 : 0;
        for (let g = ev!.gfn; g < ev!.gfn + ev!.npages; g++) {
          if (state[g] !== want) throw new Error(`touch on ${ev!.side} side of gfn ${g}, which is ${state[g] ? "private" : "shared"}`);
        }
        break;
      }
      default:
        throw new Error(`generators emit no ${ev!.type} events`);
    }
  }
  parser.finish();
  expect(parser.pendingIds()).toEqual([]);
  expect(pending.size).toBe(0);
  for (let g = 0; g < guestPages; g++) r.privatePagesAtEnd += state[g]!;
  return r;
}

/** The serialized trace, for comparing two runs. */
export function traceText(trace: GeneratedTrace): string {
  return [...formatTrace(trace.header, trace.events)].join("");
}
