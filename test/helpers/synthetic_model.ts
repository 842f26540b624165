/**
 * A random LLaMA written as a Hugging Face folder for tests that need no ../shared: config.json,
 * model.safetensors (F32, written here without lib/ so the readers are checked against an
 * independent writer) and a llama2.c tokenizer.bin (which loadModel reads beside a safetensors
 * folder). Untied models get their own random `lm_head.weight`; vocabularies of any size are made
 * of the 256 byte pieces and generated letter pieces.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SyntheticModelOptions {
  /** Tokens in the vocabulary (at least 3 + 256 + 26). Default 512. */
  vocab?: number;
  /** Hidden size. Default 64. */
  dim?: number;
  /** MLP size. Default 128. */
  hidden?: number;
  /** Default 2. */
  layers?: number;
  /** Query heads (default 4) and key / value heads (default 2: grouped-query attention). */
  heads?: number;
  kvHeads?: number;
  /** Whether the classifier reuses the token embedding (no `lm_head.weight`). */
  tied: boolean;
  /** Seed of the weights. Default 1. */
  seed?: number;
}

/** mulberry32: a small deterministic generator of floats in [-0.1, 0.1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32 - 0.5) * 0.2;
  };
}

/** Piece `i` of the generated letters: bijective base 26 (a … z, aa, ab, …), all distinct. */
function letters(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(97 + ((n - 1) % 26)) + s;
  return s;
}

/** A llama2.c tokenizer.bin: `<unk>`, `<s>`, `</s>`, the 256 byte pieces, then letter pieces. */
function tokenizerBin(vocab: number): Buffer {
  const pieces = ['<unk>', '<s>', '</s>'];
  for (let b = 0; b < 256; b++) pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  for (let i = 0; pieces.length < vocab; i++) pieces.push(letters(i));
  const bytes = pieces.map((p) => Buffer.from(p));
  const out = [Buffer.alloc(4)];
  out[0]!.writeInt32LE(bytes.reduce((m, b) => Math.max(m, b.length), 0));
  bytes.forEach((b, i) => {
    const head = Buffer.alloc(8);
    head.writeFloatLE(i < 259 ? 0 : -i, 0);
    head.writeInt32LE(b.length, 4);
    out.push(head, b);
  });
  return Buffer.concat(out);
}

/**
 * Writes the model to `dir` (created) and returns its tensors by name, as written.
 *
 * @example
 * ```ts
 * const tensors = writeSyntheticModel(tempDir('untied'), { tied: false, vocab: 150_000 });
 * ```
 */
export function writeSyntheticModel(dir: string, options: SyntheticModelOptions): Map<string, Float32Array> {
  const { vocab = 512, dim = 64, hidden = 128, layers = 2, heads = 4, kvHeads = 2, tied, seed = 1 } = options;
  const kvDim = (dim / heads) * kvHeads;
  mkdirSync(dir, { recursive: true });
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    torch_dtype: 'float32',
    hidden_size: dim,
    intermediate_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    vocab_size: vocab,
    max_position_embeddings: 256,
    rope_theta: 10000,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: tied,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const shapes: Array<[string, number[], number?]> = [['model.embed_tokens.weight', [vocab, dim]]];
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}.`;
    shapes.push(
      [`${p}input_layernorm.weight`, [dim], 1],
      [`${p}self_attn.q_proj.weight`, [dim, dim]],
      [`${p}self_attn.k_proj.weight`, [kvDim, dim]],
      [`${p}self_attn.v_proj.weight`, [kvDim, dim]],
      [`${p}self_attn.o_proj.weight`, [dim, dim]],
      [`${p}post_attention_layernorm.weight`, [dim], 1],
      [`${p}mlp.gate_proj.weight`, [hidden, dim]],
      [`${p}mlp.up_proj.weight`, [hidden, dim]],
      [`${p}mlp.down_proj.weight`, [dim, hidden]],
    );
  }
  shapes.push(['model.norm.weight', [dim], 1]);
  if (!tied) shapes.push(['lm_head.weight', [vocab, dim]]);

  const rand = random(seed);
  const tensors = new Map<string, Float32Array>();
  const header: Record<string, unknown> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, shape, fill] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = fill ?? rand();
    tensors.set(name, data);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([size, Buffer.from(json), ...chunks]));
  writeFileSync(join(dir, 'tokenizer.bin'), tokenizerBin(vocab));
  return tensors;
}
