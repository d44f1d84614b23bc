// The real backings when a syscall fails (faults injected through src/kvm/_syscall.ts): a
// discard batch that fails on its k-th piece, EINTR in a batch, a failure at bind time (memfd
// creation, ftruncate, mmap, close in the cleanup), at close time, and in the read-only queries.
// The memfd parts run wherever koffi loads; the private side runs on a memfd standing in for the
// guest_memfd (see test/support/faults.ts) and, where /dev/kvm offers guest_memfd
// MMAP|INIT_SHARED, on a real one.
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { DiscardError } from "../../../src/backing/real/errors.js";
import { GuestMemfdBacking } from "../../../src/backing/real/gmem.js";
import { GuestLayout } from "../../../src/backing/real/_layout.js";
import { SharedMemfdBacking } from "../../../src/backing/real/memfd.js";
import { closeAfterFailure } from "../../../src/kvm/_fd.js";
import { syscallsAvailable } from "../../../src/kvm/_syscall.js";
import { KvmError } from "../../../src/kvm/errors.js";
import type { GfnRange } from "../../../src/model/errors.js";
import {
  ERRNOS,
  fdCount,
  mappingsOf,
  memfdStandIn,
  pagesOf,
  residentGfns,
  setSyscallFaults,
  type SyscallFault,
  underFaults,
  underFaultsAsync,
} from "../../support/faults.js";
import { TWO_REGIONS, expectCode, realMissing, withVm } from "./_support.js";

const LONG = process.env.MEMATTR_LONG === "1";
const koffiMissing = syscallsAvailable() ? undefined : "koffi does not load";
const SIZE = new GuestLayout(TWO_REGIONS).sizeBytes;
const NAME = "memattr-faults-unit";

type MappedBacking = SharedMemfdBacking | GuestMemfdBacking;

/** One real backing of each kind this host can make, each with how to close what it owns. */
const KINDS: { label: string; missing: string | undefined; make: (fn: (b: MappedBacking) => Promise<void>) => Promise<void> }[] = [
  {
    label: "SharedMemfdBacking (memfd)",
    missing: koffiMissing,
    make: async (fn) => {
      using b = SharedMemfdBacking.create(TWO_REGIONS, NAME);
      await fn(b);
    },
  },
  {
    label: "GuestMemfdBacking on a memfd stand-in",
    missing: koffiMissing,
    make: async (fn) => {
      using b = await GuestMemfdBacking.attach(memfdStandIn(SIZE, NAME), TWO_REGIONS, { owned: true });
      await fn(b);
    },
  },
  {
    label: "GuestMemfdBacking on guest_memfd (/dev/kvm)",
    missing: realMissing,
    make: (fn) =>
      withVm(async (vm) => {
        using b = await GuestMemfdBacking.create(vm, TWO_REGIONS);
        await fn(b);
      }),
  },
];

/**
 * Six ranges in five file pieces: gfn 30–31 and 0x100–0x101 sit side by side in the file (the
 * last pages of the first region, the first of the second) and are punched by one call.
 */
const BATCH: GfnRange[] = [
  { gfn: 2, npages: 2 },
  { gfn: 8, npages: 1 },
  { gfn: 30, npages: 2 },
  { gfn: 0x100, npages: 2 },
  { gfn: 0x108, npages: 3 },
  { gfn: 0x110, npages: 1 },
];

const resident = (b: MappedBacking): number[] => residentGfns(TWO_REGIONS, (g, n) => b.residentPages(g, n));

afterEach(() => setSyscallFaults(undefined));

describe.each(KINDS)("a discard batch that fails part-way: $label", ({ label, missing, make }) => {
  if (missing) console.warn(`[test/backing] skipping fault tests on ${label}: ${missing}`);

  it.skipIf(missing)("punches and records the ranges before the failing call, none after, and says how many", () =>
    make(async (b) => {
      for (const r of BATCH) b.touch(r.gfn, r.npages, true, 0x5a);
      const { error, log } = underFaults([{ call: "fallocate", nth: 3, errno: "EIO" }], () => b.discard(BATCH));
      const e = expectCode(
        () => {
          throw error;
        },
        "EIO",
        DiscardError,
      );
      expect(e).toBeInstanceOf(KvmError);
      expect([e.op, e.discardedRanges, e.failedRange]).toEqual(["fallocate", 2, { gfn: 30, npages: 2 }]);
      expect(log.calls.fallocate).toBe(3);
      const left = pagesOf(BATCH.slice(2));
      expect(resident(b)).toEqual(left); // the kernel: ranges 0–1 gone, 2–5 still there
      expect(pagesOf(b.populatedRanges())).toEqual(left); // the backing's own answer agrees
      expect(b.stats).toMatchObject({ discardCalls: 2, discardedPages: 3 });
      expect(left.every((g) => b.readPage(g)[0] === 0x5a)).toBe(true);
      // the fault cleared, the rest goes through
      b.discard(BATCH.slice(e.discardedRanges));
      expect(resident(b)).toEqual([]);
      expect(b.populatedRanges()).toEqual([]);
    }),
  );

  it.skipIf(missing)("restarts an interrupted punch: every piece reaches the kernel once and the batch completes", () =>
    make(async (b) => {
      for (const r of BATCH) b.touch(r.gfn, r.npages, true);
      const { error, log } = underFaults(
        [
          { call: "fallocate", nth: 1, errno: "EINTR", times: 2 },
          { call: "fallocate", nth: 5, errno: "EINTR", times: 3 },
        ],
        () => b.discard(BATCH),
      );
      expect(error).toBeUndefined();
      expect(log.calls.fallocate).toBe(5 + 5); // 5 pieces, 5 interrupted attempts
      expect(b.stats.discardCalls).toBe(5);
      expect(resident(b)).toEqual([]);
    }),
  );

  it.skipIf(missing)("a failing first call discards nothing and says 0; any errno comes back by name", () =>
    make(async (b) => {
      for (const errno of ERRNOS.filter((e) => e !== "EINTR")) {
        b.touch(2, 2, true);
        const { error } = underFaults([{ call: "fallocate", nth: 1, errno }], () => b.discard(BATCH.slice(0, 2)));
        expect([(error as DiscardError).code, (error as DiscardError).discardedRanges]).toEqual([errno, 0]);
        expect(resident(b)).toEqual([2, 3]);
      }
    }),
  );

  it.skipIf(missing)("leaves the record unchanged when a query fails (mincore, lseek, pread), and answers the same on retry", () =>
    make(async (b) => {
      b.touch(5, 3, true, 0x11);
      const answer = b.populatedRanges();
      for (const call of ["mincore", "lseek"] as const) {
        const { error, log } = underFaults([{ call, nth: 1, errno: "EIO" }], () => b.populatedRanges());
        if (log.injected.length === 0) continue; // this backing does not use that call
        expectCode(
          () => {
            throw error;
          },
          "EIO",
          KvmError,
        );
        expect(b.populatedRanges()).toEqual(answer);
      }
      if (b.kind === "memfd") {
        const { error } = underFaults([{ call: "pread", nth: 1, errno: "EIO" }], () => b.readPage(5));
        expectCode(
          () => {
            throw error;
          },
          "EIO",
          KvmError,
        );
        expect(b.readPage(5)[0]).toBe(0x11);
      }
    }),
  );
});

/** Creates a backing of `kind` under `faults`; returns the error, if any, and closes the backing. */
async function bindUnder(kind: "memfd" | "stand-in", faults: SyscallFault[]): Promise<{ error: unknown; injected: number }> {
  const { error, value, log } = await underFaultsAsync(faults, async () => {
    if (kind === "memfd") return SharedMemfdBacking.create(TWO_REGIONS, NAME);
    const gmem = memfdStandIn(SIZE, NAME);
    try {
      return await GuestMemfdBacking.attach(gmem, TWO_REGIONS, { owned: true });
    } catch (err) {
      closeAfterFailure(gmem); // attach leaves a file it does not own yet to the caller
      throw err;
    }
  });
  value?.close();
  return { error, injected: log.injected.length };
}

describe.skipIf(koffiMissing)("binding a real backing when a syscall fails", () => {
  const bindFault = fc.record({
    call: fc.constantFrom("memfd_create" as const, "ftruncate" as const, "mmap" as const, "close" as const),
    nth: fc.integer({ min: 1, max: 2 }),
    errno: fc.constantFrom(...ERRNOS),
  });

  it("fails with the injected errno, leaves no descriptor and no mapping, and binds on retry", async () => {
    const before = fdCount();
    let injected = 0;
    let runs = 0;
    let failed = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("memfd" as const, "stand-in" as const), fc.array(bindFault, { minLength: 1, maxLength: 2 }), async (kind, faults) => {
        const { error, injected: fired } = await bindUnder(kind, faults);
        injected += fired;
        runs++;
        if (error !== undefined) {
          failed++;
          expect(error, String(error)).toBeInstanceOf(KvmError);
          expect(faults.map((f) => f.errno)).toContain((error as KvmError).code);
        }
        expect(fdCount()).toBe(before);
        expect(mappingsOf(NAME)).toBe(0);
        const retry = await bindUnder(kind, []);
        expect(retry.error).toBeUndefined();
      }),
      { numRuns: LONG ? 500 : 60 },
    );
    console.log(`[faults] bind: ${runs} runs, ${injected} faults injected, ${failed} binds failed with the injected errno`);
    expect(injected).toBeGreaterThan(10);
  });

  it("reports the failure that stopped the bind, not a close that failed while cleaning up", async () => {
    const before = fdCount();
    const { error } = await bindUnder("memfd", [
      { call: "ftruncate", nth: 1, errno: "ENOSPC" },
      { call: "close", nth: 1, errno: "EIO" },
    ]);
    expect([(error as KvmError).op, (error as KvmError).code]).toEqual(["ftruncate", "ENOSPC"]);
    expect(fdCount()).toBe(before);
    const mmap = await bindUnder("stand-in", [
      { call: "mmap", nth: 1, errno: "ENOMEM" },
      { call: "close", nth: 1, errno: "EBADF" },
    ]);
    expect([(mmap.error as KvmError).op, (mmap.error as KvmError).code]).toEqual(["mmap", "ENOMEM"]);
    expect(fdCount()).toBe(before);
  });
});

describe.skipIf(koffiMissing)("closing a real backing when a syscall fails", () => {
  it.each([
    ["close", "EIO"],
    ["close", "EINTR"],
    ["mmap", "ENOMEM"], // the placeholder that replaces the file's pages under live views
  ] as const)("%s failing with %s: no descriptor left, and no mapping once close() is called again", async (call, errno) => {
    const before = fdCount();
    for (const kind of ["memfd", "stand-in"] as const) {
      const b =
        kind === "memfd"
          ? SharedMemfdBacking.create(TWO_REGIONS, NAME)
          : await GuestMemfdBacking.attach(memfdStandIn(SIZE, NAME), TWO_REGIONS, { owned: true });
      b.touch(3, 2, true);
      const { error } = underFaults([{ call, nth: 1, errno }], () => b.close());
      if (errno === "EINTR")
        expect(error).toBeUndefined(); // close's EINTR: closed all the same
      else expect([(error as KvmError).op, (error as KvmError).code]).toEqual([call, errno]);
      expect(fdCount()).toBe(before);
      b.close(); // the retry: releases what the failed close could not
      expect(mappingsOf(NAME)).toBe(0);
      expectCode(() => b.populatedRanges(), "EDISPOSED");
    }
  });
});
