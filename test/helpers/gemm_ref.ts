/** float64 reference GEMM (row-major BLAS semantics), and the check of a result against it. */

export interface RefResult {
  c: Float64Array;
  /** Σ_k |op(A)_ik · op(B)_kj| per element: the scale of its rounding error. */
  mag: Float64Array;
}

export function gemmRef(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  alpha: number,
  beta: number,
  c0?: Float32Array,
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
 * The first element outside |c - ref| <= budget·mag + 1e-30, or undefined when all pass. `budget`
 * is the kernel's check-mode error budget at this k: ERROR_BUDGET.f32(k) of bench/cases/index.ts.
 */
export function firstMismatch(c: Float32Array, ref: RefResult, budget: number): string | undefined {
  for (let i = 0; i < ref.c.length; i++) {
    const err = Math.abs(c[i]! - ref.c[i]!);
    if (!(err <= budget * ref.mag[i]! + 1e-30))
      return `element ${i}: got ${c[i]}, want ${ref.c[i]} (error ${err}, bound ${budget * ref.mag[i]!})`;
  }
  return undefined;
}
