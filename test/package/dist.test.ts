// The built package (npm run build:ts writes dist/): the bin and the CommonJS entry, as installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../helpers/paths.js';

describe('llm-compress (CLI basics)', () => {
  it('runs as the installed bin (the built dist/cli/main.js)', () => {
    const bin = join(REPO_ROOT, 'dist', 'cli', 'main.js');
    expect(existsSync(bin), `${bin} is missing: run npm run build`).toBe(true);
    const r = spawnSync(process.execPath, [bin, 'doctor'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^llm-compress-native \d+\.\d+\.\d+/);
    const bad = spawnSync(process.execPath, [bin, 'bench', '--kernels', 'nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
  });

  it('the CommonJS entry loads and exposes the same API', () => {
    const cjs = join(REPO_ROOT, 'dist', 'index.cjs');
    const r = spawnSync(
      process.execPath,
      ['-e', `const l = require(${JSON.stringify(cjs)}); console.log(typeof l.kernels.gemm, l.runtimeInfo().isa)`],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^function (scalar|neon|avx2|avx512)/);
  });
});
