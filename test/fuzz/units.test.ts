// Fuzz of parseBytes (src/trace/units.ts), the byte sizes of --guest / --budget and the
// generators: random text, and sizes written every way people write them, checked against exact
// integer arithmetic — a size is read exactly, or refused with a typed error, never rounded.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemattrRangeError, MemattrTypeError } from "../../src/core/errors.js";
import { formatBytes, parseBytes } from "../../src/trace/index.js";
import { HUGE_NUMBERS, pathological, runs, typed } from "./_fuzz.js";

const UNITS: [string, number][] = [
  ["", 0],
  ["b", 0],
  ["k", 10],
  ["KB", 10],
  ["KiB", 10],
  ["m", 20],
  ["MiB", 20],
  ["G", 30],
  ["gib", 30],
  ["T", 40],
  ["TiB", 40],
  ["p", 50],
  ["PiB", 50],
];

/** What "<int>.<frac><unit>" means in bytes, exactly, or null when it is no whole number below 2^53. */
function exact(int: string, frac: string, shift: number): number | null {
  const scaled = BigInt(int + frac) << BigInt(shift);
  const d = 10n ** BigInt(frac.length);
  return scaled % d === 0n && scaled / d <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(scaled / d) : null;
}

describe("fuzz: parseBytes", () => {
  it("random text: a safe integer, or MemattrTypeError / MemattrRangeError", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 40 }), fc.constantFrom(...HUGE_NUMBERS)), (text) => {
        const r = typed(() => parseBytes(text));
        if (r.error) expect(r.error instanceof MemattrTypeError || r.error instanceof MemattrRangeError).toBe(true);
        else expect(Number.isSafeInteger(r.value) && r.value >= 0).toBe(true);
      }),
      { numRuns: runs(3000) },
    );
  });

  it("sizes with digits, a fraction and a unit: read exactly or refused, never rounded", () => {
    const digits = (max: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: max });
    fc.assert(
      fc.property(
        digits(22),
        fc.option(digits(24), { nil: undefined }),
        fc.constantFrom(...UNITS),
        fc.constantFrom("", " ", "  "),
        (int, frac, [unit, shift], space) => {
          const text = `${space}${int}${frac === undefined ? "" : `.${frac}`}${space}${unit}${space}`;
          const want = exact(int, frac ?? "", shift);
          const r = typed(() => parseBytes(text));
          if (want === null) expect(r.error).toBeInstanceOf(MemattrRangeError);
          else expect(r.value).toBe(want);
        },
      ),
      { numRuns: runs(3000) },
    );
  });

  it("what formatBytes prints as a whole number reads back as the same bytes", () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 20 }), fc.nat({ max: 5 }), (n, unit) => {
        const bytes = n * 1024 ** unit;
        const text = formatBytes(bytes);
        const r = typed(() => parseBytes(text));
        if (/^\d+ /.test(text) && bytes <= Number.MAX_SAFE_INTEGER) expect(r.value).toBe(bytes);
      }),
      { numRuns: runs(2000) },
    );
  });

  it("long inputs of repeated digits and units take bounded time", () => {
    fc.assert(
      fc.property(pathological(["1", "0", ".", " ", "k", "9"], 50_000), (text) => {
        typed(() => parseBytes(text));
      }),
      { numRuns: runs(100) },
    );
  });
});
