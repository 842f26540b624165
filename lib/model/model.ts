/**
 * `loadModel`, `evaluate`, `generate`: the public runtime API (DESIGN.md section 2).
 * Formats: a Hugging Face folder (config.json + safetensors + tokenizer.json), a llama2.c `.bin`
 * beside its tokenizer `.bin`, or a `.gguf` (vocabulary embedded).
 */
import type { Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

import { resolveDevice, type Device } from '../device.js';
import { LlmcError, invalidArgument } from '../errors.js';
import { scoreStream, encodeParagraphs, type EvaluateResult } from '../eval/evaluate.js';
import { splitParagraphs } from '../eval/text.js';
import {
  isCompressedTensors,
  loadCompressedTensors,
  readCompressedTensorsHeader,
} from '../formats/compressed_tensors.js';
import { type GgufVocab, loadGguf, readGgufModelHeader } from '../formats/gguf.js';
import { isGptq, loadGptq, readGptqHeader } from '../formats/gptq.js';
import { is24Sparse } from '../formats/sparse24_bitmask.js';
import { hfModelFiles, llamaConfigFromHf, loadHfModel } from '../formats/hf_config.js';
import { readSafetensorsEntries } from '../formats/safetensors.js';
import { loadLlama2c, readLlama2cConfig } from '../formats/llama2c.js';
import { loadHfTokenizer, loadLlama2cTokenizer, Llama2cTokenizer } from '../tokenizers/index.js';
import { checkBoolean, checkFiniteNumber, checkInteger, checkKnownKeys, checkObject } from '../validate.js';
import { CudaLinear, cudaTwin } from './cuda_linear.js';
import { KvCache, LAYER_LINEARS, LlamaModel } from './llama.js';
import { QuantLinear } from './quant_linear.js';
import { sparseTwin } from './sparse24_linear.js';
import type { LlamaConfig, Tokenizer } from './types.js';

export type ModelFormat = 'huggingface' | 'llama2c' | 'gguf';

export interface LoadModelOptions {
  /** Tokenizer file when it is not found beside the model (llama2.c `tokenizer.bin`, HF `tokenizer.json`). */
  tokenizer?: string;
  /**
   * Start text with SentencePiece's dummy-prefix space ('▁' of an HF normalizer; the ' ' llama2.c
   * and GGUF `llama` vocabularies add) — some models were trained without it (tinystories-656k:
   * false). Default: what the tokenizer says (its normalizer, GGUF `add_space_prefix`; llama2.c: true).
   */
  prependSpace?: boolean;
  /**
   * Read each linear layer's weights from the file when first used instead of at load time
   * (Hugging Face safetensors models; other formats load whole). compress() uses it: layers are
   * then read block by block and the fp32 weights of a compressed layer are released, so memory
   * stays near the compressed model plus one block. Default false.
   */
  lazy?: boolean;
  /**
   * Where the linear layers run: `'cpu'` (default), `'cuda'` (their weights in GPU memory on the
   * CUDA kernels — w4a16, w8a8, 2:4 `mma.sp`, dense layers as f16 — with activations copied per call;
   * the other ops, and w4a8 / w8a16 layers that no GPU kernel matches, stay on the CPU) or `'auto'`
   * (the GPU when one is usable). `dispose()` frees the device memory.
   */
  device?: Device;
}

/** A loaded model: its config, tokenizer and forward pass. */
export class Model {
  /** @internal */
  constructor(
    readonly path: string,
    readonly format: ModelFormat,
    readonly config: LlamaConfig,
    readonly tokenizer: Tokenizer,
    readonly llama: LlamaModel,
  ) {}

  /** Where the linear layers run (see {@link LoadModelOptions.device}). */
  device: 'cpu' | 'cuda' = 'cpu';

  /** Releases the weights, device memory included (the object must not be used afterwards). */
  dispose(): void {
    for (const lin of this.llama.linears.values()) if (lin instanceof CudaLinear) lin.dispose();
    this.llama.linears.clear();
  }

  /** @internal Moves every linear layer a CUDA kernel can run to the GPU. */
  async moveToCuda(): Promise<void> {
    try {
      for (const [name, lin] of this.llama.linears) {
        const twin = await cudaTwin(lin);
        if (twin) this.llama.linears.set(name, twin);
      }
    } catch (e) {
      this.dispose(); // no device memory left behind by a half-moved model
      throw e;
    }
    this.device = 'cuda';
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}

async function findFile(dir: string, test: (name: string) => boolean, what: string, hint: string): Promise<string> {
  const names = (await readdir(dir)).filter(test).sort();
  if (names.length === 0) throw new LlmcError('LLMC_INVALID_ARGUMENT', `no ${what} found in ${dir}; ${hint}`);
  return join(dir, names[0]!);
}

/**
 * Loads a model (any supported format) for evaluation and generation.
 *
 * @param path - a Hugging Face folder, a llama2.c `.bin` (tokenizer `.bin` beside it), a `.gguf`,
 *   or a folder holding one of the latter
 * @example
 * ```ts
 * const model = await loadModel('models/stories260K/stories260K.bin');
 * console.log(await generate(model, 'Once upon a time', { maxTokens: 32 }));
 * model.dispose();
 * ```
 */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
  const device = options?.device === undefined ? 'cpu' : resolveDevice('options.device', options.device).device;
  return withFileErrors(path, async () => {
    const model = await load(path, options);
    if (device === 'cuda') await model.moveToCuda();
    return model;
  });
}

/**
 * Runs `read`, turning a missing or unreadable file the format needs (e.g. a shard named by the
 * index) into a typed error naming it, not Node's bare one.
 */
async function withFileErrors<T>(path: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (
      !(e instanceof LlmcError) &&
      typeof err?.code === 'string' &&
      ['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR'].includes(err.code)
    )
      throw new LlmcError(
        'LLMC_INVALID_ARGUMENT',
        `${err.path ?? path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`,
        undefined,
        { cause: e },
      );
    throw e;
  }
}

/**
 * The tokenizer of a Hugging Face-style folder: `options.tokenizer`, else tokenizer.json, else a
 * llama2.c tokenizer.bin (what this library writes for models converted from llama2.c or GGUF).
 */
async function folderTokenizer(
  dir: string,
  names: string[],
  explicit: string | undefined,
  vocabSize: number,
  prependSpace: boolean | undefined,
): Promise<Tokenizer> {
  const path =
    explicit ??
    join(
      dir,
      names.includes('tokenizer.json') || !names.includes('tokenizer.bin') ? 'tokenizer.json' : 'tokenizer.bin',
    );
  return path.endsWith('.bin')
    ? loadLlama2cTokenizer(path, vocabSize, prependSpace === undefined ? {} : { addSpacePrefix: prependSpace })
    : loadHfTokenizer(path, prependSpace === undefined ? { vocabSize } : { prependSpace, vocabSize });
}

/** The tokenizer beside a llama2.c checkpoint (tokenizer.bin or tok*.bin), or `explicit`. */
async function llama2cTokenizer(
  file: string,
  vocabSize: number,
  explicit: string | undefined,
  prependSpace: boolean | undefined,
): Promise<Tokenizer> {
  const tokPath =
    explicit ??
    (await findFile(
      dirname(file),
      (n) => n === 'tokenizer.bin' || (/^tok.*\.bin$/.test(n) && n !== basename(file)),
      'llama2.c tokenizer (tokenizer.bin or tok*.bin)',
      'pass options.tokenizer',
    ));
  return loadLlama2cTokenizer(tokPath, vocabSize, prependSpace === undefined ? {} : { addSpacePrefix: prependSpace });
}

/** The one `.gguf` or llama2.c `.bin` of a folder without config.json. */
function modelFileIn(dir: string, names: string[]): string {
  const gguf = names.filter((n) => n.endsWith('.gguf'));
  const bins = names.filter((n) => n.endsWith('.bin') && !/^tok/.test(n) && n !== 'tokenizer.bin');
  if (gguf.length + bins.length !== 1)
    throw invalidArgument('path', 'a folder with config.json, or with exactly one .gguf or llama2.c .bin', dir);
  return join(dir, (gguf[0] ?? bins[0])!);
}

/** The tokenizer of a GGUF file: `explicit` (a llama2.c tokenizer.bin), else its embedded vocabulary. */
async function ggufTokenizer(
  file: string,
  v: GgufVocab,
  vocabSize: number,
  explicit: string | undefined,
  prependSpace: boolean | undefined,
): Promise<Tokenizer> {
  if ((v.model !== undefined && v.model !== 'llama') || !v.scores || v.bos === undefined || v.eos === undefined)
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `${basename(file)}: embedded vocabulary "${v.model ?? '?'}" is not a SentencePiece (llama) vocabulary with scores, BOS and EOS; pass options.tokenizer`,
    );
  return explicit !== undefined
    ? await loadLlama2cTokenizer(
        explicit,
        vocabSize,
        prependSpace === undefined ? {} : { addSpacePrefix: prependSpace },
      )
    : Llama2cTokenizer.fromVocab({
        tokens: v.tokens,
        scores: v.scores,
        bos: v.bos,
        eos: v.eos,
        ...(v.tokenTypes ? { tokenTypes: v.tokenTypes } : {}),
        source: basename(file),
        ...(prependSpace !== undefined
          ? { addSpacePrefix: prependSpace }
          : v.addSpacePrefix !== undefined
            ? { addSpacePrefix: v.addSpacePrefix }
            : {}),
      });
}

/** Where a model path points: a Hugging Face folder (with its parsed config.json), a GGUF file or a llama2.c checkpoint. */
type ModelLocation =
  | { kind: 'folder'; names: string[]; configJson: Record<string, unknown> }
  | { kind: 'gguf' | 'llama2c'; file: string };

/** Resolves `path` to the model it holds, reading only the folder listing and config.json (loadModel and describeModel). */
async function locateModel(path: string): Promise<ModelLocation> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch {
    throw invalidArgument('path', 'an existing model file or folder', path);
  }
  let file = path;
  if (info.isDirectory()) {
    const names = await readdir(path);
    if (names.includes('config.json')) {
      const configJson = JSON.parse(await readFile(join(path, 'config.json'), 'utf8')) as Record<string, unknown>;
      return { kind: 'folder', names, configJson };
    }
    file = modelFileIn(path, names);
  }
  const ext = extname(file).toLowerCase();
  if (ext === '.gguf') return { kind: 'gguf', file };
  if (ext === '.bin') return { kind: 'llama2c', file };
  throw new LlmcError(
    'LLMC_UNSUPPORTED',
    `${basename(file)}: unknown model format (expected a folder with config.json, a .gguf or a llama2.c .bin)`,
  );
}

async function load(path: string, options: LoadModelOptions): Promise<Model> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path', 'a model file or folder', path);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['tokenizer', 'prependSpace', 'lazy', 'device']);
  const lazy = o.lazy === undefined ? false : checkBoolean('options.lazy', o.lazy);
  const prependSpace = o.prependSpace === undefined ? undefined : checkBoolean('options.prependSpace', o.prependSpace);
  const at = await locateModel(path);
  if (at.kind === 'folder') {
    const { names, configJson } = at;
    const quantized = isCompressedTensors(configJson)
      ? await loadCompressedTensors(path, configJson)
      : isGptq(configJson)
        ? await loadGptq(path, configJson)
        : undefined;
    if (quantized) {
      const { config, weights, packed } = quantized;
      const tokenizer = await folderTokenizer(path, names, options.tokenizer, config.vocabSize, prependSpace);
      const llama = new LlamaModel(config, weights);
      for (const [name, p] of packed) llama.linears.set(name, new QuantLinear(p.weight, p.activations));
      // 2:4 sparse layers (named by a sparsity_config, or found so in a GPTQ file) run on the 2:4 kernels.
      for (const [name, lin] of llama.linears) {
        if (
          name === 'lm_head' ||
          !('sparse24' in quantized
            ? quantized.sparse24.has(name)
            : is24Sparse(weights.get(`${name}.weight`)!.data, lin.outFeatures, lin.inFeatures))
        )
          continue;
        const twin = await sparseTwin(lin);
        if (twin) llama.linears.set(name, twin);
      }
      return new Model(path, 'huggingface', config, tokenizer, llama);
    }
    const { config, weights } = await loadHfModel(path, { lazy });
    const tokenizer = await folderTokenizer(path, names, options.tokenizer, config.vocabSize, prependSpace);
    return new Model(path, 'huggingface', config, tokenizer, new LlamaModel(config, weights));
  }
  const { file } = at;
  if (at.kind === 'gguf') {
    const g = await loadGguf(file);
    const tokenizer = await ggufTokenizer(file, g.vocab, g.config.vocabSize, options.tokenizer, prependSpace);
    return new Model(file, 'gguf', g.config, tokenizer, new LlamaModel(g.config, g.weights));
  }
  const { config, weights } = await loadLlama2c(file);
  const tokenizer = await llama2cTokenizer(file, config.vocabSize, options.tokenizer, prependSpace);
  return new Model(file, 'llama2c', config, tokenizer, new LlamaModel(config, weights));
}

export interface EvaluateOptions {
  /** Text file to score (or `text`). */
  file?: string;
  text?: string;
  /** Paragraphs [a, b) of the text (split on blank lines). Default: all. */
  paragraphs?: [number, number];
  /** A model to compare with: adds `kl` and `top1`. */
  reference?: Model;
  /** Windows per forward pass. Default 8. */
  batch?: number;
  onProgress?: (e: { done: number; total: number }) => void;
}

/**
 * Mean NLL, perplexity and bits per byte of `model` on a text (DESIGN.md section 7 protocol;
 * windows of the model's context length); with `reference`, the mean KL divergence and top-1
 * agreement of the next-token distributions.
 */
export async function evaluate(model: Model, options: EvaluateOptions): Promise<EvaluateResult> {
  if (!(model instanceof Model)) throw invalidArgument('model', 'a Model from loadModel', model);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['file', 'text', 'paragraphs', 'reference', 'batch', 'onProgress']);
  if ((o.file === undefined) === (o.text === undefined))
    throw invalidArgument('options', 'exactly one of file or text', o);
  const text = o.text !== undefined ? String(o.text) : await readFile(String(o.file), 'utf8');
  let paragraphs = splitParagraphs(text);
  if (o.paragraphs !== undefined) {
    const r = o.paragraphs as unknown;
    if (!Array.isArray(r) || r.length !== 2) throw invalidArgument('options.paragraphs', '[start, end]', r);
    const a = checkInteger('options.paragraphs[0]', r[0], 0);
    const b = checkInteger('options.paragraphs[1]', r[1], a);
    if (b > paragraphs.length)
      throw invalidArgument('options.paragraphs', `a range within the ${paragraphs.length} paragraphs`, r);
    paragraphs = paragraphs.slice(a, b);
  }
  const reference = o.reference as Model | undefined;
  if (reference !== undefined) {
    if (!(reference instanceof Model)) throw invalidArgument('options.reference', 'a Model from loadModel', reference);
    if (reference.config.vocabSize !== model.config.vocabSize)
      throw invalidArgument(
        'options.reference',
        `a model with the same vocabulary (${model.config.vocabSize})`,
        reference.config.vocabSize,
      );
  }
  const batch = o.batch === undefined ? 8 : checkInteger('options.batch', o.batch, 1, 1024);
  const { stream, bytes } = encodeParagraphs(model.tokenizer, paragraphs);
  const r = await scoreStream(model, stream, model.config.maxSeqLen, {
    batch,
    ...(reference ? { reference } : {}),
    ...(o.onProgress
      ? {
          onProgress: (done: number, total: number) =>
            (o.onProgress as EvaluateOptions['onProgress'])!({ done, total }),
        }
      : {}),
  });
  const nll = r.nll / r.tokens;
  return {
    nll,
    perplexity: Math.exp(nll),
    bitsPerByte: r.nll / Math.LN2 / bytes,
    tokens: r.tokens,
    bytes,
    ...(r.kl !== undefined ? { kl: r.kl, top1: r.top1! } : {}),
  };
}

export interface GenerateOptions {
  /** Tokens to generate at most. Default 64. */
  maxTokens?: number;
  /** 0 (default): greedy. Otherwise sampling from softmax(logits / temperature). */
  temperature?: number;
  /** Nucleus sampling: the smallest set of tokens whose probability reaches topP. Default 1. */
  topP?: number;
  /** Seed of the sampler (same seed, same text). Default 1. */
  seed?: number;
  /** Called with each generated token id. */
  onToken?: (id: number) => void;
}

/** Ids of the generated continuation of `prompt` (BOS, the prompt's tokens, then new tokens until EOS or maxTokens). */
export async function generateTokens(model: Model, prompt: string, options: GenerateOptions = {}): Promise<number[]> {
  if (!(model instanceof Model)) throw invalidArgument('model', 'a Model from loadModel', model);
  if (typeof prompt !== 'string') throw invalidArgument('prompt', 'a string', prompt);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['maxTokens', 'temperature', 'topP', 'seed', 'onToken']);
  const maxTokens = o.maxTokens === undefined ? 64 : checkInteger('options.maxTokens', o.maxTokens, 0);
  const temperature = o.temperature === undefined ? 0 : checkFiniteNumber('options.temperature', o.temperature);
  if (temperature < 0) throw invalidArgument('options.temperature', 'a number >= 0', temperature);
  const topP = o.topP === undefined ? 1 : checkFiniteNumber('options.topP', o.topP);
  if (!(topP > 0 && topP <= 1)) throw invalidArgument('options.topP', 'a number in (0, 1]', topP);
  let seed = (o.seed === undefined ? 1 : checkInteger('options.seed', o.seed, 0)) >>> 0 || 0x9e3779b9;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed / 2 ** 32;
  };
  const c = model.config;
  const input = [model.tokenizer.bos, ...(prompt.length > 0 ? model.tokenizer.encode(prompt) : [])];
  const budget = Math.min(maxTokens, c.maxSeqLen - input.length);
  const cache = new KvCache(c, Math.min(c.maxSeqLen, input.length + Math.max(0, budget)));
  let logits = await model.llama.forward(Int32Array.from(input), 1, input.length, cache);
  let last = (input.length - 1) * c.vocabSize;
  const out: number[] = [];
  for (let n = 0; n < budget; n++) {
    const row = logits.subarray(last, last + c.vocabSize);
    let next = 0;
    if (temperature === 0) {
      for (let i = 1; i < row.length; i++) if (row[i]! > row[next]!) next = i;
    } else {
      let mx = -Infinity;
      for (const v of row) mx = Math.max(mx, v);
      const p = Array.from(row, (v, i) => ({ i, p: Math.exp((v - mx) / temperature) }));
      const z = p.reduce((a, b) => a + b.p, 0);
      p.sort((a, b) => b.p - a.p);
      let keep = 0;
      let mass = 0;
      while (keep < p.length && mass < topP * z) mass += p[keep++]!.p;
      let r = random() * mass;
      next = p[keep - 1]!.i;
      for (let k = 0; k < keep; k++) {
        r -= p[k]!.p;
        if (r <= 0) {
          next = p[k]!.i;
          break;
        }
      }
    }
    if (next === model.tokenizer.eos || next === model.tokenizer.bos) break;
    out.push(next);
    (o.onToken as GenerateOptions['onToken'])?.(next);
    if (n + 1 < budget) {
      logits = await model.llama.forward(Int32Array.of(next), 1, 1, cache);
      last = 0;
    }
  }
  return out;
}

/**
 * Text generated after `prompt` (greedy by default; `temperature` / `topP` / `seed` sample).
 * Stops at the end-of-sequence token or after `maxTokens`. Returns the continuation only (with an
 * empty prompt, without the leading space of the first word).
 */
export async function generate(model: Model, prompt: string, options: GenerateOptions = {}): Promise<string> {
  const ids = await generateTokens(model, prompt, options);
  const text = model.tokenizer.decode(ids);
  return prompt.length === 0 && text.startsWith(' ') ? text.slice(1) : text;
}

/** What {@link describeModel} reports: a model as its headers describe it. */
export interface ModelInfo {
  /** The model file (or folder) read. */
  path: string;
  format: ModelFormat;
  config: LlamaConfig;
  tokenizer: Tokenizer;
  /**
   * Every linear layer in {@link LlamaModel.linears} order: its canonical name, `[out, in]` shape
   * and what its stored weight holds (`fp32`, `fp16`, `bf16`, a ggml type such as `q8_0`, or a
   * compressed scheme such as `w4a16 g64`, `w8a8`, `w4a16 g64 2:4`).
   */
  linears: Array<{ name: string; shape: [number, number]; dtype: string }>;
}

/**
 * Describes a model from its headers only — `config.json` and the safetensors headers, GGUF
 * metadata and tensor infos, the llama2.c header — plus its tokenizer: the config {@link loadModel}
 * would return, without reading (or needing) the tensor data. What `llm-compress info` prints.
 *
 * @param path - as for {@link loadModel}
 * @param options - `tokenizer` and `prependSpace` as for {@link loadModel}
 * @throws {@link LlmcError} as {@link loadModel} for a malformed or unsupported header or config
 * @example
 * ```ts
 * const info = await describeModel('models/stories260K/stories260K.gguf');
 * console.log(info.config.dim, info.linears.length);
 * ```
 */
export async function describeModel(
  path: string,
  options: Pick<LoadModelOptions, 'tokenizer' | 'prependSpace'> = {},
): Promise<ModelInfo> {
  return withFileErrors(path, () => describe(path, options));
}

async function describe(
  path: string,
  options: Pick<LoadModelOptions, 'tokenizer' | 'prependSpace'>,
): Promise<ModelInfo> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path', 'a model file or folder', path);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['tokenizer', 'prependSpace']);
  const prependSpace = o.prependSpace === undefined ? undefined : checkBoolean('options.prependSpace', o.prependSpace);
  const withLinears = (
    file: string,
    format: ModelFormat,
    config: LlamaConfig,
    tokenizer: Tokenizer,
    dtypeOf: (layer: string) => string | undefined,
  ): ModelInfo => {
    const { dim, hiddenDim, nHeads, nKvHeads, vocabSize } = config;
    const kvDim = (nKvHeads * dim) / nHeads;
    const shapes: Record<(typeof LAYER_LINEARS)[number], [number, number]> = {
      'self_attn.q_proj': [dim, dim],
      'self_attn.k_proj': [kvDim, dim],
      'self_attn.v_proj': [kvDim, dim],
      'self_attn.o_proj': [dim, dim],
      'mlp.gate_proj': [hiddenDim, dim],
      'mlp.up_proj': [hiddenDim, dim],
      'mlp.down_proj': [dim, hiddenDim],
    };
    const linears: ModelInfo['linears'] = [];
    const add = (name: string, shape: [number, number], dtype: string | undefined) =>
      linears.push({ name, shape, dtype: ({ f32: 'fp32', f16: 'fp16' } as Record<string, string>)[dtype!] ?? dtype! });
    for (let i = 0; i < config.nLayers; i++)
      for (const l of LAYER_LINEARS) add(`model.layers.${i}.${l}`, shapes[l], dtypeOf(`model.layers.${i}.${l}`));
    add(
      'lm_head',
      [vocabSize, dim],
      (!config.tiedEmbeddings && dtypeOf('lm_head')) || dtypeOf('model.embed_tokens') || dtypeOf('lm_head'),
    );
    return { path: file, format, config, tokenizer, linears };
  };
  const at = await locateModel(path);
  if (at.kind === 'folder') {
    const { names, configJson } = at;
    const quantized = isCompressedTensors(configJson)
      ? await readCompressedTensorsHeader(path, configJson)
      : isGptq(configJson)
        ? await readGptqHeader(path, configJson)
        : undefined;
    let config: LlamaConfig;
    let dtypeOf: (layer: string) => string | undefined;
    if (quantized) {
      config = quantized.config;
      dtypeOf = (layer) => quantized.layers.get(layer);
    } else {
      const { json, source } = await hfModelFiles(path);
      const entries = await readSafetensorsEntries(source, { headerOnly: true });
      config = llamaConfigFromHf(json, entries);
      dtypeOf = (layer) => entries.get(`${layer}.weight`)?.dtype.toLowerCase();
    }
    const tokenizer = await folderTokenizer(path, names, options.tokenizer, config.vocabSize, prependSpace);
    return withLinears(path, 'huggingface', config, tokenizer, dtypeOf);
  }
  const { file } = at;
  if (at.kind === 'gguf') {
    const g = await readGgufModelHeader(file);
    const tokenizer = await ggufTokenizer(file, g.vocab, g.config.vocabSize, options.tokenizer, prependSpace);
    return withLinears(file, 'gguf', g.config, tokenizer, (layer) =>
      g.tensors.get(`${layer}.weight`)?.typeName.toLowerCase(),
    );
  }
  const config = await readLlama2cConfig(file);
  const tokenizer = await llama2cTokenizer(file, config.vocabSize, options.tokenizer, prependSpace);
  return withLinears(file, 'llama2c', config, tokenizer, () => 'fp32');
}
