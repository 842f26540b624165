/**
 * Texts without blank lines: the whole text is one paragraph, whose hundreds of thousands of
 * tokens must calibrate and evaluate (no spread of a paragraph's tokens into a call).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { compress, evaluate } from '../../lib/index.js';
import { haveShared, STORIES, tempDir, TEXT } from '../helpers/paths.js';

const model = join(STORIES, 'stories260K.bin');
const have = haveShared('the one-paragraph text tests', model, TEXT);

describe.skipIf(!have)('a text of one paragraph', () => {
  it('calibrates on ~800 KB and evaluates ~200 KB, with a finite nll', async () => {
    const dir = tempDir('long-text');
    const whole = readFileSync(TEXT, 'utf8').replace(/\n\s*\n/g, ' ');
    expect(whole).not.toContain('\n\n');
    const calibrationFile = join(dir, 'calibration.txt');
    writeFileSync(calibrationFile, whole);
    const evalFile = join(dir, 'eval.txt');
    writeFileSync(evalFile, whole.slice(0, whole.indexOf(' ', 200_000)));
    const { model: m } = await compress(model, {
      scheme: 'W4A16',
      quantize: { method: 'gptq', groupSize: 'row' },
      calibration: { file: calibrationFile, samples: 4, seqLen: 256 },
    });
    try {
      const quality = await evaluate(m, { file: evalFile });
      expect(quality.tokens).toBeGreaterThan(65_536);
      expect(Number.isFinite(quality.nll)).toBe(true);
    } finally {
      m.dispose();
    }
  });
});
