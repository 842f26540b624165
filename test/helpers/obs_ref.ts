/** Float64 references for the compression algorithms, and correlated test data. */
import type { Rng } from '../../bench/random.js';

/** Standard normal samples (Box-Muller). */
export function gaussian(rng: Rng, n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng.next(), 1e-12);
    const v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    a[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) a[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return a;
}

/**
 * Inputs X [tokens × cols] like a real layer's: correlated (mixed through a random matrix), a
 * skewed spectrum (channel scales decaying over two decades) and a few outlier channels.
 */
export function correlatedInputs(rng: Rng, tokens: number, cols: number): Float32Array {
  const latent = gaussian(rng, tokens * cols);
  const mix = gaussian(rng, cols * cols);
  const scale = new Float64Array(cols).map((_, j) => Math.exp((-4.6 * j) / cols));
  const x = new Float32Array(tokens * cols);
  for (let t = 0; t < tokens; t++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += latent[t * cols + k]! * scale[k]! * mix[k * cols + j]!;
      x[t * cols + j] = (s / Math.sqrt(cols)) * (j % 17 === 3 ? 8 : 1);
    }
  return x;
}

/** ‖(W − Ŵ)·Xᵀ‖² / ‖W·Xᵀ‖², in float64. */
export function layerError(
  w: Float32Array,
  wq: Float32Array,
  x: Float32Array,
  rows: number,
  cols: number,
  tokens: number,
): number {
  let num = 0;
  let den = 0;
  for (let r = 0; r < rows; r++)
    for (let t = 0; t < tokens; t++) {
      let a = 0;
      let b = 0;
      for (let j = 0; j < cols; j++) {
        const xv = x[t * cols + j]!;
        a += w[r * cols + j]! * xv;
        b += (w[r * cols + j]! - wq[r * cols + j]!) * xv;
      }
      num += b * b;
      den += a * a;
    }
  return num / den;
}

/** H with dead inputs set to 1 and damping added, as the algorithms use it (float64). */
export function dampedHessian(h: Float32Array, cols: number, damp: number): Float64Array {
  const d = Float64Array.from(h);
  let mean = 0;
  for (let j = 0; j < cols; j++) {
    if (d[j * cols + j] === 0) d[j * cols + j] = 1;
    mean += d[j * cols + j]!;
  }
  mean /= cols;
  for (let j = 0; j < cols; j++) d[j * cols + j] = d[j * cols + j]! + damp * Math.fround(mean);
  return d;
}

/** Inverse of a symmetric positive definite matrix (Gauss-Jordan, float64). */
export function inverse(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    const p = m[c * n + c]!;
    for (let j = 0; j < n; j++) {
      m[c * n + j] = m[c * n + j]! / p;
      inv[c * n + j] = inv[c * n + j]! / p;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c]!;
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        m[r * n + j] = m[r * n + j]! - f * m[c * n + j]!;
        inv[r * n + j] = inv[r * n + j]! - f * inv[c * n + j]!;
      }
    }
  }
  return inv;
}

/** ½·tr(ΔW·H·ΔWᵀ). */
export function quadraticLoss(dw: Float64Array, h: Float64Array, rows: number, cols: number): number {
  let s = 0;
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < cols; i++) {
      const di = dw[r * cols + i]!;
      if (di === 0) continue;
      let t = 0;
      for (let j = 0; j < cols; j++) t += h[i * cols + j]! * dw[r * cols + j]!;
      s += di * t;
    }
  return 0.5 * s;
}

/** GPTQ's quantizer in float32 arithmetic (Math.fround), round half to even. */
export function findParams(x: number[], maxq: number, sym: boolean): { scale: number; zero: number } {
  let xmin = 0;
  let xmax = 0;
  for (const v of x) {
    xmin = Math.min(xmin, v);
    xmax = Math.max(xmax, v);
  }
  if (sym) {
    xmax = Math.max(Math.abs(xmin), xmax);
    if (xmin < 0) xmin = -xmax;
  }
  if (xmin === 0 && xmax === 0) [xmin, xmax] = [-1, 1];
  const scale = Math.fround(Math.fround(xmax - xmin) / maxq);
  const zero = sym ? (maxq + 1) / 2 : rint(Math.fround(-xmin / scale));
  return { scale, zero };
}

export function rint(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function quantCode(x: number, p: { scale: number; zero: number }, maxq: number): number {
  return Math.min(maxq, Math.max(0, rint(Math.fround(x / p.scale)) + p.zero));
}

/**
 * GPTQ as a plain column-by-column OBS update with an explicit inverse Hessian (float64), columns
 * in order, groups' parameters from the current values when a group starts.
 */
export function gptqReference(
  w: Float32Array,
  h: Float32Array,
  rows: number,
  cols: number,
  bits: number,
  group: number,
  damp: number,
) {
  const maxq = 2 ** bits - 1;
  const hd = dampedHessian(h, cols, damp);
  let hinv = inverse(hd, cols);
  const W = Float64Array.from(w);
  for (let j = 0; j < cols; j++) if (h[j * cols + j] === 0) for (let r = 0; r < rows; r++) W[r * cols + j] = 0;
  const w0 = Float64Array.from(W);
  const q = new Float64Array(rows * cols);
  const codes = new Int32Array(rows * cols);
  const params: Array<{ scale: number; zero: number }> = new Array(rows);
  for (let i = 0; i < cols; i++) {
    if (i % group === 0)
      for (let r = 0; r < rows; r++) {
        const vals: number[] = [];
        for (let k = i; k < i + group; k++) vals.push(Math.fround(W[r * cols + k]!));
        params[r] = findParams(vals, maxq, true);
      }
    const d = hinv[i * cols + i]!;
    for (let r = 0; r < rows; r++) {
      const p = params[r]!;
      const code = quantCode(W[r * cols + i]!, p, maxq);
      codes[r * cols + i] = code - p.zero;
      q[r * cols + i] = p.scale * (code - p.zero);
      const err = (W[r * cols + i]! - q[r * cols + i]!) / d;
      for (let k = i + 1; k < cols; k++) W[r * cols + k] = W[r * cols + k]! - err * hinv[i * cols + k]!;
    }
    // Remove input i from the inverse Hessian of the remaining inputs.
    const next = new Float64Array(cols * cols);
    for (let a = 0; a < cols; a++)
      for (let b = 0; b < cols; b++)
        next[a * cols + b] = hinv[a * cols + b]! - (hinv[a * cols + i]! * hinv[i * cols + b]!) / d;
    hinv = next;
  }
  const dw = new Float64Array(rows * cols).map((_, k) => w0[k]! - q[k]!);
  return { q, codes, loss: quadraticLoss(dw, hd, rows, cols) };
}
