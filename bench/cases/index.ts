/**
 * The kernel case tables, one per kernel family: gemm_f32.ts (the fp32 GEMM), gemm_q.ts (the
 * quantized GEMMs w8a16, w8a8, w4a16, w4a8) and sparse24.ts (the 2:4 sparse kernels). A case is a
 * weight [n × k] with its options, the batch sizes m it runs at, and the modes it runs in:
 *
 * - 'check': the tests (test/unit/gemm.test.ts, quant.test.ts, sparse24.test.ts) run it at every
 *   ISA level and check every output element against a float64 reference, within the kernel's
 *   ERROR_BUDGET (below);
 * - 'perf': `llm-compress bench` (bench/gemm_f32.ts, gemm_q.ts, sparse24.ts) times it, unless
 *   --shapes or --m replace the table's shapes or batch sizes.
 *
 * A new kernel case is added to its family's table, and nowhere else. (The tables live under
 * bench/ because the CLI bundles bench/, which must not import test code.)
 */
import type { BenchSettings } from '../row.js';

export type Mode = 'check' | 'perf';

/** What every case has: the weight's shape, the batch sizes, the modes. */
export interface Case {
  /** Output features (rows of the weight). */
  n: number;
  /** Inner dimension (input features). */
  k: number;
  /** Batch sizes: rows of activations, each run on the same weight. */
  ms: readonly number[];
  modes: readonly Mode[];
}

/** The layer shapes of the bench tables in docs/kernels.md, K x N: LLaMA-7B's attention and MLP. */
export const LAYER_SHAPES: ReadonlyArray<{ k: number; n: number }> = [
  { k: 4096, n: 4096 },
  { k: 4096, n: 11008 },
  { k: 11008, n: 4096 },
];

/** The batch sizes of the bench tables in docs/kernels.md: decoding (1, cold weights) to prefill (512). */
export const BENCH_MS: readonly number[] = [1, 16, 128, 512];

/** Perf cases: every layer shape at every bench batch size, with the options of `extra`. */
export function layerCases<T extends object>(extra: T): Array<Case & T> {
  return LAYER_SHAPES.map(({ k, n }) => ({ n, k, ms: BENCH_MS, modes: ['perf'] as const, ...extra }));
}

/** The cases of `table` that run in `mode`. */
export function casesFor<C extends Case>(table: readonly C[], mode: Mode): C[] {
  return table.filter((c) => c.modes.includes(mode));
}

/**
 * What `bench` times for a kernel: the perf cases of its table, in order; with --shapes, those
 * shapes instead (options left to the kernel's defaults), with --m, those batch sizes.
 */
export function perfCases<C extends Case>(table: readonly C[], s: BenchSettings): Array<Case & Partial<C>> {
  const perf = casesFor(table, 'perf');
  if (s.shapes === undefined && s.ms === undefined) return perf;
  if (s.shapes === undefined) return perf.map((c) => ({ ...c, ms: s.ms! }));
  const ms = s.ms ?? [...new Set(perf.flatMap((c) => c.ms))];
  // Options of the table's cases do not apply to other shapes: the kernel's defaults do.
  return s.shapes.map(({ k, n }) => ({ n, k, ms, modes: ['perf'] }) as Case as Case & Partial<C>);
}

/** The unit roundoff of float32. */
export const EPS32 = 2 ** -23;

/** 8·eps32·(√k + 10): the budget of the quantized kernels' float32 sums (blocked, FMA). */
const quantBudget = (k: number) => 8 * EPS32 * (Math.sqrt(k) + 10);

/**
 * Check mode's error budget per kernel, as a function of k: every output element must satisfy
 *   |y − y_ref| <= ERROR_BUDGET[kernel](k) · Σ_p mag_p
 * where y_ref is the float64 result and mag_p bounds the magnitude of the p-th product the kernel
 * adds (|a·b| for floats; for quantized weights the scale times the largest code the kernel may
 * hold before subtracting the zero point: RefWeight.mag in test/helpers/quant_ref.ts).
 * For the A8 kernels (w8a8, w4a8, sparse24_w8a8) the reference first quantizes the activations to
 * int8 exactly as the kernel does, so the budget covers only the float32 arithmetic.
 */
export const ERROR_BUDGET = {
  /** 4·eps32·√(k+1): √k is the expected growth of fp32 rounding in a sum of k products. */
  f32: (k: number) => 4 * EPS32 * Math.sqrt(k + 1),
  w8a16: quantBudget,
  w8a8: quantBudget,
  w4a16: quantBudget,
  w4a8: quantBudget,
  sparse24_f32: quantBudget,
  sparse24_w8a8: quantBudget,
  sparse24_w4a16: quantBudget,
} as const;

export type KernelName = keyof typeof ERROR_BUDGET;
