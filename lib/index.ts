/**
 * llm-compress-native: compress large language models (GPTQ, SparseGPT, int4/int8, 2:4
 * sparsity) from Node.js, with native CPU (and CUDA) kernels.
 *
 * @example
 * ```ts
 * import { kernels, runtimeInfo } from 'llm-compress-native';
 * console.log(runtimeInfo().isa); // 'avx512' on a recent x86-64 CPU
 * const y = await kernels.gemm(x, W, { m: tokens, n: outFeatures, k: inFeatures });
 * ```
 */
export * as kernels from './kernels/index.js';
export { LlmcError, type LlmcErrorCode, type ArgumentDetails } from './errors.js';
export { resolveDevice, type Device, type DeviceChoice } from './device.js';
export {
  runtimeInfo,
  setThreads,
  setIsa,
  availableIsaLevels,
  cudaInfo,
  type RuntimeInfo,
  type CudaInfo,
  type CpuFeatures,
  type IsaLevel,
} from './runtime.js';
export {
  loadModel,
  describeModel,
  type ModelInfo,
  evaluate,
  generate,
  generateTokens,
  Model,
  type ModelFormat,
  type LoadModelOptions,
  type EvaluateOptions,
  type GenerateOptions,
} from './model/model.js';
export type { EvaluateResult } from './eval/evaluate.js';
export type { LlamaConfig, RopeStyle, Tokenizer } from './model/types.js';
export type { Linear } from './model/linear.js';
export { compress, type CompressOptions, type CompressReport } from './compress/compress.js';
export type { CalibrationOptions, LayerReport, ProgressEvent } from './compress/pipeline.js';
export { OUTPUT_FORMATS, type OutputFormat } from './compress/output.js';
export { saveGguf, type GgufWriteOptions, type GgufWriteReport, type GgufTensorReport } from './formats/gguf_write.js';
export { SCHEMES, type Scheme, type QuantizeSpec, type PruneSpec } from './compress/schemes.js';
