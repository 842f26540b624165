/**
 * The typed contract with the native addon: every function native/addon/ exports, with the
 * parameter and result types the TypeScript side relies on. Keep in step with
 * native/addon/addon.cpp and bindings.h. The loader that finds the addon is ./loader.ts.
 */

/** ISA levels the CPU kernels dispatch on, lowest first. */
export type IsaLevel = 'scalar' | 'neon' | 'avx2' | 'avx512';

export interface CpuFeatures {
  avx2: boolean;
  fma: boolean;
  f16c: boolean;
  avx512f: boolean;
  avx512bw: boolean;
  avx512dq: boolean;
  avx512vl: boolean;
  avx512vnni: boolean;
  avx512bf16: boolean;
  avxVnni: boolean;
  neon: boolean;
}

export interface NativeRuntimeInfo {
  version: string;
  cpu: { arch: string; vendor: string; brand: string; features: CpuFeatures };
  isa: IsaLevel;
  bestIsa: IsaLevel;
  threads: number;
}

export interface NativeCudaInfo {
  compiled: boolean;
  runtimeVersion: number;
  driverVersion: number;
  deviceCount: number;
  device?: { name: string; computeCapability: string; totalMemory: number };
  error?: string;
}

/** Parameters of the compression algorithms (native/include/llmc.h, llmc_obs_params). */
export interface NativeObsParams {
  rows: number;
  cols: number;
  bits: number;
  group: number;
  symmetric: number;
  actOrder: number;
  mse: number;
  damp: number;
  block: number;
  sparsity: number;
  pruneN: number;
  pruneM: number;
}

/** Output arrays of the compression algorithms; absent or null ones are not produced. */
export interface NativeObsOutputs {
  weight: Float32Array;
  q?: Int8Array | null;
  scale?: Float32Array | null;
  zero?: Uint8Array | null;
  gIdx?: Int32Array | null;
  mask?: Uint8Array | null;
}

/** Everything the addon exports. */
export interface NativeBinding {
  version: string;
  runtimeInfo(): NativeRuntimeInfo;
  setIsa(isa: IsaLevel): void;
  setThreads(threads: number): void;
  cudaInfo(): NativeCudaInfo;
  /** Runs a small kernel on GPU 0; resolves to its milliseconds. */
  cudaSelftest(): Promise<number>;
  /** fp32 multiply-add peak of this machine (GFLOP/s, all pool threads), measured now. */
  sgemmPeak(): Promise<number>;
  /** Reads every element once on all pool threads (the bandwidth baseline); resolves to ms. */
  streamRead(x: Float32Array): Promise<number>;
  /** C = alpha·op(A)·op(B) + beta·C in place (row-major BLAS semantics); resolves to kernel ms. */
  gemmF32(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    alpha: number,
    beta: number,
    lda: number,
    ldb: number,
    ldc: number,
  ): Promise<number>;
  /** H = H·seen/(seen+tokens) + 2/(seen+tokens)·XᵀX in place, X [tokens × d]; device 0 CPU, 1 CUDA; resolves to ms. */
  hessianUpdate(
    h: Float32Array,
    d: number,
    seen: number,
    x: Float32Array,
    tokens: number,
    device: 0 | 1,
  ): Promise<number>;
  /** GPTQ / SparseGPT column loop (device 0 CPU, 1 CUDA); resolves to the loss. */
  obsCompress(
    w: Float32Array,
    h: Float32Array,
    params: NativeObsParams,
    outputs: NativeObsOutputs,
    device: 0 | 1,
  ): Promise<number>;
  rtn(w: Float32Array, params: NativeObsParams, outputs: NativeObsOutputs): Promise<number>;
  prune(
    w: Float32Array,
    norms: Float32Array | null,
    params: NativeObsParams,
    outputs: NativeObsOutputs,
  ): Promise<number>;
  /** Ops of a LLaMA forward pass (native/include/llmc.h); each resolves to its milliseconds. */
  rmsnorm(x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number, out: Float32Array): Promise<number>;
  rope(
    x: Float32Array,
    rows: number,
    heads: number,
    headDim: number,
    pos: Int32Array,
    theta: number,
    style: 0 | 1,
  ): Promise<number>;
  attention(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    batch: number,
    tq: number,
    tk: number,
    heads: number,
    kvHeads: number,
    headDim: number,
  ): Promise<number>;
  swiglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): Promise<number>;
  nll(logits: Float32Array, rows: number, vocab: number, targets: Int32Array, out: Float64Array): Promise<number>;
  /** int8 dot-product peak GOP/s (VNNI, all pool threads) measured now; null when the ISA level has none. */
  int8Peak(): Promise<number | null>;
  /** Sizes of packed weights (native/core/gemm_q.h). */
  quantSizes(bits: 4 | 8, n: number, k: number, group: number): { dataBytes: number; scaleCount: number };
  q8Pack(
    q: Int8Array,
    scale: Float32Array,
    n: number,
    k: number,
    data: Uint8Array,
    scaleOut: Float32Array,
  ): Promise<number>;
  q8Unpack(
    data: Uint8Array,
    scale: Float32Array,
    n: number,
    k: number,
    qOut: Int8Array,
    scaleOut: Float32Array,
  ): Promise<number>;
  /** Resolves to true when the inputs were reordered (act-order): permOut then holds the order. */
  q4Pack(
    q: Int8Array,
    scale: Float32Array,
    zero: Uint8Array | null,
    gIdx: Int32Array | null,
    n: number,
    k: number,
    group: number,
    data: Uint8Array,
    scaleOut: Float32Array,
    zeroOut: Uint8Array | null,
    permOut: Int32Array,
  ): Promise<boolean>;
  q4Unpack(
    data: Uint8Array,
    scale: Float32Array,
    zero: Uint8Array | null,
    perm: Int32Array | null,
    n: number,
    k: number,
    group: number,
    qOut: Int8Array,
    scaleOut: Float32Array,
    zeroOut: Uint8Array | null,
    gIdxOut: Int32Array | null,
  ): Promise<number>;
  /** y[m×n] = x[m×k] · Wᵀ; resolves to the kernel's milliseconds. */
  q8Matmul(
    data: Uint8Array,
    scale: Float32Array,
    n: number,
    k: number,
    actInt8: boolean,
    x: Float32Array,
    m: number,
    y: Float32Array,
  ): Promise<number>;
  q4Matmul(
    data: Uint8Array,
    scale: Float32Array,
    zero: Uint8Array | null,
    perm: Int32Array | null,
    n: number,
    k: number,
    group: number,
    actInt8: boolean,
    x: Float32Array,
    m: number,
    y: Float32Array,
  ): Promise<number>;
  /** Sizes of packed 2:4 weights (native/core/sparse24.h); bits 32 (f32 values), 8 or 4. */
  s24Sizes(
    bits: 32 | 8 | 4,
    n: number,
    k: number,
    group: number,
  ): { metaBytes: number; valueBytes: number; scaleCount: number };
  /** Rejects on a 2:4 violation after writing its row and first column into bad. */
  s24Pack(
    bits: 32 | 8 | 4,
    n: number,
    k: number,
    group: number,
    w: Float32Array | null,
    q: Int8Array | null,
    scale: Float32Array | null,
    meta: Uint8Array,
    values: Uint8Array,
    scaleOut: Float32Array | null,
    wsumOut: Int32Array | null,
    bad: Float64Array,
  ): Promise<number>;
  s24Unpack(
    ...args: [...S24Weights, dense: Float32Array | null, q: Int8Array | null, scaleOut: Float32Array | null]
  ): Promise<number>;
  /** compressed: the bytes of the [n × k/2] output (f32 or int8). */
  s24ToBitmask(...args: [...S24Weights, compressed: Uint8Array, bitmask: Uint8Array]): Promise<number>;
  s24NvMetadata(...args: [...S24Weights, out: Uint8Array]): Promise<number>;
  /** 1: the 2:4 kernels, 2: the dense path (what path 0 picks for this shape). */
  s24Path(bits: 32 | 8 | 4, m: number, n: number, k: number): number;
  /** y[m×n] = x[m×k] · Wᵀ; path 0 auto, 1 2:4 kernels, 2 dense path; resolves to the kernel's milliseconds. */
  s24Matmul(...args: [...S24Weights, path: 0 | 1 | 2, x: Float32Array, m: number, y: Float32Array]): Promise<number>;
  /** Weights uploaded to device memory in their kernel's layout (native/cuda/); resolve to a handle. */
  cudaUploadQ4(
    data: Uint8Array,
    scale: Float32Array,
    zero: Uint8Array | null,
    perm: Int32Array | null,
    n: number,
    k: number,
    group: number,
  ): Promise<CudaHandle>;
  cudaUploadQ8(data: Uint8Array, scale: Float32Array, n: number, k: number): Promise<CudaHandle>;
  cudaUploadS24(...args: S24Weights): Promise<CudaHandle>;
  cudaUploadF16(w: Float32Array, n: number, k: number): Promise<CudaHandle>;
  cudaWeightsInfo(handle: CudaHandle): { n: number; k: number; deviceBytes: number; kernel: string };
  /** Frees the device memory now (idempotent); throws while a matmul on the handle runs. */
  cudaWeightsFree(handle: CudaHandle): void;
  /** y[m×n] = x[m×k] · Wᵀ on the device (host arrays); resolves to ms, copies included. */
  cudaMatmul(handle: CudaHandle, x: Float32Array, m: number, y: Float32Array): Promise<number>;
  /** Kernel-only milliseconds of `iters` runs on device-resident random activations (after a warm-up). */
  cudaMatmulBench(handle: CudaHandle, m: number, iters: number): Promise<Float64Array>;
}

/** Device weights as the addon hands them out (an External). */
export type CudaHandle = { readonly __brand: 'CudaHandle' };

/** Packed 2:4 weights as the addon takes them: bits, n, k, group, meta, values, scale, wsum. */
export type S24Weights = [
  bits: 32 | 8 | 4,
  n: number,
  k: number,
  group: number,
  meta: Uint8Array,
  values: Uint8Array,
  scale: Float32Array | null,
  wsum: Int32Array | null,
];
