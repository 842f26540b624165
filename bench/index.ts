/** The benchmark suites behind `llm-compress bench`, by kernel name. */
import { benchGemmF32 } from './gemm_f32.js';
import type { BenchSettings } from './row.js';

export type { BenchRow, BenchSettings } from './row.js';

export const SUITES: Record<string, (s: BenchSettings) => Promise<void>> = {
  f32: benchGemmF32,
};
