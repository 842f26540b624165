import { describe, expect, it } from 'vitest';

import { cudaUnavailable } from '../../lib/device.js';
import { cli } from '../helpers/cli.js';

// The CLI without models (the model tests are in test/model/cli.test.ts; the built bin in test/package).

describe('llm-compress doctor', () => {
  it('prints platform, binary, CPU, ISA, threads and CUDA', async () => {
    const r = await cli('doctor');
    expect(r.code).toBe(0);
    for (const label of ['platform', 'binary', 'cpu', 'features', 'isa', 'threads', 'cuda'])
      expect(r.out).toMatch(new RegExp(`^${label}\\s+\\S`, 'm'));
    expect(r.out).toMatch(/llmc\.node \(local build, version \d+\.\d+\.\d+/);
  });

  it('prints one JSON object with --json', async () => {
    const r = await cli('doctor', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.package.name).toBe('llm-compress-native');
    expect(report.binary.source).toBe('local build');
    expect(['scalar', 'neon', 'avx2', 'avx512']).toContain(report.isa.inUse);
    expect(report.threads.pool).toBeGreaterThanOrEqual(1);
    expect(typeof report.cuda.compiled).toBe('boolean');
    expect(Array.isArray(report.cpu.features)).toBe(true);
  });
});

describe('llm-compress bench', () => {
  it('prints the JSON-lines contract for f32', async () => {
    const r = await cli('bench', '--kernels', 'f32', '--m', '1,3', '--shapes', '64x48,33x17', '--time', '20', '--json');
    expect(r.code).toBe(0);
    const rows = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((x) => [x.m, x.k, x.n])).toEqual([
      [1, 64, 48],
      [3, 64, 48],
      [1, 33, 17],
      [3, 33, 17],
    ]);
    for (const row of rows) {
      expect(row.kernel).toBe('f32');
      for (const key of ['medianMs', 'gflops', 'weightGBps']) expect(row[key]).toBeGreaterThan(0);
      expect(row.threads).toBeGreaterThanOrEqual(1);
      expect(row.cold).toBe(row.m === 1);
      if (row.m === 1) expect(row.readGBps).toBeGreaterThan(0);
      else expect(row.peakGflops).toBeGreaterThan(0);
      expect(row.gflops).toBeCloseTo((2 * row.m * row.n * row.k) / (row.medianMs * 1e6), 6);
      expect(row.weightGBps).toBeCloseTo((4 * row.n * row.k) / (row.medianMs * 1e6), 6);
    }
  });

  it('prints the JSON-lines contract for the quantized kernels, with their baselines', async () => {
    const r = await cli(
      'bench',
      '--kernels',
      'w8a8,w4a16',
      '--m',
      '1,3',
      '--shapes',
      '64x48',
      '--time',
      '20',
      '--json',
    );
    expect(r.code).toBe(0);
    const rows = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((x) => [x.kernel, x.m, x.k, x.n])).toEqual([
      ['w8a8', 1, 64, 48],
      ['w8a8', 3, 64, 48],
      ['w4a16', 1, 64, 48],
      ['w4a16', 3, 64, 48],
    ]);
    for (const row of rows) {
      for (const key of ['medianMs', 'gflops', 'weightGBps']) expect(row[key]).toBeGreaterThan(0);
      expect(row.groupSize).toBe(row.kernel === 'w4a16' ? 64 : undefined); // 64 divides k = 64, 128 does not
      expect(row.cold).toBe(row.m === 1);
      if (row.m === 1) expect(row.readGBps).toBeGreaterThan(0);
      else if (row.kernel === 'w4a16') expect(row.peakGflops).toBeGreaterThan(0);
      else if (row.isa === 'avx512') expect(row.peakGops).toBeGreaterThan(0); // the int8 peak needs VNNI
      expect(row.gflops).toBeCloseTo((2 * row.m * row.n * row.k) / (row.medianMs * 1e6), 6);
    }
  });

  it('rejects unknown kernels and malformed lists with exit code 1', async () => {
    let r = await cli('bench', '--kernels', 'f32,nope', '--json');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Invalid --kernels: expected a comma-separated list of f32.*got "nope"/);
    r = await cli('bench', '--m', '1,x');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Invalid --m/);
    r = await cli('bench', '--shapes', '4096by4096');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Invalid --shapes/);
    r = await cli('bench', '--device', 'tpu');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Invalid --device: expected cpu or cuda/);
  });

  it.runIf(cudaUnavailable() === null)('bench --device cuda prints GPU rows against the dense f16 kernel', async () => {
    const r = await cli(
      'bench',
      '--device',
      'cuda',
      '--kernels',
      'w4a16,sparse24_f16,f16',
      '--m',
      '1,16',
      '--shapes',
      '1024x2048',
      '--time',
      '20',
      '--json',
    );
    expect(r.code, r.err).toBe(0);
    const rows = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((x) => `${x.kernel}:${x.m}`)).toEqual([
      'cuda_w4a16:1',
      'cuda_sparse24_f16:1',
      'cuda_f16:1',
      'cuda_w4a16:16',
      'cuda_sparse24_f16:16',
      'cuda_f16:16',
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({ k: 1024, n: 2048, isa: 'cuda', device: expect.any(String) });
      expect(row.medianMs).toBeGreaterThan(0);
      expect(row.speedupVsDense).toBeCloseTo(row.denseMs / row.medianMs, 6);
    }
    const g = await cli(
      'bench',
      '--device',
      'cuda',
      '--kernels',
      'gptq',
      '--shapes',
      '256x128',
      '--time',
      '20',
      '--json',
    );
    expect(g.code, g.err).toBe(0);
    const row = JSON.parse(g.out.trim());
    expect(row).toMatchObject({ kernel: 'cuda_gptq', k: 256, n: 128, isa: 'cuda' });
    expect(row.speedupVsCpu).toBeCloseTo(row.cpuMs / row.medianMs, 6);
  });

  it.runIf(cudaUnavailable() !== null)(
    '--device cuda without a GPU exits 1 and says why (bench, compress, eval)',
    async () => {
      const why = cudaUnavailable()!;
      let r = await cli('bench', '--device', 'cuda');
      expect(r.code).toBe(1);
      expect(r.err).toContain(why);
      r = await cli('compress', 'no/such/model', '-o', 'unused-output', '--scheme', 'W8A16', '--device', 'cuda');
      expect(r.code).toBe(1);
      expect(r.err).toContain(why);
      r = await cli('eval', 'no/such/model', '--data', 'x.txt', '--device', 'cuda');
      expect(r.code).toBe(1);
      expect(r.err).toContain(why);
    },
  );
});

describe('llm-compress (CLI basics)', () => {
  it('exits 1 on an unknown command', async () => {
    const r = await cli('frobnicate');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/unknown command/);
  });
});
