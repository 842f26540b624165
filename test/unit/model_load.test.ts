import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadLlama2c } from '../../lib/formats/llama2c.js';
import { loadModel } from '../../lib/index.js';
import { LlamaModel } from '../../lib/model/llama.js';
import { Rng } from '../../bench/random.js';
import { expectError } from '../helpers/errors.js';
import { tempDir } from '../helpers/paths.js';

const dir = tempDir('model');

// A tiny llama2.c checkpoint: dim 8, hidden 12, 2 layers, 2 heads, 1 kv head, vocab 10, seq 6.
function checkpoint(vocab: number, extraFloats = 0, dropFloats = 0): Buffer {
  const [dim, hidden, L, heads, kvHeads, seq] = [8, 12, 2, 2, 1, 6];
  const hd = dim / heads,
    kv = kvHeads * hd,
    V = Math.abs(vocab);
  const floats =
    V * dim +
    L * dim +
    L * dim * dim +
    2 * L * kv * dim +
    L * dim * dim +
    L * dim +
    3 * L * hidden * dim +
    dim +
    seq * hd +
    (vocab < 0 ? V * dim : 0);
  const head = Buffer.alloc(28);
  for (const [i, v] of [dim, hidden, L, heads, kvHeads, vocab, seq].entries()) head.writeInt32LE(v, 4 * i);
  const body = new Rng(5).float32(floats + extraFloats - dropFloats);
  return Buffer.concat([head, Buffer.from(body.buffer)]);
}

describe('llama2.c checkpoints', () => {
  it('load tied and untied classifiers into canonical tensors, and run', async () => {
    for (const vocab of [10, -10]) {
      const path = join(dir, `m${vocab}.bin`);
      writeFileSync(path, checkpoint(vocab));
      const { config, weights } = await loadLlama2c(path);
      expect(config).toMatchObject({
        dim: 8,
        hiddenDim: 12,
        nLayers: 2,
        nHeads: 2,
        nKvHeads: 1,
        vocabSize: 10,
        maxSeqLen: 6,
        tiedEmbeddings: vocab > 0,
        ropeStyle: 'interleaved',
      });
      expect(weights.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([4, 8]);
      expect(weights.has('lm_head.weight')).toBe(vocab < 0);
      const logits = await new LlamaModel(config, weights).forward(Int32Array.from([1, 2, 3, 4, 5, 6]), 2, 3);
      expect(logits.length).toBe(6 * 10);
      expect(logits.every(Number.isFinite)).toBe(true);
    }
  });

  it('refuse truncated, oversized and implausible files naming the file', async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['short.bin', Buffer.alloc(10), /short\.bin: 10 bytes is too short/],
      ['trunc.bin', checkpoint(10, 0, 3), /trunc\.bin: truncated/],
      ['long.bin', checkpoint(10, 2), /long\.bin: 8 bytes past the weights/],
      [
        'bad.bin',
        Buffer.concat([Buffer.from(Int32Array.from([8, 12, 2, 3, 1, 10, 6]).buffer), Buffer.alloc(64)]),
        /bad\.bin: implausible header/,
      ],
    ];
    for (const [name, data, re] of cases) {
      writeFileSync(join(dir, name), data);
      await expectError(loadLlama2c(join(dir, name)), 'LLMC_INVALID_ARGUMENT', re);
    }
  });
});

describe('loadModel', () => {
  it('gives typed errors for missing paths, unknown formats and missing tokenizers', async () => {
    await expectError(loadModel(join(dir, 'nope')), 'LLMC_INVALID_ARGUMENT', /Invalid path/);
    writeFileSync(join(dir, 'x.onnx'), 'x');
    await expectError(loadModel(join(dir, 'x.onnx')), 'LLMC_UNSUPPORTED', /unknown model format/);
    const lone = tempDir('lone');
    writeFileSync(join(lone, 'model.bin'), checkpoint(10));
    await expectError(loadModel(join(lone, 'model.bin')), 'LLMC_INVALID_ARGUMENT', /no llama2\.c tokenizer/);
    await expectError(
      loadModel(lone, { prependSpace: 'no' } as never),
      'LLMC_INVALID_ARGUMENT',
      /options\.prependSpace/,
    );
    // A Hugging Face folder whose weights file is missing: the error names the file.
    const hf = tempDir('hf');
    writeFileSync(
      join(hf, 'config.json'),
      JSON.stringify({
        model_type: 'llama',
        hidden_size: 8,
        intermediate_size: 12,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        vocab_size: 10,
        rms_norm_eps: 1e-5,
      }),
    );
    await expectError(loadModel(hf), 'LLMC_INVALID_ARGUMENT', /safetensors/);
  });
});
