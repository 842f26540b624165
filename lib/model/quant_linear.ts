/** A linear layer on packed int8 / int4 weights (the quantized kernels), for compressed models. */
import { matmul, type PackedInt4, type PackedInt8 } from '../kernels/quant.js';
import type { Linear } from './linear.js';

export class QuantLinear implements Linear {
  readonly outFeatures: number;
  readonly inFeatures: number;

  /** `activations: 'int8'` quantizes each row of the input inside the call (W8A8 / W4A8). */
  /**
   * @param packed - the weight; writers of formats with fp16 scales (GPTQ, GGUF) replace it with its
   *   fp16-scaled twin so that the model in memory computes what the file holds
   */
  constructor(
    public packed: PackedInt8 | PackedInt4,
    readonly activations: 'float' | 'int8' = 'float',
  ) {
    this.outFeatures = packed.n;
    this.inFeatures = packed.k;
  }

  forward(x: Float32Array, rows: number): Promise<Float32Array> {
    return matmul(x.subarray(0, rows * this.inFeatures), this.packed, { activations: this.activations });
  }
}
