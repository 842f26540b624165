import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it, vi } from 'vitest';

import { COMPRESS_FLAGS, withFlagName } from '../../lib/cli/flags.js';
import { main } from '../../lib/cli/program.js';
import { invalidArgument, LlmcError } from '../../lib/errors.js';
import { packageRoot } from '../../lib/native/loader.js';

/** Runs the CLI in-process and captures what it writes. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    return { code: await main(['node', 'llm-compress', ...args]), out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}

describe('withFlagName', () => {
  it('names the flag that set an argument, and leaves other errors as they are', () => {
    const e = withFlagName(invalidArgument('options.quantize.groupSize', 'a divisor of 64', 48), COMPRESS_FLAGS) as LlmcError;
    expect(e.message).toBe('Invalid --group-size: expected a divisor of 64, got 48 (number)');
    expect([e.code, e.argument, e.expected, e.actual]).toEqual(['LLMC_INVALID_ARGUMENT', '--group-size', 'a divisor of 64', '48 (number)']);
    expect((withFlagName(invalidArgument('options.calibration.paragraphs[1]', 'an integer >= 0', -1), COMPRESS_FLAGS) as LlmcError).argument).toBe('--calib-paragraphs');
    const other = invalidArgument('options.quantize.mse', 'a boolean', 1);
    expect(withFlagName(other, COMPRESS_FLAGS)).toBe(other);
    const unsupported = new LlmcError('LLMC_UNSUPPORTED', 'no');
    expect(withFlagName(unsupported, COMPRESS_FLAGS)).toBe(unsupported);
  });
});

const tiny656 = join(packageRoot(), '..', 'shared', 'models', 'tinystories-656k');

describe.skipIf(!existsSync(tiny656))('llm-compress compress: argument errors name the flag, before any compute', () => {
  const out = () => join(mkdtempSync(join(tmpdir(), 'llmc-flags-')), 'out');
  // A calibration file that does not exist: reading it would be the first step of the compute.
  const missing = join(tmpdir(), 'llmc-no-such-calibration.txt');

  it('--group-size that does not divide a layer, --bits 9, --seq-len past the context', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--scheme', 'W4A16', '--group-size', '48'], /^llm-compress: Invalid --group-size: expected a divisor of the 128 inputs of model\.layers\.0\.self_attn\.q_proj \(or 'row'\), got 48 \(number\)\n$/],
      [['--bits', '9'], /^llm-compress: Invalid --bits: expected an integer in \[2, 8\], got 9 \(number\)\n$/],
      [['--method', 'rtn', '--prune', 'magnitude', '--sparsity', '1.5'], /^llm-compress: Invalid --sparsity: expected a fraction in \(0, 1\), got 1\.5 \(number\)\n$/],
    ];
    for (const [flags, message] of cases) {
      const r = await cli('compress', tiny656, '-o', out(), '--no-prepend-space', '--calib', missing, ...flags, '--json');
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(message);
      expect(r.out).toBe(''); // not even the first progress event
    }
    const seq = await cli('compress', tiny656, '-o', out(), '--no-prepend-space', '--scheme', 'W4A16', '--group-size', '32',
      '--calib', join(packageRoot(), '..', 'shared', 'text', 'tinystories_val.txt'), '--seq-len', '100000', '--json');
    expect(seq.err).toMatch(/^llm-compress: Invalid --seq-len: expected an integer in \[2, 512\], got 100000 \(number\)\n$/);
    expect(seq.out).toBe('');
  });

  it('a group size that splits some layers and not others is refused up front for one-config formats', async () => {
    // Group 128: one group per row of the 128-input projections, three per row of the 384-input down_proj.
    for (const format of ['compressed-tensors', 'gptq']) {
      const r = await cli('compress', tiny656, '-o', out(), '--no-prepend-space', '--scheme', 'W4A16', '--calib', missing, '--format', format, '--json');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`format '${format}' holds one quantization config for all layers, and a group size of 128 quantizes model\\.layers\\.0\\.self_attn\\.q_proj \\(128 inputs\\) with one group per row but model\\.layers\\.0\\.mlp\\.down_proj \\(384 inputs\\) with groups of 128`));
      expect(r.out).toBe('');
    }
  });
});
