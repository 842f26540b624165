import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it, vi } from 'vitest';

import { packageRoot } from '../../lib/native/loader.js';
import { cudaUnavailable } from '../../lib/device.js';
import { main } from '../../lib/cli/program.js';

/** Runs the CLI in-process and captures what it writes. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    const code = await main(['node', 'llm-compress', ...args]);
    return { code, out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}

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
    const rows = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => [x.m, x.k, x.n])).toEqual([[1, 64, 48], [3, 64, 48], [1, 33, 17], [3, 33, 17]]);
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
    const r = await cli('bench', '--kernels', 'w8a8,w4a16', '--m', '1,3', '--shapes', '64x48', '--time', '20', '--json');
    expect(r.code).toBe(0);
    const rows = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => [x.kernel, x.m, x.k, x.n])).toEqual([['w8a8', 1, 64, 48], ['w8a8', 3, 64, 48], ['w4a16', 1, 64, 48], ['w4a16', 3, 64, 48]]);
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
    const r = await cli('bench', '--device', 'cuda', '--kernels', 'w4a16,sparse24_f16,f16', '--m', '1,16', '--shapes', '1024x2048', '--time', '20', '--json');
    expect(r.code, r.err).toBe(0);
    const rows = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => `${x.kernel}:${x.m}`)).toEqual(['cuda_w4a16:1', 'cuda_sparse24_f16:1', 'cuda_f16:1', 'cuda_w4a16:16', 'cuda_sparse24_f16:16', 'cuda_f16:16']);
    for (const row of rows) {
      expect(row).toMatchObject({ k: 1024, n: 2048, isa: 'cuda', device: expect.any(String) });
      expect(row.medianMs).toBeGreaterThan(0);
      expect(row.speedupVsDense).toBeCloseTo(row.denseMs / row.medianMs, 6);
    }
    const g = await cli('bench', '--device', 'cuda', '--kernels', 'gptq', '--shapes', '256x128', '--time', '20', '--json');
    expect(g.code, g.err).toBe(0);
    const row = JSON.parse(g.out.trim());
    expect(row).toMatchObject({ kernel: 'cuda_gptq', k: 256, n: 128, isa: 'cuda' });
    expect(row.speedupVsCpu).toBeCloseTo(row.cpuMs / row.medianMs, 6);
  });

  it.runIf(cudaUnavailable() !== null)('--device cuda without a GPU exits 1 and says why (bench, compress, eval)', async () => {
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
  });
});

describe('llm-compress (CLI basics)', () => {
  it('exits 1 on an unknown command', async () => {
    const r = await cli('frobnicate');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/unknown command/);
  });

  it('runs as the installed bin (the built dist/cli/main.js)', () => {
    const bin = join(packageRoot(), 'dist', 'cli', 'main.js');
    expect(existsSync(bin), `${bin} is missing: run npm run build`).toBe(true);
    const r = spawnSync(process.execPath, [bin, 'doctor'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^llm-compress-native \d+\.\d+\.\d+/);
    const bad = spawnSync(process.execPath, [bin, 'bench', '--kernels', 'nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
  });

  it('the CommonJS entry loads and exposes the same API', () => {
    const cjs = join(packageRoot(), 'dist', 'index.cjs');
    const r = spawnSync(process.execPath, ['-e', `const l = require(${JSON.stringify(cjs)}); console.log(typeof l.kernels.gemm, l.runtimeInfo().isa)`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^function (scalar|neon|avx2|avx512)/);
  });
});

const stories = join(packageRoot(), '..', 'shared', 'models', 'stories260K');
const evalText = join(packageRoot(), '..', 'shared', 'text', 'tinystories_val.txt');

describe.skipIf(!existsSync(stories) || !existsSync(evalText))('llm-compress info / eval / generate (stories260K)', () => {
  it('info describes the model', async () => {
    const r = await cli('info', join(stories, 'stories260K.bin'), '--json');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.out);
    expect(info.format).toBe('llama2c');
    expect(info.config).toMatchObject({ dim: 64, nLayers: 5, vocabSize: 512 });
    expect(info.linears).toHaveLength(5 * 7 + 1);
    const text = await cli('info', join(stories, 'stories260K.gguf'));
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/format gguf, LLaMA: dim 64, hidden 172, 5 layers, 8 heads \(4 kv\)/);
  });

  it('eval prints the protocol numbers as JSON, with KL against a reference', async () => {
    const r = await cli('eval', join(stories, 'stories260K.bin'), '--data', evalText, '--paragraphs', '0:200', '--reference', join(stories, 'stories260K.gguf'), '--json');
    expect(r.code, r.err).toBe(0);
    const q = JSON.parse(r.out);
    expect(Math.abs(q.nll - 1.40816) / 1.40816).toBeLessThan(1e-4);
    expect(Object.keys(q).sort()).toEqual(['bitsPerByte', 'bytes', 'kl', 'nll', 'perplexity', 'tokens', 'top1']);
    expect(q.kl).toBeLessThan(1e-9); // the GGUF holds the same weights
    expect(q.top1).toBe(1);
  });

  it('generate prints the greedy continuation, {text, tokens} with --json; bad options exit 1', async () => {
    const r = await cli('generate', join(stories, 'stories260K.bin'), '--max-tokens', '12', '--json');
    expect(r.code).toBe(0);
    const g = JSON.parse(r.out);
    expect(g.text.startsWith('Once upon a time, there was')).toBe(true);
    expect(g.tokens).toHaveLength(12);
    const s = await cli('generate', join(stories, 'stories260K.bin'), '--prompt', 'Once upon a time', '--max-tokens', '8', '--temperature', '0.8', '--seed', '7');
    expect(s.code).toBe(0);
    expect(s.out.startsWith('Once upon a time')).toBe(true);
    expect((await cli('generate', join(stories, 'stories260K.bin'), '--top-p', '2')).code).toBe(1);
    expect((await cli('eval', join(stories, 'missing.bin'), '--data', evalText)).code).toBe(1);
  });
});

const tiny656 = join(packageRoot(), '..', 'shared', 'models', 'tinystories-656k');

describe.skipIf(!existsSync(tiny656) || !existsSync(evalText))('llm-compress compress (tinystories-656k)', () => {
  it('writes a folder that eval reads back; --json prints progress events then the report; an existing output is refused', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const out = join(mkdtempSync(join(tmpdir(), 'llmc-cli-')), 'w4');
    const r = await cli('compress', tiny656, '-o', out, '--no-prepend-space', '--scheme', 'W4A16', '--group-size', '32', '--calib', evalText,
      '--calib-paragraphs', '1000:4300', '--samples', '16', '--eval-data', evalText, '--eval-paragraphs', '0:50', '--json');
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
    const events = lines.slice(0, -1);
    // Stages in order: the original evaluated, 14 layers compressed, the folder written, the result evaluated.
    const stages = events.map((e) => (e.phase ? `${e.stage}:${e.phase}` : e.stage)).filter((s, i, a) => s !== a[i - 1]);
    expect(stages).toEqual(['device', 'evaluate:before', 'compress', 'write', 'evaluate:after']);
    const layers = events.filter((e) => e.stage === 'compress');
    expect(layers.map((e) => e.done)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(layers.every((e) => e.total === 14 && typeof e.module === 'string' && Number.isFinite(e.loss))).toBe(true);
    expect(events.every((e) => e.done <= e.total)).toBe(true);
    const report = lines.at(-1);
    expect(report.layers).toHaveLength(14);
    const e = await cli('eval', out, '--no-prepend-space', '--data', evalText, '--paragraphs', '0:50', '--json');
    expect(e.code, e.err).toBe(0);
    expect(JSON.parse(e.out).bitsPerByte).toBe(report.quality.after.bitsPerByte);
    expect((await cli('compress', tiny656, '-o', out, '--scheme', 'W4A16')).code).toBe(1);
    expect((await cli('compress', tiny656, '-o', `${out}2`, '--scheme', 'W4A16', '--format', 'gguf')).code).toBe(1);
  });
});
