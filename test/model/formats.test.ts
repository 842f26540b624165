// Loads the real models of ../shared (see /work/shared/README.md) through lib/formats.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadGguf, loadHfModel } from '../../lib/formats/index.js';
import { evaluate, loadModel } from '../../lib/index.js';
import type { DenseLinear } from '../../lib/model/linear.js';
import type { Weights } from '../../lib/model/types.js';
import { haveShared, STORIES, TINY656 } from '../helpers/paths.js';

const hfDir = TINY656;
const storiesDir = STORIES;
const haveHf = haveShared('the tinystories-656k tests', join(hfDir, 'model.safetensors'));
const haveGguf = haveShared('the stories260K.gguf tests', join(storiesDir, 'stories260K.gguf'));

/** Reads a llama2.c checkpoint (legacy header) into canonical names, for comparison only. */
function readLlama2c(path: string): Weights {
  const bytes = readFileSync(path);
  const header = new Int32Array(bytes.buffer, bytes.byteOffset, 7);
  const [dim, hidden, nLayers, nHeads, nKvHeads, vocabSigned] = [...header] as number[];
  const vocab = Math.abs(vocabSigned!);
  const kvDim = (dim! * nKvHeads!) / nHeads!;
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 28, bytes.byteOffset + bytes.length));
  let at = 0;
  const take = (n: number) => {
    at += n;
    return floats.subarray(at - n, at);
  };
  const weights: Weights = new Map();
  const perLayer = (name: string, rows: number, cols?: number) => {
    for (let l = 0; l < nLayers!; l++) {
      const shape = cols === undefined ? [rows] : [rows, cols];
      weights.set(`model.layers.${l}.${name}.weight`, { shape, data: take(rows * (cols ?? 1)) });
    }
  };
  weights.set('model.embed_tokens.weight', { shape: [vocab, dim!], data: take(vocab * dim!) });
  perLayer('input_layernorm', dim!);
  perLayer('self_attn.q_proj', dim!, dim!);
  perLayer('self_attn.k_proj', kvDim, dim!);
  perLayer('self_attn.v_proj', kvDim, dim!);
  perLayer('self_attn.o_proj', dim!, dim!);
  perLayer('post_attention_layernorm', dim!);
  perLayer('mlp.gate_proj', hidden!, dim!);
  perLayer('mlp.down_proj', dim!, hidden!);
  perLayer('mlp.up_proj', hidden!, dim!);
  weights.set('model.norm.weight', { shape: [dim!], data: take(dim!) });
  if (vocabSigned! < 0) throw new Error('stories260K.bin is expected to be tied');
  return weights;
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

describe.skipIf(!haveHf)('tinystories-656k (Hugging Face safetensors)', () => {
  it('loads the config of README.md and the tied weights under canonical names', async () => {
    const { config, weights } = await loadHfModel(hfDir);
    expect(config).toEqual({
      dim: 128,
      hiddenDim: 384,
      nLayers: 2,
      nHeads: 8,
      nKvHeads: 4,
      vocabSize: 2048,
      maxSeqLen: 512,
      ropeTheta: 10000,
      normEps: 1e-6,
      ropeStyle: 'half',
      tiedEmbeddings: true,
    });
    expect(weights.size).toBe(1 + 2 * 9 + 1);
    expect(weights.has('lm_head.weight')).toBe(false);
    const embed = weights.get('model.embed_tokens.weight')!;
    expect(embed.shape).toEqual([2048, 128]);
    expect(weights.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([64, 128]);
    // F32 but bf16-representable: the low 16 bits of every weight are zero.
    const bits = new Uint32Array(embed.data.buffer);
    expect(bits.every((b) => (b & 0xffff) === 0)).toBe(true);
    expect(embed.data.some((v) => v !== 0)).toBe(true);
  });

  it('lazy loading reads a layer only when it is first used, and computes exactly what eager loading does', async () => {
    const eager = await loadModel(hfDir, { prependSpace: false });
    const lazy = await loadModel(hfDir, { prependSpace: false, lazy: true });
    const layer = lazy.llama.linears.get('model.layers.1.mlp.down_proj') as DenseLinear;
    expect((layer as unknown as { data?: Float32Array }).data).toBeUndefined();
    const text = 'Once upon a time there was a little dog.\n\nThe sun was warm and the birds sang.';
    const a = await evaluate(eager, { text });
    const b = await evaluate(lazy, { text });
    expect(b.nll).toBe(a.nll);
    expect((layer as unknown as { data?: Float32Array }).data).toBeInstanceOf(Float32Array);
    expect(layer.weight).toEqual((eager.llama.linears.get('model.layers.1.mlp.down_proj') as DenseLinear).weight);
    await expect(loadModel(hfDir, { lazy: 'yes' as unknown as boolean })).rejects.toMatchObject({
      code: 'LLMC_INVALID_ARGUMENT',
    });
  });
});

describe.skipIf(!haveGguf)('stories260K.gguf (GGUF v3, F32)', () => {
  it('loads the config of README.md, the weights and the embedded 512-token vocabulary', async () => {
    const { config, weights, vocab, metadata } = await loadGguf(join(storiesDir, 'stories260K.gguf'));
    expect(config).toMatchObject({
      dim: 64,
      hiddenDim: 172,
      nLayers: 5,
      nHeads: 8,
      nKvHeads: 4,
      vocabSize: 512,
      maxSeqLen: 2048, // the GGUF's llama.context_length (the .bin header says 512)
      ropeTheta: 10000,
      ropeStyle: 'interleaved',
      tiedEmbeddings: true,
    });
    expect(config.normEps).toBeCloseTo(1e-5, 10);
    expect(metadata.get('general.architecture')).toBe('llama');
    const total = [...weights.values()].reduce((n, t) => n + t.data.length, 0);
    expect(total).toBe(260_032);
    expect(vocab.tokens).toHaveLength(512);
    expect(vocab.scores).toHaveLength(512);
    expect(vocab.tokenTypes).toHaveLength(512);
    expect(vocab.model).toBe('llama');
    expect([vocab.bos, vocab.eos]).toEqual([1, 2]);
    expect(vocab.tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    console.log(
      'stories260K.gguf vocabulary:',
      vocab.tokens
        .slice(256, 272)
        .map((t) => JSON.stringify(t))
        .join(' '),
    );
  });

  it('embeds the vocabulary of tok512.bin (same tokens and scores, up to llama2.c spelling)', async () => {
    const tok = join(storiesDir, 'tok512.bin');
    if (!existsSync(tok)) return console.warn(`skipping: ${tok} is absent`);
    const { vocab } = await loadGguf(join(storiesDir, 'stories260K.gguf'));
    // tok512.bin: int32 max token length, then per token: float32 score, int32 length, bytes.
    const bytes = readFileSync(tok);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let id = 0, at = 4; id < 512; id++) {
      const score = view.getFloat32(at, true);
      const length = view.getInt32(at + 4, true);
      const text = bytes.subarray(at + 8, at + 8 + length).toString('utf8');
      at += 8 + length;
      expect(vocab.scores![id], `score of ${id}`).toBe(score);
      // llama2.c writes the SentencePiece '▁' as a space, and BOS/EOS as "\n<s>\n", "\n</s>\n".
      const expected = id === 1 || id === 2 ? text.trim() : text;
      expect(vocab.tokens[id]!.replaceAll('▁', ' '), `token ${id}`).toBe(expected);
    }
  });

  it('holds tensors bit-identical to stories260K.bin', async () => {
    const bin = join(storiesDir, 'stories260K.bin');
    if (!existsSync(bin)) return console.warn(`skipping: ${bin} is absent`);
    const { weights } = await loadGguf(join(storiesDir, 'stories260K.gguf'));
    const reference = readLlama2c(bin);
    expect([...weights.keys()].sort()).toEqual([...reference.keys()].sort());
    for (const [name, tensor] of reference) {
      const loaded = weights.get(name)!;
      expect(loaded.shape, name).toEqual(tensor.shape);
      expect(bitsEqual(loaded.data, tensor.data), name).toBe(true);
    }
  });
});
