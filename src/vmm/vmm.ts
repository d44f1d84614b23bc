/**
 * `runVmm`: the minimal VMM's KVM_RUN loop (Node only). One VM, one vCPU; memattr decides.
 *
 * Short names: `gpa` guest physical address (bytes); `gfn` page number; `npages` pages;
 * `side` shared (memfd) or private (guest_memfd); *request* a guest's KVM_HC_MAP_GPA_RANGE,
 * by doorbell or hypercall exit; *sync* reading the kernel's residency of both sides (mincore)
 * into the tracker's populated bits.
 *
 * Per request (every value from the guest is untrusted and goes through Tracker.fromHypercall):
 *   decode + check (tracker) → sync both sides of the range → [KVM_SET_MEMORY_ATTRIBUTES where
 *   the host has it] → commit → policy.onCommit → discard on the real backings → status.
 * A refused request changes nothing and answers a negative errno (layout.ts STATUS); the VMM
 * itself never throws on guest input. The loop ends on hlt, a guest fault (shutdown, entry
 * failure …), or after `maxExits` exits (a bound against guests that never stop exiting).
 * With `slotUpdates: N` the VMM also changes memslots while the DMA loop runs, every N
 * transactions in turn: dirty logging on for the shared slot (KVM_MEM_LOG_DIRTY_PAGES), the
 * dirty log read (KVM_GET_DIRTY_LOG: the guest's bounce-page writes must be in it), dirty
 * logging off, the shared slot deleted and re-created. A memslot is not the memory map: the
 * tracker's snapshot must be the same after each update (`memslots.snapshotChanged` counts
 * the updates after which it was not; it must stay 0).
 * A guest that spins without exiting blocks KVM_RUN: run untrusted guests in a child process
 * with a timeout (as the tests and `memattr vmm` do through runVmmInChild).
 */
import { MemattrError } from "../core/errors.js";
import { KVM_CAP, KVM_HC_MAP_GPA_RANGE, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEMORY_ATTRIBUTE_PRIVATE } from "../uapi/constants.js";
import { dirtyPagesOf } from "../kvm/vm.js";
import type { VcpuExit } from "../uapi/run.js";
import { HypercallError, OutsideGuestMemoryError, type GfnRange } from "../model/errors.js";
import { createTracker } from "../model/create.js";
import {
  BOOT_PAGES,
  type GuestLayout,
  guestLayout,
  MB,
  OP,
  PAGE_BYTES,
  payloadWord,
  SECRET_TAG,
  SHARED_BIT,
  SLOT_SHARED,
  STATUS,
  DOORBELL_PORT,
} from "./layout.js";
import { Machine } from "./machine.js";
import { createPolicy } from "../policy/create.js";
import type { DiscardBatch, DiscardPolicy, PolicyName } from "../policy/types.js";
import { discardedRangesOf } from "../backing/contract.js";
import type { Tracker } from "../model/tracker.js";
import type { PendingConversion } from "../model/conversion.js";
import { PRIVATE_POPULATED, SHARED_POPULATED, type Side } from "../model/states.js";

/** Options of {@link runVmm}. */
export interface VmmOptions {
  /** Guest code (from buildDmaGuest / buildHostileGuest). */
  code: Uint8Array;
  /** Guest memory layout (default guestLayout(): 64 MiB). */
  layout?: GuestLayout;
  /** Discard policy, by name or instance (default eager). */
  policy?: PolicyName | DiscardPolicy;
  /** Policy budget in bytes (createPolicy's budgetBytes) when `policy` is a name. */
  budgetBytes?: number;
  /** DMA transactions the guest runs (written to the mailbox before boot). */
  transactions?: number;
  /** Check payloads and scan newly shared pages for private contents (default true). */
  verify?: boolean;
  /** Keep every request and its status in the report (tests). Default false. */
  recordRequests?: boolean;
  /** Stop after this many exits (default 10 000 000). */
  maxExits?: number;
  /** Every this many DMA transactions, the next memslot update (see the file's header); 0 (default): none. */
  slotUpdates?: number;
}

/** What the memslot updates of a run (`slotUpdates`) did and saw. */
export interface MemslotReport {
  /** Updates made: dirty logging on, off, slot deleted and re-created (one each). */
  updates: number;
  /** KVM_GET_DIRTY_LOG reads, the dirty pages they listed, and bounce pages the guest had just written that a read did not list (must be 0). */
  dirtyLogReads: number;
  dirtyPages: number;
  bouncePagesMissing: number;
  /** Updates after which the tracker's snapshot differed from before (must be 0). */
  snapshotChanged: number;
}

/** One guest request as the VMM saw it. */
export interface RequestRecord {
  gpa: bigint;
  npages: bigint;
  attrs: bigint;
  status: bigint;
}

/** What a run measured. Times in milliseconds, sizes in bytes. */
export interface VmmReport {
  policy: string;
  /** How the run ended: `halted`, `shutdown`, `fail` (the guest reported a bad status), `exit-limit`, or the exit reason. */
  end: string;
  /** Guest run time: first KVM_RUN to the guest's last exit, VMM work included. */
  guestMs: number;
  /** Part of guestMs before the guest's bootDone. */
  bootMs: number;
  /** Part of guestMs inside KVM_RUN (guest execution, faults, exits); the rest is the VMM's work. */
  kvmRunMs: number;
  exits: number;
  exitsByReason: Record<string, number>;
  requests: number;
  /** Requests refused, by error code. */
  refused: Record<string, number>;
  conversions: number;
  transactionsDone: number;
  /** fallocate(PUNCH_HOLE) calls on both backings, and the pages they covered. */
  discardCalls: number;
  discardedPages: number;
  discardMs: number;
  /** Pages found populated again after a discard (tracker's refault count). */
  refaultPages: number;
  peakDoubleAllocatedBytes: number;
  finalDoubleAllocatedBytes: number;
  /** After the run, from the kernel: memfd bytes in memory, guest_memfd bytes in memory. */
  sharedAllocatedBytes: number;
  privateAllocatedBytes: number;
  trackerMemoryBytes: number;
  trackerRuns: number;
  payloadsChecked: number;
  payloadsBad: number;
  /** Qwords tagged as private secrets found in pages just made shared (must be 0). */
  leakedWords: number;
  /** Newly shared pages the tracker holds discarded/empty on the shared side that were not all zero (must be 0). */
  staleSharedPages: number;
  /** Where the guest reported a failure (mailbox txn), or null. */
  failedAtTxn: number | null;
  /** VMM-side errors survived (backing syscalls that failed); the guest got STATUS.eio. */
  vmmErrors: string[];
  /** Final tracker state: pages shared, private, pending. */
  pages: { shared: number; private: number; pending: number };
  sharedRanges: GfnRange[];
  /** The mailbox's result slots after the run (hostile guests record statuses there). */
  results: bigint[];
  requestsLog?: RequestRecord[];
  /** Memslot updates during the DMA loop (`slotUpdates`). */
  memslots: MemslotReport;
}

const SIDES: readonly Side[] = ["shared", "private"];
/** Mailbox result slots copied into the report. */
const RESULTS_REPORTED = 64;

function statusOf(err: unknown): bigint {
  if (err instanceof HypercallError) return STATUS.einval;
  if (err instanceof OutsideGuestMemoryError) return STATUS.efault;
  if (err instanceof MemattrError && (err.code === "ECONFLICT" || err.code === "EPRESERVE")) return STATUS.eperm;
  if (err instanceof MemattrError) return STATUS.einval;
  return STATUS.eio;
}

/**
 * Boots `options.code` on /dev/kvm and serves its requests until it halts.
 * @returns the measurements and checks of the run
 * @throws KvmError / KvmCapabilityError when the VM cannot be built (no /dev/kvm, no guest_memfd)
 * @example
 * ```ts
 * import { Kvm, buildDmaGuest, guestLayout, runVmm } from "memattr/node";
 * if (Kvm.isAvailable()) {
 *   const layout = guestLayout();
 *   const r = await runVmm({ code: buildDmaGuest({ layout }), layout, policy: "batched", transactions: 100 });
 *   console.log(r.guestMs, r.discardCalls, r.payloadsBad); // …, …, 0
 * }
 * ```
 */
export async function runVmm(options: VmmOptions): Promise<VmmReport> {
  const layout = options.layout ?? guestLayout();
  const policy = typeof options.policy === "object" ? options.policy : createPolicy(options.policy ?? "eager", { budgetBytes: options.budgetBytes });
  using machine = await Machine.create({ layout, code: options.code });
  const tracker = await createTracker({ regions: [{ gfn: 0, npages: layout.ramPages }] });
  try {
    return new VmmRun(machine, tracker, policy, options, layout).run();
  } finally {
    tracker.dispose();
  }
}

class VmmRun {
  readonly report: VmmReport;
  readonly verify: boolean;
  readonly mailbox: DataView;
  readonly hasAttributes: boolean;
  vec: Uint8Array = new Uint8Array(0);
  readonly t0 = performance.now();
  /** The last settled handle, reused by the next request. */
  private spare: PendingConversion | undefined = undefined;

  constructor(
    readonly m: Machine,
    readonly tracker: Tracker,
    readonly policy: DiscardPolicy,
    readonly options: VmmOptions,
    readonly layout: GuestLayout,
  ) {
    this.verify = options.verify ?? true;
    const mb = m.mailbox.mapping.bytes();
    this.mailbox = new DataView(mb.buffer, mb.byteOffset, mb.byteLength);
    this.hasAttributes = (BigInt(m.vm.checkExtension(KVM_CAP.MEMORY_ATTRIBUTES)) & BigInt(KVM_MEMORY_ATTRIBUTE_PRIVATE)) !== 0n;
    this.report = {
      policy: policy.name,
      end: "running",
      guestMs: 0,
      bootMs: 0,
      kvmRunMs: 0,
      exits: 0,
      exitsByReason: {},
      requests: 0,
      refused: {},
      conversions: 0,
      transactionsDone: 0,
      discardCalls: 0,
      discardedPages: 0,
      discardMs: 0,
      refaultPages: 0,
      peakDoubleAllocatedBytes: 0,
      finalDoubleAllocatedBytes: 0,
      sharedAllocatedBytes: 0,
      privateAllocatedBytes: 0,
      trackerMemoryBytes: 0,
      trackerRuns: 0,
      payloadsChecked: 0,
      payloadsBad: 0,
      leakedWords: 0,
      staleSharedPages: 0,
      failedAtTxn: null,
      vmmErrors: [],
      pages: { shared: 0, private: 0, pending: 0 },
      sharedRanges: [],
      results: [],
      memslots: { updates: 0, dirtyLogReads: 0, dirtyPages: 0, bouncePagesMissing: 0, snapshotChanged: 0 },
      ...(options.recordRequests ? { requestsLog: [] } : {}),
    };
  }

  run(): VmmReport {
    const { m, tracker, report } = this;
    // Launch: the boot image (tables, code) was written into guest_memfd by the VMM: that is
    // in-place encryption, allowed only before launch.
    tracker.requestConversion({ gfn: 0, npages: BOOT_PAGES, to: "private", preserve: true }).commit();
    this.sync(0, BOOT_PAGES);
    tracker.launch();
    this.mailbox.setBigUint64(MB.transactions, BigInt(this.options.transactions ?? 0), true);
    const maxExits = this.options.maxExits ?? 10_000_000;
    const start = performance.now();
    while (report.end === "running") {
      if (report.exits >= maxExits) {
        report.end = "exit-limit";
        break;
      }
      const t = performance.now();
      const exit = m.cpu.run();
      report.kvmRunMs += performance.now() - t;
      report.exits++;
      report.exitsByReason[exit.reason] = (report.exitsByReason[exit.reason] ?? 0) + 1;
      this.onExit(exit, start);
    }
    report.guestMs = performance.now() - start;
    this.finish();
    return report;
  }

  onExit(exit: VcpuExit, start: number): void {
    const { m, report } = this;
    switch (exit.reason) {
      case "io":
        if (exit.direction === "out" && exit.port === DOORBELL_PORT && exit.data.byteLength >= 1) this.onDoorbell(exit.data[0]!, start);
        else if (exit.direction === "in") m.cpu.setIoInData(new Uint8Array(exit.data.byteLength).fill(0xff)); // no device: all ones
        return;
      case "hypercall":
        if (exit.nr === BigInt(KVM_HC_MAP_GPA_RANGE)) {
          m.cpu.setHypercallReturn(this.onMapGpaRange(exit.args[0]!, exit.args[1]!, exit.args[2]!));
        } else m.cpu.setHypercallReturn(BigInt.asUintN(64, -1000n)); // -KVM_ENOSYS
        return;
      case "mmio":
        if (!exit.isWrite) m.cpu.setMmioData(new Uint8Array(exit.lengthBytes).fill(0xff)); // unbacked gpa: reads all ones
        return;
      case "intr":
        return;
      case "hlt":
        report.end = "halted";
        return;
      default:
        report.end = exit.reason; // shutdown (triple fault), fail_entry, internal_error …
    }
  }

  onDoorbell(op: number, start: number): void {
    const mb = this.mailbox;
    const u64 = (at: number): bigint => mb.getBigUint64(at, true);
    let status: bigint = STATUS.ok;
    switch (op) {
      case OP.mapGpaRange:
        status = this.onMapGpaRange(u64(MB.gpa), u64(MB.npages), u64(MB.attrs));
        break;
      case OP.dmaReady:
        status = this.onDmaReady(u64(MB.gpa), u64(MB.npages), u64(MB.txn));
        break;
      case OP.bootDone:
        this.report.bootMs = performance.now() - start;
        this.sync(0, this.layout.ramPages);
        break;
      case OP.done:
        break;
      case OP.fail:
        this.report.end = "fail";
        this.report.failedAtTxn = Number(BigInt.asUintN(32, u64(MB.txn)));
        break;
      default:
        status = STATUS.einval;
    }
    mb.setBigUint64(MB.status, status, true);
  }

  /** A KVM_HC_MAP_GPA_RANGE request, from either path. Never throws. */
  onMapGpaRange(gpa: bigint, npages: bigint, attrs: bigint): bigint {
    const { tracker, report } = this;
    report.requests++;
    let status: bigint = STATUS.ok;
    try {
      const c = tracker.fromHypercall({ gpa, npages, attrs }, this.spare);
      if (c === this.spare) this.spare = undefined;
      try {
        this.sync(c.gfn, c.npages);
        if (this.hasAttributes) {
          // Where the host can switch a gpa's backing, this is where it happens; not on this host.
          this.m.vm.setMemoryAttributes({ gfn: c.gfn, npages: c.npages }, c.to === "private" ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0);
        }
      } catch (err) {
        c.abort();
        this.spare = c;
        throw err;
      }
      c.commit();
      report.conversions++;
      this.apply(this.policy.onCommit(tracker, c, performance.now()));
      if (this.verify && c.to === "shared") for (const r of c.runs) this.checkNewlyShared(r.gfn, r.npages);
      this.spare = c; // settled and read: the next request reuses the handle (no allocation per exit)
      this.notePeak();
    } catch (err) {
      status = statusOf(err);
      const code = err instanceof MemattrError ? err.code : "EIO";
      report.refused[code] = (report.refused[code] ?? 0) + 1;
      if (!(err instanceof MemattrError)) this.noteVmmError(err);
    }
    report.requestsLog?.push({ gpa, npages, attrs, status });
    return status;
  }

  /** The device reads the payload the guest put in shared pages. Only shared pages are read. */
  onDmaReady(gpa: bigint, npages: bigint, txn: bigint): bigint {
    const { tracker, report } = this;
    if ((gpa & 0xfffn) !== 0n || npages < 1n || npages > 16n) return STATUS.einval;
    const gfn = gpa >> 12n;
    if (gfn + npages > BigInt(this.layout.ramPages)) return STATUS.efault;
    const g = Number(gfn);
    const n = Number(npages);
    if (!tracker.isUniform(g, n, "shared")) return STATUS.eperm; // never read a page the guest holds private
    report.transactionsDone++;
    const every = this.options.slotUpdates ?? 0;
    if (every > 0 && report.transactionsDone % every === 0) this.updateSlots(g, n);
    if (!this.verify) return STATUS.ok;
    const bytes = this.m.sharedSide.memfd.read(g * PAGE_BYTES, n * PAGE_BYTES);
    const dv = new DataView(bytes.buffer);
    const want = payloadWord(Number(BigInt.asUintN(32, txn)));
    report.payloadsChecked++;
    for (let at = 0; at < bytes.byteLength; at += 8) {
      if (dv.getBigUint64(at, true) !== want) {
        report.payloadsBad++;
        break;
      }
    }
    return STATUS.ok;
  }

  /**
   * The next memslot update of the cycle (on, read, off, re-create) on the shared slot, between
   * two guest exits; `gfn + npages` are the bounce pages the guest just wrote (through the
   * shared slot). The tracker is compared before and after: a memslot changes no page state.
   */
  updateSlots(gfn: number, npages: number): void {
    const { m, tracker, report, layout } = this;
    const r = report.memslots;
    const region = { slot: SLOT_SHARED, guestPhysAddr: SHARED_BIT, memorySizeBytes: layout.ramBytes, userspaceAddr: m.sharedSide.memfd.address };
    const before = tracker.snapshot();
    try {
      switch (r.updates % 4) {
        case 0:
          m.vm.setUserMemoryRegion2({ ...region, flags: KVM_MEM_LOG_DIRTY_PAGES });
          break;
        case 1: {
          // Logging has been on since the last update: the guest wrote these pages after it.
          const dirty = new Set(dirtyPagesOf(m.vm.getDirtyLog(SLOT_SHARED, layout.ramPages)));
          r.dirtyLogReads++;
          r.dirtyPages += dirty.size;
          for (let p = gfn; p < gfn + npages; p++) if (!dirty.has(p)) r.bouncePagesMissing++;
          break;
        }
        case 2:
          m.vm.setUserMemoryRegion2({ ...region, flags: 0 });
          break;
        default:
          m.vm.removeUserMemoryRegion2(SLOT_SHARED);
          m.vm.setUserMemoryRegion2(region);
      }
      r.updates++;
    } catch (err) {
      this.noteVmmError(err);
    }
    if (tracker.snapshot() !== before) r.snapshotChanged++;
  }

  /**
   * Pages just made shared: no qword of theirs may carry the private-secret tag, and pages whose
   * shared side the tracker holds empty or discarded must read as zeros.
   */
  checkNewlyShared(gfn: number, npages: number): void {
    const { report, tracker } = this;
    const bytes = this.m.sharedSide.memfd.read(gfn * PAGE_BYTES, npages * PAGE_BYTES);
    const words = new Uint32Array(bytes.buffer);
    for (let p = 0; p < npages; p++) {
      let nonzero = false;
      for (let i = p * 1024; i < (p + 1) * 1024; i += 2) {
        if (words[i + 1] === SECRET_TAG) report.leakedWords++;
        if (words[i] !== 0 || words[i + 1] !== 0) nonzero = true;
      }
      if (nonzero && (tracker.valueAt(gfn + p) & SHARED_POPULATED) === 0) report.staleSharedPages++;
    }
  }

  /**
   * Reads both sides' residency over the range (mincore) and records newly populated runs in
   * the tracker (counting refaults), telling the policy.
   */
  sync(gfn: number, npages: number): void {
    const { tracker, m } = this;
    for (const side of SIDES) {
      const backing = side === "shared" ? m.sharedSide : m.privateSide;
      const pop = side === "shared" ? SHARED_POPULATED : PRIVATE_POPULATED;
      const vec = (this.vec = backing.residentPages(gfn, npages, this.vec));
      const found: number[] = [];
      tracker.forEachRawRun(
        (s, n, v) => {
          if ((v & pop) !== 0) return;
          let i = s - gfn;
          const end = i + n;
          while (i < end) {
            while (i < end && (vec[i]! & 1) === 0) i++;
            const first = i;
            while (i < end && (vec[i]! & 1) !== 0) i++;
            if (i > first) found.push(gfn + first, i - first);
          }
        },
        gfn,
        npages,
      );
      for (let k = 0; k < found.length; k += 2) {
        const r = tracker.markPopulated(side, found[k]!, found[k + 1]!);
        this.report.refaultPages += r.npagesRefault;
        this.apply(this.policy.onPopulate(tracker, side, found[k]!, found[k + 1]!, performance.now()));
      }
    }
    this.notePeak();
  }

  /**
   * Carries out a policy's batch on the real backings, then records in the tracker what was
   * discarded: all of it, or, when a fallocate failed part-way, the ranges before the failure
   * (the rest stays populated, and stale, in the tracker as in the kernel).
   */
  apply(batch: DiscardBatch | null): void {
    if (!batch) return;
    for (const side of SIDES) {
      const ranges = batch[side];
      if (ranges.length === 0) continue;
      const backing = side === "shared" ? this.m.sharedSide : this.m.privateSide;
      let done = ranges.length;
      try {
        backing.discard(ranges);
      } catch (err) {
        this.noteVmmError(err);
        done = discardedRangesOf(err, ranges.length);
      }
      for (let i = 0; i < done; i++) this.tracker.markDiscarded(side, ranges[i]!.gfn, ranges[i]!.npages);
    }
  }

  notePeak(): void {
    const b = this.tracker.doubleAllocatedBytes();
    if (b > this.report.peakDoubleAllocatedBytes) this.report.peakDoubleAllocatedBytes = b;
  }

  noteVmmError(err: unknown): void {
    if (this.report.vmmErrors.length < 16) this.report.vmmErrors.push(String((err as Error)?.message ?? err));
  }

  finish(): void {
    const { tracker, report, m } = this;
    this.sync(0, this.layout.ramPages);
    this.apply(this.policy.flush(tracker, performance.now()));
    for (const b of [m.sharedSide, m.privateSide]) {
      report.discardCalls += b.stats.discardCalls;
      report.discardedPages += b.stats.discardedPages;
      report.discardMs += b.stats.discardNs / 1e6;
    }
    report.finalDoubleAllocatedBytes = tracker.doubleAllocatedBytes();
    report.sharedAllocatedBytes = m.sharedSide.memfd.allocatedBytes();
    report.privateAllocatedBytes = residentBytes(m, this.layout);
    report.trackerMemoryBytes = tracker.memoryBytes();
    report.trackerRuns = tracker.runCount();
    const t = tracker.totals();
    report.pages = { shared: t.shared, private: t.private, pending: t.pendingPrivate + t.pendingShared };
    report.sharedRanges = tracker.rangesIn("shared");
    for (let i = 0; i < RESULTS_REPORTED; i++) report.results.push(this.mailbox.getBigUint64(MB.results + 8 * i, true));
  }
}

/** guest_memfd bytes in memory, from mincore over its mapping (it has no st_blocks accounting we can trust here). */
function residentBytes(m: Machine, layout: GuestLayout): number {
  const vec = m.privateSide.residentPages(0, layout.ramPages);
  let n = 0;
  for (let i = 0; i < layout.ramPages; i++) n += vec[i]! & 1;
  return n * PAGE_BYTES;
}
