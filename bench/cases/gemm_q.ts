/**
 * Case table of the quantized GEMMs (kernels.matmul on kernels.packInt8 / packInt4 weights;
 * `bench --kernels w8a16,w8a8,w4a16,w4a8`): y[m×n] = x[m×k] · dequant(W)ᵀ.
 * Check mode: test/unit/quant.test.ts, within ERROR_BUDGET.<kernel>; every int8 case runs as w8a16
 * and w8a8, every int4 case as w4a16 and w4a8, symmetric and with zero points, with and without
 * act-order (g_idx) where groups are smaller than a row. Perf mode: bench/gemm_q.ts (symmetric,
 * no act-order). See bench/cases/index.ts for the fields every case has.
 */
import { toPackedGroupSize, type PackedGroupSize } from '../../lib/kernels/quant.js';
import { layerCases, type Case } from './index.js';

export interface GemmQCase extends Case {
  /** The weight's codes: int8 (kernels w8a16, w8a8) or int4 (w4a16, w4a8). */
  bits: 8 | 4;
  /** int4 only; default (perf cases): {@link groupFor}(k). */
  group?: PackedGroupSize;
}

/** The quantized GEMM kernels: the weight's bits, and whether activations are quantized to int8. */
export const GEMM_Q_KERNELS = {
  w8a16: { bits: 8, a8: false },
  w8a8: { bits: 8, a8: true },
  w4a16: { bits: 4, a8: false },
  w4a8: { bits: 4, a8: true },
} as const satisfies Record<string, { bits: 8 | 4; a8: boolean }>;

export type GemmQKernel = keyof typeof GEMM_Q_KERNELS;

/** The kernel of a weight's bits with float (a16) or int8 (a8) activations. */
export function gemmQKernel(bits: 8 | 4, a8: boolean): GemmQKernel {
  return `w${bits}${a8 ? 'a8' : 'a16'}`;
}

/** Inputs per int4 group for a layer with k inputs: 128 where it divides k, else 64, 32, or k. */
export function groupFor(k: number): number {
  return [128, 64, 32].find((g) => k % g === 0) ?? k;
}

/** A case's int4 inputs per group: its group ('row': k), else groupFor(k). */
export function inputsPerGroup(c: { k: number; group?: PackedGroupSize }): number {
  return c.group === 'row' ? c.k : (c.group ?? groupFor(c.k));
}

/** A case's int4 group size as packInt4 / pack24 take it: its group, else groupFor(k). */
export function groupSizeOf(c: { k: number; group?: PackedGroupSize }): PackedGroupSize {
  return toPackedGroupSize(c.group ?? groupFor(c.k), c.k, `a case with k = ${c.k}`);
}

/** Batch sizes of the check cases. */
const MS = [1, 2, 3, 4, 5, 7, 13, 40];

export const GEMM_Q_CASES: readonly GemmQCase[] = [
  // int8: odd n and k, k below and above the vector widths.
  { bits: 8, n: 1, k: 5, ms: MS, modes: ['check'] },
  { bits: 8, n: 17, k: 33, ms: MS, modes: ['check'] },
  { bits: 8, n: 33, k: 64, ms: MS, modes: ['check'] },
  { bits: 8, n: 70, k: 257, ms: MS, modes: ['check'] },
  // int4: groups of 32, 128 and 64, and one group per row.
  { bits: 4, n: 17, k: 64, group: 32, ms: MS, modes: ['check'] },
  { bits: 4, n: 33, k: 256, group: 128, ms: MS, modes: ['check'] },
  { bits: 4, n: 16, k: 192, group: 64, ms: MS, modes: ['check'] },
  { bits: 4, n: 9, k: 40, group: 'row', ms: MS, modes: ['check'] },
  // The layer shapes of docs/kernels.md's tables (int4 in groups of 128).
  ...layerCases({ bits: 8 as const }),
  ...layerCases({ bits: 4 as const }),
];
