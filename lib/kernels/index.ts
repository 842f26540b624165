/**
 * Low-level kernels for runtime authors: plain typed arrays with explicit shapes, every call
 * validated, the work on native threads. `import { kernels } from 'llm-compress-native'`.
 */
export { gemm, type GemmOptions, type GemmShape } from './gemm.js';
export {
  packInt8,
  packInt4,
  matmul,
  PackedInt8,
  PackedInt4,
  type WeightShape,
  type Int8Codes,
  type Int4Codes,
  type PackInt4Options,
  type MatmulOptions,
} from './quant.js';
export {
  gptq,
  sparsegpt,
  rtn,
  magnitude,
  wanda,
  hessian,
  HessianAccumulator,
  type MatrixShape,
  type QuantizerOptions,
  type GptqOptions,
  type PruneOptions,
  type SparseGptOptions,
  type WandaOptions,
  type QuantizedCodes,
  type CompressedMatrix,
  type GptqResult,
  type RtnResult,
  type PruneResult,
  type SparseGptResult,
} from './compress.js';
