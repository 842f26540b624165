/**
 * The one interface every linear layer of a model goes through, so that the compression pipeline
 * can swap in packed weights or watch a layer's inputs without touching the model code.
 */
import { native } from '../native/loader.js';
import { fromNative } from '../errors.js';
import type { Tensor } from './types.js';

export interface Linear {
  readonly outFeatures: number;
  readonly inFeatures: number;
  /** y `[rows × outFeatures]` = x `[rows × inFeatures]` · Wᵀ. */
  forward(x: Float32Array, rows: number): Promise<Float32Array>;
}

/** A dense fp32 weight `[out × in]` on the GEMM. */
export class DenseLinear implements Linear {
  readonly outFeatures: number;
  readonly inFeatures: number;
  private data: Float32Array | undefined;

  /** @param tensor - the weight; a lazily read tensor (loadModel's `lazy`) is read on first use. */
  constructor(private readonly tensor: Tensor) {
    const [out, inn] = tensor.shape as [number, number];
    this.outFeatures = out;
    this.inFeatures = inn;
  }

  /** The weight `[out × in]` (read from its file the first time, for a lazily loaded model). */
  get weight(): Float32Array {
    this.data ??= this.tensor.data;
    return this.data;
  }

  async forward(x: Float32Array, rows: number): Promise<Float32Array> {
    const y = new Float32Array(rows * this.outFeatures);
    try {
      await native().gemmF32(
        x,
        this.weight,
        y,
        rows,
        this.outFeatures,
        this.inFeatures,
        false,
        true,
        1,
        0,
        this.inFeatures,
        this.inFeatures,
        this.outFeatures,
      );
    } catch (e) {
      throw fromNative(e);
    }
    return y;
  }
}
