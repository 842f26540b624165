/**
 * `f32`: the dense fp32 GEMM in the linear-layer layout, y[m×n] = x[m×k] · W[n×k]ᵀ, on the perf
 * cases of bench/cases/gemm_f32.ts.
 * m = 1 is measured cold (W rotated over >= 256 MiB of copies) beside a plain streaming read of the
 * same copies (readGBps, the baseline); m > 1 warm, beside the FMA peak measured right after
 * (peakGflops, the baseline).
 */
import { native } from '../lib/native/loader.js';
import { GEMM_F32_CASES } from './cases/gemm_f32.js';
import { perfCases } from './cases/index.js';
import { coldCopies, medianMs } from './measure.js';
import { fillRandom } from './random.js';
import type { BenchSettings } from './row.js';

export async function benchGemmF32(s: BenchSettings): Promise<void> {
  const { isa, threads } = native().runtimeInfo();
  for (const { k, n, ms } of perfCases(GEMM_F32_CASES, s)) {
    const maxM = ms.reduce((a, m) => Math.max(a, m), 0);
    const weights = [fillRandom(new Float32Array(n * k), 7)];
    const x = fillRandom(new Float32Array(maxM * k), 3);
    const y = new Float32Array(maxM * n);
    for (const m of ms) {
      const cold = m === 1;
      if (cold) while (weights.length < coldCopies(n * k * 4)) weights.push(Float32Array.from(weights[0]!));
      let next = 0;
      const run = () => {
        const w = weights[cold ? next++ % weights.length : 0]!;
        return native().gemmF32(x, w, y, m, n, k, false, true, 1, 0, k, k, n);
      };
      const t = await medianMs(run, s.timeMs);
      const baseline = cold
        ? {
            readGBps:
              (n * k * 4) /
              ((await medianMs(() => native().streamRead(weights[next++ % weights.length]!), s.timeMs)).medianMs * 1e6),
          }
        : { peakGflops: await native().sgemmPeak() };
      s.onRow({
        kernel: 'f32',
        m,
        k,
        n,
        medianMs: t.medianMs,
        gflops: (2 * m * n * k) / (t.medianMs * 1e6),
        weightGBps: (n * k * 4) / (t.medianMs * 1e6),
        threads,
        isa,
        cold,
        ...baseline,
        samples: t.samples,
      });
      if (cold) weights.length = 1;
    }
  }
}
