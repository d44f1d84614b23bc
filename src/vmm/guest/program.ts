/**
 * The test guests, written with the assembler in asm.ts: 64-bit code entered at CODE_GPA in
 * long mode (the VMM set up paging; see machine.ts). Same parameters → same bytes.
 *
 * Short names: `gpa` guest physical address; `npages` 4 KiB pages; `attrs` KVM_MAP_GPA_RANGE_*
 * bits (0x10 ENCRYPTED = to private); *request* one conversion ask to the VMM, through the
 * doorbell or KVM_HC_MAP_GPA_RANGE (see layout.ts for the mailbox).
 *
 * Registers the guests keep: r15 = mailbox gpa, r12 = transaction number, r13 = transactions
 * to run (read from the mailbox), r8/r9 = bounce gpa/npages of the current transaction.
 *
 * What the DMA guest does (OVMF's IoMmu path, then a boot-like phase first):
 * 1. boot: accept [BOOT_PAGES, ram) as private in 2 MiB chunks, writing a secret qword into
 *    each page; convert the swiotlb-like buffer to shared in one request and zero it through
 *    its alias; `bootDone`.
 * 2. for txn in 0..transactions-1: bounce = 1 or 2 pages from a pool of 16 (OVMF reuses a few
 *    DMA pages); request → shared; write the payload through the alias; `dmaReady` (the
 *    device reads it); request → private; reuse the pages as private memory (secret over
 *    them); touch one private data page.
 * 3. `done`, hlt. Any unexpected status: mailbox.txn = where, `fail`, hlt.
 */
import { KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_ENCRYPTED } from "../../uapi/constants.js";
import {
  ACCEPT_CHUNK_PAGES,
  BOOT_PAGES,
  BOUNCE_GPA,
  CODE_GPA,
  DATA_GPA,
  DOORBELL_PORT,
  type GuestLayout,
  MAILBOX_GPA,
  MAX_RESULTS,
  MB,
  OP,
  PAGE_BYTES,
  SECRET_TAG,
  SHARED_BIT,
} from "../layout.js";
import { Assembler, R } from "./asm.js";

/** How the guest asks for a conversion. */
export type RequestPath = "doorbell" | "vmcall" | "vmmcall";

/** Options of {@link buildDmaGuest}. */
export interface DmaGuestOptions {
  layout: GuestLayout;
  /** Request path (default doorbell). */
  path?: RequestPath;
  /** Run the boot-like phase first (default true). */
  boot?: boolean;
}

const PAYLOAD_HIGH = 0x5041_594cn << 32n;
const SECRET_HIGH = BigInt(SECRET_TAG) << 32n;

/**
 * Emits one request with rbx = gpa, rcx = npages, rdx = attrs already set; leaves the status
 * in rax (0 = done). rbx, rcx, rdx survive it.
 */
function emitRequest(a: Assembler, path: RequestPath): void {
  if (path === "doorbell") {
    a.store(R.r15, MB.gpa, R.rbx).store(R.r15, MB.npages, R.rcx).store(R.r15, MB.attrs, R.rdx);
    a.movAl(OP.mapGpaRange).outImm8(DOORBELL_PORT);
    a.load(R.rax, R.r15, MB.status);
  } else {
    a.movImm32(R.rax, KVM_HC_MAP_GPA_RANGE);
    if (path === "vmcall") a.vmcall();
    else a.vmmcall();
  }
}

/** Emits `request; if (rax != 0) goto fail`. */
function emitCheckedRequest(a: Assembler, path: RequestPath): void {
  emitRequest(a, path);
  a.aluImm("cmp", R.rax, 0).jcc("ne", "fail");
}

function emitPrologue(a: Assembler): void {
  a.cld().movImm32(R.r15, MAILBOX_GPA).aluReg("xor", R.r12, R.r12);
}

function emitFailAndDone(a: Assembler): void {
  a.label("done").movAl(OP.done).outImm8(DOORBELL_PORT).hlt();
  a.label("fail").store(R.r15, MB.txn, R.r12).movAl(OP.fail).outImm8(DOORBELL_PORT).hlt();
}

/**
 * Builds the DMA guest (see the file comment).
 * @returns machine code to load at CODE_GPA
 * @example
 * ```ts
 * import { buildDmaGuest, guestLayout } from "memattr/node/vmm";
 * const code = buildDmaGuest({ layout: guestLayout(64 * 2 ** 20) });
 * ```
 */
export function buildDmaGuest(options: DmaGuestOptions): Uint8Array {
  const { layout } = options;
  const path = options.path ?? "doorbell";
  const a = new Assembler(CODE_GPA);
  emitPrologue(a);
  if (options.boot ?? true) {
    // Accept [BOOT_PAGES, ram) as private, one 2 MiB-aligned chunk per request.
    const chunkBytes = ACCEPT_CHUNK_PAGES * PAGE_BYTES;
    a.movImm(R.r10, SECRET_HIGH | 0xffff_ffffn);
    a.movImm32(R.rbx, BOOT_PAGES * PAGE_BYTES);
    a.label("accept");
    a.movReg(R.r8, R.rbx);
    a.movReg(R.r9, R.rbx).aluImm("add", R.r9, chunkBytes).aluImm("and", R.r9, -chunkBytes);
    a.movReg(R.rcx, R.r9).aluReg("sub", R.rcx, R.rbx).shr(R.rcx, 12);
    a.movImm32(R.rdx, KVM_MAP_GPA_RANGE_ENCRYPTED);
    emitCheckedRequest(a, path);
    a.movReg(R.rdi, R.r8);
    a.label("accept_touch").store(R.rdi, 0, R.r10).aluImm("add", R.rdi, PAGE_BYTES).aluReg("cmp", R.rdi, R.r9).jcc("b", "accept_touch");
    a.movReg(R.rbx, R.r9).aluImm("cmp", R.rbx, layout.ramBytes).jcc("b", "accept");
    // The swiotlb-like buffer: shared in one request, zeroed through its alias.
    a.movImm32(R.rbx, layout.swiotlbGpa).movImm32(R.rcx, layout.swiotlbPages).aluReg("xor", R.rdx, R.rdx);
    emitCheckedRequest(a, path);
    a.movImm32(R.rdi, layout.swiotlbGpa + SHARED_BIT).movImm32(R.rcx, layout.swiotlbPages * (PAGE_BYTES / 8));
    a.aluReg("xor", R.rax, R.rax).repStosq();
    a.movAl(OP.bootDone).outImm8(DOORBELL_PORT);
  }
  a.load(R.r13, R.r15, MB.transactions);
  a.aluReg("cmp", R.r12, R.r13).jcc("ae", "done");
  a.label("txn");
  // Bounce pages: gpa = BOUNCE_GPA + (txn & 7) × 2 pages, npages = 1 + (txn & 1).
  a.movReg(R.r8, R.r12).aluImm("and", R.r8, 7).shl(R.r8, 13).aluImm("add", R.r8, BOUNCE_GPA);
  a.movReg(R.r9, R.r12).aluImm("and", R.r9, 1).inc(R.r9);
  a.movReg(R.rbx, R.r8).movReg(R.rcx, R.r9).aluReg("xor", R.rdx, R.rdx);
  emitCheckedRequest(a, path);
  // Payload through the shared alias: every qword = "PAYL" << 32 | txn.
  a.movReg(R.rdi, R.r8).aluImm("add", R.rdi, SHARED_BIT).movReg(R.rcx, R.r9).shl(R.rcx, 9);
  a.movImm(R.rax, PAYLOAD_HIGH).aluReg("or", R.rax, R.r12).repStosq();
  a.store(R.r15, MB.gpa, R.r8).store(R.r15, MB.npages, R.r9).store(R.r15, MB.txn, R.r12);
  a.movAl(OP.dmaReady).outImm8(DOORBELL_PORT);
  a.load(R.rax, R.r15, MB.status).aluImm("cmp", R.rax, 0).jcc("ne", "fail");
  a.movReg(R.rbx, R.r8).movReg(R.rcx, R.r9).movImm32(R.rdx, KVM_MAP_GPA_RANGE_ENCRYPTED);
  emitCheckedRequest(a, path);
  // Reuse the bounce pages as private memory: every qword = "SECR" << 32 | txn.
  a.movReg(R.rdi, R.r8).movReg(R.rcx, R.r9).shl(R.rcx, 9);
  a.movImm(R.rax, SECRET_HIGH).aluReg("or", R.rax, R.r12).repStosq();
  // One private data page: DATA_GPA + ((txn × 7) & 63) pages.
  a.movReg(R.r10, R.r12).shl(R.r10, 3).aluReg("sub", R.r10, R.r12).aluImm("and", R.r10, 63).shl(R.r10, 12);
  a.aluImm("add", R.r10, DATA_GPA).store(R.r10, 0, R.rax);
  a.inc(R.r12).aluReg("cmp", R.r12, R.r13).jcc("b", "txn");
  a.jmp("done");
  emitFailAndDone(a);
  return a.finish();
}

/** One hostile request: raw hypercall arguments (any u64), or a DMA claim. */
export type HostileRequest = { op: "map"; gpa: bigint; npages: bigint; attrs: bigint } | { op: "dma"; gpa: bigint; npages: bigint; txn: number };

/** Options of {@link buildHostileGuest}. */
export interface HostileGuestOptions {
  layout: GuestLayout;
  path?: RequestPath;
  /** Requests in order; the status of request i lands in mailbox results[i]. */
  requests: readonly HostileRequest[];
  /**
   * Then one single-page request per page of [fromGfn, ram), alternating to private (even
   * gfn) and to shared (odd gfn): the fragmenting flood. Failures are counted in
   * results[requests.length]. Omit for no flood.
   */
  floodFromGfn?: number;
}

/**
 * Builds a guest that makes malformed or abusive requests and records each status, then halts.
 * @throws RangeError when there are more requests than result slots
 */
export function buildHostileGuest(options: HostileGuestOptions): Uint8Array {
  const { layout, requests } = options;
  const path = options.path ?? "doorbell";
  if (requests.length + 1 > MAX_RESULTS) throw new RangeError(`at most ${MAX_RESULTS - 1} requests, got ${requests.length}`);
  const a = new Assembler(CODE_GPA);
  emitPrologue(a);
  requests.forEach((r, i) => {
    a.movImm(R.rbx, r.gpa).movImm(R.rcx, r.npages);
    if (r.op === "map") {
      a.movImm(R.rdx, r.attrs);
      emitRequest(a, path);
    } else {
      a.store(R.r15, MB.gpa, R.rbx).store(R.r15, MB.npages, R.rcx).movImm32(R.rax, r.txn).store(R.r15, MB.txn, R.rax);
      a.movAl(OP.dmaReady).outImm8(DOORBELL_PORT).load(R.rax, R.r15, MB.status);
    }
    a.store(R.r15, MB.results + 8 * i, R.rax);
  });
  if (options.floodFromGfn !== undefined) {
    const failures = MB.results + 8 * requests.length;
    a.aluReg("xor", R.r14, R.r14);
    a.movImm32(R.rbx, options.floodFromGfn * PAGE_BYTES).movImm32(R.rcx, 1);
    a.label("flood");
    // attrs = ENCRYPTED when the gfn is even: (~gpa >> 8) & 0x10.
    a.movReg(R.rdx, R.rbx).shr(R.rdx, 8).aluImm("xor", R.rdx, 0x10).aluImm("and", R.rdx, 0x10);
    emitRequest(a, path);
    a.aluImm("cmp", R.rax, 0).jcc("e", "flood_ok").inc(R.r14);
    a.label("flood_ok").aluImm("add", R.rbx, PAGE_BYTES).aluImm("cmp", R.rbx, layout.ramBytes).jcc("b", "flood");
    a.store(R.r15, failures, R.r14);
  }
  a.jmp("done");
  emitFailAndDone(a);
  return a.finish();
}
