/**
 * `Vcpu`: a vCPU descriptor and its kvm_run mapping (Node only), made by Vm.createVcpu.
 * One method per vCPU ioctl; run() decodes the exit (see run.ts).
 */
import { closeAfterFailure, FdOwner } from "./_fd.js";
import { Mapping } from "./_mapping.js";
import { errorFromErrno, ioctlRaw, ioctlStruct } from "./_syscall.js";
import { toU64, type U64 } from "./_validate.js";
import { KVM_EXIT, KVM_GET_REGS, KVM_GET_SREGS, KVM_RUN, KVM_SET_REGS, KVM_SET_SREGS } from "../uapi/constants.js";
import { KvmArgumentError } from "./errors.js";
import { decodeRunExit, HYPERCALL_RET_OFFSET, MMIO_DATA_OFFSET, type VcpuExit } from "../uapi/run.js";
import { decodeRegs, decodeSregs, encodeRegs, encodeSregs, KVM_REGS_SIZE, KVM_SREGS_SIZE, type KvmRegs, type KvmSregs } from "../uapi/x86.js";

const EINTR = 4;
const EFAULT = 14;

/**
 * A virtual CPU.
 * @remarks run() is a blocking syscall on the calling thread (the JS event loop stops until the
 * guest exits). A guest that never exits blocks for good: run only code you know exits.
 * @example
 * ```ts
 * import { Kvm, GUEST_MEMFD_FLAG_MMAP, GUEST_MEMFD_FLAG_INIT_SHARED } from "memattr/node";
 * if (Kvm.isAvailable()) {
 *   using kvm = Kvm.open();
 *   using vm = kvm.createVm();
 *   using gmem = vm.createGuestMemfd(0x10000, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
 *   vm.setUserMemoryRegion2({ slot: 0, guestPhysAddr: 0, memorySizeBytes: 0x10000, userspaceAddr: gmem.address, guestMemfd: gmem });
 *   gmem.write(0x1000, new Uint8Array([0xb0, 0x42, 0xe6, 0x10, 0xf4])); // mov al,0x42; out 0x10,al; hlt
 *   using cpu = vm.createVcpu(0);
 *   const s = cpu.getSregs(); s.cs.base = 0n; s.cs.selector = 0; cpu.setSregs(s);
 *   cpu.setRegs({ ...cpu.getRegs(), rip: 0x1000n, rflags: 2n });
 *   console.log(cpu.run()); // { reason: "io", direction: "out", port: 16, data: Uint8Array [66], … }
 * }
 * ```
 */
export class Vcpu extends FdOwner {
  readonly #run: Mapping;
  #lastIo: { dataOffset: number; lengthBytes: number } | undefined;

  private constructor(
    fd: number,
    /** the vCPU id given to KVM_CREATE_VCPU */
    readonly id: number,
    runSizeBytes: number,
  ) {
    super(fd, "Vcpu");
    this.#run = Mapping.mapShared(fd, runSizeBytes, 0, "kvm_run mapping");
  }

  /** @internal Used by Vm.createVcpu; closes `fd` if the kvm_run mapping fails. */
  static _wrap(fd: number, id: number, runSizeBytes: number): Vcpu {
    try {
      return new Vcpu(fd, id, runSizeBytes);
    } catch (err) {
      closeAfterFailure(fd);
      throw err;
    }
  }

  /** KVM_GET_REGS: general-purpose registers, rip and rflags. */
  getRegs(): KvmRegs {
    const buf = new Uint8Array(KVM_REGS_SIZE);
    ioctlStruct(this.fd, KVM_GET_REGS, buf);
    return decodeRegs(buf);
  }

  /** KVM_SET_REGS. @param regs - every field (start from getRegs()) */
  setRegs(regs: KvmRegs): void {
    ioctlStruct(this.fd, KVM_SET_REGS, encodeRegs(regs));
  }

  /** KVM_GET_SREGS: segments, descriptor tables, control registers, EFER, APIC base. */
  getSregs(): KvmSregs {
    const buf = new Uint8Array(KVM_SREGS_SIZE);
    ioctlStruct(this.fd, KVM_GET_SREGS, buf);
    return decodeSregs(buf);
  }

  /** KVM_SET_SREGS. @param sregs - every field (start from getSregs()) */
  setSregs(sregs: KvmSregs): void {
    ioctlStruct(this.fd, KVM_SET_SREGS, encodeSregs(sregs));
  }

  /**
   * KVM_RUN until the next exit to user space, decoded. The kernel's -1/EFAULT that carries a
   * KVM_EXIT_MEMORY_FAULT, and -1/EINTR, are returned as exits, not thrown.
   * @throws KvmError for other failures (e.g. EINVAL for a vCPU in an invalid state)
   */
  run(): VcpuExit {
    const fd = this.fd;
    const run = this.#run.bytes();
    const { result, errno } = ioctlRaw(fd, KVM_RUN);
    const exit = decodeRunExit(run);
    if (result === -1) {
      const memoryFault = errno === EFAULT && exit.exitReason === KVM_EXIT.MEMORY_FAULT;
      if (!memoryFault && errno !== EINTR) throw errorFromErrno("KVM_RUN", errno);
      if (errno === EINTR && exit.exitReason !== KVM_EXIT.INTR) return { reason: "intr", exitReason: KVM_EXIT.INTR };
    }
    this.#lastIo = exit.reason === "io" ? { dataOffset: exit.dataOffset, lengthBytes: exit.data.byteLength } : undefined;
    return exit;
  }

  /**
   * Answers an "in" I/O exit: writes the bytes the guest will read into kvm_run's data area.
   * @param data - exactly sizeBytes × count of the last io exit
   */
  setIoInData(data: Uint8Array): void {
    const io = this.#lastIo;
    if (!io) throw new KvmArgumentError("setIoInData", "exit", "the last exit was not an io exit");
    if (data.byteLength !== io.lengthBytes) throw new KvmArgumentError("setIoInData", "data", `needs ${io.lengthBytes} bytes, got ${data.byteLength}`);
    this.#run.write(io.dataOffset, data);
  }

  /** Answers an mmio read exit: the (up to 8) bytes the guest reads. */
  setMmioData(data: Uint8Array): void {
    if (data.byteLength > 8) throw new KvmArgumentError("setMmioData", "data", `at most 8 bytes, got ${data.byteLength}`);
    this.#run.write(MMIO_DATA_OFFSET, data);
  }

  /** Answers a hypercall exit: run.hypercall.ret, which the guest sees in rax. */
  setHypercallReturn(ret: U64): void {
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setBigUint64(0, toU64("setHypercallReturn", "ret", ret), true);
    this.#run.write(HYPERCALL_RET_OFFSET, buf);
  }

  /** The kvm_run mapping (zero-copy bytes for advanced use). */
  get runMapping(): Mapping {
    void this.fd;
    return this.#run;
  }

  protected override releaseResources(): void {
    this.#run.unmap();
  }
}
