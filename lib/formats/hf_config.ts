/**
 * Hugging Face LLaMA-family folders (`config.json` + safetensors) to the canonical
 * {@link LlamaConfig} and {@link Weights}, and the shape check every format loader shares.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { LlamaConfig, Weights } from '../model/types.js';
import { formatError, loadSafetensors, unsupportedError } from './safetensors.js';

const EMBED = 'model.embed_tokens.weight';
const LM_HEAD = 'lm_head.weight';

/** The canonical tensors a config needs, with their shapes (`lm_head.weight` only when untied). */
export function expectedShapes(config: LlamaConfig): Map<string, number[]> {
  const { dim, hiddenDim, nHeads, nKvHeads, vocabSize } = config;
  const headDim = dim / nHeads;
  const shapes = new Map<string, number[]>([[EMBED, [vocabSize, dim]]]);
  for (let i = 0; i < config.nLayers; i++) {
    const p = `model.layers.${i}.`;
    shapes.set(`${p}input_layernorm.weight`, [dim]);
    shapes.set(`${p}self_attn.q_proj.weight`, [nHeads * headDim, dim]);
    shapes.set(`${p}self_attn.k_proj.weight`, [nKvHeads * headDim, dim]);
    shapes.set(`${p}self_attn.v_proj.weight`, [nKvHeads * headDim, dim]);
    shapes.set(`${p}self_attn.o_proj.weight`, [dim, nHeads * headDim]);
    shapes.set(`${p}post_attention_layernorm.weight`, [dim]);
    shapes.set(`${p}mlp.gate_proj.weight`, [hiddenDim, dim]);
    shapes.set(`${p}mlp.up_proj.weight`, [hiddenDim, dim]);
    shapes.set(`${p}mlp.down_proj.weight`, [dim, hiddenDim]);
  }
  shapes.set('model.norm.weight', [dim]);
  if (!config.tiedEmbeddings) shapes.set(LM_HEAD, [vocabSize, dim]);
  return shapes;
}

/**
 * Checks that `weights` holds exactly the canonical tensors of `config` with their shapes.
 *
 * @param source - the file or folder the weights came from, for error messages.
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` naming the missing, extra or mis-shaped tensor
 *   (expected and actual shape).
 */
export function checkLlamaWeights(config: LlamaConfig, weights: ReadonlyMap<string, Shaped>, source: string): void {
  const expected = expectedShapes(config);
  for (const [name, shape] of expected) {
    const tensor = weights.get(name);
    if (!tensor) throw formatError(source, `tensor ${name} [${shape.join(', ')}] is missing`);
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw formatError(
        source,
        `tensor ${name}: expected shape [${shape.join(', ')}], got [${tensor.shape.join(', ')}]`,
      );
    }
  }
  for (const name of weights.keys()) {
    if (!expected.has(name)) throw unsupportedError(source, `tensor ${name} is not part of the LLaMA architecture`);
  }
}

/** Anything with a shape: a loaded {@link Tensor} or a header entry (shapes are all the checks read). */
export interface Shaped {
  shape: readonly number[];
}

const MODEL_TYPES = ['llama', 'mistral'];

function positiveInteger(file: string, json: Record<string, unknown>, key: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw formatError(file, `${key} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveNumber(file: string, json: Record<string, unknown>, key: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw formatError(file, `${key} must be a positive number, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Refuses config features the forward pass does not implement. */
function checkSupported(file: string, json: Record<string, unknown>): void {
  const modelType = json.model_type;
  if (modelType !== undefined && !MODEL_TYPES.includes(modelType as string)) {
    throw unsupportedError(
      file,
      `model_type ${JSON.stringify(modelType)} is not supported (supported: ${MODEL_TYPES.join(', ')})`,
    );
  }
  if (json.rope_scaling !== undefined && json.rope_scaling !== null) {
    throw unsupportedError(file, `rope_scaling ${JSON.stringify(json.rope_scaling)} is not supported (only null)`);
  }
  for (const key of ['attention_bias', 'mlp_bias']) {
    if (json[key] === true) throw unsupportedError(file, `${key}: true is not supported`);
  }
  if (json.hidden_act !== undefined && json.hidden_act !== 'silu') {
    throw unsupportedError(file, `hidden_act ${JSON.stringify(json.hidden_act)} is not supported (only silu)`);
  }
}

/**
 * A Hugging Face `config.json` (LlamaForCausalLM) for a model loaded from another format
 * (llama2.c, GGUF); {@link llamaConfigFromHf} reads it back to the same {@link LlamaConfig}.
 */
export function hfConfigJson(config: LlamaConfig, special: { bos: number; eos: number }): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    torch_dtype: 'float32',
    hidden_size: config.dim,
    intermediate_size: config.hiddenDim,
    num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads,
    num_key_value_heads: config.nKvHeads,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.maxSeqLen,
    rope_theta: config.ropeTheta,
    rms_norm_eps: config.normEps,
    tie_word_embeddings: config.tiedEmbeddings,
    bos_token_id: special.bos,
    eos_token_id: special.eos,
  };
}

/**
 * The {@link LlamaConfig} of a Hugging Face `LlamaForCausalLM`-family `config.json` (ropeStyle
 * `'half'`), checked against the tensors. A tied model may store its embedding as
 * `lm_head.weight` only (as tinystories-656k does); {@link loadHfModel} renames it.
 *
 * @param configJson - the parsed `config.json`.
 * @param tensors - the model's tensors under their Hugging Face names.
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` for a missing or bad field, or a missing or
 *   mis-shaped tensor; `LLMC_UNSUPPORTED` for rope_scaling, biases, another activation or model type.
 */
export function llamaConfigFromHf(configJson: unknown, tensors: ReadonlyMap<string, Shaped>): LlamaConfig {
  const file = 'config.json';
  if (typeof configJson !== 'object' || configJson === null || Array.isArray(configJson)) {
    throw formatError(file, 'not a JSON object');
  }
  const json = configJson as Record<string, unknown>;
  checkSupported(file, json);
  const nHeads = positiveInteger(file, json, 'num_attention_heads');
  const tied = json.tie_word_embeddings ?? !tensors.has(LM_HEAD);
  if (typeof tied !== 'boolean')
    throw formatError(file, `tie_word_embeddings must be a boolean, got ${JSON.stringify(tied)}`);
  const config: LlamaConfig = {
    dim: positiveInteger(file, json, 'hidden_size'),
    hiddenDim: positiveInteger(file, json, 'intermediate_size'),
    nLayers: positiveInteger(file, json, 'num_hidden_layers'),
    nHeads,
    nKvHeads: positiveInteger(file, json, 'num_key_value_heads', nHeads),
    vocabSize: positiveInteger(file, json, 'vocab_size'),
    maxSeqLen: positiveInteger(file, json, 'max_position_embeddings'),
    ropeTheta: positiveNumber(file, json, 'rope_theta', 10000),
    normEps: positiveNumber(file, json, 'rms_norm_eps'),
    ropeStyle: 'half',
    tiedEmbeddings: tied,
  };
  const headDim = config.dim / nHeads;
  if (!Number.isInteger(headDim) || nHeads % config.nKvHeads !== 0) {
    throw formatError(
      file,
      `hidden_size ${config.dim} / num_attention_heads ${nHeads} / num_key_value_heads ${config.nKvHeads} do not divide evenly`,
    );
  }
  if (json.head_dim !== undefined && json.head_dim !== headDim) {
    throw unsupportedError(
      file,
      `head_dim ${JSON.stringify(json.head_dim)} differs from hidden_size / num_attention_heads = ${headDim}`,
    );
  }
  checkLlamaWeights(config, canonicalWeights(tensors, tied), file);
  return config;
}

/**
 * The weights under canonical names: a tied model keeps only `model.embed_tokens.weight` (taken
 * from `lm_head.weight` when that is all the file stores); rotary-embedding caches are dropped.
 */
export function canonicalWeights<T extends Shaped>(tensors: ReadonlyMap<string, T>, tied: boolean): Map<string, T> {
  const out = new Map([...tensors].filter(([name]) => !name.endsWith('.rotary_emb.inv_freq')));
  if (tied) {
    const head = out.get(LM_HEAD);
    out.delete(LM_HEAD);
    if (head && !out.has(EMBED)) out.set(EMBED, head);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Loads a Hugging Face LLaMA-family folder: `config.json` and `model.safetensors` (or the shards
 * of `model.safetensors.index.json`).
 *
 * @throws {@link LlmcError} as {@link loadSafetensors} and {@link llamaConfigFromHf} do, and
 *   `LLMC_INVALID_ARGUMENT` when the folder has no config or weights.
 */
export async function loadHfModel(
  dir: string,
  options: { lazy?: boolean } = {},
): Promise<{ config: LlamaConfig; weights: Weights }> {
  const { json, source } = await hfModelFiles(dir);
  const tensors = await loadSafetensors(source, options);
  const config = llamaConfigFromHf(json, tensors);
  return { config, weights: canonicalWeights(tensors, config.tiedEmbeddings) };
}

/**
 * A Hugging Face folder's parsed `config.json` and its weights' source: `model.safetensors.index.json`
 * when present, else `model.safetensors`.
 *
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` when the folder has no config or weights, or
 *   the config is not JSON.
 */
export async function hfModelFiles(dir: string): Promise<{ json: unknown; source: string }> {
  const configPath = join(dir, 'config.json');
  if (!(await exists(configPath))) throw formatError(dir, 'no config.json in this folder');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (e) {
    throw formatError(configPath, `not valid JSON (${(e as Error).message})`);
  }
  const index = join(dir, 'model.safetensors.index.json');
  const single = join(dir, 'model.safetensors');
  let source: string;
  if (await exists(index)) source = index;
  else if (await exists(single)) source = single;
  else throw formatError(dir, 'no model.safetensors or model.safetensors.index.json in this folder');
  return { json, source };
}
