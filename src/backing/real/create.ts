/**
 * `createRealBackings` and `probeRealBackings` (Node only): both sides of guest memory on real
 * files — a memfd (shared) and a guest_memfd created on a fresh VM (private) — or a plain
 * sentence saying why that is impossible here, so callers fall back to the SimulatedBacking
 * and label their output.
 *
 * Short names: `gfn` guest frame number (4 KiB page); `slot` KVM memslot id.
 */
import { existsSync } from "node:fs";
import { MemattrError } from "../../core/errors.js";
import { syscallsAvailable } from "../../kvm/_syscall.js";
import { KVM_CAP } from "../../uapi/constants.js";
import { SharedMemfd } from "../../kvm/memfd.js";
import { Kvm } from "../../kvm/system.js";
import { closeAfterFailure } from "../../kvm/_fd.js";
import type { Vm } from "../../kvm/vm.js";
import type { GfnRange } from "../../model/errors.js";
import { GuestLayout, PAGE_BYTES } from "./_layout.js";
import { GUEST_MEMFD_BACKING_FLAGS, GuestMemfdBacking } from "./gmem.js";
import { SharedMemfdBacking } from "./memfd.js";

/** Label for outputs fed by real backings. */
export const REAL_BACKINGS_LABEL = "real backings: memfd (shared) + guest_memfd MMAP|INIT_SHARED (private)";

/** What stands in the way of real backings on this host. */
export type RealBackingsMissing = "dev-kvm" | "koffi" | "kvm-open" | "guest-memfd" | "guest-memfd-flags" | "memfd";

/** Answer of {@link probeRealBackings}. */
export interface RealBackingsProbe {
  /** True when createRealBackings will work here. */
  available: boolean;
  /** What is missing (undefined when available). */
  missing?: RealBackingsMissing;
  /** One sentence saying why real backings are unavailable (undefined when available). */
  reason?: string;
  /** What to print above results: the real label, or "simulated backing — <reason>". */
  label: string;
  /** KVM_CAP_USER_MEMORY2 on the probe VM: createRealBackings can bind memslots. */
  memslots: boolean;
}

function unavailable(missing: RealBackingsMissing, reason: string): RealBackingsProbe {
  return { available: false, missing, reason, label: `simulated backing (no real memory) — ${reason}`, memslots: false };
}

/**
 * Says whether real backings work here, by doing it small: opens /dev/kvm, creates a VM, a
 * one-page guest_memfd with MMAP | INIT_SHARED and a one-page memfd, then closes them all.
 * @returns `{available, missing?, reason?, label, memslots}`; never throws
 * @example
 * ```ts
 * import { probeRealBackings } from "memattr/node";
 * const probe = probeRealBackings();
 * console.log(probe.label); // "real backings: …" or "simulated backing (no real memory) — no /dev/kvm on this host"
 * ```
 */
export function probeRealBackings(path = "/dev/kvm"): RealBackingsProbe {
  if (!existsSync(path)) return unavailable("dev-kvm", `no ${path} on this host`);
  if (!syscallsAvailable()) return unavailable("koffi", "koffi (the FFI used for syscalls) is not installed or does not load");
  let kvm: Kvm | undefined;
  let vm: Vm | undefined;
  try {
    try {
      kvm = Kvm.open(path);
      vm = kvm.createVm();
    } catch (err) {
      return unavailable("kvm-open", `cannot open ${path} or create a VM: ${(err as Error).message}`);
    }
    if (vm.checkExtension(KVM_CAP.GUEST_MEMFD) === 0) return unavailable("guest-memfd", "KVM_CAP_GUEST_MEMFD is 0: this kernel has no guest_memfd");
    const flags = vm.checkExtension(KVM_CAP.GUEST_MEMFD_FLAGS);
    if ((flags & GUEST_MEMFD_BACKING_FLAGS) !== GUEST_MEMFD_BACKING_FLAGS) {
      return unavailable(
        "guest-memfd-flags",
        `KVM_CAP_GUEST_MEMFD_FLAGS is 0x${flags.toString(16)}, not MMAP|INIT_SHARED (0x3): the host cannot map guest_memfd, so there is no data path to private pages`,
      );
    }
    const memslots = vm.checkExtension(KVM_CAP.USER_MEMORY2) !== 0;
    try {
      vm.createGuestMemfd(PAGE_BYTES, GUEST_MEMFD_BACKING_FLAGS).close();
    } catch (err) {
      return unavailable("guest-memfd", `KVM_CREATE_GUEST_MEMFD with MMAP|INIT_SHARED failed: ${(err as Error).message}`);
    }
    try {
      SharedMemfd.create(PAGE_BYTES, "memattr-probe").close();
    } catch (err) {
      return unavailable("memfd", `memfd_create failed: ${(err as Error).message}`);
    }
    return { available: true, label: REAL_BACKINGS_LABEL, memslots };
  } catch (err) {
    return unavailable("kvm-open", `KVM probe failed: ${(err as Error).message}`);
  } finally {
    closeAfterFailure(vm, kvm); // a probe never throws; either close released its descriptor anyway
  }
}

/** Options of {@link createRealBackings}. */
export interface RealBackingsOptions {
  /** The guest memory map, `{gfn, npages}` each. */
  regions: readonly GfnRange[];
  /** An open /dev/kvm to create the VM on (left open); default: opened and closed here. */
  kvm?: Kvm;
  /**
   * Bind one KVM_SET_USER_MEMORY_REGION2 memslot per merged region (userspace_addr in the
   * memfd mapping, guest_memfd at the same offset), so the kernel sees the pairing a VMM makes
   * and guest_memfd discards pay the invalidation a real VM pays. Default: when
   * KVM_CAP_USER_MEMORY2 is present.
   */
  memslots?: boolean;
}

/** Both sides of guest memory on real files, and the VM that owns the guest_memfd. */
export interface RealBackings extends Disposable {
  /** memfd, MAP_SHARED. */
  readonly shared: SharedMemfdBacking;
  /** guest_memfd (MMAP | INIT_SHARED), MAP_SHARED. */
  readonly private: GuestMemfdBacking;
  /** The VM the guest_memfd was created on. */
  readonly vm: Vm;
  /** gfn → file offset, the same for both files. */
  readonly layout: GuestLayout;
  /** Memslots bound (0 when `memslots` was off). */
  readonly memslotCount: number;
  /** {@link REAL_BACKINGS_LABEL}. */
  readonly label: string;
  /** Closes both backings and the VM. Idempotent. */
  close(): void;
}

/**
 * Creates a VM, a guest_memfd (MMAP | INIT_SHARED) and a memfd each holding all of guest
 * memory (regions end to end, ascending), and optionally binds memslots pairing them.
 * Without MMAP in KVM_CAP_GUEST_MEMFD_FLAGS the data path is unavailable and this throws
 * KvmCapabilityError; call {@link probeRealBackings} first to fall back instead.
 * @param options - `regions` (pages), optional `kvm`, `memslots`
 * @returns `{ shared, private, vm, layout, memslotCount, label, close() }`
 * @throws KvmCapabilityError (ENOCAP) when KVM_CAP_GUEST_MEMFD or MMAP|INIT_SHARED is missing
 * @throws KvmError from /dev/kvm, memfd_create, mmap or the memslot ioctl
 * @throws MemattrUnsupportedError when koffi or the Wasm core cannot load
 * @throws MemattrTypeError / MemattrRangeError for a malformed memory map
 * @example
 * ```ts
 * import { createRealBackings, probeRealBackings } from "memattr/node";
 * if (probeRealBackings().available) {
 *   using b = await createRealBackings({ regions: [{ gfn: 0, npages: 1024 }] });
 *   b.private.touch(0x10, 1, true);
 *   b.shared.discard([{ gfn: 0x10, npages: 1 }]);
 *   console.log(b.private.stats.touchedPages, b.shared.stats.discardCalls); // 1 1
 * }
 * ```
 */
export async function createRealBackings(options: RealBackingsOptions): Promise<RealBackings> {
  const layout = new GuestLayout(options.regions);
  const kvm = options.kvm ?? Kvm.open();
  let vm: Vm | undefined;
  let shared: SharedMemfdBacking | undefined;
  let priv: GuestMemfdBacking | undefined;
  try {
    vm = kvm.createVm();
    priv = await GuestMemfdBacking.create(vm, layout.regions);
    shared = SharedMemfdBacking.create(layout.regions);
    const wantSlots = options.memslots ?? vm.checkExtension(KVM_CAP.USER_MEMORY2) !== 0;
    let memslotCount = 0;
    if (wantSlots) {
      for (const r of layout.regions) {
        const offsetBytes = layout.offsetBytesOf(r.gfn);
        vm.setUserMemoryRegion2({
          slot: memslotCount,
          guestPhysAddr: r.gfn * PAGE_BYTES,
          memorySizeBytes: r.npages * PAGE_BYTES,
          userspaceAddr: shared.addressOf(r.gfn),
          guestMemfd: priv.gmem,
          guestMemfdOffset: offsetBytes,
        });
        memslotCount++;
      }
    }
    return realBackings(shared, priv, vm, layout, memslotCount);
  } catch (err) {
    closeAfterFailure(shared, priv, vm); // each one, whatever the others say; the first error stays the one thrown
    throw err;
  } finally {
    // The VM keeps its own reference to KVM. A failing close has released the descriptor all
    // the same, and must neither hide the error above nor lose the backings made.
    if (options.kvm === undefined) closeAfterFailure(kvm);
  }
}

function realBackings(shared: SharedMemfdBacking, priv: GuestMemfdBacking, vm: Vm, layout: GuestLayout, memslotCount: number): RealBackings {
  // Idempotent, and a retry after a failure releases what was left: each close() is.
  const close = (): void => {
    const errors: unknown[] = [];
    for (const c of [shared, priv, vm]) {
      try {
        c.close();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0)
      throw errors.length === 1 ? errors[0] : new MemattrError("ECLOSE", `closing real backings: ${errors.map((e) => (e as Error).message).join("; ")}`);
  };
  return { shared, private: priv, vm, layout, memslotCount, label: REAL_BACKINGS_LABEL, close, [Symbol.dispose]: close };
}
