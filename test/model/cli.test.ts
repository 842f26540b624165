// The CLI on the real models of ../shared (the model-free CLI tests are in test/unit/cli.test.ts).
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { cli } from '../helpers/cli.js';
import { haveShared, STORIES, tempDir, TEXT, TINY656 } from '../helpers/paths.js';

const stories = STORIES;
const evalText = TEXT;

describe.skipIf(!haveShared('the CLI tests on stories260K', stories, evalText))(
  'llm-compress info / eval / generate (stories260K)',
  () => {
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
      const r = await cli(
        'eval',
        join(stories, 'stories260K.bin'),
        '--data',
        evalText,
        '--paragraphs',
        '0:200',
        '--reference',
        join(stories, 'stories260K.gguf'),
        '--json',
      );
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
      const s = await cli(
        'generate',
        join(stories, 'stories260K.bin'),
        '--prompt',
        'Once upon a time',
        '--max-tokens',
        '8',
        '--temperature',
        '0.8',
        '--seed',
        '7',
      );
      expect(s.code).toBe(0);
      expect(s.out.startsWith('Once upon a time')).toBe(true);
      expect((await cli('generate', join(stories, 'stories260K.bin'), '--top-p', '2')).code).toBe(1);
      expect((await cli('eval', join(stories, 'missing.bin'), '--data', evalText)).code).toBe(1);
    });
  },
);

const tiny656 = TINY656;

describe.skipIf(!haveShared('the CLI compress test', tiny656, evalText))(
  'llm-compress compress (tinystories-656k)',
  () => {
    it('writes a folder that eval reads back; --json prints progress events then the report; an existing output is refused', async () => {
      const out = join(tempDir('cli'), 'w4');
      const r = await cli(
        'compress',
        tiny656,
        '-o',
        out,
        '--no-prepend-space',
        '--scheme',
        'W4A16',
        '--group-size',
        '32',
        '--calib',
        evalText,
        '--calib-paragraphs',
        '1000:4300',
        '--samples',
        '16',
        '--eval-data',
        evalText,
        '--eval-paragraphs',
        '0:50',
        '--json',
      );
      expect(r.code, r.err).toBe(0);
      const lines = r.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const events = lines.slice(0, -1);
      // Stages in order: the original evaluated, 14 layers compressed, the folder written, the result evaluated.
      const stages = events
        .map((e) => (e.phase ? `${e.stage}:${e.phase}` : e.stage))
        .filter((s, i, a) => s !== a[i - 1]);
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
  },
);
