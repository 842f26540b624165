/**
 * Linear layers on the GPU (loadModel's `device`): the weights live in device memory in the layout
 * of their CUDA kernel; each forward copies the activations in and the outputs out (the other ops of
 * the forward pass stay on the CPU).
 */
import { toCuda, type CudaWeights } from '../kernels/cuda.js';
import { DenseLinear, type Linear } from './linear.js';
import { QuantLinear } from './quant_linear.js';
import { Sparse24Linear } from './sparse24_linear.js';

export class CudaLinear implements Linear {
  readonly outFeatures: number;
  readonly inFeatures: number;

  constructor(readonly weights: CudaWeights) {
    this.outFeatures = weights.n;
    this.inFeatures = weights.k;
  }

  forward(x: Float32Array, rows: number): Promise<Float32Array> {
    return this.weights.matmul(x.subarray(0, rows * this.inFeatures));
  }

  dispose(): void {
    this.weights.dispose();
  }
}

/**
 * The GPU twin of a layer when a CUDA kernel computes what it computes: int4 with float
 * activations (w4a16), int8 with int8 activations (w8a8), 2:4 (f32 and int4 values as f16; int8
 * w8a8), and dense fp32 (as f16). Undefined for the rest (w4a8, w8a16), which stay on the CPU.
 */
export async function cudaTwin(lin: Linear): Promise<CudaLinear | undefined> {
  if (lin instanceof QuantLinear) {
    const fits = lin.packed.bits === 4 ? lin.activations === 'float' : lin.activations === 'int8';
    return fits ? new CudaLinear(await toCuda(lin.packed)) : undefined;
  }
  if (lin instanceof Sparse24Linear) return new CudaLinear(await toCuda(lin.packed));
  if (lin instanceof DenseLinear)
    return new CudaLinear(await toCuda({ weight: lin.weight, shape: { n: lin.outFeatures, k: lin.inFeatures } }));
  return undefined;
}
