/**
 * Weights in GPU memory and their matmuls (native/cuda/): packed int4 → the W4A16 kernel (f16
 * tensor cores, weights dequantized in registers), packed int8 → W8A8 (int8 tensor cores,
 * activations quantized per row on the GPU), 2:4 weights → the sparse tensor cores (`mma.sp`; f32
 * and int4 values as f16, int8 with int8 activations), dense f32 → f16 (the baseline). Activations
 * and outputs are host `Float32Array`s, copied in and out per call.
 */
import { native } from '../native/loader.js';
import type { CudaHandle } from '../native/contract.js';
import { callNative, invalidArgument, LlmcError } from '../errors.js';
import { checkFloat32Array, checkInteger, checkKnownKeys, checkObject } from '../validate.js';
import { PackedInt4, PackedInt8, type WeightShape } from './quant.js';
import { Packed24F32, Packed24Int4, Packed24Int8, type Packed24 } from './sparse24.js';

/** The kernel a {@link CudaWeights} runs on. */
export type CudaKernel = 'w4a16' | 'w8a8' | 'sparse24_f16' | 'sparse24_w8a8' | 'f16';

/**
 * A weight matrix W `[n × k]` in device memory. Free it with {@link dispose} (or `using`); the
 * garbage collector frees it too, but late.
 */
export class CudaWeights {
  readonly n: number;
  readonly k: number;
  readonly kernel: CudaKernel;
  /** Device memory held, in bytes. */
  readonly deviceBytes: number;
  #handle: CudaHandle | null;
  #running = 0;

  /** @internal */
  constructor(handle: CudaHandle) {
    this.#handle = handle;
    const info = native().cudaWeightsInfo(handle);
    this.n = info.n;
    this.k = info.k;
    this.kernel = info.kernel as CudaKernel;
    this.deviceBytes = info.deviceBytes;
  }

  /** Whether {@link dispose} was called. */
  get disposed(): boolean {
    return this.#handle === null;
  }

  /**
   * y = x · Wᵀ on the GPU for x `[m × k]` (m = x.length / k). Calls may overlap; they run one at a
   * time on the device.
   *
   * @example
   * ```ts
   * using w = await kernels.toCuda(await kernels.packInt4(q, scale, { n: 8192, k: 8192 }, { groupSize: 128 }));
   * const y = await w.matmul(x);
   * ```
   */
  async matmul(x: Float32Array, options: { out?: Float32Array } = {}): Promise<Float32Array> {
    const h = this.#live();
    checkFloat32Array('x', x);
    if (x.length === 0 || x.length % this.k !== 0)
      throw invalidArgument('x', `a non-empty Float32Array whose length is a multiple of k = ${this.k}`, x);
    const m = x.length / this.k;
    const o = checkObject('options', options);
    checkKnownKeys('options', o, ['out']);
    const out =
      o.out === undefined ? new Float32Array(m * this.n) : checkFloat32Array('options.out', o.out, m * this.n);
    if (out.buffer === x.buffer)
      throw invalidArgument('options.out', 'an array that does not share memory with x', out);
    await this.#run(() => native().cudaMatmul(h, x, m, out));
    return out;
  }

  /**
   * Times the kernel alone (activation conversion included, host copies not) on device-resident
   * random activations `[m × k]`: the milliseconds of each of `iters` runs after one warm-up.
   */
  async bench(m: number, iters = 20): Promise<Float64Array> {
    const h = this.#live();
    checkInteger('m', m, 1, 2 ** 31);
    checkInteger('iters', iters, 1, 100_000);
    return this.#run(() => native().cudaMatmulBench(h, m, iters));
  }

  /** Frees the device memory now. Idempotent; refused while a matmul or bench is running. */
  dispose(): void {
    if (this.#handle === null) return;
    if (this.#running > 0)
      throw new LlmcError(
        'LLMC_INVALID_ARGUMENT',
        'dispose() while a matmul on these device weights is running: await it first',
      );
    native().cudaWeightsFree(this.#handle);
    this.#handle = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #live(): CudaHandle {
    if (this.#handle === null)
      throw new LlmcError('LLMC_INVALID_ARGUMENT', `these ${this.kernel} device weights were disposed`);
    return this.#handle;
  }

  async #run<T>(call: () => Promise<T>): Promise<T> {
    this.#running++;
    try {
      return await callNative(call);
    } finally {
      this.#running--;
    }
  }
}

/** Dense fp32 weights for {@link toCuda}: stored as f16 on the device. */
export interface DenseWeights {
  weight: Float32Array;
  shape: WeightShape;
}

/**
 * Uploads packed weights to the GPU in the layout of their kernel (see {@link CudaKernel}).
 *
 * @throws {@link LlmcError} `LLMC_UNSUPPORTED` when this binary has no CUDA kernels or no GPU is
 *   usable (the message says which), `LLMC_OUT_OF_MEMORY` with the bytes needed and free
 *
 * @example
 * ```ts
 * const w = await kernels.toCuda(await kernels.pack24(q, scale, { n, k }, { bits: 8 })); // sparse24_w8a8
 * try { const y = await w.matmul(x); } finally { w.dispose(); }
 * ```
 */
export async function toCuda(weight: PackedInt4 | PackedInt8 | Packed24 | DenseWeights): Promise<CudaWeights> {
  let upload: () => Promise<CudaHandle>;
  if (weight instanceof PackedInt4)
    upload = () =>
      native().cudaUploadQ4(weight.data, weight.scale, weight.zero, weight.perm, weight.n, weight.k, weight.groupSize);
  else if (weight instanceof PackedInt8)
    upload = () => native().cudaUploadQ8(weight.data, weight.scale, weight.n, weight.k);
  else if (weight instanceof Packed24F32 || weight instanceof Packed24Int8 || weight instanceof Packed24Int4)
    upload = () => native().cudaUploadS24(...weight.args());
  else {
    const d = checkObject('weight', weight);
    checkKnownKeys('weight', d, ['weight', 'shape']);
    const s = checkObject('weight.shape', d.shape);
    checkKnownKeys('weight.shape', s, ['n', 'k']);
    const n = checkInteger('weight.shape.n', s.n, 1, 2 ** 31);
    const k = checkInteger('weight.shape.k', s.k, 1, 2 ** 31);
    const w = checkFloat32Array('weight.weight', d.weight, n * k);
    upload = () => native().cudaUploadF16(w, n, k);
  }
  return new CudaWeights(await callNative(upload));
}
