/**
 * `w8a16`, `w8a8`, `w4a16`, `w4a8`: the quantized GEMMs in the linear-layer layout, y[m×n] = x[m×k] ·
 * dequant(W)ᵀ, on the perf cases of bench/cases/gemm_q.ts; int4 with symmetric groups of 128 (64 or 32 when k is not a multiple of 128, one
 * group per row when it is not a multiple of 32: groupSize says which). weightGBps counts the packed bytes (codes and
 * scales). m = 1 is measured cold (weights rotated over >= 256 MiB of copies) beside a plain
 * streaming read of the same copies (readGBps); m > 1 warm, beside the peak of the instructions the
 * kernel runs on, measured right after: the fp32 FMA peak (peakGflops) for float activations, the
 * int8 dot-product peak (peakGops) for int8 activations.
 */
import { native } from '../lib/native/loader.js';
import { packInt4, packInt8, toPackedGroupSize, type PackedInt4, type PackedInt8 } from '../lib/kernels/quant.js';
import { GEMM_Q_CASES, GEMM_Q_KERNELS, inputsPerGroup, type GemmQKernel } from './cases/gemm_q.js';
import { perfCases } from './cases/index.js';
import { coldCopies, medianMs, withArrays } from './measure.js';
import { fillRandom, randomCodes, randomScales } from './random.js';
import type { BenchSettings } from './row.js';

type Kind = (typeof GEMM_Q_KERNELS)[GemmQKernel];

async function packed(kind: Kind, n: number, k: number, group: number): Promise<PackedInt8 | PackedInt4> {
  if (kind.bits === 8) {
    return packInt8(randomCodes(n * k, -128, 127, 9), randomScales(n, 5), { n, k });
  }
  const scale = randomScales((n * k) / group, 5);
  return packInt4(randomCodes(n * k, -8, 7, 9), scale, { n, k }, { groupSize: toPackedGroupSize(group, k, 'bench') });
}

function copy(w: PackedInt8 | PackedInt4): PackedInt8 | PackedInt4 {
  return withArrays(w, { data: Uint8Array.from(w.data), scale: Float32Array.from(w.scale) });
}

function run(w: PackedInt8 | PackedInt4, a8: boolean, x: Float32Array, m: number, y: Float32Array): Promise<number> {
  if (w.bits === 8) return native().q8Matmul(w.data, w.scale, w.n, w.k, a8, x, m, y);
  return native().q4Matmul(w.data, w.scale, w.zero, w.perm, w.n, w.k, w.groupSize, a8, x, m, y);
}

export function benchQuant(name: GemmQKernel): (s: BenchSettings) => Promise<void> {
  const kind = GEMM_Q_KERNELS[name];
  return async (s) => {
    const { isa, threads } = native().runtimeInfo();
    for (const c of perfCases(
      GEMM_Q_CASES.filter((c) => c.bits === kind.bits),
      s,
    )) {
      const { k, n, ms } = c;
      const group = inputsPerGroup(c);
      const maxM = ms.reduce((a, m) => Math.max(a, m), 0);
      const weights = [await packed(kind, n, k, group)];
      const bytes = weights[0]!.data.byteLength + weights[0]!.scale.byteLength;
      const x = fillRandom(new Float32Array(maxM * k), 3);
      const y = new Float32Array(maxM * n);
      for (const m of ms) {
        const cold = m === 1;
        if (cold) while (weights.length < coldCopies(bytes)) weights.push(copy(weights[0]!));
        let next = 0;
        const t = await medianMs(() => run(weights[cold ? next++ % weights.length : 0]!, kind.a8, x, m, y), s.timeMs);
        let baseline: { readGBps?: number; peakGflops?: number; peakGops?: number } = {};
        if (cold) {
          // The plain read of the same copies: their codes viewed as floats (data is a multiple of 4 bytes).
          const views = weights.map((w) => new Float32Array(w.data.buffer, w.data.byteOffset, w.data.byteLength / 4));
          const read = await medianMs(() => native().streamRead(views[next++ % views.length]!), s.timeMs);
          baseline = { readGBps: views[0]!.byteLength / (read.medianMs * 1e6) };
        } else if (kind.a8) {
          const peak = await native().int8Peak();
          if (peak !== null) baseline = { peakGops: peak };
        } else {
          baseline = { peakGflops: await native().sgemmPeak() };
        }
        s.onRow({
          kernel: name,
          m,
          k,
          n,
          ...(kind.bits === 4 ? { groupSize: group } : {}),
          medianMs: t.medianMs,
          gflops: (2 * m * n * k) / (t.medianMs * 1e6),
          weightGBps: bytes / (t.medianMs * 1e6),
          threads,
          isa,
          cold,
          ...baseline,
          samples: t.samples,
        });
        if (cold) weights.length = 1;
      }
    }
  };
}
