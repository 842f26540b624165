/** Float64 references for the quantized kernels: dequantized weights, and the kernels' int8 activation quantization replicated bit for bit. */
import type { Rng } from '../../bench/random.js';

export interface RefWeight {
  n: number;
  k: number;
  /** Dequantized weight [n × k] in float64. */
  w: Float64Array;
  /** |terms| the kernels may sum per weight: scale · (|stored code| + zero), for error bounds. */
  mag: Float64Array;
}

/** Activations [m × k]: uniform with outlier channels (every 29th value × 25, as real layer inputs have), never zeros. */
export function activations(rng: Rng, m: number, k: number): Float32Array {
  const x = rng.float32(m * k);
  for (let i = 0; i < x.length; i += 29) x[i] = x[i]! * 25;
  return x;
}

/** Round half to even, as the kernels' float → int conversion does. */
function rint(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Per-row int8 quantization exactly as the A8 kernels do it (float32 arithmetic). */
export function quantizeRows(x: Float32Array, m: number, k: number): { xq: Float64Array; sx: Float64Array } {
  const xq = new Float64Array(m * k);
  const sx = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let amax = 0;
    let finite = true;
    for (let p = 0; p < k; p++) {
      const v = x[i * k + p]!;
      if (!Number.isFinite(v)) finite = false;
      amax = Math.max(amax, Math.abs(v));
    }
    if (!finite) {
      sx[i] = Number.NaN;
      continue;
    }
    const inv = amax > 0 ? Math.fround(127 / amax) : 0;
    sx[i] = Math.fround(amax / 127);
    for (let p = 0; p < k; p++) xq[i * k + p] = Math.max(-127, Math.min(127, rint(Math.fround(x[i * k + p]! * inv))));
  }
  return { xq, sx };
}

/**
 * Checks y against x·Wᵀ in float64 (x quantized first when a8), every element within
 * |y − want| <= budget(k)·Σ_p mag·|x| (`budget`: the kernel's ERROR_BUDGET of bench/cases/index.ts).
 * Returns the first mismatch as a message, or undefined. Rows with non-finite activations must be
 * all NaN (a8) or non-finite (float).
 */
export function checkMatmul(
  y: Float32Array,
  x: Float32Array,
  ref: RefWeight,
  m: number,
  a8: boolean,
  budget: (k: number) => number,
): string | undefined {
  const { n, k, w, mag } = ref;
  const q = a8 ? quantizeRows(x, m, k) : undefined;
  const tol = budget(k);
  for (let i = 0; i < m; i++) {
    let rowFinite = true;
    for (let p = 0; p < k; p++) if (!Number.isFinite(x[i * k + p]!)) rowFinite = false;
    for (let j = 0; j < n; j++) {
      const got = y[i * n + j]!;
      if (!rowFinite) {
        if (a8 ? !Number.isNaN(got) : Number.isFinite(got))
          return `row ${i} has a non-finite input but y[${i},${j}] = ${got}`;
        continue;
      }
      let want = 0;
      let bound = 0;
      for (let p = 0; p < k; p++) {
        const xv = q ? q.xq[i * k + p]! * q.sx[i]! : x[i * k + p]!;
        want += w[j * k + p]! * xv;
        bound += mag[j * k + p]! * Math.abs(xv);
      }
      bound *= tol;
      if (!(Math.abs(got - want) <= bound + 1e-30)) return `y[${i},${j}] = ${got}, want ${want} (bound ${bound})`;
    }
  }
  return undefined;
}

/** The reference of a weight given by its dense values w[j, p] (no codes: mag = |w|). */
export function denseRef(n: number, k: number, dense: (j: number, p: number) => number): RefWeight {
  const w = new Float64Array(n * k);
  const mag = new Float64Array(n * k);
  for (let j = 0; j < n; j++)
    for (let p = 0; p < k; p++) {
      w[j * k + p] = dense(j, p);
      mag[j * k + p] = Math.abs(w[j * k + p]!);
    }
  return { n, k, w, mag };
}

/** Random int8 codes in [-128, 127] with some at the edges, and positive scales (channel 1 all zero). */
export function randomInt8(rng: Rng, n: number, k: number): { q: Int8Array; scale: Float32Array; ref: RefWeight } {
  const q = new Int8Array(n * k);
  for (let i = 0; i < q.length; i++) {
    const r = rng.next();
    q[i] = r < 0.1 ? -128 : r < 0.2 ? 127 : Math.floor(rng.next() * 256) - 128;
  }
  const scale = new Float32Array(n);
  for (let j = 0; j < n; j++) scale[j] = j === 1 ? 0 : 0.001 + 0.02 * rng.next();
  if (n > 1) q.fill(0, k, 2 * k);
  const w = new Float64Array(n * k);
  const mag = new Float64Array(n * k);
  for (let j = 0; j < n; j++)
    for (let p = 0; p < k; p++) {
      w[j * k + p] = scale[j]! * q[j * k + p]!;
      mag[j * k + p] = scale[j]! * (Math.abs(q[j * k + p]! + 128) + 128);
    }
  return { q, scale, ref: { n, k, w, mag } };
}

/** Random int4 codes, group scales (one group all zero), zero points when asymmetric, a shuffled g_idx when actOrder. */
export function randomInt4(rng: Rng, n: number, k: number, group: number, symmetric: boolean, actOrder: boolean) {
  const G = k / group;
  const q = new Int8Array(n * k);
  for (let i = 0; i < q.length; i++) q[i] = symmetric ? Math.floor(rng.next() * 16) - 8 : Math.floor(rng.next() * 16);
  const scale = new Float32Array(n * G);
  for (let i = 0; i < scale.length; i++) scale[i] = 0.001 + 0.05 * rng.next();
  scale[0] = 0; // an all-zero group
  const zeroPoint = symmetric ? undefined : new Uint8Array(n * G).map(() => Math.floor(rng.next() * 16));
  let gIdx: Int32Array | undefined;
  if (actOrder) {
    gIdx = new Int32Array(k).map((_, p) => Math.floor(p / group));
    for (let p = k - 1; p > 0; p--) {
      const r = Math.floor(rng.next() * (p + 1));
      [gIdx[p], gIdx[r]] = [gIdx[r]!, gIdx[p]!];
    }
  }
  const w = new Float64Array(n * k);
  const mag = new Float64Array(n * k);
  for (let j = 0; j < n; j++)
    for (let p = 0; p < k; p++) {
      const t = gIdx ? gIdx[p]! : Math.floor(p / group);
      const s = scale[j * G + t]!;
      const z = zeroPoint ? zeroPoint[j * G + t]! : 0;
      w[j * k + p] = s * (q[j * k + p]! - z);
      mag[j * k + p] = s * (Math.abs(q[j * k + p]!) + 8 + z + 8);
    }
  return { q, scale, zeroPoint, gIdx, ref: { n, k, w, mag } as RefWeight };
}
