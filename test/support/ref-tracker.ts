// A per-page reference state machine of the conversion model, written from the rules of
// src/model/states.ts (not from the tracker's code or the core's): the property test
// (test/model/tracker.property.test.ts) and the soak test (test/soak/) compare the Tracker with it.
import { GUEST, PENDING, PRESERVE, PRIVATE, PRIVATE_DISCARDED, PRIVATE_POPULATED, SHARED_DISCARDED, SHARED_POPULATED } from "../../src/model/index.js";

const MAX_GFN = 2 ** 40;
const U64 = 2n ** 64n;

/** An error code, or null for accepted. */
export type Code = string | null;
export type To = "shared" | "private";
export interface RefHandle {
  id: number;
  to: To;
  preserve: boolean;
  owned: number[];
  status: "pending" | "committed" | "aborted";
}

export function intCode(v: unknown, min: number, max: number): Code {
  if (typeof v === "number") {
    if (!Number.isFinite(v) || !Number.isInteger(v)) return "EINVALTYPE";
    return v < min || v > max ? "ERANGE" : null;
  }
  if (typeof v === "bigint") return v < BigInt(min) || v > BigInt(max) ? "ERANGE" : null;
  return "EINVALTYPE";
}

export function u64Code(v: unknown): Code {
  if (typeof v === "number") {
    if (!Number.isFinite(v) || !Number.isInteger(v)) return "EINVALTYPE";
    return v < 0 || v > Number.MAX_SAFE_INTEGER ? "ERANGE" : null;
  }
  if (typeof v === "bigint") return v < 0n || v >= U64 ? "ERANGE" : null;
  return "EINVALTYPE";
}

/** The model over pages [0, limit) with guest memory `regions` (which must not touch each other). */
export class RefModel {
  readonly attr: Uint8Array; // 1 = private
  readonly pend: Int32Array; // owning handle id, 0 = not pending
  readonly pres: Uint8Array;
  readonly back: [Uint8Array, Uint8Array]; // [shared, private]: 0 empty, 1 populated, 2 discarded
  readonly guest: Uint8Array;
  launched = false;
  handles: RefHandle[] = [];
  nextId = 1;

  constructor(
    regions: readonly { gfn: number; npages: number }[],
    readonly limit: number,
  ) {
    this.attr = new Uint8Array(limit);
    this.pend = new Int32Array(limit);
    this.pres = new Uint8Array(limit);
    this.back = [new Uint8Array(limit), new Uint8Array(limit)];
    this.guest = new Uint8Array(limit);
    for (const r of regions) this.guest.fill(1, r.gfn, r.gfn + r.npages);
  }

  /** `gfn + npages` lies wholly inside guest memory (regions that touch are one). */
  inside(gfn: number, npages: number): boolean {
    if (gfn + npages > this.limit) return false;
    for (let g = gfn; g < gfn + npages; g++) if (this.guest[g] !== 1) return false;
    return true;
  }

  /** addRegion: the range (inside [0, limit)) becomes guest memory, shared or private, backings empty. */
  addRegion(gfn: unknown, npages: unknown, initial: To): Code {
    const c = intCode(gfn, 0, MAX_GFN - 1) ?? intCode(npages, 1, MAX_GFN);
    if (c !== null) return c;
    const [g0, n] = [Number(gfn), Number(npages)];
    if (g0 + n > MAX_GFN) return "ERANGE";
    if (g0 + n > this.limit) throw new Error("RefModel.addRegion: keep added regions inside the model's pages");
    for (let g = g0; g < g0 + n; g++) if (this.guest[g] === 1) return "EOVERLAP";
    for (let g = g0; g < g0 + n; g++) this.reset(g, 1, initial === "private" ? 1 : 0);
    return null;
  }

  /** removeRegion: the pages populated on each side before, or an error code. */
  removeRegion(gfn: unknown, npages: unknown): Code | [number[], number[]] {
    const c = intCode(gfn, 0, MAX_GFN - 1) ?? intCode(npages, 1, MAX_GFN);
    if (c !== null) return c;
    const [g0, n] = [Number(gfn), Number(npages)];
    if (g0 + n > MAX_GFN) return "ERANGE";
    if (!this.inside(g0, n)) return "EOUTSIDE";
    for (let g = g0; g < g0 + n; g++) if (this.pend[g]) return "EBUSY";
    const populated: [number[], number[]] = [[], []];
    for (let g = g0; g < g0 + n; g++) {
      for (const side of [0, 1] as const) if (this.back[side]![g] === 1) populated[side].push(g);
      this.reset(g, 0, 0);
    }
    return populated;
  }

  private reset(g: number, guest: number, attr: number): void {
    this.guest[g] = guest;
    this.attr[g] = attr;
    this.pend[g] = 0;
    this.pres[g] = 0;
    this.back[0]![g] = 0;
    this.back[1]![g] = 0;
  }

  value(g: number): number {
    if (this.guest[g] === 0) return 0;
    let v = GUEST | (this.attr[g] ? PRIVATE : 0) | (this.pend[g] ? PENDING : 0) | (this.pres[g] ? PRESERVE : 0);
    v |= this.back[0]![g] === 1 ? SHARED_POPULATED : this.back[0]![g] === 2 ? SHARED_DISCARDED : 0;
    v |= this.back[1]![g] === 1 ? PRIVATE_POPULATED : this.back[1]![g] === 2 ? PRIVATE_DISCARDED : 0;
    return v;
  }

  // Range in pages, already validated; returns an error code or the new handle.
  request(gfn: number, npages: number, to: To, preserve: boolean, strict: boolean): Code | RefHandle {
    if (preserve && to === "shared") return "EPRESERVE";
    if (preserve && this.launched) return "ELAUNCHED";
    const owned: number[] = [];
    for (let g = gfn; g < gfn + npages; g++) {
      if (this.pend[g]) {
        const dir: To = this.attr[g] ? "shared" : "private";
        if (dir !== to) return "ECONFLICT";
        if (strict && (this.pres[g] === 1) !== preserve) return "ECONFLICT";
      } else if ((this.attr[g] ? "private" : "shared") !== to) owned.push(g);
    }
    const h: RefHandle = { id: this.nextId++, to, preserve, owned, status: "pending" };
    for (const g of owned) {
      this.pend[g] = h.id;
      this.pres[g] = preserve ? 1 : 0;
    }
    this.handles.push(h);
    return h;
  }

  requestApi(gfn: unknown, npages: unknown, to: To, preserve: boolean): Code | RefHandle {
    const c = intCode(gfn, 0, MAX_GFN - 1) ?? intCode(npages, 1, MAX_GFN);
    if (c !== null) return c;
    if (!this.inside(Number(gfn), Number(npages))) return "EOUTSIDE";
    return this.request(Number(gfn), Number(npages), to, preserve, true);
  }

  hypercall(gpa: unknown, npages: unknown, attrs: unknown): Code | RefHandle {
    const c = u64Code(gpa) ?? u64Code(npages) ?? u64Code(attrs);
    if (c !== null) return c;
    const [a, n, at] = [BigInt(gpa as number), BigInt(npages as number), BigInt(attrs as number)];
    if (a % 4096n !== 0n || n === 0n) return "EINVAL";
    const gfn = a / 4096n;
    if ((gfn + n) * 4096n > U64) return "EINVAL";
    const ps = Number(at & 0xfn);
    if ((at & ~0x1fn) !== 0n || ps > 2) return "EINVAL";
    const align = [1n, 512n, 262144n][ps]!;
    if (gfn % align !== 0n || n % align !== 0n) return "EINVAL";
    if (gfn >= BigInt(MAX_GFN) || n > BigInt(MAX_GFN) || !this.inside(Number(gfn), Number(n))) return "EOUTSIDE";
    return this.request(Number(gfn), Number(n), (at & 16n) !== 0n ? "private" : "shared", false, true);
  }

  fault(gpa: unknown, size: unknown, priv: unknown): Code | { kind: string; handle?: RefHandle; gfn: number; npages: number } {
    const c = u64Code(gpa) ?? u64Code(size) ?? (typeof priv === "boolean" ? null : "EINVALTYPE");
    if (c !== null) return c;
    const [a, s] = [BigInt(gpa as number), BigInt(size as number)];
    if (s === 0n || a + s > U64) return "ERANGE";
    const gfn = Number(a / 4096n);
    const npages = Number((a + s + 4095n) / 4096n) - gfn;
    const to: To = priv ? "private" : "shared";
    if (!this.inside(gfn, npages)) return { kind: "violation", gfn, npages };
    let opposite = false;
    let convert = false;
    let inflight = false;
    for (let g = gfn; g < gfn + npages; g++) {
      if (this.pend[g]) {
        if ((this.attr[g] ? "shared" : "private") !== to) opposite = true;
        else inflight = true;
      } else if ((this.attr[g] ? "private" : "shared") !== to) convert = true;
    }
    if (opposite) return { kind: "violation", gfn, npages };
    if (convert) return { kind: "convert", handle: this.request(gfn, npages, to, false, false) as RefHandle, gfn, npages };
    return { kind: inflight ? "in-flight" : "spurious", gfn, npages };
  }

  settle(h: RefHandle, outcome: "committed" | "aborted"): Code {
    if (h.status !== "pending") return "ESETTLED";
    for (const g of h.owned) {
      if (outcome === "committed") this.attr[g] = h.to === "private" ? 1 : 0;
      this.pend[g] = 0;
      this.pres[g] = 0;
    }
    h.status = outcome;
    return null;
  }

  launch(): Code {
    if (this.launched) return "ELAUNCHED";
    if (this.handles.some((h) => h.status === "pending" && h.preserve)) return "EPENDING";
    this.launched = true;
    return null;
  }

  backing(op: "pop" | "disc", side: 0 | 1, gfn: unknown, npages: unknown): Code | number[] {
    const c = intCode(gfn, 0, MAX_GFN - 1) ?? intCode(npages, 1, MAX_GFN);
    if (c !== null) return c;
    const [g0, n] = [Number(gfn), Number(npages)];
    if (!this.inside(g0, n)) return "EOUTSIDE";
    const b = this.back[side]!;
    let fresh = 0;
    let refault = 0;
    let freed = 0;
    for (let g = g0; g < g0 + n; g++) {
      if (op === "pop") {
        if (b[g] === 0) fresh++;
        else if (b[g] === 2) refault++;
        b[g] = 1;
      } else if (b[g] === 1) {
        b[g] = 2;
        freed++;
      }
    }
    return op === "pop" ? [fresh, refault] : [freed];
  }
}
