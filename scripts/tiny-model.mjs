#!/usr/bin/env node
// Writes a tiny random LLaMA in a Hugging Face-style folder, with no dependencies, for smoke tests
// of an installed package where no real model is at hand (.github/workflows/smoke.yml):
//   node tiny-model.mjs <dir>   ->  <dir>/config.json, model.safetensors (F32), tokenizer.bin
// tokenizer.bin is a llama2.c vocabulary (<unk>, <s>, </s>, then the 256 bytes, then 'a'..'z'
// pairs), which loadModel reads beside a safetensors folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node tiny-model.mjs <dir>');
  process.exit(2);
}
const dim = 64,
  hidden = 128,
  layers = 2,
  heads = 4,
  vocab = 3 + 256 + 64;
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, 'config.json'),
  JSON.stringify(
    {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_act: 'silu',
      torch_dtype: 'float32',
      hidden_size: dim,
      intermediate_size: hidden,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: heads,
      vocab_size: vocab,
      max_position_embeddings: 256,
      rope_theta: 10000,
      rms_norm_eps: 1e-5,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
    },
    null,
    2,
  ),
);

let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return (seed / 2 ** 31 - 0.5) * 0.2;
};
const tensors = [['model.embed_tokens.weight', [vocab, dim]]];
for (let i = 0; i < layers; i++) {
  const p = `model.layers.${i}.`;
  tensors.push(
    [`${p}input_layernorm.weight`, [dim], 1],
    [`${p}self_attn.q_proj.weight`, [dim, dim]],
    [`${p}self_attn.k_proj.weight`, [dim, dim]],
    [`${p}self_attn.v_proj.weight`, [dim, dim]],
    [`${p}self_attn.o_proj.weight`, [dim, dim]],
    [`${p}post_attention_layernorm.weight`, [dim], 1],
    [`${p}mlp.gate_proj.weight`, [hidden, dim]],
    [`${p}mlp.up_proj.weight`, [hidden, dim]],
    [`${p}mlp.down_proj.weight`, [dim, hidden]],
  );
}
tensors.push(['model.norm.weight', [dim], 1]);
const header = {};
const chunks = [];
let offset = 0;
for (const [name, shape, fill] of tensors) {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => fill ?? rand());
  header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
  chunks.push(Buffer.from(data.buffer));
  offset += data.byteLength;
}
let json = JSON.stringify(header);
json += ' '.repeat((8 - (json.length % 8)) % 8);
const size = Buffer.alloc(8);
size.writeBigUInt64LE(BigInt(json.length));
writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([size, Buffer.from(json), ...chunks]));

const pieces = [Buffer.from('<unk>'), Buffer.from('<s>'), Buffer.from('</s>')];
for (let b = 0; b < 256; b++) pieces.push(Buffer.from(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
for (let i = 0; i < 64; i++)
  pieces.push(Buffer.from(String.fromCharCode(97 + (i % 26)) + String.fromCharCode(97 + ((i * 7) % 26))));
const parts = [Buffer.alloc(4)];
parts[0].writeInt32LE(pieces.reduce((a, p) => Math.max(a, p.length), 0));
pieces.forEach((p, i) => {
  const head = Buffer.alloc(8);
  head.writeFloatLE(i < 259 ? 0 : -i, 0);
  head.writeInt32LE(p.length, 4);
  parts.push(head, p);
});
writeFileSync(join(dir, 'tokenizer.bin'), Buffer.concat(parts));
console.log(`wrote ${dir}: ${layers} layers, dim ${dim}, vocab ${vocab}`);
