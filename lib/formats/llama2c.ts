/**
 * llama2.c checkpoints (`.bin`, legacy format): a header of 7 int32 — dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size (negative: the classifier is stored, not tied), seq_len — then
 * float32 arrays: token embedding [vocab × dim], rms_att [L × dim], wq [L × dim × dim],
 * wk / wv [L × kv_dim × dim], wo [L × dim × dim], rms_ffn [L × dim], w1 (gate) [L × hidden × dim],
 * w2 (down) [L × dim × hidden], w3 (up) [L × hidden × dim], rms_final [dim], freq_cis real and
 * imaginary [seq_len × head_size/2] each (unused: RoPE is computed), and wcls [vocab × dim] when
 * untied. RoPE pairs are interleaved; θ = 10000, RMSNorm ε = 1e-5 (llama2.c's constants).
 */
import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';

import { LlmcError } from '../errors.js';
import type { LlamaConfig, Weights } from '../model/types.js';

function formatError(path: string, problem: string): LlmcError {
  return new LlmcError('LLMC_INVALID_ARGUMENT', `${basename(path)}: ${problem}`);
}

/**
 * The config a llama2.c header describes, and the float arrays that follow the header (name and
 * element count, in file order).
 */
function parseHeader(path: string, head: Buffer): { config: LlamaConfig; parts: Array<[string, number]> } {
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabRaw, seqLen] = Array.from({ length: 7 }, (_, i) =>
    head.readInt32LE(4 * i),
  ) as [number, number, number, number, number, number, number];
  const vocabSize = Math.abs(vocabRaw);
  const sane = (v: number, max: number) => Number.isInteger(v) && v >= 1 && v <= max;
  if (
    !sane(dim, 65536) ||
    !sane(hiddenDim, 1 << 20) ||
    !sane(nLayers, 1024) ||
    !sane(nHeads, 1024) ||
    !sane(nKvHeads, nHeads) ||
    !sane(vocabSize, 1 << 22) ||
    !sane(seqLen, 1 << 24) ||
    dim % nHeads !== 0 ||
    nHeads % nKvHeads !== 0 ||
    (dim / nHeads) % 2 !== 0
  )
    throw formatError(
      path,
      `implausible header: dim ${dim}, hidden ${hiddenDim}, layers ${nLayers}, heads ${nHeads}, kv heads ${nKvHeads}, vocab ${vocabRaw}, seq_len ${seqLen}`,
    );
  const headDim = dim / nHeads;
  const kvDim = nKvHeads * headDim;
  const tied = vocabRaw > 0;
  const L = nLayers;
  const parts: Array<[string, number]> = [
    ['embed', vocabSize * dim],
    ['rms_att', L * dim],
    ['wq', L * dim * dim],
    ['wk', L * kvDim * dim],
    ['wv', L * kvDim * dim],
    ['wo', L * dim * dim],
    ['rms_ffn', L * dim],
    ['w1', L * hiddenDim * dim],
    ['w2', L * dim * hiddenDim],
    ['w3', L * hiddenDim * dim],
    ['rms_final', dim],
    ['freq_cis', seqLen * headDim],
    ...(tied ? [] : [['wcls', vocabSize * dim] as [string, number]]),
  ];
  const config: LlamaConfig = {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    vocabSize,
    maxSeqLen: seqLen,
    ropeTheta: 10000,
    normEps: 1e-5,
    ropeStyle: 'interleaved',
    tiedEmbeddings: tied,
  };
  return { config, parts };
}

/** Reads the 28-byte header of a llama2.c checkpoint (the file may be cut after it). */
async function readHeader(file: FileHandle, path: string): Promise<ReturnType<typeof parseHeader> & { size: number }> {
  const { size } = await file.stat();
  if (size < 28) throw formatError(path, `${size} bytes is too short for the 28-byte llama2.c header`);
  const head = Buffer.alloc(28);
  await file.read(head, 0, 28, 0);
  return { ...parseHeader(path, head), size };
}

/**
 * The config of a llama2.c checkpoint from its 28-byte header alone, as {@link loadLlama2c} reads
 * it (the weights are neither read nor checked against the file's size).
 */
export async function readLlama2cConfig(path: string): Promise<LlamaConfig> {
  const file = await open(path, 'r');
  try {
    return (await readHeader(file, path)).config;
  } finally {
    await file.close();
  }
}

/** Reads a llama2.c checkpoint into the canonical weights. */
export async function loadLlama2c(path: string): Promise<{ config: LlamaConfig; weights: Weights }> {
  const file = await open(path, 'r');
  try {
    const { config, parts, size } = await readHeader(file, path);
    const { dim, hiddenDim, nLayers: L, nHeads, nKvHeads, vocabSize, tiedEmbeddings: tied } = config;
    const kvDim = (nKvHeads * dim) / nHeads;
    const floats = parts.reduce((a, [, n]) => a + n, 0);
    if (size < 28 + 4 * floats)
      throw formatError(path, `truncated: the header's sizes need ${28 + 4 * floats} bytes, the file has ${size}`);
    if (size > 28 + 4 * floats)
      throw formatError(path, `${size - 28 - 4 * floats} bytes past the weights the header describes`);
    const data = new Float32Array(floats);
    await file.read(new Uint8Array(data.buffer), 0, 4 * floats, 28);
    const arrays = new Map<string, Float32Array>();
    let at = 0;
    for (const [name, n] of parts) {
      arrays.set(name, data.subarray(at, at + n));
      at += n;
    }
    const get = (name: string) => arrays.get(name)!;
    const weights: Weights = new Map();
    const put = (name: string, shape: number[], a: Float32Array) => weights.set(name, { shape, data: a });
    put('model.embed_tokens.weight', [vocabSize, dim], get('embed'));
    const layer = (name: string, i: number, per: number) => get(name).subarray(i * per, (i + 1) * per);
    for (let i = 0; i < L; i++) {
      const p = `model.layers.${i}.`;
      put(`${p}input_layernorm.weight`, [dim], layer('rms_att', i, dim));
      put(`${p}self_attn.q_proj.weight`, [dim, dim], layer('wq', i, dim * dim));
      put(`${p}self_attn.k_proj.weight`, [kvDim, dim], layer('wk', i, kvDim * dim));
      put(`${p}self_attn.v_proj.weight`, [kvDim, dim], layer('wv', i, kvDim * dim));
      put(`${p}self_attn.o_proj.weight`, [dim, dim], layer('wo', i, dim * dim));
      put(`${p}post_attention_layernorm.weight`, [dim], layer('rms_ffn', i, dim));
      put(`${p}mlp.gate_proj.weight`, [hiddenDim, dim], layer('w1', i, hiddenDim * dim));
      put(`${p}mlp.down_proj.weight`, [dim, hiddenDim], layer('w2', i, dim * hiddenDim));
      put(`${p}mlp.up_proj.weight`, [hiddenDim, dim], layer('w3', i, hiddenDim * dim));
    }
    put('model.norm.weight', [dim], get('rms_final'));
    if (!tied) put('lm_head.weight', [vocabSize, dim], get('wcls'));
    return { config, weights };
  } finally {
    await file.close();
  }
}
