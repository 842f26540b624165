/** float64 reference GEMM (row-major BLAS semantics) and an error bound for fp32 kernels. */

export interface RefResult {
  c: Float64Array;
  /** Σ_k |op(A)_ik · op(B)_kj| per element: the scale of its rounding error. */
  mag: Float64Array;
}

export function gemmRef(
  a: Float32Array, b: Float32Array, m: number, n: number, k: number,
  transA: boolean, transB: boolean, alpha: number, beta: number, c0?: Float32Array,
): RefResult {
  const c = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  const arow = new Float64Array(k);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) arow[p] = transA ? a[p * m + i]! : a[i * k + p]!;
    for (let j = 0; j < n; j++) {
      let s = 0;
      let g = 0;
      for (let p = 0; p < k; p++) {
        const t = arow[p]! * (transB ? b[j * k + p]! : b[p * n + j]!);
        s += t;
        g += Math.abs(t);
      }
      const prev = beta !== 0 && c0 ? c0[i * n + j]! : 0;
      c[i * n + j] = alpha * s + beta * prev;
      mag[i * n + j] = Math.abs(alpha) * g + Math.abs(beta * prev);
    }
  }
  return { c, mag };
}

/**
 * The first element outside |c - ref| <= 4·eps32·sqrt(k+1)·mag + 1e-30, or undefined when all pass.
 * sqrt(k) is the expected growth of fp32 rounding in a sum of k products (blocked and FMA sums grow
 * slower than the worst-case k·eps).
 */
export function firstMismatch(c: Float32Array, ref: RefResult, k: number): string | undefined {
  const eps = 2 ** -23;
  const tol = 4 * eps * Math.sqrt(k + 1);
  for (let i = 0; i < ref.c.length; i++) {
    const err = Math.abs(c[i]! - ref.c[i]!);
    if (!(err <= tol * ref.mag[i]! + 1e-30)) return `element ${i}: got ${c[i]}, want ${ref.c[i]} (error ${err}, bound ${tol * ref.mag[i]!})`;
  }
  return undefined;
}
