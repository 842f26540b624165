import { spawnSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { availableIsaLevels, cudaInfo, runtimeInfo, setIsa, setThreads } from '../../lib/index.js';
import { expectError } from '../helpers/errors.js';

describe('runtime', () => {
  it('describes the CPU, the ISA level in use and the pool', () => {
    const info = runtimeInfo();
    expect(['x86_64', 'arm64', 'unknown']).toContain(info.cpu.arch);
    expect(availableIsaLevels()).toContain(info.bestIsa);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.binary.path).toMatch(/\.node$/);
    if (info.cpu.arch === 'x86_64' && info.cpu.features.avx512vnni && info.cpu.features.avx512bw)
      expect(info.bestIsa).toBe('avx512');
  });

  it('switches ISA levels down and back, and refuses what the CPU lacks', async () => {
    const { bestIsa } = runtimeInfo();
    for (const level of availableIsaLevels()) {
      setIsa(level);
      expect(runtimeInfo().isa).toBe(level);
    }
    setIsa(bestIsa);
    const missing = runtimeInfo().cpu.arch === 'arm64' ? 'avx2' : 'neon';
    await expectError(() => setIsa(missing), 'LLMC_UNSUPPORTED');
    expect(() => setIsa('sse9' as never)).toThrowError(/Invalid isa: expected one of scalar, neon, avx2, avx512/);
    expect(runtimeInfo().isa).toBe(bestIsa);
  });

  it('takes its starting ISA level and pool size from LLMC_ISA and LLMC_THREADS', () => {
    const { path } = runtimeInfo().binary;
    const probe = `const i = require(${JSON.stringify(path)}).runtimeInfo(); console.log(i.isa + ' ' + i.threads)`;
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, ['-e', probe], { env: { ...process.env, ...env }, encoding: 'utf8' });
    for (const level of availableIsaLevels())
      expect(run({ LLMC_ISA: level, LLMC_THREADS: '1' }).stdout.trim()).toBe(`${level} 1`);
    const unknown = run({ LLMC_ISA: 'sse9' });
    expect(unknown.stdout.trim()).toBe(`${runtimeInfo().bestIsa} ${runtimeInfo().threads}`);
    expect(unknown.stderr).toMatch(/LLMC_ISA=sse9 is not one of scalar, neon, avx2, avx512/);
  });

  it('resizes the pool and validates the size', () => {
    const { threads } = runtimeInfo();
    setThreads(1);
    expect(runtimeInfo().threads).toBe(1);
    setThreads(threads);
    expect(runtimeInfo().threads).toBe(threads);
    for (const bad of [0, -1, 1.5, 2000, Number.NaN]) expect(() => setThreads(bad)).toThrowError(/Invalid threads/);
  });

  it('reports CUDA status without throwing', () => {
    const cuda = cudaInfo();
    expect(typeof cuda.compiled).toBe('boolean');
    if (cuda.deviceCount === 0) expect(cuda.error).toBeTruthy();
  });
});
