import { afterAll, describe, expect, it } from 'vitest';

import { availableIsaLevels, kernels, runtimeInfo, setIsa } from '../../lib/index.js';
import { gemmQKernel, GEMM_Q_CASES, groupSizeOf } from '../../bench/cases/gemm_q.js';
import { casesFor, ERROR_BUDGET } from '../../bench/cases/index.js';
import { Rng } from '../../bench/random.js';
import { activations, checkMatmul, randomInt4, randomInt8 } from '../helpers/quant_ref.js';
import { expectError } from '../helpers/errors.js';

const levels = availableIsaLevels();
const initial = runtimeInfo();
afterAll(() => setIsa(initial.isa));

// Check mode of the quantized GEMMs' case table (bench/cases/gemm_q.ts).
const INT8_CASES = casesFor(GEMM_Q_CASES, 'check').filter((c) => c.bits === 8);
const INT4_CASES = casesFor(GEMM_Q_CASES, 'check').filter((c) => c.bits === 4);

describe('packInt8 / packInt4', () => {
  it('round-trips int8 codes and scales exactly (odd n and k, -128 and 127)', async () => {
    const rng = new Rng(1);
    for (const [n, k] of [
      [1, 1],
      [17, 3],
      [33, 130],
    ] as const) {
      const { q, scale } = randomInt8(rng, n, k);
      const w = await kernels.packInt8(q, scale, { n, k });
      expect(w.byteLength).toBe(w.data.byteLength + w.scale.byteLength);
      const back = await w.unpack();
      expect(back.q).toEqual(q);
      expect(back.scale).toEqual(scale);
    }
  });

  it('round-trips int4 codes, scales, zero points and g_idx exactly', async () => {
    const rng = new Rng(2);
    for (const [n, k, gs] of [
      [5, 64, 32],
      [16, 256, 128],
      [19, 20, 'row'],
      [3, 192, 64],
    ] as const) {
      for (const symmetric of [true, false]) {
        for (const actOrder of gs === 'row' ? [false] : [false, true]) {
          const group = gs === 'row' ? k : gs;
          const { q, scale, zeroPoint, gIdx } = randomInt4(rng, n, k, group, symmetric, actOrder);
          const w = await kernels.packInt4(
            q,
            scale,
            { n, k },
            { groupSize: gs, ...(zeroPoint ? { zeroPoint } : {}), ...(gIdx ? { gIdx } : {}) },
          );
          expect(w.symmetric).toBe(symmetric);
          expect(w.perm !== null).toBe(actOrder);
          const back = await w.unpack();
          expect(back.q).toEqual(q);
          expect(back.scale).toEqual(scale);
          expect(back.zeroPoint).toEqual(zeroPoint);
          expect(back.gIdx).toEqual(gIdx);
        }
      }
    }
  });
});

describe.each(levels)('quantized matmul on ISA level %s', (isa) => {
  it('w8a16 and w8a8 match a float64 reference of the dequantized weights', async () => {
    setIsa(isa);
    const rng = new Rng(3);
    for (const { n, k, ms } of INT8_CASES) {
      const { q, scale, ref } = randomInt8(rng, n, k);
      const w = await kernels.packInt8(q, scale, { n, k });
      for (const m of ms) {
        const x = activations(rng, m, k);
        for (const a8 of [false, true]) {
          const kernel = gemmQKernel(8, a8);
          const y = await kernels.matmul(x, w, { activations: a8 ? 'int8' : 'float' });
          expect(y.length).toBe(m * n);
          const bad = checkMatmul(y, x, ref, m, a8, ERROR_BUDGET[kernel]);
          expect(bad, `${isa} ${kernel} m=${m} n=${n} k=${k}: ${bad}`).toBeUndefined();
        }
      }
    }
  });

  it('w4a16 and w4a8 match a float64 reference: groups, zero points, act-order, one group per row', async () => {
    setIsa(isa);
    const rng = new Rng(4);
    for (const c of INT4_CASES) {
      const { n, k, ms } = c;
      const gs = groupSizeOf(c);
      for (const symmetric of [true, false]) {
        for (const actOrder of gs === 'row' ? [false] : [false, true]) {
          const group = gs === 'row' ? k : gs;
          const { q, scale, zeroPoint, gIdx, ref } = randomInt4(rng, n, k, group, symmetric, actOrder);
          const w = await kernels.packInt4(
            q,
            scale,
            { n, k },
            { groupSize: gs, ...(zeroPoint ? { zeroPoint } : {}), ...(gIdx ? { gIdx } : {}) },
          );
          for (const m of ms) {
            const x = activations(rng, m, k);
            for (const a8 of [false, true]) {
              const kernel = gemmQKernel(4, a8);
              const y = await kernels.matmul(x, w, { activations: a8 ? 'int8' : 'float' });
              const bad = checkMatmul(y, x, ref, m, a8, ERROR_BUDGET[kernel]);
              expect(
                bad,
                `${isa} ${kernel} sym=${symmetric} actOrder=${actOrder} m=${m} n=${n} k=${k} g=${gs}: ${bad}`,
              ).toBeUndefined();
            }
          }
        }
      }
    }
  });

  it('gives NaN rows for NaN/Inf activations with int8 activations, IEEE propagation with float, other rows unaffected', async () => {
    setIsa(isa);
    const rng = new Rng(5);
    const n = 20,
      k = 64;
    const i8 = randomInt8(rng, n, k);
    const i4 = randomInt4(rng, n, k, 32, true, false);
    const w8 = await kernels.packInt8(i8.q, i8.scale, { n, k });
    const w4 = await kernels.packInt4(i4.q, i4.scale, { n, k }, { groupSize: 32 });
    const x = activations(rng, 6, k);
    x[1 * k + 7] = Number.NaN;
    x[3 * k + 60] = Number.POSITIVE_INFINITY;
    x[4 * k] = Number.NEGATIVE_INFINITY;
    for (const [w, ref] of [
      [w8, i8.ref],
      [w4, i4.ref],
    ] as const) {
      for (const a8 of [false, true]) {
        const y = await kernels.matmul(x, w, { activations: a8 ? 'int8' : 'float' });
        const kernel = gemmQKernel(w.bits, a8);
        const bad = checkMatmul(y, x, ref, 6, a8, ERROR_BUDGET[kernel]);
        expect(bad, `${isa} ${kernel}: ${bad}`).toBeUndefined();
      }
    }
  });

  it('handles all-zero activations and saturating int8 activations (one huge outlier)', async () => {
    setIsa(isa);
    const rng = new Rng(6);
    const n = 33,
      k = 128;
    const { q, scale, ref } = randomInt8(rng, n, k);
    const w = await kernels.packInt8(q, scale, { n, k });
    const x = activations(rng, 3, k);
    x.fill(0, 0, k); // row 0: zeros
    x[k + 5] = 1e6; // row 1: one outlier dominates the scale
    for (let p = 0; p < k; p++) x[2 * k + p] = p % 2 ? 3 : -3; // row 2: every code at ±127
    const y = await kernels.matmul(x, w, { activations: 'int8' });
    expect(Array.from(y.subarray(0, n)).every((v) => v === 0)).toBe(true);
    expect(checkMatmul(y, x, ref, 3, true, ERROR_BUDGET.w8a8)).toBeUndefined();
  });
});

describe('quantized kernels: bad input', () => {
  it('rejects mismatched lengths, shapes, group sizes, code ranges and array types with typed errors', async () => {
    const rng = new Rng(7);
    const { q, scale } = randomInt8(rng, 4, 64);
    await expectError(kernels.packInt8(q, scale, { n: 4, k: 63 }), 'LLMC_INVALID_ARGUMENT', 'q');
    await expectError(
      kernels.packInt8(new Uint8Array(256) as unknown as Int8Array, scale, { n: 4, k: 64 }),
      'LLMC_INVALID_ARGUMENT',
      'q',
    );
    await expectError(kernels.packInt8(q, new Float32Array(3), { n: 4, k: 64 }), 'LLMC_INVALID_ARGUMENT', 'scale');
    await expectError(
      kernels.packInt8(q, new Float32Array([1, Number.NaN, 1, 1]), { n: 4, k: 64 }),
      'LLMC_INVALID_ARGUMENT',
      'scale[1]',
    );
    await expectError(kernels.packInt8(q, scale, { n: 4, k: 64, m: 1 } as never), 'LLMC_INVALID_ARGUMENT', 'shape.m');
    const i4 = randomInt4(rng, 4, 64, 32, true, false);
    await expectError(
      kernels.packInt4(i4.q, i4.scale, { n: 4, k: 64 }, { groupSize: 48 as never }),
      'LLMC_INVALID_ARGUMENT',
      'options.groupSize',
    );
    await expectError(
      kernels.packInt4(i4.q, i4.scale, { n: 4, k: 64 }, { groupSize: 128 }),
      'LLMC_INVALID_ARGUMENT',
      'options.groupSize',
    );
    await expectError(kernels.packInt4(i4.q, i4.scale, { n: 4, k: 64 }), 'LLMC_INVALID_ARGUMENT', 'options.groupSize'); // default 128 does not divide 64
    const bad = Int8Array.from(i4.q);
    bad[5] = 8;
    await expectError(
      kernels.packInt4(bad, i4.scale, { n: 4, k: 64 }, { groupSize: 32 }),
      'LLMC_INVALID_ARGUMENT',
      'q[5]',
    );
    await expectError(
      kernels.packInt4(i4.q, i4.scale, { n: 4, k: 64 }, { groupSize: 32, zeroPoint: new Uint8Array(8).fill(16) }),
      'LLMC_INVALID_ARGUMENT',
    );
    const gIdx = new Int32Array(64); // every input in group 0: groups must hold 32 each
    await expectError(
      kernels.packInt4(i4.q, i4.scale, { n: 4, k: 64 }, { groupSize: 32, gIdx }),
      'LLMC_INVALID_ARGUMENT',
    );
    await expectError(
      kernels.packInt4(i4.q, i4.scale, { n: 4, k: 64 }, { groupSize: 32, gIdx: new Int32Array(63) }),
      'LLMC_INVALID_ARGUMENT',
      'options.gIdx',
    );

    const w = await kernels.packInt4(i4.q, i4.scale, { n: 4, k: 64 }, { groupSize: 32 });
    await expectError(kernels.matmul(new Float32Array(65), w), 'LLMC_INVALID_ARGUMENT', 'x');
    await expectError(kernels.matmul(new Float64Array(64) as unknown as Float32Array, w), 'LLMC_INVALID_ARGUMENT', 'x');
    await expectError(
      kernels.matmul(new Float32Array(64), w, { activations: 'int4' as never }),
      'LLMC_INVALID_ARGUMENT',
      'options.activations',
    );
    await expectError(
      kernels.matmul(new Float32Array(64), w, { out: new Float32Array(3) }),
      'LLMC_INVALID_ARGUMENT',
      'options.out',
    );
    await expectError(
      kernels.matmul(new Float32Array(64), { n: 4, k: 64 } as never),
      'LLMC_INVALID_ARGUMENT',
      'weight',
    );
    // m = 0 is an empty product
    expect((await kernels.matmul(new Float32Array(0), w)).length).toBe(0);
  });
});
