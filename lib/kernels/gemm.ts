/** Dense fp32 matrix multiplication on the native GEMM kernel. */
import { native } from '../native/loader.js';
import { fromNative, invalidArgument } from '../errors.js';
import {
  checkBoolean,
  checkFiniteNumber,
  checkFloat32Array,
  checkInteger,
  checkKnownKeys,
  checkObject,
} from '../validate.js';

/** Sizes of a GEMM: the result is `m × n` and the inner dimension is `k`. */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
}

export interface GemmOptions {
  /** `a` holds Aᵀ, stored `[k × m]`, instead of A `[m × k]`. Default `false`. */
  transA?: boolean;
  /**
   * `b` holds Bᵀ, stored `[n × k]` — the `[out, in]` layout of a linear layer's weight — instead of
   * B `[k × n]`. Default `true`.
   */
  transB?: boolean;
  /** Scales the product. Default 1. */
  alpha?: number;
  /** Scales the previous contents of `out` (needs `out`). Default 0: `out` is not read. */
  beta?: number;
  /** Where to write C `[m × n]` (row-major). Default: a new array. */
  out?: Float32Array;
}

const OPTION_KEYS = ['transA', 'transB', 'alpha', 'beta', 'out'] as const;

/**
 * C = alpha · op(A) · op(B) + beta · C, all row-major `Float32Array`s, multi-threaded on the
 * process-wide pool with the fastest kernel the CPU supports. The default layout is the linear
 * layer's: `y = x · Wᵀ` with activations `x` `[m × k]` and weights `W` `[n × k]`.
 *
 * @param a - A `[m × k]`, or Aᵀ `[k × m]` with `transA`
 * @param b - Bᵀ `[n × k]` (default), or B `[k × n]` with `transB: false`
 * @param shape - `{ m, n, k }`, non-negative integers; array lengths must equal the products
 * @returns C `[m × n]` (`options.out` when given)
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` naming the argument when a size or array is off
 *
 * @example
 * ```ts
 * import { kernels } from 'llm-compress-native';
 * // y[2×3] = x[2×4] · W[3×4]ᵀ
 * const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
 * const W = new Float32Array(12).fill(0.5);
 * const y = await kernels.gemm(x, W, { m: 2, n: 3, k: 4 }); // [5, 5, 5, 13, 13, 13]
 *
 * // Hessian-style Xᵀ·X of X [tokens × in]: A = Xᵀ (transA), B = X (no transB)
 * const H = await kernels.gemm(X, X, { m: d, n: d, k: tokens }, { transA: true, transB: false });
 * ```
 */
export async function gemm(
  a: Float32Array,
  b: Float32Array,
  shape: GemmShape,
  options: GemmOptions = {},
): Promise<Float32Array> {
  const s = checkObject('shape', shape);
  const m = checkInteger('shape.m', s.m, 0);
  const n = checkInteger('shape.n', s.n, 0);
  const k = checkInteger('shape.k', s.k, 0);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, OPTION_KEYS);
  const transA = o.transA === undefined ? false : checkBoolean('options.transA', o.transA);
  const transB = o.transB === undefined ? true : checkBoolean('options.transB', o.transB);
  const alpha = o.alpha === undefined ? 1 : checkFiniteNumber('options.alpha', o.alpha);
  const beta = o.beta === undefined ? 0 : checkFiniteNumber('options.beta', o.beta);
  checkFloat32Array('a', a, m * k);
  checkFloat32Array('b', b, k * n);
  if (beta !== 0 && o.out === undefined)
    throw invalidArgument('options.out', 'a Float32Array when options.beta is not 0', o.out);
  const out = o.out === undefined ? new Float32Array(m * n) : checkFloat32Array('options.out', o.out, m * n);
  if (out.buffer === a.buffer || out.buffer === b.buffer)
    throw invalidArgument('options.out', 'an array that does not share memory with a or b', out);
  try {
    await native().gemmF32(
      a,
      b,
      out,
      m,
      n,
      k,
      transA,
      transB,
      alpha,
      beta,
      Math.max(1, transA ? m : k),
      Math.max(1, transB ? k : n),
      Math.max(1, n),
    );
  } catch (e) {
    throw fromNative(e);
  }
  return out;
}
