import { describe, expect, it } from 'vitest';

import { native } from '../../lib/native/loader.js';
import { Rng } from '../../bench/random.js';

// Float64 references of the forward-pass ops on random data (odd sizes), every element checked.
const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) => {
  for (let i = 0; i < want.length; i++)
    expect(Math.abs(got[i]! - want[i]!), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(
      tol * (1 + Math.abs(want[i]!)),
    );
};

describe('forward-pass ops', () => {
  it('rmsnorm', async () => {
    const rng = new Rng(1);
    const rows = 7,
      dim = 33,
      x = rng.float32(rows * dim),
      w = rng.float32(dim),
      out = new Float32Array(rows * dim);
    await native().rmsnorm(x, w, rows, dim, 1e-5, out);
    const want = new Float64Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[r * dim + i]! ** 2;
      const s = 1 / Math.sqrt(ss / dim + 1e-5);
      for (let i = 0; i < dim; i++) want[r * dim + i] = x[r * dim + i]! * s * w[i]!;
    }
    close(out, want, 1e-6, 'rmsnorm');
  });

  it('rope, interleaved and half pairs, at arbitrary positions', async () => {
    const rng = new Rng(2);
    const rows = 5,
      heads = 3,
      hd = 8,
      theta = 10000;
    const pos = Int32Array.from([0, 1, 7, 100, 511]);
    for (const style of [0, 1] as const) {
      const x = rng.float32(rows * heads * hd),
        y = Float32Array.from(x);
      await native().rope(y, rows, heads, hd, pos, theta, style);
      const want = Float64Array.from(x);
      for (let r = 0; r < rows; r++)
        for (let h = 0; h < heads; h++)
          for (let i = 0; i < hd / 2; i++) {
            const a = pos[r]! * theta ** ((-2 * i) / hd);
            const base = (r * heads + h) * hd;
            const [i0, i1] = style === 0 ? [2 * i, 2 * i + 1] : [i, i + hd / 2];
            const v0 = x[base + i0]!,
              v1 = x[base + i1]!;
            want[base + i0] = v0 * Math.cos(a) - v1 * Math.sin(a);
            want[base + i1] = v0 * Math.sin(a) + v1 * Math.cos(a);
          }
      close(y, want, 1e-5, `rope style ${style}`);
    }
  });

  it('causal grouped-query attention, with and without cached keys (tk > tq)', async () => {
    const rng = new Rng(3);
    const batch = 2,
      heads = 6,
      kvHeads = 2,
      hd = 5;
    for (const [tq, tk] of [
      [7, 7],
      [3, 9],
      [1, 4],
    ] as const) {
      const q = rng.float32(batch * tq * heads * hd),
        k = rng.float32(batch * tk * kvHeads * hd),
        v = rng.float32(batch * tk * kvHeads * hd);
      const out = new Float32Array(batch * tq * heads * hd);
      await native().attention(q, k, v, out, batch, tq, tk, heads, kvHeads, hd);
      const want = new Float64Array(out.length);
      for (let b = 0; b < batch; b++)
        for (let h = 0; h < heads; h++) {
          const g = Math.floor(h / (heads / kvHeads));
          for (let i = 0; i < tq; i++) {
            const visible = tk - tq + i + 1;
            const s: number[] = [];
            for (let j = 0; j < visible; j++) {
              let d = 0;
              for (let e = 0; e < hd; e++)
                d += q[((b * tq + i) * heads + h) * hd + e]! * k[((b * tk + j) * kvHeads + g) * hd + e]!;
              s.push(d / Math.sqrt(hd));
            }
            const mx = Math.max(...s);
            const p = s.map((z) => Math.exp(z - mx));
            const z = p.reduce((a, c) => a + c, 0);
            for (let e = 0; e < hd; e++) {
              let o = 0;
              for (let j = 0; j < visible; j++) o += (p[j]! / z) * v[((b * tk + j) * kvHeads + g) * hd + e]!;
              want[((b * tq + i) * heads + h) * hd + e] = o;
            }
          }
        }
      close(out, want, 1e-5, `attention tq=${tq} tk=${tk}`);
    }
  });

  it('swiglu and nll', async () => {
    const rng = new Rng(4);
    const gate = rng.float32(101).map((v) => v * 6),
      up = rng.float32(101),
      out = new Float32Array(101);
    await native().swiglu(gate, up, out, 101);
    close(
      out,
      Array.from(gate, (g, i) => (g / (1 + Math.exp(-g))) * up[i]!),
      1e-6,
      'swiglu',
    );
    const rows = 4,
      vocab = 37,
      logits = rng.float32(rows * vocab).map((v) => v * 10);
    const targets = Int32Array.from([3, -1, 36, 0]),
      nll = new Float64Array(rows);
    await native().nll(logits, rows, vocab, targets, nll);
    for (let r = 0; r < rows; r++) {
      if (targets[r]! < 0) {
        expect(nll[r]).toBe(0);
        continue;
      }
      const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
      expect(Math.abs(nll[r]! - (lse - row[targets[r]!]!))).toBeLessThan(1e-9);
    }
    await expect(native().nll(logits, rows, vocab, Int32Array.from([0, 0, 37, 0]), nll)).rejects.toThrow(
      /not below vocab/,
    );
  });
});
