/** CLI argument errors name the flag the user typed, and come before any compute (tinystories-656k). */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { cli } from '../helpers/cli.js';
import { haveShared, tempDir, TEXT, TINY656 } from '../helpers/paths.js';

describe.skipIf(!haveShared('the CLI flag tests', TINY656, TEXT))(
  'llm-compress compress: argument errors name the flag, before any compute',
  () => {
    const out = () => join(tempDir('flags'), 'out');
    // A calibration file that does not exist: reading it would be the first step of the compute.
    const missing = join(tmpdir(), 'llmc-no-such-calibration.txt');

    it('--group-size that does not divide a layer, --bits 9, --seq-len past the context', async () => {
      const cases: Array<[string[], RegExp]> = [
        [
          ['--scheme', 'W4A16', '--group-size', '48'],
          /^llm-compress: Invalid --group-size: expected a divisor of the 128 inputs of model\.layers\.0\.self_attn\.q_proj \(or 'row'\), got 48 \(number\)\n$/,
        ],
        [['--bits', '9'], /^llm-compress: Invalid --bits: expected an integer in \[2, 8\], got 9 \(number\)\n$/],
        [
          ['--method', 'rtn', '--prune', 'magnitude', '--sparsity', '1.5'],
          /^llm-compress: Invalid --sparsity: expected a fraction in \(0, 1\), got 1\.5 \(number\)\n$/,
        ],
      ];
      for (const [flags, message] of cases) {
        const r = await cli(
          'compress',
          TINY656,
          '-o',
          out(),
          '--no-prepend-space',
          '--calib',
          missing,
          ...flags,
          '--json',
        );
        expect(r.code, r.err).toBe(1);
        expect(r.err).toMatch(message);
        expect(r.out).toBe(''); // not even the first progress event
      }
      const seq = await cli(
        'compress',
        TINY656,
        '-o',
        out(),
        '--no-prepend-space',
        '--scheme',
        'W4A16',
        '--group-size',
        '32',
        '--calib',
        TEXT,
        '--seq-len',
        '100000',
        '--json',
      );
      expect(seq.err).toMatch(
        /^llm-compress: Invalid --seq-len: expected an integer in \[2, 512\], got 100000 \(number\)\n$/,
      );
      expect(seq.out).toBe('');
    });

    it('a group size that splits some layers and not others is refused up front for one-config formats', async () => {
      // Group 128: one group per row of the 128-input projections, three per row of the 384-input down_proj.
      for (const format of ['compressed-tensors', 'gptq']) {
        const r = await cli(
          'compress',
          TINY656,
          '-o',
          out(),
          '--no-prepend-space',
          '--scheme',
          'W4A16',
          '--calib',
          missing,
          '--format',
          format,
          '--json',
        );
        expect(r.code).toBe(1);
        expect(r.err).toMatch(
          new RegExp(
            `format '${format}' holds one quantization config for all layers, and a group size of 128 quantizes model\\.layers\\.0\\.self_attn\\.q_proj \\(128 inputs\\) with one group per row but model\\.layers\\.0\\.mlp\\.down_proj \\(384 inputs\\) with groups of 128`,
          ),
        );
        expect(r.out).toBe('');
      }
    });
  },
);
