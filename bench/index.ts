/** The benchmark suites behind `llm-compress bench`, by kernel name. */
import { benchCompress } from './compress.js';
import { benchGemmF32 } from './gemm_f32.js';
import { benchQuant } from './gemm_q.js';
import { benchSparse24 } from './sparse24.js';
import type { BenchSettings } from './row.js';

export type { BenchRow, BenchSettings } from './row.js';

export const SUITES: Record<string, (s: BenchSettings) => Promise<void>> = {
  f32: benchGemmF32,
  w8a16: benchQuant('w8a16'),
  w8a8: benchQuant('w8a8'),
  w4a16: benchQuant('w4a16'),
  w4a8: benchQuant('w4a8'),
  sparse24_f32: benchSparse24('sparse24_f32'),
  sparse24_w8a8: benchSparse24('sparse24_w8a8'),
  sparse24_w4a16: benchSparse24('sparse24_w4a16'),
  gptq: benchCompress('gptq'),
  sparsegpt: benchCompress('sparsegpt'),
};
