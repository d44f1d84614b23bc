/**
 * A small seedable pseudo-random generator for trace generators: same seed, same trace, on
 * every platform. sfc32 (Chris Doty-Humphrey's "small fast counting" generator, as in
 * PractRand), seeded through splitmix32 so that nearby seeds give unrelated streams.
 * Not for anything cryptographic.
 */

/** A deterministic random stream. */
export interface Prng {
  /** The next 32-bit unsigned integer. */
  nextU32(): number;
  /** A float in `[0, 1)` with 53 random bits. */
  float(): number;
  /** An integer in `[min, max]` (inclusive), exact for spans up to 2^53. */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
}

/**
 * Creates a random stream from a 32-bit `seed`.
 * @param seed an integer; only its low 32 bits count.
 * @example
 * ```ts
 * import { createPrng } from "memattr";
 * const a = createPrng(42), b = createPrng(42);
 * console.log(a.int(0, 2 ** 40 - 1) === b.int(0, 2 ** 40 - 1)); // true
 * ```
 */
export function createPrng(seed: number): Prng {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = 1;
  const nextU32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) nextU32(); // warm-up, as sfc32's author recommends
  const float = (): number => ((nextU32() >>> 5) * 67108864 + (nextU32() >>> 6)) / 9007199254740992;
  return {
    nextU32,
    float,
    int(min, max) {
      if (!(max >= min)) throw new RangeError(`prng.int: max ${max} < min ${min}`);
      return min + Math.floor(float() * (max - min + 1));
    },
    chance(p) {
      return float() < p;
    },
  };
}
