import { describe, expect, it } from "vitest";
import { Mapping, withNativeBuffer } from "../../src/kvm/_mapping.js";
import { MFD_CLOEXEC, syscallsAvailable, sysClose, sysFtruncate, sysMemfdCreate, sysMincore } from "../../src/kvm/_syscall.js";
import { expectCode } from "./_support.js";

function withMemfd(sizeBytes: number, fn: (fd: number) => void): void {
  const fd = sysMemfdCreate("mapping-test", MFD_CLOEXEC);
  try {
    sysFtruncate(fd, sizeBytes);
    fn(fd);
  } finally {
    sysClose(fd);
  }
}

describe.skipIf(!syscallsAvailable())("Mapping", () => {
  it("writes and reads back through the shared mapping", () => {
    withMemfd(8192, (fd) => {
      const m = Mapping.mapShared(fd, 8192, 0, "test");
      m.write(4096, new Uint8Array([1, 2, 3]));
      expect(m.read(4096, 3)).toEqual(new Uint8Array([1, 2, 3]));
      expect(m.bytes()[4097]).toBe(2);
      m.unmap();
    });
  });
  it("leaves stale views readable as zeros after unmap, never faulting", () => {
    withMemfd(4096, (fd) => {
      const m = Mapping.mapShared(fd, 4096, 0, "test");
      const view = m.bytes();
      view[10] = 99;
      m.unmap();
      m.unmap(); // idempotent
      expect(view[10]).toBe(0);
      view[10] = 5; // goes to the private placeholder, not the file
      expectCode(() => m.read(0, 1), "EDISPOSED");
      const again = Mapping.mapShared(fd, 4096, 0, "test");
      expect(again.read(10, 1)).toEqual(new Uint8Array([99]));
      again.unmap();
    });
  });
  it("refuses out-of-range reads and writes", () => {
    withMemfd(4096, (fd) => {
      const m = Mapping.mapShared(fd, 4096, 0, "test");
      expectCode(() => m.read(4000, 200), "EINVAL");
      expectCode(() => m.write(-1, new Uint8Array(1)), "EINVAL");
      m.unmap();
    });
  });
  it("withNativeBuffer: a zeroed, writable native buffer at a page-aligned address, unmapped after", () => {
    let seen: bigint | undefined;
    const copy = withNativeBuffer(100, (address, view) => {
      seen = address;
      expect(address % 4096n).toBe(0n);
      expect(view.byteLength).toBe(4096);
      expect(view.every((b) => b === 0)).toBe(true);
      view.set([7, 8, 9], 10);
      return view.slice(0, 16);
    });
    expect([...copy.subarray(10, 13)]).toEqual([7, 8, 9]);
    // unmapped: mincore over it now fails with ENOMEM (the range is no longer mapped)
    expectCode(() => sysMincore(seen!, 4096, new Uint8Array(1)), "ENOMEM");
  });
});
