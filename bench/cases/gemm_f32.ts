/**
 * Case table of the fp32 GEMM (kernels.gemm; `bench --kernels f32`): y[m×n] = x[m×k] · W[n×k]ᵀ.
 * Check mode: test/unit/gemm.test.ts, within ERROR_BUDGET.f32. Perf mode: bench/gemm_f32.ts.
 * See bench/cases/index.ts for the fields every case has.
 */
import { layerCases, type Case } from './index.js';

export interface GemmF32Case extends Case {
  /**
   * Checked with (alpha, beta) = (0.75, 0.5), (−2, 1) and (1.5, 0) in every transpose layout,
   * instead of the plain product (alpha 1, beta 0) in the default and (when small) every layout.
   */
  alphaBeta?: true;
}

/** A check case of one batch size m. */
function check(m: number, n: number, k: number, options: Partial<GemmF32Case> = {}): GemmF32Case {
  return { n, k, ms: [m], modes: ['check'], ...options };
}

export const GEMM_F32_CASES: readonly GemmF32Case[] = [
  // m = 1 (the GEMV path), odd sizes, k not a multiple of any vector width, tiny and large enough
  // to cross the kc / nc / mc cache blocks.
  check(1, 1, 1),
  check(1, 3, 5),
  check(1, 17, 33),
  check(1, 100, 257),
  check(1, 1000, 1023),
  check(1, 257, 4099),
  check(2, 7, 3),
  check(3, 15, 17),
  check(5, 33, 31),
  check(7, 64, 64),
  check(13, 31, 129),
  check(16, 100, 100),
  check(17, 129, 65),
  check(31, 257, 300),
  check(64, 65, 513),
  check(65, 70, 90),
  check(127, 130, 257),
  check(129, 1000, 1100),
  check(300, 97, 1030),
  check(1, 1, 2000),
  check(2000, 3, 1),
  check(4, 1, 5000),
  // alpha and beta.
  check(1, 33, 65, { alphaBeta: true }),
  check(9, 40, 70, { alphaBeta: true }),
  check(70, 130, 300, { alphaBeta: true }),
  // The layer shapes of docs/kernels.md's tables.
  ...layerCases({}),
];
