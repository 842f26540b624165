// `llm-compress info` and describeModel read headers only: the same description as the loaded
// model, also on copies whose tensor data is cut off.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { readGgufHeader } from '../../lib/formats/gguf.js';
import { readSafetensorsHeader } from '../../lib/formats/safetensors.js';
import { describeModel, loadModel } from '../../lib/index.js';
import { cli } from '../helpers/cli.js';
import { haveShared, STORIES, tempDir, TINY656 } from '../helpers/paths.js';

const BIN = join(STORIES, 'stories260K.bin');
const GGUF = join(STORIES, 'stories260K.gguf');

/** What info printed for the shared models when it loaded the weights (after the path line). */
const BEFORE: Record<string, string> = {
  [BIN]: `  format llama2c, LLaMA: dim 64, hidden 172, 5 layers, 8 heads (4 kv), vocab 512, context 512
  RoPE interleaved θ=10000, RMSNorm ε=0.00001, embeddings tied
  36 linear layers, 226,560 parameters in them (fp32)
`,
  [GGUF]: `  format gguf, LLaMA: dim 64, hidden 172, 5 layers, 8 heads (4 kv), vocab 512, context 2048
  RoPE interleaved θ=10000, RMSNorm ε=0.000009999999747378752, embeddings tied
  36 linear layers, 226,560 parameters in them (fp32)
`,
  [TINY656]: `  format huggingface, LLaMA: dim 128, hidden 384, 2 layers, 8 heads (4 kv), vocab 2048, context 512
  RoPE half θ=10000, RMSNorm ε=0.000001, embeddings tied
  15 linear layers, 393,216 parameters in them (fp32)
`,
};

/** info's text after its first line (the path). */
async function infoText(path: string): Promise<string> {
  const r = await cli('info', path);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return r.out.slice(r.out.indexOf('\n') + 1);
}

/** describeModel agrees with loadModel: config, tokenizer, every linear layer's name and shape. */
async function expectSameAsLoaded(path: string): Promise<void> {
  const info = await describeModel(path);
  const model = await loadModel(path);
  try {
    expect(info.config).toEqual(model.config);
    expect(info.format).toBe(model.format);
    expect([info.tokenizer.vocabSize, info.tokenizer.bos, info.tokenizer.eos]).toEqual([
      model.tokenizer.vocabSize,
      model.tokenizer.bos,
      model.tokenizer.eos,
    ]);
    expect(info.linears.map((l) => [l.name, l.shape])).toEqual(
      [...model.llama.linears].map(([name, l]) => [name, [l.outFeatures, l.inFeatures]]),
    );
  } finally {
    model.dispose();
  }
}

/** A copy of `file` cut to its first `bytes` bytes, under `dir`. */
function truncatedCopy(file: string, dir: string, name: string, bytes: number): string {
  const out = join(dir, name);
  writeFileSync(out, readFileSync(file).subarray(0, bytes));
  return out;
}

describe.skipIf(!haveShared('the info tests', STORIES, TINY656))('info reads headers only', () => {
  it('prints what it printed when it loaded the weights, for each shared model', async () => {
    for (const [path, text] of Object.entries(BEFORE)) {
      expect(await infoText(path)).toBe(text);
      await expectSameAsLoaded(path);
    }
  });

  it('describes compressed-tensors, 2:4 and GPTQ folders as they load, with their schemes', async () => {
    const dir = tempDir('info-quant');
    const cases: Array<[string, string[], string]> = [
      ['ct', ['--scheme', 'W4A16', '--format', 'compressed-tensors'], '(14 w4a16 g64, 1 fp32)'],
      [
        's24',
        ['--scheme', 'W4A16_2:4', '--prune', 'magnitude', '--format', 'compressed-tensors'],
        '(14 w4a16 g64 2:4, 1 fp32)',
      ],
      ['gptq', ['--scheme', 'W4A16', '--format', 'gptq'], '(14 w4a16 g64, 1 fp32)'],
    ];
    for (const [name, flags, held] of cases) {
      const out = join(dir, name);
      const r = await cli(
        'compress',
        TINY656,
        ...flags,
        '--method',
        'rtn',
        '--group-size',
        '64',
        '--samples',
        '2',
        '--seq-len',
        '32',
        '-o',
        out,
      );
      expect(r.code, r.err).toBe(0);
      expect(await infoText(out)).toBe(BEFORE[TINY656]!.replace('(fp32)', held));
      await expectSameAsLoaded(out);
    }
  });

  it('prints the config of copies whose tensor data is cut off', async () => {
    const dir = tempDir('info-truncated');
    // llama2.c: the 28-byte header and the tokenizer beside it.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    truncatedCopy(BIN, bin, 'stories260K.bin', 28);
    copyFileSync(join(STORIES, 'tok512.bin'), join(bin, 'tok512.bin'));
    expect(await infoText(join(bin, 'stories260K.bin'))).toBe(BEFORE[BIN]);
    // Hugging Face: model.safetensors cut just after its header.
    const hf = join(dir, 'hf');
    mkdirSync(hf);
    for (const f of readdirSync(TINY656)) if (f !== 'model.safetensors') copyFileSync(join(TINY656, f), join(hf, f));
    const st = await readSafetensorsHeader(join(TINY656, 'model.safetensors'));
    truncatedCopy(st.path, hf, 'model.safetensors', st.dataStart);
    expect(await infoText(hf)).toBe(BEFORE[TINY656]);
    // GGUF cut after its tensor infos: the same config, except that a stored classifier can no
    // longer be compared with the embedding, so it counts as separate.
    const gguf = truncatedCopy(GGUF, dir, 'stories260K.gguf', (await readGgufHeader(GGUF)).dataStart);
    const full = await describeModel(GGUF);
    const cut = await describeModel(gguf);
    expect(cut.config).toEqual({ ...full.config, tiedEmbeddings: false });
    expect(cut.linears).toEqual(full.linears);
    expect(await infoText(gguf)).toMatch(
      /embeddings separate\n {2}36 linear layers, 259,328 parameters in them \(fp32\)\n$/,
    );
  });
});
