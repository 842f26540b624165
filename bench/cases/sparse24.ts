/**
 * Case table of the 2:4 sparse kernels (kernels.matmul on kernels.pack24 weights;
 * `bench --kernels sparse24_f32,sparse24_w8a8,sparse24_w4a16`).
 * Check mode: test/unit/sparse24.test.ts, within ERROR_BUDGET.<kernel>, f32 on the 'auto',
 * 'sparse' and 'dense' paths, int4 on 'sparse' and 'dense', with non-finite activation rows.
 * Perf mode: bench/sparse24.ts, against the dense kernel of the same precision. See
 * bench/cases/index.ts for the fields every case has.
 */
import type { PackedGroupSize } from '../../lib/kernels/quant.js';
import { layerCases, type Case } from './index.js';

export interface Sparse24Case extends Case {
  /** The stored values: f32 (kernel sparse24_f32), int8 (sparse24_w8a8) or int4 (sparse24_w4a16). */
  bits: 32 | 8 | 4;
  /** int4 only; default (perf cases): groupFor(k) of gemm_q.ts. */
  group?: PackedGroupSize;
}

/** The 2:4 kernels by name, and the bits of their values. */
export const SPARSE24_KERNELS = { sparse24_f32: 32, sparse24_w8a8: 8, sparse24_w4a16: 4 } as const;

/** Batch sizes of the check cases. */
const MS = [1, 2, 3, 5, 8, 9, 13, 40];

export const SPARSE24_CASES: readonly Sparse24Case[] = [
  // f32: k = 4 (one group), k not a multiple of 8 or of the vector widths.
  { bits: 32, n: 1, k: 4, ms: MS, modes: ['check'] },
  { bits: 32, n: 17, k: 36, ms: MS, modes: ['check'] },
  { bits: 32, n: 33, k: 100, ms: MS, modes: ['check'] },
  { bits: 32, n: 16, k: 264, ms: MS, modes: ['check'] },
  // int8.
  { bits: 8, n: 1, k: 8, ms: MS, modes: ['check'] },
  { bits: 8, n: 17, k: 36, ms: MS, modes: ['check'] },
  { bits: 8, n: 33, k: 256, ms: MS, modes: ['check'] },
  // int4: groups of 32 and 128, one group per row.
  { bits: 4, n: 1, k: 32, group: 32, ms: MS, modes: ['check'] },
  { bits: 4, n: 17, k: 256, group: 128, ms: MS, modes: ['check'] },
  { bits: 4, n: 19, k: 20, group: 'row', ms: MS, modes: ['check'] },
  { bits: 4, n: 45, k: 96, group: 32, ms: MS, modes: ['check'] },
  // The layer shapes of docs/kernels.md's tables (int4 in groups of 128).
  ...layerCases({ bits: 32 as const }),
  ...layerCases({ bits: 8 as const }),
  ...layerCases({ bits: 4 as const }),
];
