// The KVM objects and createRealBackings when a syscall fails (faults injected through
// src/kvm/_syscall.ts): every syscall of a bind failing in turn, memslot creation failing, EINTR on
// every ioctl, a vCPU whose kvm_run mapping fails. All of it needs /dev/kvm (and guest_memfd
// MMAP|INIT_SHARED for the backings) and skips, saying why, without it; the memfd-only parts
// are in test/backing/real/faults.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import { createRealBackings } from "../../src/backing/real/create.js";
import { GuestMemfdBacking } from "../../src/backing/real/gmem.js";
import { KvmError } from "../../src/kvm/errors.js";
import { Kvm } from "../../src/kvm/system.js";
import { ERRNOS, fdCount, mappingsOf, setSyscallFaults, type SyscallFault, underFaults, underFaultsAsync } from "../support/faults.js";
import { TWO_REGIONS, realMissing, withVm } from "../backing/real/_support.js";
import { expectCode, kvmMissing } from "./_support.js";

const FAILING = ERRNOS.filter((e) => e !== "EINTR");
/** What createRealBackings maps: the memfd (its default name) and the guest_memfd. */
const MAPPED = ["memattr-shared", "[kvm-gmem]"];
const mapped = (): number[] => MAPPED.map(mappingsOf);

afterEach(() => setSyscallFaults(undefined));

describe.skipIf(realMissing)("createRealBackings under syscall faults", () => {
  it("fails with the errno of whichever of its syscalls fails, leaving no descriptor or mapping, and binds on retry", async () => {
    // A dry run under an empty plan counts the calls: every one of them is then failed in turn.
    const dry = await underFaultsAsync([], () => createRealBackings({ regions: TWO_REGIONS }));
    dry.value!.close();
    const calls = Object.entries(dry.log.calls).filter(([, n]) => n > 0) as [SyscallFault["call"], number][];
    expect(calls.map(([c]) => c)).toEqual(expect.arrayContaining(["open", "ioctl", "memfd_create", "ftruncate", "mmap", "close"]));
    let k = 0;
    for (const [call, n] of calls) {
      for (let nth = 1; nth <= n; nth++) {
        const errno = FAILING[k++ % FAILING.length]!;
        const fdsBefore = fdCount();
        const mapsBefore = mapped();
        const { error, value, log } = await underFaultsAsync([{ call, nth, errno }], () => createRealBackings({ regions: TWO_REGIONS }));
        const what = `${call} #${nth} (${log.injected[0]?.op}) failing with ${errno}`;
        expect(log.injected.length, what).toBe(1);
        if (error === undefined) {
          // only the close of /dev/kvm after success may fail unseen: its descriptor is gone anyway
          expect(call, what).toBe("close");
          value!.close();
        } else {
          expect(error, `${what}: ${String(error)}`).toBeInstanceOf(KvmError);
          expect((error as KvmError).code, what).toBe(errno);
          expect((error as KvmError).op, what).toBe(log.injected[0]!.op);
        }
        expect(fdCount(), `${what}: descriptors`).toBe(fdsBefore);
        expect(mapped(), `${what}: mappings`).toEqual(mapsBefore);
        const retry = await createRealBackings({ regions: TWO_REGIONS });
        expect(retry.memslotCount).toBe(2);
        retry.close();
      }
    }
    expect(k).toBeGreaterThan(10);
  });

  it("fails a memslot (the second region's KVM_SET_USER_MEMORY_REGION2) cleanly", async () => {
    const before = fdCount();
    const { error, log } = await underFaultsAsync([{ call: "ioctl", ioctl: "KVM_SET_USER_MEMORY_REGION2", nth: 2, errno: "ENOMEM" }], () =>
      createRealBackings({ regions: TWO_REGIONS }),
    );
    expect(log.injected).toEqual([{ call: "ioctl", op: "KVM_SET_USER_MEMORY_REGION2", errno: "ENOMEM" }]);
    const e = expectCode(
      () => {
        throw error;
      },
      "ENOMEM",
      KvmError,
    );
    expect(e.op).toBe("KVM_SET_USER_MEMORY_REGION2");
    expect(fdCount()).toBe(before);
  });

  it("restarts every ioctl, open and ftruncate interrupted once, making each exactly once", async () => {
    const dry = await underFaultsAsync([], () => createRealBackings({ regions: TWO_REGIONS }));
    dry.value!.close();
    const ioctls = dry.log.calls.ioctl;
    const before = fdCount();
    // odd attempts fail: the first attempt of every ioctl is interrupted, its restart goes through
    const faults: SyscallFault[] = Array.from({ length: ioctls }, (_, i) => ({ call: "ioctl", nth: 2 * i + 1, errno: "EINTR" }));
    faults.push({ call: "open", nth: 1, errno: "EINTR" }, { call: "ftruncate", nth: 1, errno: "EINTR", times: 3 });
    const { error, value: b, log } = await underFaultsAsync(faults, () => createRealBackings({ regions: TWO_REGIONS }));
    expect(error).toBeUndefined();
    expect(log.calls.ioctl).toBe(2 * ioctls);
    expect(log.injected.length).toBe(ioctls + 4);
    expect(b!.memslotCount).toBe(2);
    expect(fdCount()).toBe(before + 3); // one VM, one guest_memfd, one memfd: nothing made twice
    b!.private.touch(0x100, 2, true, 7);
    b!.private.discard([{ gfn: 0x100, npages: 1 }]);
    expect([b!.private.readPage(0x100)[0], b!.private.readPage(0x101)[0]]).toEqual([0, 7]);
    b!.close();
    expect(fdCount()).toBe(before);
  });

  it("GuestMemfdBacking.create reports a failed mapping, not the close that failed cleaning up after it", () =>
    withVm(async (vm) => {
      const before = fdCount();
      const { error } = await underFaultsAsync(
        [
          { call: "mmap", nth: 1, errno: "ENOMEM" },
          { call: "close", nth: 1, errno: "EIO" },
        ],
        () => GuestMemfdBacking.create(vm, TWO_REGIONS),
      );
      expect([(error as KvmError).op, (error as KvmError).code]).toEqual(["mmap", "ENOMEM"]);
      expect(fdCount()).toBe(before);
    }));
});

describe.skipIf(kvmMissing)("Kvm and Vm under syscall faults", () => {
  it("a vCPU whose kvm_run mapping fails leaves no descriptor, whatever the cleanup's close says", () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    const cases: SyscallFault[][] = [
      [{ call: "mmap", nth: 1, errno: "ENOMEM" }],
      [
        { call: "mmap", nth: 1, errno: "EAGAIN" },
        { call: "close", nth: 1, errno: "EIO" },
      ],
    ];
    cases.forEach((faults, id) => {
      const before = fdCount();
      const { error } = underFaults(faults, () => vm.createVcpu(id)); // KVM_CREATE_VCPU itself succeeds: the vCPU stays with the VM
      expect([(error as KvmError).op, (error as KvmError).code]).toEqual(["mmap", faults[0]!.errno]);
      expect(fdCount()).toBe(before);
    });
    using cpu = vm.createVcpu(cases.length);
    expect(cpu.id).toBe(cases.length);
  });

  it("KVM_CREATE_VM interrupted three times makes one VM", () => {
    using kvm = Kvm.open();
    const before = fdCount();
    const { error, value, log } = underFaults([{ call: "ioctl", ioctl: "KVM_CREATE_VM", nth: 1, errno: "EINTR", times: 3 }], () => kvm.createVm());
    expect(error).toBeUndefined();
    expect(log.injected.length).toBe(3);
    expect(fdCount()).toBe(before + 1);
    value!.close();
    expect(fdCount()).toBe(before);
  });
});
