// Shared pieces of the fuzz tests: run counts (MEMATTR_LONG=1 runs ten times as many), a time
// bound per input, the "only typed errors" check, and mutations of valid text.
import fc from "fast-check";
import { expect } from "vitest";
import { MemattrError } from "../../src/core/errors.js";

export const LONG = process.env.MEMATTR_LONG === "1";

/** Inputs per property: `base`, ten times that under MEMATTR_LONG=1. */
export function runs(base: number): number {
  return LONG ? 10 * base : base;
}

/** Longest one input may take before it counts as a hang (ms). Generous: a shared 2-core box. */
export const INPUT_MS = 250;

/** What an input did: a value, or the typed error it threw. */
export type Outcome<T> = { value: T; error?: undefined } | { value?: undefined; error: MemattrError };

/**
 * Runs `fn` on one input: it must return, or throw a MemattrError (anything else fails the
 * property, and so does taking longer than {@link INPUT_MS}).
 */
export function typed<T>(fn: () => T, ms = INPUT_MS): Outcome<T> {
  const t0 = performance.now();
  let out: Outcome<T>;
  try {
    out = { value: fn() };
  } catch (e) {
    if (!(e instanceof MemattrError)) throw e;
    out = { error: e };
  }
  expect(performance.now() - t0, "one input took too long").toBeLessThan(ms);
  return out;
}

/** {@link typed} for an async function. */
export async function typedAsync<T>(fn: () => Promise<T>, ms = INPUT_MS): Promise<Outcome<T>> {
  const t0 = performance.now();
  let out: Outcome<T>;
  try {
    out = { value: await fn() };
  } catch (e) {
    if (!(e instanceof MemattrError)) throw e;
    out = { error: e };
  }
  expect(performance.now() - t0, "one input took too long").toBeLessThan(ms);
  return out;
}

/** Numbers a hostile input writes where a small one belongs. */
export const HUGE_NUMBERS = [
  "1e400",
  "-1e400",
  "18446744073709551616", // 2^64
  "18446744073709551615",
  "9007199254740993", // 2^53 + 1
  "0x1ffffffffffffffff",
  "0xffffffffffffffff",
  "0x10000000000000000",
  "-1",
  "-0",
  "0.5",
  "1e-400",
  "NaN",
  "Infinity",
  "99999999999999999999999999999999999999",
  "00000000000000000000000000000000000001",
];

/** A token a mutation inserts: a huge number, a piece of syntax, an odd character. */
const token = fc.oneof(
  fc.constantFrom(...HUGE_NUMBERS),
  fc.constantFrom(" ", "\t", "\r", "\n", ":", ",", "{", "}", "[", "]", '"', "\\", "-", ".", "0x", "\u0000", "\uFFFD", "\u2028", "é", "🙂", "\uD800"),
  fc.string({ maxLength: 6 }),
);

/** One mutation of a text. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: token }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("replace-number" as const), which: fc.nat(), text: fc.constantFrom(...HUGE_NUMBERS) }),
  fc.record({ kind: fc.constant("duplicate-line" as const), which: fc.nat() }),
  fc.record({ kind: fc.constant("swap-lines" as const), a: fc.nat(), b: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function apply(text: string, m: Mutation): string {
  const n = text.length;
  switch (m.kind) {
    case "truncate":
      return text.slice(0, n === 0 ? 0 : m.at % (n + 1));
    case "insert": {
      const at = m.at % (n + 1);
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case "delete": {
      const at = m.at % (n + 1);
      return text.slice(0, at) + text.slice(at + m.length);
    }
    case "replace-number": {
      const numbers = [...text.matchAll(/-?(?:0x)?[0-9a-fA-F]*\d[0-9a-fA-F.]*/g)];
      if (numbers.length === 0) return text;
      const hit = numbers[m.which % numbers.length]!;
      return text.slice(0, hit.index) + m.text + text.slice(hit.index + hit[0].length);
    }
    case "duplicate-line": {
      const lines = text.split("\n");
      const i = m.which % lines.length;
      lines.splice(i, 0, lines[i]!);
      return lines.join("\n");
    }
    case "swap-lines": {
      const lines = text.split("\n");
      const a = m.a % lines.length;
      const b = m.b % lines.length;
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join("\n");
    }
  }
}

/** A text from `bases`, with 1–4 mutations applied. */
export function mutated(bases: readonly string[]): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...bases), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([base, ms]) => ms.reduce(apply, base));
}

/** The lines of two texts interleaved at random (each text's lines keep their order). */
export function interleaved(bases: readonly string[]): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...bases), fc.constantFrom(...bases), fc.array(fc.boolean(), { maxLength: 200 })).map(([a, b, picks]) => {
    const la = a.split("\n");
    const lb = b.split("\n");
    const out: string[] = [];
    let i = 0;
    let j = 0;
    for (const pick of picks) {
      if (pick && i < la.length) out.push(la[i++]!);
      else if (j < lb.length) out.push(lb[j++]!);
    }
    return [...out, ...la.slice(i), ...lb.slice(j)].join("\n");
  });
}

/** A short fragment repeated up to `max` characters: the shape that makes a backtracking regex slow. */
export function pathological(fragments: readonly string[], max = 20_000): fc.Arbitrary<string> {
  return fc
    .tuple(fc.array(fc.constantFrom(...fragments), { minLength: 1, maxLength: 4 }), fc.integer({ min: 100, max }), fc.constantFrom(...fragments))
    .map(([parts, length, tail]) => {
      const unit = parts.join("");
      return unit.repeat(Math.ceil(length / unit.length)).slice(0, length) + tail;
    });
}

/** UTF-8 bytes of `text`, with invalid sequences spliced in where `bad` says, cut into chunks where `cuts` says. */
export function byteChunks(text: string, bad: readonly number[], cuts: readonly number[]): Uint8Array[] {
  let bytes = new TextEncoder().encode(text);
  const INVALID = [0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf4, 0x90];
  for (const at of bad) {
    const i = bytes.length === 0 ? 0 : at % bytes.length;
    const next = new Uint8Array(bytes.length + 2);
    next.set(bytes.subarray(0, i));
    next[i] = INVALID[at % INVALID.length]!;
    next[i + 1] = INVALID[(at >> 3) % INVALID.length]!;
    next.set(bytes.subarray(i), i + 2);
    bytes = next;
  }
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

/** What UTF-8 decoding of the whole byte stream gives: the text a chunked reader must see. */
export function decoded(chunks: readonly Uint8Array[]): string {
  const d = new TextDecoder("utf-8");
  return chunks.map((c) => d.decode(c, { stream: true })).join("") + d.decode();
}
