import { afterAll, describe, expect, it } from 'vitest';

import { availableIsaLevels, kernels, runtimeInfo, setIsa, setThreads } from '../../lib/index.js';
import { native } from '../../lib/native/loader.js';
import { GEMM_F32_CASES } from '../../bench/cases/gemm_f32.js';
import { casesFor, ERROR_BUDGET } from '../../bench/cases/index.js';
import { Rng } from '../../bench/random.js';
import { expectError } from '../helpers/errors.js';
import { firstMismatch, gemmRef } from '../helpers/gemm_ref.js';

const levels = availableIsaLevels();
const initial = runtimeInfo();
afterAll(() => {
  setIsa(initial.isa);
  setThreads(initial.threads);
});

// Check mode of the fp32 GEMM's case table (bench/cases/gemm_f32.ts), one entry per case and m.
const CASES = casesFor(GEMM_F32_CASES, 'check').flatMap((c) => c.ms.map((m) => ({ ...c, m })));
const PLAIN = CASES.filter((c) => !c.alphaBeta);
const ALPHA_BETA = CASES.filter((c) => c.alphaBeta);
const TRANS: Array<[boolean, boolean]> = [
  [false, true],
  [false, false],
  [true, false],
  [true, true],
];

async function check(rng: Rng, m: number, n: number, k: number, transA: boolean, transB: boolean, alpha = 1, beta = 0) {
  const a = rng.float32(m * k);
  const b = rng.float32(k * n);
  const c0 = beta !== 0 ? rng.float32(m * n) : undefined;
  const out = c0 ? Float32Array.from(c0) : new Float32Array(m * n).fill(Number.NaN); // beta = 0 must not read C
  const c = await kernels.gemm(a, b, { m, n, k }, { transA, transB, alpha, beta, out });
  expect(c).toBe(out);
  const ref = gemmRef(a, b, m, n, k, transA, transB, alpha, beta, c0);
  const bad = firstMismatch(c, ref, ERROR_BUDGET.f32(k));
  expect(
    bad,
    `m=${m} n=${n} k=${k} transA=${transA} transB=${transB} alpha=${alpha} beta=${beta}: ${bad}`,
  ).toBeUndefined();
}

describe.each(levels)('gemm on ISA level %s', (isa) => {
  it('matches a float64 reference on every element, all shapes, default layout (x·Wᵀ)', async () => {
    setIsa(isa);
    const rng = new Rng(11);
    for (const { m, n, k } of PLAIN) await check(rng, m, n, k, false, true);
  });

  it('matches the reference for every transpose combination', async () => {
    setIsa(isa);
    const rng = new Rng(12);
    for (const [ta, tb] of TRANS) {
      for (const { m, n, k } of PLAIN.filter(({ m, n, k }) => m * n * k < 40_000_000))
        await check(rng, m, n, k, ta, tb);
    }
  });

  it('applies alpha and beta', async () => {
    setIsa(isa);
    const rng = new Rng(13);
    for (const [ta, tb] of TRANS) {
      for (const { m, n, k } of ALPHA_BETA) {
        await check(rng, m, n, k, ta, tb, 0.75, 0.5);
        await check(rng, m, n, k, ta, tb, -2, 1);
        await check(rng, m, n, k, ta, tb, 1.5, 0);
      }
    }
  });

  it('gives the same result on 1 thread as on the whole pool', async () => {
    setIsa(isa);
    const rng = new Rng(14);
    const [m, n, k] = [67, 301, 515];
    const a = rng.float32(m * k);
    const b = rng.float32(n * k);
    const many = await kernels.gemm(a, b, { m, n, k });
    setThreads(1);
    try {
      const one = await kernels.gemm(a, b, { m, n, k });
      expect(firstMismatch(one, gemmRef(a, b, m, n, k, false, true, 1, 0), ERROR_BUDGET.f32(k))).toBeUndefined();
      expect(firstMismatch(many, gemmRef(a, b, m, n, k, false, true, 1, 0), ERROR_BUDGET.f32(k))).toBeUndefined();
    } finally {
      setThreads(initial.threads);
    }
  });
});

describe('gemm from many callers at once', () => {
  it('gives correct results when calls overlap (libuv runs them on several threads)', async () => {
    const rng = new Rng(21);
    const cases = Array.from({ length: 8 }, (_, i) => {
      const [m, n, k] = [i % 2 === 0 ? 3 : 150, 200 + 17 * i, 300 + 31 * i];
      return { m, n, k, a: rng.float32(m * k), b: rng.float32(n * k) };
    });
    const results = await Promise.all(cases.map((c) => kernels.gemm(c.a, c.b, c)));
    results.forEach((c, i) => {
      const { m, n, k, a, b } = cases[i]!;
      expect(
        firstMismatch(c, gemmRef(a, b, m, n, k, false, true, 1, 0), ERROR_BUDGET.f32(k)),
        `call ${i}`,
      ).toBeUndefined();
    });
  });
});

describe('gemm edge cases', () => {
  it('k = 0 gives beta·C, and empty m or n give empty results', async () => {
    const out = new Float32Array([1, 2, 3, 4, 5, 6]);
    await kernels.gemm(new Float32Array(0), new Float32Array(0), { m: 2, n: 3, k: 0 }, { beta: 0.5, out });
    expect([...out]).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);
    const zero = await kernels.gemm(new Float32Array(0), new Float32Array(0), { m: 2, n: 2, k: 0 });
    expect([...zero]).toEqual([0, 0, 0, 0]);
    expect((await kernels.gemm(new Float32Array(0), new Float32Array(12), { m: 0, n: 3, k: 4 })).length).toBe(0);
    expect((await kernels.gemm(new Float32Array(8), new Float32Array(0), { m: 2, n: 0, k: 4 })).length).toBe(0);
  });

  it('computes the documented example', async () => {
    const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const W = new Float32Array(12).fill(0.5);
    expect([...(await kernels.gemm(x, W, { m: 2, n: 3, k: 4 }))]).toEqual([5, 5, 5, 13, 13, 13]);
  });
});

describe('gemm argument validation', () => {
  const a = new Float32Array(6);
  const b = new Float32Array(12);
  async function expectInvalid(p: Promise<unknown>, argument: string) {
    const err = await expectError(p, 'LLMC_INVALID_ARGUMENT', argument);
    expect(err.message).toContain(argument);
  }

  it('rejects wrong lengths, naming the array and the expected length', async () => {
    await expectInvalid(kernels.gemm(a, b, { m: 2, n: 4, k: 4 }), 'a');
    await expectInvalid(kernels.gemm(new Float32Array(8), b, { m: 2, n: 4, k: 4 }), 'b');
    await expectError(
      kernels.gemm(a, b, { m: 2, n: 4, k: 4 }),
      'LLMC_INVALID_ARGUMENT',
      'a',
      /expected a Float32Array of length 8, got Float32Array of length 6/,
    );
  });

  it('rejects arrays that are not Float32Array', async () => {
    await expectInvalid(kernels.gemm([1, 2] as unknown as Float32Array, b, { m: 1, n: 1, k: 2 }), 'a');
    await expectInvalid(kernels.gemm(a, new Float64Array(12) as unknown as Float32Array, { m: 2, n: 4, k: 3 }), 'b');
  });

  it('rejects negative, fractional and non-number sizes', async () => {
    await expectInvalid(kernels.gemm(a, b, { m: -1, n: 4, k: 3 }), 'shape.m');
    await expectInvalid(kernels.gemm(a, b, { m: 2, n: 4.5, k: 3 }), 'shape.n');
    await expectInvalid(kernels.gemm(a, b, { m: 2, n: 4, k: '3' as unknown as number }), 'shape.k');
    await expectInvalid(kernels.gemm(a, b, null as unknown as { m: number; n: number; k: number }), 'shape');
  });

  it('rejects bad options', async () => {
    await expectInvalid(
      kernels.gemm(a, b, { m: 2, n: 4, k: 3 }, { transA: 1 as unknown as boolean }),
      'options.transA',
    );
    await expectInvalid(kernels.gemm(a, b, { m: 2, n: 4, k: 3 }, { alpha: Number.NaN }), 'options.alpha');
    await expectInvalid(kernels.gemm(a, b, { m: 2, n: 4, k: 3 }, { beta: 1 }), 'options.out');
    await expectInvalid(kernels.gemm(a, b, { m: 2, n: 4, k: 3 }, { out: new Float32Array(7) }), 'options.out');
    await expectInvalid(kernels.gemm(a, b, { m: 2, n: 4, k: 3 }, { out: a }), 'options.out');
    await expectInvalid(kernels.gemm(a, b, { m: 2, n: 4, k: 3 }, { transb: true } as never), 'options.transb');
  });

  it('the raw binding refuses out-of-bounds views with a typed error instead of crashing', async () => {
    const n = native();
    expect(() => n.gemmF32(a, b, new Float32Array(8), 2, 4, 4, false, true, 1, 0, 4, 4, 4)).toThrowError(
      /a has 6 elements, needs 8/,
    );
    expect(() => n.gemmF32(a, b, new Float32Array(8), 2, 4, 3, false, true, 1, 0, 3, 3, 5)).toThrowError(
      /c has 8 elements, needs 9/,
    );
    expect(() => n.gemmF32(a, b, new Float32Array(8), -2, 4, 3, false, true, 1, 0, 3, 3, 4)).toThrowError(
      /m must be an integer/,
    );
    let thrown: unknown;
    try {
      n.gemmF32(a, {} as Float32Array, new Float32Array(8), 2, 4, 3, false, true, 1, 0, 3, 3, 4);
    } catch (e) {
      thrown = e;
    }
    expect((thrown as { code?: string }).code).toBe('LLMC_INVALID_ARGUMENT');
    expect(String(thrown)).toMatch(/b must be a Float32Array/);
  });

  it('the core rejects leading dimensions smaller than the rows they stride', async () => {
    const err = await native()
      .gemmF32(a, b, new Float32Array(8), 2, 4, 3, false, true, 1, 0, 2, 3, 4)
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('LLMC_INVALID_ARGUMENT');
    expect(String((err as Error).message)).toMatch(/lda/);
  });
});
