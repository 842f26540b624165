/**
 * The LLaMA forward pass: token embedding, per layer RMSNorm → q/k/v → RoPE → grouped-query
 * causal attention → o (+ residual), RMSNorm → SwiGLU MLP (+ residual), final RMSNorm and the
 * classifier. Batched over sequences of equal length; a KV cache serves generation. The math runs
 * in native code (GEMMs for the linear layers, llmc_rmsnorm / rope / attention / swiglu for the
 * rest); JavaScript only sequences the calls and adds residuals.
 */
import { native } from '../native/loader.js';
import { callNative } from '../errors.js';
import { DenseLinear, type Linear } from './linear.js';
import type { LlamaConfig, Tensor, Weights } from './types.js';

/** The linear layers of each block, in the order of {@link LlamaModel.linears}. */
export const LAYER_LINEARS = [
  'self_attn.q_proj',
  'self_attn.k_proj',
  'self_attn.v_proj',
  'self_attn.o_proj',
  'mlp.gate_proj',
  'mlp.up_proj',
  'mlp.down_proj',
] as const;

/** Keys and values of the positions seen so far, per layer, for one sequence. */
export class KvCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** Positions filled. */
  length = 0;

  constructor(
    readonly config: LlamaConfig,
    readonly capacity: number = config.maxSeqLen,
  ) {
    const kvDim = (config.nKvHeads * config.dim) / config.nHeads;
    this.k = Array.from({ length: config.nLayers }, () => new Float32Array(capacity * kvDim));
    this.v = Array.from({ length: config.nLayers }, () => new Float32Array(capacity * kvDim));
  }
}

export class LlamaModel {
  readonly config: LlamaConfig;
  /** Every linear layer by its canonical name (e.g. `model.layers.0.self_attn.q_proj`); replace entries to swap weights. */
  readonly linears = new Map<string, Linear>();
  private readonly norms = new Map<string, Float32Array>();
  private readonly embedding: Float32Array;
  readonly headDim: number;

  constructor(config: LlamaConfig, weights: Weights) {
    this.config = config;
    this.headDim = config.dim / config.nHeads;
    const need = (name: string): Tensor => {
      const t = weights.get(name);
      if (!t) throw new Error(`missing tensor ${name}`);
      return t;
    };
    this.embedding = need('model.embed_tokens.weight').data;
    for (let i = 0; i < config.nLayers; i++) {
      for (const l of LAYER_LINEARS)
        this.linears.set(`model.layers.${i}.${l}`, new DenseLinear(need(`model.layers.${i}.${l}.weight`)));
      for (const n of ['input_layernorm', 'post_attention_layernorm'])
        this.norms.set(`model.layers.${i}.${n}`, need(`model.layers.${i}.${n}.weight`).data);
    }
    this.norms.set('model.norm', need('model.norm.weight').data);
    this.linears.set(
      'lm_head',
      new DenseLinear(
        config.tiedEmbeddings
          ? { shape: [config.vocabSize, config.dim], data: this.embedding }
          : need('lm_head.weight'),
      ),
    );
  }

  private async rmsnorm(x: Float32Array, name: string, rows: number): Promise<Float32Array> {
    const out = new Float32Array(x.length);
    await callNative(() => native().rmsnorm(x, this.norms.get(name)!, rows, this.config.dim, this.config.normEps, out));
    return out;
  }

  private linear(name: string): Linear {
    return this.linears.get(name)!;
  }

  /** The tensors that are not linear layers (token embedding, norms) under their canonical names. */
  otherTensors(): Map<string, Tensor> {
    const c = this.config;
    const out = new Map<string, Tensor>([
      ['model.embed_tokens.weight', { shape: [c.vocabSize, c.dim], data: this.embedding }],
    ]);
    for (const [name, w] of this.norms) out.set(`${name}.weight`, { shape: [c.dim], data: w });
    return out;
  }

  /** The embeddings of `tokens` `[rows × dim]`. */
  embed(tokens: Int32Array): Float32Array {
    const c = this.config;
    const x = new Float32Array(tokens.length * c.dim);
    for (let r = 0; r < tokens.length; r++) {
      const id = tokens[r]!;
      if (!(id >= 0 && id < c.vocabSize)) throw new Error(`token id ${id} is outside the vocabulary (${c.vocabSize})`);
      x.set(this.embedding.subarray(id * c.dim, (id + 1) * c.dim), r * c.dim);
    }
    return x;
  }

  /**
   * Runs transformer block `i` in place on x `[batch·t × dim]` (`batch` sequences of `t` tokens at
   * positions start .. start + t − 1; with a cache (batch 1), keys and values are appended to it).
   */
  async block(i: number, x: Float32Array, batch: number, t: number, cache?: KvCache): Promise<void> {
    const c = this.config;
    const rows = batch * t;
    const start = cache ? cache.length : 0;
    const pos = new Int32Array(rows).map((_, r) => start + (r % t));
    const kvDim = c.nKvHeads * this.headDim;
    const style = c.ropeStyle === 'interleaved' ? 0 : 1;
    const p = `model.layers.${i}.`;
    const h = await this.rmsnorm(x, `${p}input_layernorm`, rows);
    const [q, k, v] = await Promise.all([
      this.linear(`${p}self_attn.q_proj`).forward(h, rows),
      this.linear(`${p}self_attn.k_proj`).forward(h, rows),
      this.linear(`${p}self_attn.v_proj`).forward(h, rows),
    ]);
    await callNative(() => native().rope(q, rows, c.nHeads, this.headDim, pos, c.ropeTheta, style));
    await callNative(() => native().rope(k, rows, c.nKvHeads, this.headDim, pos, c.ropeTheta, style));
    let keys = k;
    let values = v;
    let tk = t;
    if (cache) {
      cache.k[i]!.set(k, start * kvDim);
      cache.v[i]!.set(v, start * kvDim);
      tk = start + t;
      keys = cache.k[i]!.subarray(0, tk * kvDim);
      values = cache.v[i]!.subarray(0, tk * kvDim);
    }
    const att = new Float32Array(rows * c.dim);
    await callNative(() => native().attention(q, keys, values, att, batch, t, tk, c.nHeads, c.nKvHeads, this.headDim));
    const o = await this.linear(`${p}self_attn.o_proj`).forward(att, rows);
    for (let j = 0; j < x.length; j++) x[j] = x[j]! + o[j]!;
    const h2 = await this.rmsnorm(x, `${p}post_attention_layernorm`, rows);
    const [gate, up] = await Promise.all([
      this.linear(`${p}mlp.gate_proj`).forward(h2, rows),
      this.linear(`${p}mlp.up_proj`).forward(h2, rows),
    ]);
    await callNative(() => native().swiglu(gate, up, gate, gate.length));
    const down = await this.linear(`${p}mlp.down_proj`).forward(gate, rows);
    for (let j = 0; j < x.length; j++) x[j] = x[j]! + down[j]!;
  }

  /** Logits `[rows × vocab]` of the final hidden states x. */
  async head(x: Float32Array, rows: number): Promise<Float32Array> {
    const hf = await this.rmsnorm(x, 'model.norm', rows);
    return this.linear('lm_head').forward(hf, rows);
  }

  /**
   * Logits `[batch·t × vocab]` for `batch` sequences of `t` tokens each (`tokens` row-major). With
   * a cache (batch 1), the tokens continue the cached positions and their keys/values are added.
   */
  async forward(tokens: Int32Array, batch: number, t: number, cache?: KvCache): Promise<Float32Array> {
    if (cache && batch !== 1) throw new Error('a KV cache serves one sequence');
    if (cache && cache.length + t > cache.capacity)
      throw new Error(`the KV cache holds ${cache.capacity} positions, ${cache.length + t} needed`);
    const x = this.embed(tokens);
    for (let i = 0; i < this.config.nLayers; i++) await this.block(i, x, batch, t, cache);
    if (cache) cache.length += t;
    return this.head(x, batch * t);
  }
}
