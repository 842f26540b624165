/**
 * `llm-compress bench --device cuda`: the GPU kernels (native/cuda/) on random weights of each
 * shape — `w4a16` (int4, groups of 128), `w8a8`, `sparse24_f16` (2:4, f16 values), `sparse24_w8a8`,
 * and `f16` (dense, the baseline) — each timed with CUDA events on device-resident activations
 * (host copies excluded, activation conversion included). Every row carries `denseMs` and
 * `speedupVsDense` against the dense f16 kernel on the same shape and m, measured in the same run.
 * gflops counts 2·m·n·k (int8 operations for the A8 kernels); weightGBps the device bytes of the
 * weights read once per call.
 */
import { native } from '../lib/native/loader.js';
import { toCuda, type CudaWeights } from '../lib/kernels/cuda.js';
import { packInt4, packInt8 } from '../lib/kernels/quant.js';
import { pack24 } from '../lib/kernels/sparse24.js';
import { BENCH_MS, LAYER_SHAPES } from './cases/index.js';
import { fillRandom, PAIRS_OF_4, randomScales } from './random.js';
import type { BenchSettings } from './row.js';

export const CUDA_KERNELS = ['w4a16', 'w8a8', 'sparse24_f16', 'sparse24_w8a8', 'f16'] as const;
export type CudaBenchKernel = (typeof CUDA_KERNELS)[number];

/** Zeros 2 of every 4 values (the 6 position pairs in turn). */
function sparsify<T extends Float32Array | Int8Array>(w: T): T {
  for (let g = 0; g < w.length; g += 4) for (const i of PAIRS_OF_4[(g >> 2) % 6]!) w[g + i] = 0;
  return w;
}

/** Random nonzero codes in [lo, hi]; with `sparse`, exactly 2 nonzeros in every 4. */
function codes(count: number, lo: number, hi: number, sparse: boolean, seed: number): Int8Array {
  const u = fillRandom(new Float32Array(count), seed);
  const q = new Int8Array(count);
  for (let i = 0; i < count; i++) {
    const v = Math.round(lo + ((u[i]! + 1) / 2) * (hi - lo));
    q[i] = v === 0 ? 1 : v;
  }
  return sparse ? sparsify(q) : q;
}

async function upload(kernel: CudaBenchKernel, n: number, k: number): Promise<CudaWeights> {
  const shape = { n, k };
  const scales = (count: number) => randomScales(count, 5);
  switch (kernel) {
    case 'f16':
      return toCuda({ weight: fillRandom(new Float32Array(n * k), 7), shape });
    case 'w4a16':
      return toCuda(await packInt4(codes(n * k, -8, 7, false, 3), scales((n * k) / 128), shape, { groupSize: 128 }));
    case 'w8a8':
      return toCuda(await packInt8(codes(n * k, -127, 127, false, 3), scales(n), shape));
    case 'sparse24_f16':
      return toCuda(await pack24(sparsify(fillRandom(new Float32Array(n * k), 7)), shape));
    case 'sparse24_w8a8':
      return toCuda(await pack24(codes(n * k, -127, 127, true, 3), scales(n), shape, { bits: 8 }));
  }
}

function median(xs: Float64Array): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** Runs every kernel of `kernels` on every shape and m; rows go to settings.onRow. */
export async function benchCuda(kernels: CudaBenchKernel[], s: BenchSettings): Promise<void> {
  const gpu = native().cudaInfo().device?.name ?? 'unknown GPU';
  const iters = Math.max(10, Math.min(200, Math.round(s.timeMs / 5)));
  for (const { k, n } of s.shapes ?? LAYER_SHAPES) {
    if (k % 128 !== 0) continue; // the int4 weights use groups of 128
    // Each kernel's weights are packed and uploaded once per shape, then timed at every m.
    const dense = await upload('f16', n, k);
    const uploaded: Array<[CudaBenchKernel, CudaWeights]> = [];
    try {
      for (const kernel of kernels) uploaded.push([kernel, kernel === 'f16' ? dense : await upload(kernel, n, k)]);
      for (const m of s.ms ?? BENCH_MS) {
        const denseMs = median(await dense.bench(m, iters));
        for (const [kernel, w] of uploaded) {
          const ms = kernel === 'f16' ? denseMs : median(await w.bench(m, iters));
          s.onRow({
            kernel: `cuda_${kernel}`,
            m,
            k,
            n,
            ...(kernel === 'w4a16' ? { groupSize: 128 } : {}),
            medianMs: ms,
            gflops: (2 * m * n * k) / (ms * 1e6),
            weightGBps: w.deviceBytes / (ms * 1e6),
            threads: 1,
            isa: 'cuda',
            cold: false,
            samples: iters,
            device: gpu,
            denseMs,
            speedupVsDense: denseMs / ms,
          });
        }
      }
    } finally {
      for (const [, w] of uploaded) if (w !== dense) w.dispose();
      dense.dispose();
    }
  }
}
