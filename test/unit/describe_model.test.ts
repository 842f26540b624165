// describeModel (what `llm-compress info` prints) reads headers only: 1.1B-shaped files that hold
// no tensor data at all still describe their model, quickly and in little memory.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { describeModel } from '../../lib/index.js';
import { expectError } from '../helpers/errors.js';
import { tempDir } from '../helpers/paths.js';

// TinyLlama-1.1B's shapes.
const [dim, hidden, layers, heads, kvHeads, vocab, seq] = [2048, 5632, 22, 32, 4, 32000, 2048];
const kvDim = (kvHeads * dim) / heads;

/** A llama2.c tokenizer.bin of `n` tokens: <unk>, <s>, </s>, the 256 byte tokens, then made-up pieces. */
function tokenizerBin(n: number): Buffer {
  const parts = [Buffer.from(Int32Array.of(16).buffer)];
  for (let i = 0; i < n; i++) {
    const text = Buffer.from(
      i < 3
        ? ['<unk>', '<s>', '</s>'][i]!
        : i < 259
          ? `<0x${(i - 3).toString(16).toUpperCase().padStart(2, '0')}>`
          : `t${i}`,
    );
    const head = Buffer.alloc(8);
    head.writeFloatLE(-i, 0);
    head.writeInt32LE(text.length, 4);
    parts.push(head, text);
  }
  return Buffer.concat(parts);
}

/** A safetensors file of F16 tensors that holds only its header (the data is cut off). */
function safetensorsHeaderOnly(shapes: Map<string, number[]>): Buffer {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, shape] of shapes) {
    const bytes = 2 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F16', shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json]);
}

describe('describeModel on files without tensor data', () => {
  const dir = tempDir('describe');
  const expected = { dim, hiddenDim: hidden, nLayers: layers, nHeads: heads, nKvHeads: kvHeads, vocabSize: vocab };

  it('reads a llama2.c checkpoint cut after its 28-byte header', async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'model.bin'),
      Buffer.from(Int32Array.of(dim, hidden, layers, heads, kvHeads, -vocab, seq).buffer),
    );
    writeFileSync(join(bin, 'tokenizer.bin'), tokenizerBin(vocab));
    // The file is its header alone: describing it must not read (or need) tensor data.
    const info = await describeModel(join(bin, 'model.bin'));
    expect(info.config).toMatchObject({ ...expected, maxSeqLen: seq, tiedEmbeddings: false });
    expect(info.linears).toHaveLength(layers * 7 + 1);
    expect(info.linears[1]).toEqual({ name: 'model.layers.0.self_attn.k_proj', shape: [kvDim, dim], dtype: 'fp32' });
  });

  it('reads a sharded Hugging Face folder whose shards are cut after their headers', async () => {
    const hf = join(dir, 'hf');
    mkdirSync(hf);
    const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [vocab, dim]]]);
    for (let i = 0; i < layers; i++) {
      const p = `model.layers.${i}.`;
      shapes.set(`${p}input_layernorm.weight`, [dim]);
      shapes.set(`${p}self_attn.q_proj.weight`, [dim, dim]);
      shapes.set(`${p}self_attn.k_proj.weight`, [kvDim, dim]);
      shapes.set(`${p}self_attn.v_proj.weight`, [kvDim, dim]);
      shapes.set(`${p}self_attn.o_proj.weight`, [dim, dim]);
      shapes.set(`${p}post_attention_layernorm.weight`, [dim]);
      shapes.set(`${p}mlp.gate_proj.weight`, [hidden, dim]);
      shapes.set(`${p}mlp.up_proj.weight`, [hidden, dim]);
      shapes.set(`${p}mlp.down_proj.weight`, [dim, hidden]);
    }
    shapes.set('model.norm.weight', [dim]);
    shapes.set('lm_head.weight', [vocab, dim]);
    // Two shards: the embedding and the first half of the blocks, then the rest.
    const names = [...shapes.keys()];
    const half = names.indexOf(`model.layers.${layers / 2}.input_layernorm.weight`);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((list, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeFileSync(join(hf, file), safetensorsHeaderOnly(new Map(list.map((n) => [n, shapes.get(n)!]))));
      for (const n of list) weightMap[n] = file;
    });
    writeFileSync(join(hf, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    writeFileSync(
      join(hf, 'config.json'),
      JSON.stringify({
        model_type: 'llama',
        hidden_size: dim,
        intermediate_size: hidden,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        num_key_value_heads: kvHeads,
        vocab_size: vocab,
        max_position_embeddings: seq,
        rms_norm_eps: 1e-5,
        tie_word_embeddings: false,
      }),
    );
    writeFileSync(join(hf, 'tokenizer.bin'), tokenizerBin(vocab));
    const info = await describeModel(hf);
    expect(info.config).toMatchObject({ ...expected, ropeStyle: 'half', tiedEmbeddings: false });
    expect(info.linears.at(-1)).toEqual({ name: 'lm_head', shape: [vocab, dim], dtype: 'fp16' });
    // A shard the index names is missing: a typed error naming it.
    rmSync(join(hf, 'model-00002-of-00002.safetensors'));
    await expectError(describeModel(hf), 'LLMC_INVALID_ARGUMENT', /model-00002-of-00002\.safetensors: no such file/);
  });
});
