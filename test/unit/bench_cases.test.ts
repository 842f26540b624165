// The kernel case tables of bench/cases/: what check mode (the kernel tests) and perf mode (bench) read.
import { describe, expect, it } from 'vitest';

import { GEMM_F32_CASES } from '../../bench/cases/gemm_f32.js';
import { GEMM_Q_CASES, GEMM_Q_KERNELS, gemmQKernel } from '../../bench/cases/gemm_q.js';
import { BENCH_MS, casesFor, ERROR_BUDGET, LAYER_SHAPES, perfCases, type Case } from '../../bench/cases/index.js';
import { SPARSE24_CASES, SPARSE24_KERNELS } from '../../bench/cases/sparse24.js';

const TABLES: Record<string, readonly Case[]> = {
  gemm_f32: GEMM_F32_CASES,
  gemm_q: GEMM_Q_CASES,
  sparse24: SPARSE24_CASES,
};
const plan = (cases: Case[]) => cases.map(({ k, n, ms }) => `${k}x${n}:${ms.join(',')}`);
const settings = { timeMs: 1, onRow: () => undefined };

describe('kernel case tables', () => {
  it('bench without --shapes / --m times the README layer shapes at m = 1, 16, 128, 512, shape by shape', () => {
    const readme = ['4096x4096:1,16,128,512', '4096x11008:1,16,128,512', '11008x4096:1,16,128,512'];
    expect(plan(perfCases(GEMM_F32_CASES, settings))).toEqual(readme);
    for (const { bits } of Object.values(GEMM_Q_KERNELS))
      expect(
        plan(
          perfCases(
            GEMM_Q_CASES.filter((c) => c.bits === bits),
            settings,
          ),
        ),
      ).toEqual(readme);
    for (const bits of Object.values(SPARSE24_KERNELS))
      expect(
        plan(
          perfCases(
            SPARSE24_CASES.filter((c) => c.bits === bits),
            settings,
          ),
        ),
      ).toEqual(readme);
  });

  it("--shapes and --m replace the tables' shapes and batch sizes", () => {
    expect(plan(perfCases(GEMM_F32_CASES, { ...settings, ms: [1, 3] }))).toEqual(
      LAYER_SHAPES.map(({ k, n }) => `${k}x${n}:1,3`),
    );
    expect(plan(perfCases(GEMM_F32_CASES, { ...settings, shapes: [{ k: 64, n: 48 }] }))).toEqual([
      `64x48:${BENCH_MS.join(',')}`,
    ]);
    const custom = perfCases(GEMM_Q_CASES, {
      ...settings,
      shapes: [
        { k: 64, n: 48 },
        { k: 33, n: 17 },
      ],
      ms: [2],
    });
    expect(plan(custom)).toEqual(['64x48:2', '33x17:2']);
    expect(custom.every((c) => c.group === undefined)).toBe(true); // the kernel's default group, not a table case's
  });

  it('every case is well formed: positive sizes, int4 groups that divide k, 2:4 k a multiple of 4, a mode', () => {
    for (const [family, table] of Object.entries(TABLES))
      for (const c of table) {
        const what = `${family} ${JSON.stringify(c)}`;
        expect(c.n > 0 && c.k > 0 && c.ms.length > 0 && c.ms.every((m) => m > 0), what).toBe(true);
        expect(c.modes.length, what).toBeGreaterThan(0);
        const group = (c as { group?: number | 'row' }).group;
        if (typeof group === 'number') expect(c.k % group, what).toBe(0);
        if (family === 'sparse24') expect(c.k % 4, what).toBe(0);
      }
    for (const table of Object.values(TABLES)) expect(casesFor(table, 'check').length).toBeGreaterThan(0);
  });

  it('names an error budget for every kernel the tables cover', () => {
    for (const kernel of ['f32', ...Object.keys(GEMM_Q_KERNELS), ...Object.keys(SPARSE24_KERNELS)]) {
      const budget = ERROR_BUDGET[kernel as keyof typeof ERROR_BUDGET];
      expect(budget, kernel).toBeTypeOf('function');
      expect(budget(4096)).toBeGreaterThan(0);
      expect(budget(4096)).toBeLessThan(1e-3);
    }
    expect(gemmQKernel(4, true)).toBe('w4a8');
  });
});
