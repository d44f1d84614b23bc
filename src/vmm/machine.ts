/**
 * `Machine`: the VM of the minimal VMM (Node only) — one VM, three memslots (see layout.ts),
 * one vCPU started directly in 64-bit long mode.
 *
 * Short names: `gpa` guest physical address; `slot` a memslot; `sregs` the vCPU's segment
 * and control registers (KVM_SET_SREGS).
 *
 * Long mode is entered by the VMM, not by the guest (as kvmtool and Firecracker boot a 64-bit
 * kernel): the VMM writes a GDT and 4-level page tables (identity map of 0..2 GiB with 2 MiB
 * pages, PS bit in the PD entries: no CPUID feature needed) and sets CR0.PE|PG, CR4.PAE,
 * EFER.LME|LMA and a 64-bit code segment. There is no IDT: any exception triple-faults and the
 * VMM sees a `shutdown` exit instead of a guest that spins.
 */
import { SharedMemfdBacking } from "../backing/real/memfd.js";
import { GuestMemfdBacking, GUEST_MEMFD_BACKING_FLAGS } from "../backing/real/gmem.js";
import { KVM_CAP, KVM_HC_MAP_GPA_RANGE } from "../uapi/constants.js";
import { SharedMemfd } from "../kvm/memfd.js";
import { Kvm } from "../kvm/system.js";
import type { Vcpu } from "../kvm/vcpu.js";
import type { Vm } from "../kvm/vm.js";
import type { KvmSegment } from "../uapi/x86.js";
import {
  CODE_GPA,
  CODE_MAX_BYTES,
  GDT_GPA,
  type GuestLayout,
  MAILBOX_GPA,
  PAGE_BYTES,
  PD0_GPA,
  PD1_GPA,
  PDPT_GPA,
  PML4_GPA,
  SHARED_BIT,
  SLOT_MAILBOX,
  SLOT_PRIVATE,
  SLOT_SHARED,
  STACK_TOP_GPA,
} from "./layout.js";

const CR0_PE = 1n << 0n;
const CR0_MP = 1n << 1n;
const CR0_ET = 1n << 4n;
const CR0_NE = 1n << 5n;
const CR0_WP = 1n << 16n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
/** Page-table entry bits: present, writable, page size (2 MiB in a PD). */
const PTE_P = 1n;
const PTE_RW = 2n;
const PTE_PS = 0x80n;

/** The GDT: null, 64-bit code (0x08), data (0x10). */
const GDT = [0n, 0x00af_9b00_0000_ffffn, 0x00cf_9300_0000_ffffn];

function segment(selector: number, type: number, long: boolean): KvmSegment {
  return { base: 0n, limit: 0xffffffff, selector, type, present: 1, dpl: 0, db: long ? 0 : 1, s: 1, l: long ? 1 : 0, g: 1, avl: 0, unusable: 0 };
}

/** The boot tables: GDT page and the four page-table pages, keyed by gpa. */
export function bootTables(): Map<number, Uint8Array> {
  const page = (): [Uint8Array, DataView] => {
    const b = new Uint8Array(PAGE_BYTES);
    return [b, new DataView(b.buffer)];
  };
  const [gdt, gdtView] = page();
  GDT.forEach((d, i) => gdtView.setBigUint64(8 * i, d, true));
  const [pml4, pml4View] = page();
  pml4View.setBigUint64(0, BigInt(PDPT_GPA) | PTE_P | PTE_RW, true);
  const [pdpt, pdptView] = page();
  pdptView.setBigUint64(0, BigInt(PD0_GPA) | PTE_P | PTE_RW, true);
  pdptView.setBigUint64(8, BigInt(PD1_GPA) | PTE_P | PTE_RW, true);
  const pds = [PD0_GPA, PD1_GPA].map((_, j) => {
    const [pd, pdView] = page();
    for (let i = 0; i < 512; i++) pdView.setBigUint64(8 * i, (BigInt(j * 512 + i) << 21n) | PTE_P | PTE_RW | PTE_PS, true);
    return pd;
  });
  return new Map([
    [GDT_GPA, gdt],
    [PML4_GPA, pml4],
    [PDPT_GPA, pdpt],
    [PD0_GPA, pds[0]!],
    [PD1_GPA, pds[1]!],
  ]);
}

/** Options of {@link Machine.create}. */
export interface MachineOptions {
  layout: GuestLayout;
  /** Guest code, loaded at CODE_GPA and entered there. */
  code: Uint8Array;
  /** Enable KVM_CAP_EXIT_HYPERCALL for KVM_HC_MAP_GPA_RANGE (default true where the host offers it). */
  hypercallExit?: boolean;
}

/**
 * The VM, its backings and its vCPU, ready to run.
 * @remarks Node only; one thread. close() releases everything in reverse order.
 */
export class Machine implements Disposable {
  private constructor(
    readonly kvm: Kvm,
    readonly vm: Vm,
    /** Private side of RAM: guest_memfd (MMAP | INIT_SHARED), slot 0 at gpa 0. */
    readonly privateSide: GuestMemfdBacking,
    /** Shared side of RAM: memfd, slot 1 at gpa SHARED_BIT. */
    readonly sharedSide: SharedMemfdBacking,
    /** The mailbox page, slot 2 at MAILBOX_GPA. */
    readonly mailbox: SharedMemfd,
    readonly cpu: Vcpu,
    /** KVM_CAP_EXIT_HYPERCALL was enabled for KVM_HC_MAP_GPA_RANGE. */
    readonly hypercallExit: boolean,
    readonly layout: GuestLayout,
  ) {}

  /**
   * Opens /dev/kvm, creates the VM, guest_memfd, memfds, memslots and the vCPU, writes the
   * boot tables and `code`, and points the vCPU at it in long mode.
   * @throws KvmError / KvmCapabilityError from the binding (no /dev/kvm, no guest_memfd …)
   * @throws RangeError when `code` is larger than the code area
   */
  static async create(options: MachineOptions): Promise<Machine> {
    const { layout, code } = options;
    if (code.byteLength > CODE_MAX_BYTES) throw new RangeError(`guest code is ${code.byteLength} bytes, the code area ${CODE_MAX_BYTES}`);
    const regions = [{ gfn: 0, npages: layout.ramPages }];
    const cleanup: Disposable[] = [];
    try {
      const kvm = Kvm.open();
      cleanup.push(kvm);
      const vm = kvm.createVm();
      cleanup.push(vm);
      let hypercallExit = false;
      const hcMask = BigInt(vm.checkExtension(KVM_CAP.EXIT_HYPERCALL));
      const hcBit = 1n << BigInt(KVM_HC_MAP_GPA_RANGE);
      if ((options.hypercallExit ?? true) && (hcMask & hcBit) !== 0n) {
        vm.enableCap(KVM_CAP.EXIT_HYPERCALL, [hcBit]);
        hypercallExit = true;
      }
      const gmem = vm.createGuestMemfd(layout.ramBytes, GUEST_MEMFD_BACKING_FLAGS);
      const privateSide = await GuestMemfdBacking.attach(gmem, regions, { owned: true }).catch((err: unknown) => {
        gmem.close();
        throw err;
      });
      cleanup.push(privateSide);
      const sharedSide = SharedMemfdBacking.create(regions, "memattr-vmm-shared");
      cleanup.push(sharedSide);
      const mailbox = SharedMemfd.create(PAGE_BYTES, "memattr-vmm-mailbox");
      cleanup.push(mailbox);
      vm.setUserMemoryRegion2({ slot: SLOT_PRIVATE, guestPhysAddr: 0, memorySizeBytes: layout.ramBytes, userspaceAddr: gmem.address, guestMemfd: gmem });
      vm.setUserMemoryRegion2({ slot: SLOT_SHARED, guestPhysAddr: SHARED_BIT, memorySizeBytes: layout.ramBytes, userspaceAddr: sharedSide.memfd.address });
      vm.setUserMemoryRegion2({ slot: SLOT_MAILBOX, guestPhysAddr: MAILBOX_GPA, memorySizeBytes: PAGE_BYTES, userspaceAddr: mailbox.address });
      for (const [gpa, bytes] of bootTables()) gmem.write(gpa, bytes);
      gmem.write(CODE_GPA, code);
      const cpu = vm.createVcpu(0);
      cleanup.push(cpu);
      const s = cpu.getSregs();
      s.cs = segment(0x08, 11, true);
      for (const seg of ["ds", "es", "fs", "gs", "ss"] as const) s[seg] = segment(0x10, 3, false);
      s.gdt = { base: BigInt(GDT_GPA), limit: GDT.length * 8 - 1 };
      s.idt = { base: 0n, limit: 0 };
      s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
      s.cr3 = BigInt(PML4_GPA);
      s.cr4 = CR4_PAE;
      s.efer = EFER_LME | EFER_LMA;
      cpu.setSregs(s);
      cpu.setRegs({ ...cpu.getRegs(), rip: BigInt(CODE_GPA), rsp: BigInt(STACK_TOP_GPA), rflags: 2n });
      return new Machine(kvm, vm, privateSide, sharedSide, mailbox, cpu, hypercallExit, layout);
    } catch (err) {
      for (const c of cleanup.reverse()) c[Symbol.dispose]();
      throw err;
    }
  }

  /** Releases the vCPU, files, VM and /dev/kvm; idempotent. */
  close(): void {
    this.cpu.close();
    this.mailbox.close();
    this.sharedSide.close();
    this.privateSide.close();
    this.vm.close();
    this.kvm.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
