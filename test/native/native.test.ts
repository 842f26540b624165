import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/native/loader.js';
import { scaledTimeout } from '../helpers/timeout.js';

// The C++ test programs built beside the addon (CMake: one per test/native/*_test.cpp): each checks
// every ISA path of its op family against float64 references, with no Node in between.
const programs = {
  gemm_f32_test: 'fp32 GEMM',
  gemm_q_test: 'quantized GEMMs (w8a8, w8a16, w4a8, w4a16) and packing',
  linalg_test: 'Cholesky and the upper Cholesky factor of H⁻¹',
  sparse24_test:
    '2:4 sparse weights (f32, w8a8, w4a16; both paths), packing, the 2:4 check, bitmask and NVIDIA metadata exports',
  cuda_gemm_q_test:
    'dense tensor-core GEMMs (w4a16, w8a8, f16): f16 rounding, packer round trips, CPU replay of every lane against the PTX fragment tables (GPU vs CPU when a device is usable)',
  cuda_gptq_test:
    "GPU Hessian and GPTQ / SparseGPT: CPU replay of the kernels' algorithm against llmc_obs_compress (GPU checks when a device is usable)",
  cuda_sparse24_test:
    '2:4 sparse tensor-core kernels: f16 rounding, mma.sp metadata vs llmc_s24_nv_metadata, CPU replay of every lane against the PTX fragment layouts (GPU vs CPU when a device is usable)',
};

describe('native test programs', () => {
  for (const [name, what] of Object.entries(programs)) {
    it(`${name}: ${what}`, () => {
      const exe = join(packageRoot(), 'build', 'tests', process.platform === 'win32' ? `${name}.exe` : name);
      expect(existsSync(exe), `${exe} is missing: run npm run build:native`).toBe(true);
      const r = spawnSync(exe, ['check'], { encoding: 'utf8', timeout: scaledTimeout(600_000) });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    });
  }
});
