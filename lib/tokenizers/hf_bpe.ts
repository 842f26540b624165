/**
 * Hugging Face `tokenizer.json` BPE tokenizers of the sentencepiece kind (Llama, TinyStories
 * models): '▁' for spaces, byte-fallback `<0xXX>` tokens, merges by rank.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { LlmcError, invalidArgument } from '../errors.js';
import type { Tokenizer } from '../model/types.js';
import { checkBoolean, checkInteger, checkKnownKeys, checkObject } from '../validate.js';
import { mergePairs, type PairMerge } from './llama2c.js';

/** Options of {@link loadHfTokenizer}. */
export interface HfTokenizerOptions {
  /**
   * Prepend the '▁' (dummy prefix) to the text. Default: what the file says (a `Prepend`
   * normalizer, or a `Metaspace` pre-tokenizer whose prepend scheme is not `never`). `false`
   * turns it off (the tinystories-656k model was trained without it); `true` requires the file
   * to have a prepend step.
   */
  prependSpace?: boolean;
  /**
   * The model's vocabulary size (`vocab_size` of its config): every token id must be below it.
   * Default: the number of tokens in the file (the ids must then be 0..n-1 without gaps).
   */
  vocabSize?: number;
}

type Json = Record<string, unknown>;
type Prepend = 'never' | 'first' | 'always';

/** What the normalizer and pre-tokenizer of a file do, reduced to what this tokenizer supports. */
interface Pipeline {
  /** Content of the `Prepend` normalizer (added once, at the start of the text), if any. */
  prepend?: string;
  /** `Replace` normalizers (string patterns), in order. */
  replaces: Array<[from: string, to: string]>;
  /** The `Metaspace` pre-tokenizer, if any. */
  metaspace?: { replacement: string; prepend: Prepend; split: boolean };
}

const SPACE_MARK = '\u2581';
const BYTE_TOKEN = /^<0x([0-9A-F]{2})>$/;
const DECODERS = new Set(['Sequence', 'Replace', 'ByteFallback', 'Fuse', 'Strip', 'Metaspace']);
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A sentencepiece-style BPE tokenizer read from a Hugging Face `tokenizer.json`. */
export class HfBpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  /** Whether `encode` prepends the '▁' (and `decode` strips the leading space it becomes). */
  readonly prependSpace: boolean;
  private readonly vocab: Map<string, number>;
  private readonly pieces: (string | undefined)[];
  private readonly decoded: (Uint8Array | undefined)[];
  /** Merges by pair key `left * vocabSize + right`. */
  private readonly merges: Map<number, PairMerge>;
  /** Added tokens, matched whole in the raw text; undefined when there are none. */
  private readonly addedPattern: RegExp | undefined;
  private readonly added: Map<string, number>;

  /** @internal Built by {@link loadHfTokenizer}. */
  constructor(
    private readonly model: { byteFallback: boolean; unk?: number; fuseUnk: boolean; ignoreMerges: boolean },
    private readonly pipeline: Pipeline,
    tables: {
      vocab: Map<string, number>;
      merges: Array<[string, string]>;
      added: Map<string, number>;
      addedPattern?: RegExp;
    },
    special: { bos: number; eos: number; prependSpace: boolean },
  ) {
    this.vocab = tables.vocab;
    this.added = tables.added;
    this.addedPattern = tables.addedPattern;
    this.bos = special.bos;
    this.eos = special.eos;
    this.prependSpace = special.prependSpace;
    let maxId = -1;
    for (const id of tables.vocab.values()) if (id > maxId) maxId = id;
    for (const id of tables.added.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.pieces = new Array<string | undefined>(this.vocabSize);
    for (const [piece, id] of tables.vocab) this.pieces[id] = piece;
    for (const [piece, id] of tables.added) this.pieces[id] = piece;
    this.decoded = this.pieces.map((piece, id) => {
      if (piece === undefined) return undefined;
      const byte = model.byteFallback && !tables.added.has(piece) ? BYTE_TOKEN.exec(piece) : null;
      if (byte) return Uint8Array.of(parseInt(byte[1]!, 16));
      return utf8.encode(tables.added.get(piece) === id ? piece : piece.replaceAll(SPACE_MARK, ' '));
    });
    this.merges = new Map();
    tables.merges.forEach(([a, b], rank) => {
      const left = this.vocab.get(a);
      const right = this.vocab.get(b);
      const id = this.vocab.get(a + b);
      if (left === undefined || right === undefined || id === undefined)
        throw new Error(`merge ${rank} ("${a}" "${b}") uses a token that is not in the vocabulary`);
      this.merges.set(left * this.vocabSize + right, { id, priority: -rank });
    });
  }

  /** The token's string as in the vocabulary ('▁' for spaces), e.g. `"ce▁"`. */
  piece(id: number): string {
    return this.checkId('id', id)[0];
  }

  /**
   * Token ids of `text` (no BOS/EOS). Added tokens (e.g. `<|start_story|>`) are matched whole in
   * the raw text first; the text between them is normalized ('▁' for ' ', and the '▁' prefix once,
   * at the very start of the text, when {@link prependSpace}) and split into BPE pieces.
   */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
    const ids: number[] = [];
    let offset = 0;
    const encodeText = (end: number): void => {
      if (end > offset)
        for (const piece of this.preTokenize(text.slice(offset, end), offset === 0))
          for (const id of this.bpe(piece)) ids.push(id);
    };
    if (this.addedPattern) {
      for (const match of text.matchAll(this.addedPattern)) {
        encodeText(match.index);
        ids.push(this.added.get(match.slice(1).find((g) => g !== undefined)!)!);
        offset = match.index + match[0].length;
      }
    }
    encodeText(text.length);
    return ids;
  }

  /** Text of one token: '▁' as ' ', a byte token as its byte (U+FFFD when not whole UTF-8). */
  tokenText(id: number): string {
    return utf8Decoder.decode(this.checkId('id', id)[1]);
  }

  /**
   * Text of `ids`: tokens' text joined, byte tokens read as UTF-8. When {@link prependSpace}, the
   * leading space (the prefix '▁' of the text) is stripped, as the Hugging Face decoder does.
   * Added tokens decode to their content.
   */
  decode(ids: readonly number[]): string {
    if (!Array.isArray(ids)) throw invalidArgument('ids', 'an array of token ids', ids);
    const parts = ids.map((id, i) => this.checkId(`ids[${i}]`, id)[1]);
    const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    const text = utf8Decoder.decode(out);
    return this.prependSpace && text.startsWith(' ') ? text.slice(1) : text;
  }

  private checkId(name: string, id: number): [string, Uint8Array] {
    checkInteger(name, id, 0, this.vocabSize - 1);
    const piece = this.pieces[id];
    const bytes = this.decoded[id];
    if (piece === undefined || bytes === undefined) throw invalidArgument(name, 'the id of a token', id);
    return [piece, bytes];
  }

  /** Normalizes text between added tokens and splits it into BPE pieces. */
  private preTokenize(text: string, atStart: boolean): string[] {
    const { prepend, replaces, metaspace } = this.pipeline;
    let s = text;
    if (prepend !== undefined && this.prependSpace && atStart) s = prepend + s;
    for (const [from, to] of replaces) s = s.replaceAll(from, to);
    if (!metaspace) return [s];
    const { replacement, split } = metaspace;
    s = s.replaceAll(' ', replacement);
    const scheme = this.prependSpace ? metaspace.prepend : 'never';
    if ((scheme === 'always' || (scheme === 'first' && atStart)) && !s.startsWith(replacement)) s = replacement + s;
    return split ? s.split(new RegExp(`(?=${escapeRegExp(replacement)})`, 'u')).filter((p) => p !== '') : [s];
  }

  /** BPE of one piece: its characters (or their byte tokens, or `<unk>`), merged by rank. */
  private bpe(piece: string): number[] {
    const whole = this.model.ignoreMerges ? this.vocab.get(piece) : undefined;
    if (whole !== undefined) return [whole];
    const symbols: number[] = [];
    let lastWasUnk = false;
    for (const ch of piece) {
      const id = this.vocab.get(ch);
      if (id !== undefined) {
        symbols.push(id);
        lastWasUnk = false;
        continue;
      }
      const bytes = this.model.byteFallback ? this.byteTokens(ch) : undefined;
      if (bytes) {
        for (const id of bytes) symbols.push(id);
        lastWasUnk = false;
        continue;
      }
      if (this.model.unk === undefined) throw invalidArgument('text', 'characters the vocabulary can encode', ch);
      if (!(lastWasUnk && this.model.fuseUnk)) symbols.push(this.model.unk);
      lastWasUnk = true;
    }
    return mergePairs(symbols, (a, b) => this.merges.get(a * this.vocabSize + b));
  }

  /** The `<0xXX>` tokens of a character's UTF-8 bytes, or undefined when one is missing. */
  private byteTokens(ch: string): number[] | undefined {
    const ids: number[] = [];
    for (const b of utf8.encode(ch)) {
      const id = this.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (id === undefined) return undefined;
      ids.push(id);
    }
    return ids;
  }
}

/**
 * Reads a Hugging Face `tokenizer.json` with a BPE model of the sentencepiece kind: normalizer
 * `Prepend('▁')` / `Replace(' ' → '▁')` (or a `Metaspace` pre-tokenizer), byte fallback, merges as
 * `"a b"` strings or `[a, b]` pairs, `ignore_merges`, added tokens. BOS/EOS come from the
 * `bos_token`/`eos_token` of `tokenizer_config.json` beside the file, else from the added tokens
 * `<s>`/`</s>`.
 *
 * Differences from Hugging Face `tokenizers`: added tokens are all matched in the raw text (also
 * `normalized` ones), and a `Prepend` normalizer prefixes the text once, not each stretch between
 * added tokens.
 *
 * @param path - the `tokenizer.json` file.
 * @param options - see {@link HfTokenizerOptions}.
 * @throws LlmcError `LLMC_UNSUPPORTED` naming the file and the part (model type, normalizer,
 *   pre-tokenizer, decoder) this reader does not support; `LLMC_INVALID_ARGUMENT` when the file
 *   cannot be read or is malformed.
 */
export async function loadHfTokenizer(path: string, options: HfTokenizerOptions = {}): Promise<HfBpeTokenizer> {
  if (typeof path !== 'string' || path === '') throw invalidArgument('path', 'a file path', path);
  checkKnownKeys('options', checkObject('options', options), ['prependSpace', 'vocabSize']);
  if (options.prependSpace !== undefined) checkBoolean('options.prependSpace', options.prependSpace);
  if (options.vocabSize !== undefined) checkInteger('options.vocabSize', options.vocabSize, 1);
  const json = checkFileObject(path, await readJson(path));
  const bad = (what: string): LlmcError => new LlmcError('LLMC_INVALID_ARGUMENT', `${path}: ${what}`);
  const unsupported = (what: string): LlmcError => new LlmcError('LLMC_UNSUPPORTED', `${path}: unsupported ${what}`);

  const model = json.model;
  if (typeof model !== 'object' || model === null) throw bad('no "model" object');
  const m = model as Json;
  if (m.type !== 'BPE') throw unsupported(`model type ${JSON.stringify(m.type)} (only "BPE" is read)`);
  if (m.dropout !== undefined && m.dropout !== null && m.dropout !== 0)
    throw unsupported(`BPE dropout ${String(m.dropout)}`);
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'])
    if (m[key] !== undefined && m[key] !== null && m[key] !== '')
      throw unsupported(`BPE ${key} ${JSON.stringify(m[key])}`);

  const vocab = readVocab(m.vocab, bad);
  const merges = readMerges(m.merges, bad);
  const { added, addedPattern } = readAddedTokens(json.added_tokens, bad, unsupported);
  checkIds(vocab, added, options.vocabSize, bad);
  const pipeline = readPipeline(json.normalizer, json.pre_tokenizer, unsupported);
  checkDecoder(json.decoder, unsupported);

  const fileSaysPrepend =
    pipeline.prepend !== undefined || (pipeline.metaspace !== undefined && pipeline.metaspace.prepend !== 'never');
  if (options.prependSpace === true && !fileSaysPrepend)
    throw invalidArgument('options.prependSpace', `false or absent (${path} has no prepend step)`, true);
  const tokenId = (content: string): number | undefined => added.get(content) ?? vocab.get(content);
  const config = await readSpecialTokens(join(dirname(path), 'tokenizer_config.json'));
  const special = (key: 'bos_token' | 'eos_token', fallback: string): number => {
    const content = config[key] ?? fallback;
    const id = tokenId(content);
    if (id === undefined) throw new LlmcError('LLMC_UNSUPPORTED', `${path}: no ${key} ("${content}" is not a token)`);
    return id;
  };
  const unk = typeof m.unk_token === 'string' ? tokenId(m.unk_token) : undefined;
  try {
    return new HfBpeTokenizer(
      {
        byteFallback: m.byte_fallback === true,
        unk,
        fuseUnk: m.fuse_unk === true,
        ignoreMerges: m.ignore_merges === true,
      },
      pipeline,
      { vocab, merges, added, addedPattern },
      {
        bos: special('bos_token', '<s>'),
        eos: special('eos_token', '</s>'),
        prependSpace: options.prependSpace ?? fileSaysPrepend,
      },
    );
  } catch (e) {
    throw e instanceof LlmcError ? e : bad((e as Error).message);
  }
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new LlmcError(
      'LLMC_INVALID_ARGUMENT',
      `Cannot read the tokenizer ${path}: ${(cause as Error).message}`,
      undefined,
      { cause },
    );
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new LlmcError('LLMC_INVALID_ARGUMENT', `${path} is not valid JSON: ${(cause as Error).message}`, undefined, {
      cause,
    });
  }
}

function checkFileObject(path: string, value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new LlmcError('LLMC_INVALID_ARGUMENT', `${path}: expected a JSON object`);
  return value as Json;
}

/** `bos_token`/`eos_token` of a `tokenizer_config.json` (strings or `{ content }`), when present. */
async function readSpecialTokens(path: string): Promise<{ bos_token?: string; eos_token?: string }> {
  if (!existsSync(path)) return {};
  const config = checkFileObject(path, await readJson(path));
  const content = (v: unknown): string | undefined =>
    typeof v === 'string'
      ? v
      : typeof v === 'object' && v !== null && typeof (v as Json).content === 'string'
        ? ((v as Json).content as string)
        : undefined;
  const out: { bos_token?: string; eos_token?: string } = {};
  const bos = content(config.bos_token);
  const eos = content(config.eos_token);
  if (bos !== undefined) out.bos_token = bos;
  if (eos !== undefined) out.eos_token = eos;
  return out;
}

function readVocab(value: unknown, bad: (what: string) => LlmcError): Map<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('model.vocab is not an object');
  const vocab = new Map<string, number>();
  for (const [piece, id] of Object.entries(value)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw bad(`model.vocab["${piece}"] is not a token id: ${String(id)}`);
    vocab.set(piece, id);
  }
  if (vocab.size === 0) throw bad('model.vocab is empty');
  return vocab;
}

/**
 * Refuses a token id at or above the vocabulary size (the model's, else the number of tokens) and
 * an id given to two different tokens, before any table is sized by the ids.
 */
function checkIds(
  vocab: Map<string, number>,
  added: Map<string, number>,
  vocabSize: number | undefined,
  bad: (what: string) => LlmcError,
): void {
  const owner = new Map<number, string>();
  for (const [piece, id] of vocab) {
    if (owner.has(id)) throw bad(`token id ${id} is given to both "${owner.get(id)}" and "${piece}"`);
    owner.set(id, piece);
  }
  for (const [piece, id] of added) {
    const other = owner.get(id);
    if (other !== undefined && other !== piece)
      throw bad(`token id ${id} is given to both "${other}" and the added token "${piece}"`);
    owner.set(id, piece);
  }
  const limit = vocabSize ?? owner.size;
  for (const [id, piece] of owner)
    if (id >= limit)
      throw bad(
        vocabSize === undefined
          ? `token id ${id} ("${piece}") is not below the number of tokens, ${limit} (pass the model's vocabSize if its ids have gaps)`
          : `token id ${id} ("${piece}") is not below the model's vocab_size ${limit}`,
      );
}

function readMerges(value: unknown, bad: (what: string) => LlmcError): Array<[string, string]> {
  if (!Array.isArray(value)) throw bad('model.merges is not an array');
  return value.map((merge: unknown, i) => {
    const pair = typeof merge === 'string' ? merge.split(' ') : merge;
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string')
      throw bad(`model.merges[${i}] is not "a b" or ["a", "b"]: ${JSON.stringify(merge)}`);
    return [pair[0], pair[1]];
  });
}

function readAddedTokens(
  value: unknown,
  bad: (what: string) => LlmcError,
  unsupported: (what: string) => LlmcError,
): { added: Map<string, number>; addedPattern?: RegExp } {
  const added = new Map<string, number>();
  if (value === undefined || value === null) return { added };
  if (!Array.isArray(value)) throw bad('added_tokens is not an array');
  const alternatives: Array<[length: number, pattern: string]> = value.map((token: unknown, i) => {
    const t = token as Json;
    if (
      typeof t !== 'object' ||
      t === null ||
      typeof t.content !== 'string' ||
      t.content === '' ||
      typeof t.id !== 'number' ||
      !Number.isInteger(t.id) ||
      t.id < 0
    )
      throw bad(`added_tokens[${i}] has no content or id`);
    if (t.single_word === true) throw unsupported(`added token "${t.content}" with single_word`);
    added.set(t.content, t.id);
    return [
      t.content.length,
      `${t.lstrip === true ? '\\s*' : ''}(${escapeRegExp(t.content)})${t.rstrip === true ? '\\s*' : ''}`,
    ];
  });
  if (alternatives.length === 0) return { added };
  // Longest first, so that a token wins over its prefixes at the same position.
  alternatives.sort((x, y) => y[0] - x[0]);
  return { added, addedPattern: new RegExp(alternatives.map(([, a]) => a).join('|'), 'gu') };
}

function readPipeline(normalizer: unknown, preTokenizer: unknown, unsupported: (what: string) => LlmcError): Pipeline {
  const pipeline: Pipeline = { replaces: [] };
  const addNormalizer = (n: unknown): void => {
    if (n === null || n === undefined) return;
    const t = n as Json;
    if (t.type === 'Sequence' && Array.isArray(t.normalizers)) t.normalizers.forEach(addNormalizer);
    else if (
      t.type === 'Prepend' &&
      typeof t.prepend === 'string' &&
      pipeline.prepend === undefined &&
      pipeline.replaces.length === 0
    )
      pipeline.prepend = t.prepend;
    else if (
      t.type === 'Replace' &&
      typeof (t.pattern as Json | undefined)?.String === 'string' &&
      typeof t.content === 'string'
    )
      pipeline.replaces.push([(t.pattern as Json).String as string, t.content]);
    else throw unsupported(`normalizer ${JSON.stringify(n)} (only Prepend first, then Replace with a string pattern)`);
  };
  addNormalizer(normalizer);
  if (preTokenizer === null || preTokenizer === undefined) return pipeline;
  const p = preTokenizer as Json;
  if (p.type !== 'Metaspace' || typeof p.replacement !== 'string' || [...p.replacement].length !== 1)
    throw unsupported(`pre_tokenizer ${JSON.stringify(preTokenizer)} (only none or Metaspace)`);
  const scheme = p.prepend_scheme ?? (p.add_prefix_space === false ? 'never' : 'always');
  if (scheme !== 'never' && scheme !== 'first' && scheme !== 'always')
    throw unsupported(`Metaspace prepend_scheme ${JSON.stringify(scheme)}`);
  pipeline.metaspace = { replacement: p.replacement, prepend: scheme, split: p.split !== false };
  return pipeline;
}

/** Refuses decoders other than the sentencepiece ones (e.g. ByteLevel), which this decode does not do. */
function checkDecoder(decoder: unknown, unsupported: (what: string) => LlmcError): void {
  if (decoder === null || decoder === undefined) return;
  const d = decoder as Json;
  if (!DECODERS.has(d.type as string))
    throw unsupported(`decoder ${JSON.stringify(d.type)} (only ${[...DECODERS].join(', ')})`);
  if (d.type === 'Sequence')
    for (const x of Array.isArray(d.decoders) ? (d.decoders as unknown[]) : [null]) checkDecoder(x ?? {}, unsupported);
  if (d.type === 'Replace' && ((d.pattern as Json | undefined)?.String !== SPACE_MARK || d.content !== ' '))
    throw unsupported(`decoder Replace other than '▁' → ' '`);
}
