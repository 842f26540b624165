import { afterAll, describe, expect, it } from 'vitest';

import { availableIsaLevels, kernels, runtimeInfo, setIsa } from '../../lib/index.js';
import { groupSizeOf } from '../../bench/cases/gemm_q.js';
import { casesFor, ERROR_BUDGET } from '../../bench/cases/index.js';
import { SPARSE24_CASES } from '../../bench/cases/sparse24.js';
import { Rng } from '../../bench/random.js';
import { activations, checkMatmul, denseRef } from '../helpers/quant_ref.js';
import { expectError } from '../helpers/errors.js';

const levels = availableIsaLevels();
const initial = runtimeInfo();
afterAll(() => setIsa(initial.isa));

function int(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng.next() * (hi - lo + 1));
}

/** Positions of a random 2:4 pattern: mostly 2 per group, some 1 or 0. */
function pattern(rng: Rng, n: number, k: number): boolean[] {
  const keep: boolean[] = new Array(n * k).fill(false);
  for (let j = 0; j < n; j++)
    for (let g = 0; g < k / 4; g++) {
      const r = rng.next();
      const count = r < 0.1 ? 0 : r < 0.2 ? 1 : 2;
      const a = int(rng, 0, 3);
      let b = int(rng, 0, 2);
      if (b >= a) b++;
      if (count >= 1) keep[j * k + 4 * g + a] = true;
      if (count >= 2) keep[j * k + 4 * g + b] = true;
    }
  return keep;
}

function sparseF32(rng: Rng, n: number, k: number): Float32Array {
  const keep = pattern(rng, n, k);
  const w = new Float32Array(n * k);
  for (let i = 0; i < w.length; i++) if (keep[i]) w[i] = (rng.next() < 0.5 ? -1 : 1) * (0.05 + rng.next());
  return w;
}

function sparseCodes(rng: Rng, n: number, k: number, bits: 8 | 4): Int8Array {
  const keep = pattern(rng, n, k);
  const q = new Int8Array(n * k);
  const [lo, hi] = bits === 8 ? [-128, 127] : [-8, 7];
  for (let i = 0; i < q.length; i++)
    if (keep[i]) {
      let v = int(rng, lo, hi - 1);
      if (v >= 0) v++;
      if (rng.next() < 0.2) v = rng.next() < 0.5 ? lo : hi;
      q[i] = v;
    }
  return q;
}

function scales(rng: Rng, count: number): Float32Array {
  const s = new Float32Array(count);
  for (let i = 0; i < count; i++) s[i] = 0.001 + 0.05 * rng.next();
  return s;
}

// Check mode of the 2:4 kernels' case table (bench/cases/sparse24.ts).
const CASES = casesFor(SPARSE24_CASES, 'check');

describe('pack24', () => {
  it('round-trips f32, int8 and int4 weights exactly (odd n, k edge sizes)', async () => {
    const rng = new Rng(11);
    for (const [n, k] of [
      [1, 4],
      [17, 12],
      [33, 100],
      [5, 256],
    ] as const) {
      const w = sparseF32(rng, n, k);
      const p = await kernels.pack24(w, { n, k });
      expect(p.bits).toBe(32);
      expect(p.byteLength).toBe(p.meta.byteLength + p.values.byteLength);
      expect(await p.unpack()).toEqual(w);
      const q8 = sparseCodes(rng, n, k, 8);
      const s8 = scales(rng, n);
      const p8 = await kernels.pack24(q8, s8, { n, k }, { bits: 8 });
      expect(p8).toBeInstanceOf(kernels.Packed24Int8);
      const b8 = await p8.unpack();
      expect(b8.q).toEqual(q8);
      expect(b8.scale).toEqual(s8);
    }
    for (const [n, k, gs] of [
      [3, 64, 32],
      [17, 256, 128],
      [5, 20, 'row'],
    ] as const) {
      const q4 = sparseCodes(rng, n, k, 4);
      const s4 = scales(rng, (n * k) / (gs === 'row' ? k : gs));
      const p4 = await kernels.pack24(q4, s4, { n, k }, { bits: 4, groupSize: gs });
      expect(p4).toBeInstanceOf(kernels.Packed24Int4);
      const b4 = await p4.unpack();
      expect(b4.q).toEqual(q4);
      expect(b4.scale).toEqual(s4);
    }
  });

  it('refuses a matrix that is not 2:4, naming the row and columns of the first violating group', async () => {
    const n = 4;
    const k = 16;
    const w = new Float32Array(n * k);
    w[2 * k + 8] = 1;
    w[2 * k + 9] = -1;
    w[2 * k + 11] = 0.5; // row 2, columns 8..11: three nonzeros
    w[3 * k + 0] = w[3 * k + 1] = w[3 * k + 2] = 1; // a later one
    await expectError(kernels.pack24(w, { n, k }), 'LLMC_INVALID_ARGUMENT', 'w', /row 2, columns 8\.\.11/);
    const q = new Int8Array(n * k);
    q[1 * k + 4] = q[1 * k + 5] = q[1 * k + 6] = q[1 * k + 7] = 3;
    await expectError(
      kernels.pack24(q, new Float32Array(n).fill(1), { n, k }, { bits: 8 }),
      'LLMC_INVALID_ARGUMENT',
      'q',
      /row 1, columns 4\.\.7/,
    );
    await expectError(
      kernels.pack24(q, new Float32Array(n).fill(1), { n, k }, { bits: 4, groupSize: 'row' }),
      'LLMC_INVALID_ARGUMENT',
      'q',
      /row 1, columns 4\.\.7/,
    );
  });

  it('validates its arguments', async () => {
    const w = new Float32Array(12);
    await expectError(kernels.pack24(w, { n: 2, k: 6 }), 'LLMC_INVALID_ARGUMENT', 'shape.k');
    await expectError(kernels.pack24(w, { n: 2, k: 8 }), 'LLMC_INVALID_ARGUMENT', 'w');
    await expectError(
      kernels.pack24(new Int8Array(8), new Float32Array(1), { n: 1, k: 8 }, { bits: 5 as 8 }),
      'LLMC_INVALID_ARGUMENT',
      'options.bits',
    );
    await expectError(
      kernels.pack24(new Int8Array(8), new Float32Array(1), { n: 1, k: 8 }, { bits: 4, groupSize: 32 }),
      'LLMC_INVALID_ARGUMENT',
      'options.groupSize',
    );
    await expectError(
      kernels.pack24(new Int8Array(8).fill(9), new Float32Array(1), { n: 1, k: 8 }, { bits: 4, groupSize: 'row' }),
      'LLMC_INVALID_ARGUMENT',
      'q[0]',
    );
    await expectError(
      kernels.pack24(new Int8Array(8), new Float32Array([NaN]), { n: 1, k: 8 }, { bits: 8 }),
      'LLMC_INVALID_ARGUMENT',
      'scale[0]',
    );
    await expectError(
      kernels.pack24(new Int8Array(8), new Float32Array(2), { n: 1, k: 8 }, { bits: 8 }),
      'LLMC_INVALID_ARGUMENT',
      'scale',
    );
    const p = await kernels.pack24(new Float32Array(8), { n: 1, k: 8 });
    await expectError(kernels.matmul(new Float32Array(7), p), 'LLMC_INVALID_ARGUMENT', 'x');
    await expectError(
      kernels.matmul(new Float32Array(8), p, { activations: 'int8' }),
      'LLMC_INVALID_ARGUMENT',
      'options.activations',
    );
    await expectError(
      kernels.matmul(new Float32Array(8), p, { path: 'fast' as 'auto' }),
      'LLMC_INVALID_ARGUMENT',
      'options.path',
    );
    await expectError(
      kernels.matmul(new Float32Array(8), p, { out: new Float32Array(2) }),
      'LLMC_INVALID_ARGUMENT',
      'options.out',
    );
    await expectError(kernels.matmul(new Float32Array(8), {} as never), 'LLMC_INVALID_ARGUMENT', 'weight');
  });
});

describe('2:4 exports', () => {
  it('compressed-tensors sparse-24-bitmask: hand-computed example', async () => {
    // One row, k = 16: groups keep (1, 3), (0, 1) [one nonzero], (2, 3), (0, 1) [no nonzero].
    const w = new Float32Array([0, 1.5, 0, -2, 3, 0, 0, 0, 0, 0, 7, -1, 0, 0, 0, 0]);
    const p = await kernels.pack24(w, { n: 1, k: 16 });
    const b = await p.toSparse24Bitmask();
    expect(b.shape).toEqual([1, 16]);
    // bits (LSB first): inputs 1, 3, 4, 5 -> 0b0011_1010 = 0x3A; inputs 10, 11, 12, 13 -> 0b0011_1100 = 0x3C
    expect(Array.from(b.bitmask)).toEqual([0x3a, 0x3c]);
    expect(Array.from(b.compressed)).toEqual([1.5, -2, 3, 0, 7, -1, 0, 0]);
    // NVIDIA metadata: group nibbles idx0 | idx1 << 2: (1,3) = 0xD, (0,1) = 0x4, (2,3) = 0xE, (0,1) = 0x4
    expect(Array.from(await p.toNvMetadata())).toEqual([0x4d, 0x4e]);
  });

  it('bitmask decompression (the spec rule) rebuilds the dense codes; k not a multiple of 8', async () => {
    const rng = new Rng(5);
    const [n, k] = [7, 20];
    const q = sparseCodes(rng, n, k, 8);
    const p = await kernels.pack24(q, scales(rng, n), { n, k }, { bits: 8 });
    const { compressed, bitmask } = await p.toSparse24Bitmask();
    expect(bitmask.length).toBe(n * 3);
    const dense = new Int8Array(n * k);
    let c = 0;
    for (let j = 0; j < n; j++)
      for (let i = 0; i < k; i++) if ((bitmask[j * 3 + (i >> 3)]! >> (i & 7)) & 1) dense[j * k + i] = compressed[c++]!;
    expect(c).toBe((n * k) / 2);
    expect(dense).toEqual(q);
  });
});

describe.each(levels)('2:4 matmul on ISA level %s', (isa) => {
  it('sparse24_f32 matches a float64 reference of the dense matrix on both paths', async () => {
    setIsa(isa);
    const rng = new Rng(21);
    for (const { n, k, ms } of CASES.filter((c) => c.bits === 32)) {
      const w = sparseF32(rng, n, k);
      const p = await kernels.pack24(w, { n, k });
      const ref = denseRef(n, k, (j, i) => w[j * k + i]!);
      for (const m of ms)
        for (const path of ['auto', 'sparse', 'dense'] as const) {
          const x = activations(rng, m, k);
          const y = await kernels.matmul(x, p, { path });
          const bad = checkMatmul(y, x, ref, m, false, ERROR_BUDGET.sparse24_f32);
          expect(bad, `${isa} f32 ${path} m=${m} n=${n} k=${k}: ${bad}`).toBeUndefined();
        }
    }
  });

  it('sparse24_w8a8 matches a float64 reference (activations quantized as the dense w8a8)', async () => {
    setIsa(isa);
    const rng = new Rng(22);
    for (const { n, k, ms } of CASES.filter((c) => c.bits === 8)) {
      const q = sparseCodes(rng, n, k, 8);
      const s = scales(rng, n);
      const p = await kernels.pack24(q, s, { n, k }, { bits: 8 });
      const ref = denseRef(n, k, (j, i) => s[j]! * q[j * k + i]!);
      for (const m of ms) {
        const x = activations(rng, m, k);
        if (m > 2) x[2 * k + 1] = Number.NaN;
        const y = await kernels.matmul(x, p);
        const bad = checkMatmul(y, x, ref, m, true, ERROR_BUDGET.sparse24_w8a8);
        expect(bad, `${isa} w8a8 m=${m} n=${n} k=${k}: ${bad}`).toBeUndefined();
      }
    }
  });

  it('sparse24_w4a16 matches a float64 reference: groups of 32 / 128 and one per row, both paths, Inf rows', async () => {
    setIsa(isa);
    const rng = new Rng(23);
    for (const c of CASES.filter((c) => c.bits === 4)) {
      const { n, k, ms } = c;
      const gs = groupSizeOf(c);
      const group = gs === 'row' ? k : gs;
      const q = sparseCodes(rng, n, k, 4);
      const s = scales(rng, (n * k) / group);
      const p = await kernels.pack24(q, s, { n, k }, { bits: 4, groupSize: gs });
      const G = k / group;
      const ref = denseRef(n, k, (j, i) => s[j * G + Math.floor(i / group)]! * q[j * k + i]!);
      for (const m of ms)
        for (const path of ['sparse', 'dense'] as const) {
          const x = activations(rng, m, k);
          if (m > 3) x[3 * k + 2] = Number.POSITIVE_INFINITY;
          const y = await kernels.matmul(x, p, { path });
          const bad = checkMatmul(y, x, ref, m, false, ERROR_BUDGET.sparse24_w4a16);
          expect(bad, `${isa} w4a16 ${path} m=${m} n=${n} k=${k} group=${gs}: ${bad}`).toBeUndefined();
        }
    }
  });
});
