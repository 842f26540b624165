/**
 * `gptq`, `sparsegpt`: one layer compressed with a Hessian from 4,096 calibration tokens (W4 groups
 * of 128; SparseGPT 2:4), per shape KxN = in × out features. The row has m = rows = out, k = cols =
 * in, n = out; gflops counts the model of the work, 2·out·in² + in³ (column loop and
 * factorizations), and gemmGflops is the fp32 GEMM's own throughput at m = 512 on the same layer,
 * measured in the same run (the baseline: the algorithm should reach half of it). With device
 * 'cuda' (`bench --device cuda --kernels gptq,sparsegpt`) the loop runs on the GPU (Hessian upload,
 * factorizations, column loop and copies included) and the baseline is the CPU loop on the same
 * layer, same run: `cpuMs` and `speedupVsCpu`.
 */
import { native } from '../lib/native/loader.js';
import { LAYER_SHAPES } from './cases/index.js';
import { medianMs } from './measure.js';
import { fillRandom } from './random.js';
import type { BenchSettings } from './row.js';

const TOKENS = 4096;

function params(kind: 'gptq' | 'sparsegpt', rows: number, cols: number) {
  const q = { bits: 4, group: 128, symmetric: 1, actOrder: 0, mse: 0, damp: 0.01, block: 128 };
  return kind === 'gptq'
    ? { rows, cols, ...q, sparsity: 0, pruneN: 0, pruneM: 0 }
    : { rows, cols, ...q, bits: 0, group: 0, sparsity: 0, pruneN: 2, pruneM: 4 };
}

export function benchCompress(
  kind: 'gptq' | 'sparsegpt',
  device: 'cpu' | 'cuda' = 'cpu',
): (s: BenchSettings) => Promise<void> {
  return async (s) => {
    const { isa, threads } = native().runtimeInfo();
    const gpu = device === 'cuda' ? (native().cudaInfo().device?.name ?? 'unknown GPU') : undefined;
    for (const { k: cols, n: rows } of s.shapes ?? LAYER_SHAPES) {
      const x = fillRandom(new Float32Array(TOKENS * cols), 11);
      const h = new Float32Array(cols * cols);
      await native().hessianUpdate(h, cols, 0, x, TOKENS, 0);
      const w = fillRandom(new Float32Array(rows * cols), 13);
      const p = params(kind, rows, cols);
      const outputs = { weight: new Float32Array(rows * cols) };
      const time = (on: 0 | 1) =>
        medianMs(async () => {
          const start = performance.now();
          await native().obsCompress(w, h, p, outputs, on);
          return performance.now() - start;
        }, s.timeMs);
      const t = await time(device === 'cuda' ? 1 : 0);
      const flops = 2 * rows * cols * cols + cols ** 3;
      const row = {
        kernel: gpu ? `cuda_${kind}` : kind,
        m: rows,
        k: cols,
        n: rows,
        ...(kind === 'gptq' ? { groupSize: 128 } : {}),
        medianMs: t.medianMs,
        gflops: flops / (t.medianMs * 1e6),
        weightGBps: (rows * cols * 4) / (t.medianMs * 1e6),
        cold: false,
        samples: t.samples,
      };
      if (gpu) {
        const cpu = await time(0);
        s.onRow({
          ...row,
          threads: 1,
          isa: 'cuda',
          device: gpu,
          cpuMs: cpu.medianMs,
          speedupVsCpu: cpu.medianMs / t.medianMs,
        });
        continue;
      }
      // Baseline: the fp32 GEMM at m = 512 on this layer (y = x·Wᵀ).
      const xm = fillRandom(new Float32Array(512 * cols), 3);
      const y = new Float32Array(512 * rows);
      const g = await medianMs(
        () => native().gemmF32(xm, w, y, 512, rows, cols, false, true, 1, 0, cols, cols, rows),
        s.timeMs,
      );
      s.onRow({ ...row, threads, isa, gemmGflops: (2 * 512 * rows * cols) / (g.medianMs * 1e6) });
    }
  };
}
