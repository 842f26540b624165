import { describe, expect, it } from 'vitest';

import { native } from '../../lib/native/loader.js';
import { cudaUnavailable } from '../../lib/device.js';
import { compress, cudaInfo, kernels, resolveDevice } from '../../lib/index.js';
import { Rng } from '../../bench/random.js';
import { expectError } from '../helpers/errors.js';
import { correlatedInputs } from '../helpers/obs_ref.js';
import { randomInt4, randomInt8 } from '../helpers/quant_ref.js';

const noGpu = cudaUnavailable();
if (noGpu !== null) console.log(`GPU tests skipped: ${noGpu}`);

/** max |a − b| / max |b|: the error of a GPU result against the CPU kernel's, normalized. */
function relMaxError(a: Float32Array, b: Float32Array): number {
  let err = 0;
  let mag = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    mag = Math.max(mag, Math.abs(b[i]!));
  }
  return err / mag;
}

describe('device selection', () => {
  it("'cpu' is always the CPU; anything else than cpu / cuda / auto is refused", () => {
    expect(resolveDevice('options.device', 'cpu').device).toBe('cpu');
    expect(() => resolveDevice('options.device', 'gpu')).toThrow(/options\.device.*'cpu', 'cuda' or 'auto'/);
  });

  it.runIf(noGpu !== null)(
    "without a GPU, 'auto' picks the CPU and says why; 'cuda' is a typed error with the reason",
    async () => {
      const auto = resolveDevice('options.device', 'auto');
      expect(auto.device).toBe('cpu');
      expect(auto.note).toContain(noGpu!);
      const err = await expectError(
        () => resolveDevice('options.device', 'cuda'),
        'LLMC_UNSUPPORTED',
        'options.device',
      );
      expect(err.message).toContain(noGpu!);
    },
  );

  it.runIf(noGpu !== null)('without a GPU the CUDA entry points fail with LLMC_UNSUPPORTED, never crash', async () => {
    const rng = new Rng(3);
    const { q, scale } = randomInt8(rng, 8, 64);
    const w = await kernels.packInt8(q, scale, { n: 8, k: 64 });
    await expect(kernels.toCuda(w)).rejects.toMatchObject({ code: 'LLMC_UNSUPPORTED' });
    // The addon itself, under the TypeScript checks: a typed error from the core, not a crash.
    await expect(native().cudaUploadQ8(w.data, w.scale, 8, 64)).rejects.toMatchObject({ code: 'LLMC_UNSUPPORTED' });
    const h = new Float32Array(64 * 64);
    await expect(native().hessianUpdate(h, 64, 0, rng.float32(64 * 5), 5, 1)).rejects.toMatchObject({
      code: 'LLMC_UNSUPPORTED',
    });
    const W = rng.float32(4 * 64);
    const H = new Float32Array(64 * 64).map((_, i) => (i % 65 === 0 ? 1 : 0));
    await expect(kernels.gptq(W, H, { rows: 4, cols: 64 }, { groupSize: 32, device: 'cuda' })).rejects.toMatchObject({
      code: 'LLMC_UNSUPPORTED',
    });
    const auto = await kernels.gptq(W, H, { rows: 4, cols: 64 }, { groupSize: 32, device: 'auto' });
    const cpu = await kernels.gptq(W, H, { rows: 4, cols: 64 }, { groupSize: 32 });
    expect(auto.q).toEqual(cpu.q);
    await expect(
      kernels.hessian(rng.float32(64 * 3), { tokens: 3, features: 64 }, { device: 'cuda' }),
    ).rejects.toMatchObject({ code: 'LLMC_UNSUPPORTED' });
  });

  it.runIf(noGpu !== null)("compress() with device 'cuda' fails before any work", async () => {
    await expect(
      compress('no/such/model', { scheme: 'W8A16', quantize: { method: 'rtn' }, device: 'cuda' }),
    ).rejects.toMatchObject({ code: 'LLMC_UNSUPPORTED' });
  });

  it('cudaInfo says whether kernels were compiled and why no device is usable', () => {
    const info = cudaInfo();
    expect(typeof info.compiled).toBe('boolean');
    if (info.deviceCount === 0) expect(info.error).toBeTruthy();
  });
});

describe.skipIf(noGpu !== null)('CUDA kernels against the CPU kernels (normalized max error)', () => {
  const shapes = [
    { m: 1, n: 136, k: 256 },
    { m: 5, n: 72, k: 384 },
    { m: 16, n: 256, k: 1024 },
    { m: 33, n: 40, k: 128 },
  ];

  it.each(shapes)('w4a16 (sym, asym, act-order) at m=$m n=$n k=$k', async ({ m, n, k }) => {
    const rng = new Rng(m * 131 + n);
    for (const [symmetric, actOrder] of [
      [true, false],
      [false, false],
      [true, true],
    ] as const) {
      const r = randomInt4(rng, n, k, 64, symmetric, actOrder);
      const packed = await kernels.packInt4(
        r.q,
        r.scale,
        { n, k },
        { groupSize: 64, ...(r.zeroPoint ? { zeroPoint: r.zeroPoint } : {}), ...(r.gIdx ? { gIdx: r.gIdx } : {}) },
      );
      const x = rng.float32(m * k);
      const cpu = await kernels.matmul(x, packed);
      using w = await kernels.toCuda(packed);
      expect(w.kernel).toBe('w4a16');
      expect(relMaxError(await w.matmul(x), cpu)).toBeLessThan(4e-3);
    }
  });

  it.each(shapes)('w8a8 at m=$m n=$n k=$k', async ({ m, n, k }) => {
    const rng = new Rng(m * 7 + n);
    const r = randomInt8(rng, n, k);
    const packed = await kernels.packInt8(r.q, r.scale, { n, k });
    const x = rng.float32(m * k);
    const cpu = await kernels.matmul(x, packed, { activations: 'int8' });
    using w = await kernels.toCuda(packed);
    expect(w.kernel).toBe('w8a8');
    expect(relMaxError(await w.matmul(x), cpu)).toBeLessThan(1e-5);
  });

  it.each(shapes)('2:4 f16, int4 and int8 at m=$m n=$n k=$k', async ({ m, n, k }) => {
    const rng = new Rng(m * 17 + k);
    const dense = rng.float32(n * k);
    for (let g = 0; g < dense.length; g += 4) {
      dense[g + ((g >> 2) % 4)] = 0;
      dense[g + (((g >> 2) + 1) % 4)] = 0;
    }
    const x = rng.float32(m * k);
    const f = await kernels.pack24(dense, { n, k });
    const q8 = randomInt8(rng, n, k);
    for (let g = 0; g < q8.q.length; g += 4) {
      q8.q[g + ((g >> 2) % 4)] = 0;
      q8.q[g + (((g >> 2) + 2) % 4)] = 0;
    }
    const p8 = await kernels.pack24(q8.q, q8.scale, { n, k }, { bits: 8 });
    const q4 = randomInt4(rng, n, k, 128, true, false);
    for (let g = 0; g < q4.q.length; g += 4) {
      q4.q[g + 1] = 0;
      q4.q[g + 3] = 0;
    }
    const p4 = await kernels.pack24(q4.q, q4.scale, { n, k }, { bits: 4, groupSize: 128 });
    for (const [packed, kernel, tol] of [
      [f, 'sparse24_f16', 4e-3],
      [p4, 'sparse24_f16', 4e-3],
      [p8, 'sparse24_w8a8', 1e-5],
    ] as const) {
      const cpu = await kernels.matmul(x, packed);
      using w = await kernels.toCuda(packed);
      expect(w.kernel).toBe(kernel);
      expect(relMaxError(await w.matmul(x), cpu)).toBeLessThan(tol);
    }
  });

  it('dense f16 against the fp32 GEMM; dispose frees and later calls are typed errors', async () => {
    const rng = new Rng(5);
    const n = 96,
      k = 200,
      m = 7;
    const weight = rng.float32(n * k);
    const x = rng.float32(m * k);
    const cpu = await kernels.gemm(x, weight, { m, n, k });
    const w = await kernels.toCuda({ weight, shape: { n, k } });
    expect(w.deviceBytes).toBeGreaterThanOrEqual(n * k * 2);
    expect(relMaxError(await w.matmul(x), cpu)).toBeLessThan(4e-3);
    const times = await w.bench(m, 3);
    expect(times.length).toBe(3);
    w.dispose();
    w.dispose();
    expect(w.disposed).toBe(true);
    await expect(w.matmul(x)).rejects.toMatchObject({ code: 'LLMC_INVALID_ARGUMENT' });
  });

  it('Hessian and GPTQ / SparseGPT on the GPU agree with the CPU', async () => {
    const rng = new Rng(11);
    const rows = 48,
      cols = 256,
      tokens = 600;
    const X = correlatedInputs(rng, tokens, cols);
    const hc = await kernels.hessian(X, { tokens, features: cols });
    const hg = await kernels.hessian(X, { tokens, features: cols }, { device: 'cuda' });
    expect(relMaxError(hg, hc)).toBeLessThan(1e-5);
    const W = rng.float32(rows * cols);
    const a = await kernels.gptq(W, hc, { rows, cols }, { bits: 4, groupSize: 64, actOrder: 'static' });
    const b = await kernels.gptq(W, hc, { rows, cols }, { bits: 4, groupSize: 64, actOrder: 'static', device: 'cuda' });
    let same = 0;
    for (let i = 0; i < a.q.length; i++) same += a.q[i] === b.q[i] ? 1 : 0;
    expect(same / a.q.length).toBeGreaterThan(0.995);
    expect(Math.abs(b.loss - a.loss) / a.loss).toBeLessThan(1e-2);
    const s = await kernels.sparsegpt(W, hc, { rows, cols }, { structure: '2:4', device: 'cuda' });
    for (let g = 0; g < s.mask.length; g += 4)
      expect(s.mask[g]! + s.mask[g + 1]! + s.mask[g + 2]! + s.mask[g + 3]!).toBe(2);
    const sc = await kernels.sparsegpt(W, hc, { rows, cols }, { structure: '2:4' });
    expect(Math.abs(s.loss - sc.loss) / sc.loss).toBeLessThan(1e-2);
  });
});
