import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';

// The C++ test program built beside the addon (CMake target llmc_native_tests): it checks every
// ISA path of the core against float64 references, with no Node in between.
const exe = join(packageRoot(), 'build', 'tests', process.platform === 'win32' ? 'llmc_native_tests.exe' : 'llmc_native_tests');

describe('native test program', () => {
  it('passes its GEMM checks on every ISA level', () => {
    expect(existsSync(exe), `${exe} is missing: run npm run build:native`).toBe(true);
    const r = spawnSync(exe, ['check'], { encoding: 'utf8', timeout: 600_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  });
});
