/**
 * Low-level kernels for runtime authors: plain typed arrays with explicit shapes, every call
 * validated, the work on native threads. `import { kernels } from 'llm-compress-native'`.
 */
export { gemm, type GemmOptions, type GemmShape } from './gemm.js';
export {
  packInt8,
  packInt4,
  PackedInt8,
  PackedInt4,
  type WeightShape,
  type Int8Codes,
  type Int4Codes,
  type PackInt4Options,
  type MatmulOptions,
} from './quant.js';
export {
  pack24,
  matmul,
  sparse24Path,
  Packed24F32,
  Packed24Int8,
  Packed24Int4,
  type Packed24,
  type Pack24Options,
  type Matmul24Options,
  type Sparse24Bitmask,
} from './sparse24.js';
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
export { toCuda, CudaWeights, type CudaKernel, type DenseWeights } from './cuda.js';
