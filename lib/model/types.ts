/**
 * The in-memory form every model format loads into (lib/formats/*), and that the forward pass
 * (lib/model/) runs: a LLaMA-architecture config and its weights under canonical (Hugging Face)
 * tensor names.
 */

/** How rotary position embeddings pair the dimensions of a head. */
export type RopeStyle =
  /** llama2.c, GGUF (ggml's normal mode): pairs (2i, 2i+1). */
  | 'interleaved'
  /** Hugging Face `rotate_half`: pairs (i, i + headDim/2). */
  | 'half';

export interface LlamaConfig {
  /** Model width (hidden size). */
  dim: number;
  /** MLP inner width (intermediate size). */
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  /** Key/value heads (grouped-query attention when < nHeads). */
  nKvHeads: number;
  vocabSize: number;
  /** Context length the model was trained with. */
  maxSeqLen: number;
  ropeTheta: number;
  normEps: number;
  ropeStyle: RopeStyle;
  /** The classifier reuses the token embedding (no `lm_head.weight`). */
  tiedEmbeddings: boolean;
}

/** A tensor in row-major order: `shape[0]` rows (outputs for a linear layer's weight) × the rest. */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Canonical tensor names (Hugging Face LlamaForCausalLM), per layer i:
 *   model.embed_tokens.weight                      [vocab × dim]
 *   model.layers.{i}.input_layernorm.weight         [dim]
 *   model.layers.{i}.self_attn.q_proj.weight        [nHeads·headDim × dim]
 *   model.layers.{i}.self_attn.k_proj.weight        [nKvHeads·headDim × dim]
 *   model.layers.{i}.self_attn.v_proj.weight        [nKvHeads·headDim × dim]
 *   model.layers.{i}.self_attn.o_proj.weight        [dim × nHeads·headDim]
 *   model.layers.{i}.post_attention_layernorm.weight [dim]
 *   model.layers.{i}.mlp.gate_proj.weight           [hiddenDim × dim]
 *   model.layers.{i}.mlp.up_proj.weight             [hiddenDim × dim]
 *   model.layers.{i}.mlp.down_proj.weight           [dim × hiddenDim]
 *   model.norm.weight                               [dim]
 *   lm_head.weight                                  [vocab × dim] (absent when tiedEmbeddings)
 * Q and K rows are in the order the config's ropeStyle expects.
 */
export type Weights = Map<string, Tensor>;

/** A tokenizer, whatever file it came from. */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  /** Token ids of `text` (no BOS/EOS added). */
  encode(text: string): number[];
  /** Text of one token id as it continues a sequence (byte-fallback tokens may be partial UTF-8: use decode for whole sequences). */
  tokenText(id: number): string;
  /** Text of a sequence of ids (byte-fallback tokens joined into UTF-8). */
  decode(ids: readonly number[]): string;
}
