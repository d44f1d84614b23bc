// Every entry point of RangeMap (src/core/range-map.ts) and its batch (src/core/batch.ts) takes
// the same arguments the same way: one table of bad values, tried in every numeric argument and
// in every entry of the bulk methods' lists. A value that is not a number is a MemattrTypeError
// (EINVALTYPE) — never a page read through coercion ("1" → 1, null → 0, [5] → 5) and never the
// engine's own TypeError (5n, a symbol); a number out of range is a MemattrRangeError (ERANGE)
// or, when not an integer, EINVALTYPE. Nothing changes on a refusal.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemattrError } from "../../src/core/errors.js";
import { RangeMap } from "../../src/core/range-map.js";

/** Values that are not numbers: EINVALTYPE wherever a number is expected. */
const NOT_NUMBERS: [string, unknown][] = [
  ["a bigint", 5n],
  ["a numeric string", "1"],
  ["a string", "abc"],
  ["null", null],
  ["undefined", undefined],
  ["true", true],
  ["an array of a number", [5]],
  ["an empty object", {}],
  ["an object with valueOf", { valueOf: () => 5 }],
  ["a Number object", Object(5)],
  ["a symbol", Symbol("gfn")],
  ["a null-prototype object", Object.create(null)],
  ["a function", () => 5],
];
/** Numbers no argument takes, with the code each gives. */
const BAD_NUMBERS: [string, number, string][] = [
  ["NaN", Number.NaN, "EINVALTYPE"],
  ["a fraction", 1.5, "EINVALTYPE"],
  ["Infinity", Number.POSITIVE_INFINITY, "EINVALTYPE"],
  ["-Infinity", Number.NEGATIVE_INFINITY, "EINVALTYPE"],
  ["-1", -1, "ERANGE"],
  ["2^64", 2 ** 64, "ERANGE"],
];
const BAD: [string, unknown, string][] = [...NOT_NUMBERS.map(([name, v]): [string, unknown, string] => [name, v, "EINVALTYPE"]), ...BAD_NUMBERS];

type Call = (map: RangeMap, bad: unknown) => unknown;
/** Each entry point with each numeric argument replaced by the bad value in turn. */
const SCALAR_CALLS: [string, Call][] = [
  ["get(gfn)", (m, b) => m.get(b as number)],
  ["set(start)", (m, b) => m.set(b as number, 10, 1)],
  ["set(end)", (m, b) => m.set(0, b as number, 1)],
  ["set(value)", (m, b) => m.set(0, 10, b as number)],
  ["update(start)", (m, b) => m.update(b as number, 10, 1, 2)],
  ["update(clearMask)", (m, b) => m.update(0, 10, b as number, 2)],
  ["update(setMask)", (m, b) => m.update(0, 10, 1, b as number)],
  ["updateIfUniform(end)", (m, b) => m.updateIfUniform(0, b as number, 0, 0, 0, 1)],
  ["updateIfUniform(testMask)", (m, b) => m.updateIfUniform(0, 10, b as number, 0, 0, 1)],
  ["updateIfUniform(testValue)", (m, b) => m.updateIfUniform(0, 10, 0, b as number, 0, 1)],
  ["updateIfUniform(clearMask)", (m, b) => m.updateIfUniform(0, 10, 0, 0, b as number, 1)],
  ["updateIfUniform(setMask)", (m, b) => m.updateIfUniform(0, 10, 0, 0, 0, b as number)],
  ["updateWhere(start)", (m, b) => m.updateWhere(b as number, 10, 0, 0, 0, 1)],
  ["updateWhere(setMask)", (m, b) => m.updateWhere(0, 10, 0, 0, 0, b as number)],
  ["isUniform(start)", (m, b) => m.isUniform(b as number, 10, 0)],
  ["isUniform(value)", (m, b) => m.isUniform(0, 10, b as number)],
  ["uniformValue(end)", (m, b) => m.uniformValue(0, b as number)],
  ["runs(start)", (m, b) => m.runs(b as number, 10)],
  ["forEachRun(end)", (m, b) => m.forEachRun(0, b as number, () => {})],
  ["pages(value)", (m, b) => m.pages(b as number)],
  ["countInRange(start)", (m, b) => m.countInRange(b as number, 10, 0)],
  ["countInRange(value)", (m, b) => m.countInRange(0, 10, b as number)],
  ["setMemoryLimit(bytes)", (m, b) => m.setMemoryLimit(b as number)],
  // the bulk methods: the bad value as one entry of an array
  ["getMany([gfn])", (m, b) => m.getMany([7, b as number])],
  ["isUniformMany([start])", (m, b) => m.isUniformMany([0, 512, 0, b as number, 10, 0])],
  ["isUniformMany([value])", (m, b) => m.isUniformMany([0, 512, b as number])],
  ["uniformValueMany([end])", (m, b) => m.uniformValueMany([0, 512, 0, b as number])],
  // the batch: refused when added, so nothing is staged
  ["batch.set(start)", (m, b) => m.batch().set(b as number, 10, 1)],
  ["batch.set(value)", (m, b) => m.batch().set(0, 10, b as number)],
  ["batch.update(end)", (m, b) => m.batch().update(0, b as number, 1, 2)],
  ["batch.update(clearMask)", (m, b) => m.batch().update(0, 10, b as number, 2)],
  ["batch.update(setMask)", (m, b) => m.batch().update(0, 10, 1, b as number)],
  ["batch.get(gfn)", (m, b) => m.batch().get(b as number)],
  ["batch.isUniform(start)", (m, b) => m.batch().isUniform(b as number, 10, 0)],
  ["batch.isUniform(value)", (m, b) => m.batch().isUniform(0, 10, b as number)],
  ["batch.uniformValue(end)", (m, b) => m.batch().uniformValue(0, b as number)],
  ["batch.countInRange(start)", (m, b) => m.batch().countInRange(b as number, 10, 0)],
  ["batch.countInRange(value)", (m, b) => m.batch().countInRange(0, 10, b as number)],
];

/** The code a bad value gives in `call`, or "none" where the value is fine there. */
function expectedCode(call: string, value: unknown, code: string): string {
  // the memory limit takes any size (2^64 bytes is just "no limit"): only non-integers are refused
  if (call === "setMemoryLimit(bytes)" && value === 2 ** 64) return "none";
  return code;
}

let map: RangeMap;
beforeAll(async () => {
  map = await RangeMap.create();
  map.set(0, 512, 3);
  map.set(1000, 1001, 9);
});
afterAll(() => map.dispose());

function state(m: RangeMap): unknown {
  return { runs: m.runs(0, 4096), count: m.runCount(), batch: m.batch().size };
}

describe("every RangeMap and batch entry point refuses the same bad values", () => {
  for (const [callName, call] of SCALAR_CALLS) {
    it.each(BAD)(`${callName} with %s`, (_name, bad, code) => {
      const want = expectedCode(callName, bad, code);
      const before = state(map);
      if (want === "none") {
        call(map, bad);
        map.setMemoryLimit(2 ** 32);
        return;
      }
      let err: unknown;
      try {
        call(map, bad);
      } catch (e) {
        err = e;
      }
      expect(err, "throws").toBeInstanceOf(MemattrError);
      expect((err as MemattrError).code).toBe(want);
      expect(state(map)).toEqual(before);
    });
  }
});

describe("the bulk methods' lists", () => {
  const LISTS: [string, (m: RangeMap, list: unknown) => unknown][] = [
    ["getMany", (m, l) => m.getMany(l as number[])],
    ["isUniformMany", (m, l) => m.isUniformMany(l as number[])],
    ["uniformValueMany", (m, l) => m.uniformValueMany(l as number[])],
  ];
  const NOT_LISTS: [string, unknown][] = [
    ...NOT_NUMBERS.filter(([name]) => name !== "an array of a number"),
    ["a number", 5],
    ["an array-like object", { length: 1, 0: 5 }],
    ["a BigInt64Array", BigInt64Array.of(5n, 6n, 7n)],
    ["a DataView", new DataView(new ArrayBuffer(8))],
    ["a string of digits", "123456"],
  ];
  for (const [name, call] of LISTS) {
    it.each(NOT_LISTS)(`${name} refuses %s as its list (EINVALTYPE)`, (_n, list) => {
      expect(() => call(map, list)).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
    });
  }

  it("getMany reads the issue's cases no more: [5n], ['1'], [null], [true], [[5]] are EINVALTYPE naming the entry", () => {
    for (const bad of [5n, "1", null, true, [5]]) {
      expect(() => map.getMany([bad as unknown as number])).toThrow(
        expect.objectContaining({ code: "EINVALTYPE", message: expect.stringMatching(/gfns\[0\]/) }),
      );
    }
  });

  it("takes every typed array of numbers by its type, and arrays of numbers", () => {
    const want = Uint8Array.of(3, 0, 9);
    for (const gfns of [
      [0, 600, 1000],
      Float64Array.of(0, 600, 1000),
      Uint32Array.of(0, 600, 1000),
      Int32Array.of(0, 600, 1000),
      Uint16Array.of(0, 600, 1000),
    ]) {
      expect(map.getMany(gfns)).toEqual(want);
    }
    expect(map.isUniformMany([0, 512, 3, 0, 513, 3])).toEqual(Uint8Array.of(1, 0));
    expect(map.isUniformMany(Int32Array.of(0, 512, 3))).toEqual(Uint8Array.of(1));
    expect(map.uniformValueMany([0, 512, 0, 513])).toEqual(Int16Array.of(3, -1));
    // a typed array's values are still checked by the core
    expect(() => map.getMany(Int32Array.of(0, -1))).toThrow(expect.objectContaining({ code: "ERANGE", message: expect.stringMatching(/gfns\[1\]/) }));
  });

  it("refuses an `out` of the wrong type or length", () => {
    expect(() => map.getMany([1], [] as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
    expect(() => map.getMany([1, 2], new Uint8Array(1))).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => map.isUniformMany([0, 1, 0], new Int16Array(1) as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
    expect(() => map.uniformValueMany([0, 1], new Uint8Array(1) as unknown as Int16Array)).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
  });

  it("other entry points refuse what is not a function, an Int32Array or an options object", async () => {
    expect(() => map.forEachRun(0, 10, 5 as never)).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
    expect(() => map.pagesOfValues([0] as never)).toThrow(expect.objectContaining({ code: "EINVALTYPE" }));
    await expect(RangeMap.create(null as never)).rejects.toMatchObject({ code: "EINVALTYPE" });
  });
});
