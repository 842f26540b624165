/**
 * `sparse24_f32`, `sparse24_w8a8`, `sparse24_w4a16`: 2:4 sparse weights (exactly 2 nonzeros in every
 * 4 inputs, random positions) against the dense kernel of the same precision on the 2:4 matrix's
 * dense equivalent, measured in the same run on the same shapes and m (the perf cases of
 * bench/cases/sparse24.ts): f32 → the fp32 GEMM, w8a8 → dense w8a8, w4a16 → dense w4a16 (symmetric groups of 128, 64 or 32 as the dense bench). Each row
 * carries `speedupVsDense` = dense ms / 2:4 ms and `denseMs`; `path` says which 2:4 path `matmul`
 * picked ('sparse': the 2:4 kernels, 'dense': the fp32 GEMM on panels expanded from the 2:4
 * values) and, for the float kernels, `otherPathMs` times the path it did not pick (the crossover).
 * m = 1 is cold for both (weights rotated over >= 256 MiB of copies), weightGBps counts packed bytes.
 */
import type { S24Weights } from '../lib/native/contract.js';
import { native } from '../lib/native/loader.js';
import { packInt4, packInt8, toPackedGroupSize, type PackedInt4, type PackedInt8 } from '../lib/kernels/quant.js';
import { pack24, type Packed24 } from '../lib/kernels/sparse24.js';
import { inputsPerGroup } from './cases/gemm_q.js';
import { perfCases } from './cases/index.js';
import { SPARSE24_CASES, SPARSE24_KERNELS } from './cases/sparse24.js';
import { coldCopies, medianMs, withArrays } from './measure.js';
import { fillRandom, PAIRS_OF_4, randomScales, Rng } from './random.js';
import type { BenchSettings } from './row.js';

type Kind = 32 | 8 | 4;

/** A 2:4 pattern with exactly 2 nonzeros per group (as pruning leaves it), nonzero values. */
function sparseValues(n: number, k: number, kind: Kind, seed: number): Float32Array | Int8Array {
  const out = kind === 32 ? new Float32Array(n * k) : new Int8Array(n * k);
  const rng = new Rng(seed >>> 0 || 1);
  const next = () => rng.u32();
  const hi = kind === 8 ? 127 : 7;
  for (let g = 0; g < (n * k) / 4; g++) {
    const [a, b] = PAIRS_OF_4[next() % 6]!;
    for (const i of [a, b]) {
      const r = next();
      out[4 * g + i] = kind === 32 ? r / 2 ** 31 - 1 || 0.5 : (r % hi) + 1 - (r & 0x100 ? hi + 1 : 0) || 1;
    }
  }
  return out;
}

interface Pair {
  sparse: Packed24;
  dense: Float32Array | PackedInt8 | PackedInt4;
}

async function makePair(kind: Kind, n: number, k: number, group: number): Promise<Pair> {
  const v = sparseValues(n, k, kind, 9);
  if (kind === 32) return { sparse: await pack24(v as Float32Array, { n, k }), dense: v as Float32Array };
  const q = v as Int8Array;
  if (kind === 8) {
    const scale = randomScales(n, 5);
    return { sparse: await pack24(q, scale, { n, k }, { bits: 8 }), dense: await packInt8(q, scale, { n, k }) };
  }
  const gs = toPackedGroupSize(group, k, 'bench');
  const scale = randomScales((n * k) / group, 5);
  return {
    sparse: await pack24(q, scale, { n, k }, { bits: 4, groupSize: gs }),
    dense: await packInt4(q, scale, { n, k }, { groupSize: gs }),
  };
}

function copySparse(w: Packed24): Packed24 {
  return withArrays(w, { meta: Uint8Array.from(w.meta), values: Uint8Array.from(w.values) });
}

function copyDense(w: Pair['dense']): Pair['dense'] {
  if (w instanceof Float32Array) return Float32Array.from(w);
  return withArrays(w, { data: Uint8Array.from(w.data) });
}

function runDense(
  w: Pair['dense'],
  kind: Kind,
  x: Float32Array,
  m: number,
  n: number,
  k: number,
  y: Float32Array,
): Promise<number> {
  if (w instanceof Float32Array) return native().gemmF32(x, w, y, m, n, k, false, true, 1, 0, k, k, n);
  if (w.bits === 8) return native().q8Matmul(w.data, w.scale, w.n, w.k, kind === 8, x, m, y);
  return native().q4Matmul(w.data, w.scale, w.zero, w.perm, w.n, w.k, w.groupSize, false, x, m, y);
}

function runSparse(w: Packed24, path: 0 | 1 | 2, x: Float32Array, m: number, y: Float32Array): Promise<number> {
  const args = w.args() as S24Weights;
  return native().s24Matmul(...args, path, x, m, y);
}

function bytesOf(w: Packed24): number {
  return w.byteLength;
}

export function benchSparse24(name: keyof typeof SPARSE24_KERNELS): (s: BenchSettings) => Promise<void> {
  const kind = SPARSE24_KERNELS[name];
  return async (s) => {
    const { isa, threads } = native().runtimeInfo();
    for (const c of perfCases(
      SPARSE24_CASES.filter((c) => c.bits === kind),
      s,
    )) {
      const { k, n, ms } = c;
      if (k % 4 !== 0) continue;
      const group = inputsPerGroup(c);
      const maxM = ms.reduce((a, m) => Math.max(a, m), 0);
      const first = await makePair(kind, n, k, group);
      const sparse = [first.sparse];
      const dense = [first.dense];
      const sBytes = bytesOf(first.sparse);
      const dBytes = first.dense instanceof Float32Array ? first.dense.byteLength : first.dense.byteLength;
      const x = fillRandom(new Float32Array(maxM * k), 3);
      const y = new Float32Array(maxM * n);
      for (const m of ms) {
        const cold = m === 1;
        if (cold) {
          while (sparse.length < coldCopies(sBytes)) sparse.push(copySparse(sparse[0]!));
          while (dense.length < coldCopies(dBytes)) dense.push(copyDense(dense[0]!));
        }
        let i = 0;
        let j = 0;
        const d = await medianMs(() => runDense(dense[cold ? i++ % dense.length : 0]!, kind, x, m, n, k, y), s.timeMs);
        const picked = native().s24Path(kind, m, n, k) as 1 | 2;
        const t = await medianMs(() => runSparse(sparse[cold ? j++ % sparse.length : 0]!, picked, x, m, y), s.timeMs);
        let other: number | undefined;
        if (kind !== 8) {
          const alt = picked === 1 ? 2 : 1;
          other = (await medianMs(() => runSparse(sparse[cold ? j++ % sparse.length : 0]!, alt, x, m, y), s.timeMs))
            .medianMs;
        }
        s.onRow({
          kernel: name,
          m,
          k,
          n,
          ...(kind === 4 ? { groupSize: group } : {}),
          medianMs: t.medianMs,
          gflops: (2 * m * n * k) / (t.medianMs * 1e6),
          weightGBps: sBytes / (t.medianMs * 1e6),
          threads,
          isa,
          cold,
          samples: t.samples,
          denseMs: d.medianMs,
          speedupVsDense: d.medianMs / t.medianMs,
          path: picked === 1 ? 'sparse' : 'dense',
          ...(other !== undefined ? { otherPathMs: other } : {}),
        });
        if (cold) {
          sparse.length = 1;
          dense.length = 1;
        }
      }
    }
  };
}
