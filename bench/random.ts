/**
 * Seeded random data (xorshift32) for the benchmarks and the tests: reproducible, never all zeros.
 * One generator for both, so a bench case and a test case of the same seed see the same numbers.
 */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  /** The next raw 32-bit state, in [0, 2^32). */
  u32(): number {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s >>> 0;
    return this.s;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 2 ** 32;
  }
  /** Uniform in [-1, 1). */
  float32(n: number): Float32Array {
    return fill(new Float32Array(n), this);
  }
}

function fill(a: Float32Array, rng: Rng): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = 2 * rng.next() - 1;
  return a;
}

/** Fills an array with uniform values in [-1, 1) (random data: zeros would flatter some kernels). */
export function fillRandom(a: Float32Array, seed = 1): Float32Array {
  return fill(a, new Rng(seed >>> 0 || 1));
}

/** Positive scales in [0.01, 0.02), `count` of them, as the benchmarks' quantized weights use. */
export function randomScales(count: number, seed: number): Float32Array {
  return fillRandom(new Float32Array(count), seed).map((v) => 0.01 + Math.abs(v) * 0.01);
}

/** Random codes, uniform over [lo, hi] (a real layer's codes are as dense). */
export function randomCodes(count: number, lo: number, hi: number, seed: number): Int8Array {
  const rng = new Rng(seed >>> 0 || 1);
  const q = new Int8Array(count);
  for (let i = 0; i < count; i++) q[i] = lo + (rng.u32() % (hi - lo + 1));
  return q;
}

/** The six ways to pick 2 positions of 4: the 2:4 sparsity patterns of a group. */
export const PAIRS_OF_4 = [
  [0, 1],
  [0, 2],
  [0, 3],
  [1, 2],
  [1, 3],
  [2, 3],
] as const;
