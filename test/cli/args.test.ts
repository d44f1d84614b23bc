// The option parsers of the subcommands (src/cli/_args.ts and each command's parse*Args): what
// they take and what they refuse, in decimal digits only. Fuzzed in test/fuzz/cli.test.ts.
import { describe, expect, it } from "vitest";
import { bytesOption, intOption, parseOptions, UsageError } from "../../src/cli/_args.js";
import { parseProbeArgs, run as probe } from "../../src/cli/probe.js";
import { parseVizArgs } from "../../src/cli/viz.js";
import { parseVmmArgs } from "../../src/cli/vmm.js";
import { captureCommand } from "../support/cli.js";

describe("option helpers", () => {
  it("intOption takes decimal digits in range, and refuses what Number() would have read", () => {
    expect(intOption("n", "42")).toBe(42);
    expect(intOption("n", undefined)).toBeUndefined();
    for (const text of ["", " 5 ", "1e3", "0x10", "-1", "1.0", "99999999999999999"]) expect(() => intOption("n", text), text).toThrow(UsageError);
    expect(() => intOption("port", "65536", 0, 65535)).toThrow(/--port must be an integer from 0 to 65535/);
  });

  it("bytesOption turns parseBytes' errors into usage errors", () => {
    expect(bytesOption("guest", "2MiB")).toBe(2 ** 21);
    expect(() => bytesOption("guest", "2 potatoes")).toThrow(UsageError);
  });

  it("parseOptions turns node:util parseArgs' errors into usage errors", () => {
    expect(() => parseOptions({ args: ["--nope"], options: {} })).toThrow(UsageError);
    expect(() => parseOptions({ args: ["stray"], options: {} })).toThrow(UsageError);
    expect(() => parseOptions({ args: ["--n"], options: { n: { type: "string" } } })).toThrow(UsageError);
  });
});

describe("numbers in decimal digits only (before: Number() read '' as 0, '1e3' as 1000, '0x10' as 16)", () => {
  it("memattr viz --port", () => {
    expect(parseVizArgs(["--port", "8080"])).toMatchObject({ port: 8080, portGiven: true });
    for (const port of ["", "1e3", "0x10", "65536"]) expect(() => parseVizArgs(["--port", port]), port).toThrow(UsageError);
  });

  it("memattr vmm counts", () => {
    expect(parseVmmArgs(["--transactions", "12"])).toMatchObject({ transactions: 12 });
    for (const n of ["", "1e3", "0x10", " 5"]) expect(parseVmmArgs(["--transactions", n]), n).toMatch(/needs an integer/);
  });
});

describe("memattr probe", () => {
  it("parses --device and --json, and refuses the rest", () => {
    expect(parseProbeArgs(["--json", "--device", "/dev/x"])).toEqual({ device: "/dev/x", json: true });
    expect(parseProbeArgs(["-h"])).toBe("help");
    expect(() => parseProbeArgs(["--device"])).toThrow(UsageError);
  });

  it("a device that is no KVM device is exit 1 with a message (before: a KvmError thrown out of run())", async () => {
    const r = await captureCommand(probe, ["--device", "/dev/null"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\/dev\/null is not a KVM device: .*ENOTTY/);
  });
});
