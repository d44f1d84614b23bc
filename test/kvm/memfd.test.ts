import { describe, expect, it } from "vitest";
import { syscallsAvailable } from "../../src/kvm/_syscall.js";
import { KvmArgumentError } from "../../src/kvm/errors.js";
import { SharedMemfd } from "../../src/kvm/memfd.js";
import { expectCode, page } from "./_support.js";

describe.skipIf(!syscallsAvailable())("SharedMemfd", () => {
  it("reads back what is written through the mapping and through pwrite", () => {
    using m = SharedMemfd.create(page(4));
    m.mapping.bytes()[page(1)] = 42;
    m.write(page(2) + 5, new Uint8Array([1, 2]));
    expect(m.read(page(1), 1)).toEqual(new Uint8Array([42]));
    expect(m.mapping.read(page(2) + 5, 2)).toEqual(new Uint8Array([1, 2]));
  });
  it("finds written ranges with SEEK_DATA/SEEK_HOLE, merged when adjacent", () => {
    using m = SharedMemfd.create(page(16));
    expect(m.populatedRanges()).toEqual([]);
    m.write(page(1), new Uint8Array([1]));
    m.write(page(2), new Uint8Array([1]));
    m.mapping.bytes().fill(5, page(8), page(11));
    expect(m.populatedRanges()).toEqual([
      { offsetBytes: page(1), lengthBytes: page(2) },
      { offsetBytes: page(8), lengthBytes: page(3) },
    ]);
    expect(m.populatedRanges(page(9), page(10))).toEqual([{ offsetBytes: page(9), lengthBytes: page(1) }]);
  });
  it("charges allocated-but-unwritten pages (st_blocks) although SEEK_DATA skips them on shmem", () => {
    using m = SharedMemfd.create(page(16));
    m.allocate(page(4), page(3));
    expect(m.allocatedBytes()).toBe(page(3));
    expect(m.populatedRanges()).toEqual([]); // shmem: fallocated pages are not up to date until written
    m.punchHole(page(4), page(3));
    expect(m.allocatedBytes()).toBe(0);
  });
  it("punches a hole: the page reads as zeros and leaves the populated set", () => {
    using m = SharedMemfd.create(page(4));
    m.write(page(1), new Uint8Array([9, 9, 9]));
    m.punchHole(page(1), page(1));
    expect(m.populatedRanges()).toEqual([]);
    expect(m.read(page(1), 3)).toEqual(new Uint8Array(3)); // pread: does not repopulate
    expect(m.populatedRanges()).toEqual([]);
    expect(m.mapping.read(page(1), 3)).toEqual(new Uint8Array(3));
  });
  it("refuses zero/unaligned sizes and ranges, and use after close", () => {
    expectCode(() => SharedMemfd.create(0), "EINVAL", KvmArgumentError);
    expectCode(() => SharedMemfd.create(100), "EINVAL", KvmArgumentError);
    const m = SharedMemfd.create(page(2));
    expectCode(() => m.punchHole(1, page(1)), "EINVAL", KvmArgumentError);
    expectCode(() => m.read(page(2), 1), "EINVAL", KvmArgumentError);
    expect(() => m.allocate(page(1), page(2), false)).not.toThrow(); // grows the file: the kernel allows it
    m.close();
    expectCode(() => m.populatedRanges(), "EDISPOSED");
    expectCode(() => m.address, "EDISPOSED");
  });
});
