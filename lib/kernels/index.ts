/**
 * Low-level kernels for runtime authors: plain typed arrays with explicit shapes, every call
 * validated, the work on native threads. `import { kernels } from 'llm-compress-native'`.
 */
export { gemm, type GemmOptions, type GemmShape } from './gemm.js';
