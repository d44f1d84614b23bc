import { describe, expect, it } from "vitest";
import { _IO, _IOC, _IOR, _IOW, _IOWR, decodeIoctl, IOC_READ, IOC_WRITE } from "../../src/uapi/ioctl.js";
import { expectCode } from "../support/expect-code.js";

describe("_ioctl encoding", () => {
  it("matches asm-generic/ioctl.h for each direction", () => {
    expect(_IO(0xae, 0x00)).toBe(0xae00);
    expect(_IOW(0xae, 0xd2, 32)).toBe(0x4020aed2);
    expect(_IOR(0xae, 0x81, 144)).toBe(0x8090ae81);
    expect(_IOWR(0xae, 0xd4, 64)).toBe(0xc040aed4);
  });
  it("stays unsigned when the READ bit is set", () => {
    expect(_IOC(IOC_READ | IOC_WRITE, 0xff, 0xff, 0x3fff)).toBe(0xffffffff);
  });
  it("decodes back to its fields", () => {
    expect(decodeIoctl(0x40a0ae49)).toEqual({ dir: IOC_WRITE, type: 0xae, nr: 0x49, sizeBytes: 160 });
  });
  it("refuses fields that do not fit", () => {
    expectCode(() => _IOW(0xae, 0x100, 8), "ERANGE");
    expectCode(() => _IOW(0xae, 1, 1 << 14), "ERANGE");
    expectCode(() => _IOW(0xae, 1.5, 8), "EINVALTYPE");
  });
});
