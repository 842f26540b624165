/**
 * llama2.c's tokenizer (`tokenizer.bin`, e.g. `tok512.bin`), encoding exactly like `encode()` in
 * llama2.c's run.c, and the best-pair merge loop that the Hugging Face BPE tokenizer shares.
 */
import { readFile } from 'node:fs/promises';

import { LlmcError, invalidArgument } from '../errors.js';
import type { Tokenizer } from '../model/types.js';
import { checkBoolean, checkInteger, checkKnownKeys, checkObject } from '../validate.js';

/** What merging two adjacent symbols gives: the merged token id and its priority (higher merges first). */
export interface PairMerge {
  id: number;
  priority: number;
}

interface Candidate extends PairMerge {
  left: number;
  right: number;
  leftId: number;
  rightId: number;
}

/** Candidate `a` is taken before `b`: higher priority, then the leftmost pair. */
function before(a: Candidate, b: Candidate): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.left < b.left);
}

/** A binary heap of merge candidates, best first. */
class CandidateHeap {
  private readonly items: Candidate[] = [];

  push(item: Candidate): void {
    const items = this.items;
    let i = items.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!before(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  pop(): Candidate | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= items.length) break;
      const r = l + 1;
      const child = r < items.length && before(items[r]!, items[l]!) ? r : l;
      if (!before(items[child]!, last)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/**
 * Merges adjacent symbols of `ids` until no adjacent pair merges. Each step merges the pair of
 * highest priority, the leftmost one on ties: the loop of llama2.c's `encode()` (priority = score)
 * and of Hugging Face BPE (priority = -rank), in O(n log n) instead of O(n²).
 *
 * @param ids - the initial symbols (token ids); not modified.
 * @param merge - what the pair (left, right) merges into, or undefined when it does not merge.
 * @returns the token ids after merging.
 */
export function mergePairs(
  ids: readonly number[],
  merge: (left: number, right: number) => PairMerge | undefined,
): number[] {
  const n = ids.length;
  const sym = Array.from(ids);
  const next = Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
  const prev = Array.from({ length: n }, (_, i) => i - 1);
  const alive = new Uint8Array(n).fill(1);
  const heap = new CandidateHeap();
  const consider = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const leftId = sym[left]!;
    const rightId = sym[right]!;
    const m = merge(leftId, rightId);
    if (m) heap.push({ id: m.id, priority: m.priority, left, right, leftId, rightId });
  };
  for (let i = 0; i + 1 < n; i++) consider(i, i + 1);
  for (let c = heap.pop(); c; c = heap.pop()) {
    // Skip candidates made stale by earlier merges (a merged symbol always changes id).
    if (
      !alive[c.left] ||
      !alive[c.right] ||
      next[c.left] !== c.right ||
      sym[c.left] !== c.leftId ||
      sym[c.right] !== c.rightId
    )
      continue;
    sym[c.left] = c.id;
    alive[c.right] = 0;
    const after = next[c.right]!;
    next[c.left] = after;
    if (after >= 0) prev[after] = c.left;
    consider(prev[c.left]!, c.left);
    consider(c.left, after);
  }
  const out: number[] = [];
  for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]!) out.push(sym[i]!);
  return out;
}

/** How {@link Llama2cTokenizer.fromVocab} reads a vocabulary ({@link Llama2cVocab}). */
export interface Llama2cVocabOptions {
  /**
   * GGUF token types (`tokenizer.ggml.token_type`), one per token: tokens of type 2 (unknown) or
   * 3 (control) are never produced from text. Absent (llama2.c): every token can be.
   */
  tokenTypes?: ArrayLike<number>;
  /**
   * The tokens write spaces as '▁' (U+2581), as GGUF `llama` vocabularies do; they are read as ' '.
   * Default: true when no token has a space and some token has a '▁'.
   */
  spaceMarker?: boolean;
  /** What the vocabulary came from (a file name), for error messages. Default `"vocab"`. */
  source?: string;
  /**
   * `encode` starts non-empty text with SentencePiece's dummy-prefix space (llama2.c always does;
   * a GGUF says so in `tokenizer.ggml.add_space_prefix`). Default true.
   */
  addSpacePrefix?: boolean;
}

/**
 * A llama2.c-style vocabulary: the data of `tokenizer.bin`, or of a GGUF `llama` vocabulary
 * (`tokenizer.ggml.tokens`, `.scores`, `.token_type`, `.bos_token_id`, `.eos_token_id`).
 */
export interface Llama2cVocab extends Llama2cVocabOptions {
  /**
   * Token texts, as UTF-8 bytes or strings. In a vocabulary of 259 tokens or more, ids 3..258 must
   * be the byte tokens `<0x00>`..`<0xFF>`; a smaller one (a character-level vocabulary) has no byte
   * tokens, and codepoints without a token encode as id 0 (`<unk>`).
   */
  tokens: readonly (Uint8Array | string)[];
  /** One score per token: merges of higher score are applied first. */
  scores: Float32Array;
  bos: number;
  eos: number;
}

const GGUF_TOKEN_UNKNOWN = 2;
const GGUF_TOKEN_CONTROL = 3;
/** `<unk>`, the token of a codepoint that a vocabulary without byte tokens cannot encode. */
const UNK = 0;
/** llama2.c merges a pair only when its score beats this float (its `best_score` start value). */
const MIN_SCORE = Math.fround(-1e10);
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
/** '▁' (U+2581) as UTF-8 bytes in a byte string. */
const SPACE_MARK = latin1(utf8.encode('\u2581'));

/** Bytes as a string of char codes 0..255, so that byte strings can be concatenated and looked up. */
function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/**
 * The tokenizer of llama2.c. `encode` is llama2.c's `encode(text, bos=0, eos=0)`: a dummy-prefix
 * space token first (for non-empty text), each UTF-8 codepoint as its token or as byte tokens
 * `<0xXX>` (id byte + 3; `<unk>`, id 0, in a vocabulary of fewer than 259 tokens, which has no
 * byte tokens), then merges of the adjacent pair whose concatenation is the token of
 * highest score, the leftmost on ties, until none applies.
 *
 * `decode` and `tokenText` give each token's text as stored (byte tokens as their byte). They do
 * NOT strip the dummy-prefix space: llama2.c drops a leading space from the token that follows BOS,
 * and callers that want that text do it themselves (`text.replace(/^ /, '')`). BOS, EOS and
 * `<unk>` decode to their stored text (llama2.c's files store `\n<s>\n`, `\n</s>\n`): callers
 * leave them out of what they decode.
 */
export class Llama2cTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  /** Token id of each byte string producible from text (the first id when a text repeats). */
  private readonly lookup = new Map<string, number>();
  /** Each token's text as a byte string (see {@link latin1}). */
  private readonly pieces: string[];
  private readonly scores: Float32Array;
  /** The bytes each token decodes to: the byte for a byte token, else its text. */
  private readonly decoded: Uint8Array[];
  private readonly addSpacePrefix: boolean;
  /** The vocabulary has the byte tokens `<0x00>`..`<0xFF>` at ids 3..258 (else unknown codepoints are `<unk>`). */
  private readonly byteFallback: boolean;

  private constructor(vocab: Llama2cVocab) {
    const { tokens, scores, tokenTypes, source = 'vocab' } = vocab;
    const n = tokens.length;
    const fail = (what: string): LlmcError => new LlmcError('LLMC_INVALID_ARGUMENT', `${source}: ${what}`);
    if (n < 3) throw fail(`a llama2.c vocabulary has at least 3 tokens (<unk>, BOS, EOS), got ${n}`);
    if (scores.length !== n) throw fail(`expected ${n} scores (one per token), got ${scores.length}`);
    if (tokenTypes !== undefined && tokenTypes.length !== n)
      throw fail(`expected ${n} token types, got ${tokenTypes.length}`);
    this.vocabSize = n;
    this.bos = checkInteger('vocab.bos', vocab.bos, 0, n - 1);
    this.eos = checkInteger('vocab.eos', vocab.eos, 0, n - 1);
    this.scores = scores;
    this.addSpacePrefix = vocab.addSpacePrefix ?? true;
    this.byteFallback = n >= 259;
    const raw = tokens.map((t, i) => {
      if (typeof t === 'string') return latin1(utf8.encode(t));
      if (t instanceof Uint8Array) return latin1(t);
      throw fail(`token ${i} is neither a string nor a Uint8Array`);
    });
    const spaceMarker =
      vocab.spaceMarker ?? (!raw.some((p) => p.includes(' ')) && raw.some((p) => p.includes(SPACE_MARK)));
    this.pieces = spaceMarker ? raw.map((p) => p.replaceAll(SPACE_MARK, ' ')) : raw;
    this.decoded = this.pieces.map((piece, i) => {
      const byte = this.byteFallback ? BYTE_TOKEN.exec(piece) : null;
      if (this.byteFallback && i >= 3 && i < 259 && (!byte || parseInt(byte[1]!, 16) !== i - 3))
        throw fail(
          `token ${i} must be the byte token <0x${(i - 3).toString(16).toUpperCase().padStart(2, '0')}>, got "${piece}"`,
        );
      return byte ? Uint8Array.of(parseInt(byte[1]!, 16)) : Uint8Array.from(piece, (c) => c.charCodeAt(0));
    });
    this.pieces.forEach((piece, id) => {
      const type = tokenTypes?.[id];
      if (type === GGUF_TOKEN_UNKNOWN || type === GGUF_TOKEN_CONTROL) return;
      if (!this.lookup.has(piece)) this.lookup.set(piece, id);
    });
  }

  /**
   * The vocabulary as a llama2.c `tokenizer.bin` (max token length, then per token its score, byte
   * length and bytes; spaces as ' '), which {@link loadLlama2cTokenizer} reads back. That format
   * fixes BOS = 1 and EOS = 2 and has no token types.
   *
   * @throws LlmcError `LLMC_UNSUPPORTED` when BOS or EOS are other ids.
   */
  toLlama2cFile(): Uint8Array {
    if (this.bos !== 1 || this.eos !== 2)
      throw new LlmcError(
        'LLMC_UNSUPPORTED',
        `a llama2.c tokenizer.bin has BOS 1 and EOS 2; this vocabulary has ${this.bos} and ${this.eos}`,
      );
    const size = this.pieces.reduce((a, p) => a + 8 + p.length, 4);
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    view.setInt32(
      0,
      this.pieces.reduce((a, p) => Math.max(a, p.length), 0),
      true,
    );
    let at = 4;
    this.pieces.forEach((piece, i) => {
      view.setFloat32(at, this.scores[i]!, true);
      view.setInt32(at + 4, piece.length, true);
      at += 8;
      for (let c = 0; c < piece.length; c++) out[at++] = piece.charCodeAt(c);
    });
    return out;
  }

  /**
   * A tokenizer from vocabulary data, e.g. a GGUF-embedded `llama` vocabulary (pass its token
   * types; its '▁' space markers are detected).
   *
   * @param vocab - the tokens, scores, BOS and EOS, and how to read them (see {@link Llama2cVocab}).
   * @throws LlmcError `LLMC_INVALID_ARGUMENT` when an argument or the vocabulary is malformed.
   */
  static fromVocab(vocab: Llama2cVocab): Llama2cTokenizer {
    const v = checkObject('vocab', vocab);
    checkKnownKeys('vocab', v, [
      'tokens',
      'scores',
      'bos',
      'eos',
      'tokenTypes',
      'spaceMarker',
      'source',
      'addSpacePrefix',
    ]);
    if (v.addSpacePrefix !== undefined && typeof v.addSpacePrefix !== 'boolean')
      throw invalidArgument('vocab.addSpacePrefix', 'a boolean', v.addSpacePrefix);
    if (!Array.isArray(v.tokens)) throw invalidArgument('vocab.tokens', 'an array of strings or Uint8Arrays', v.tokens);
    if (!(v.scores instanceof Float32Array)) throw invalidArgument('vocab.scores', 'a Float32Array', v.scores);
    if (v.spaceMarker !== undefined) checkBoolean('vocab.spaceMarker', v.spaceMarker);
    if (v.source !== undefined && typeof v.source !== 'string')
      throw invalidArgument('vocab.source', 'a string', v.source);
    const t = v.tokenTypes as { length?: unknown } | undefined;
    if (t !== undefined && (typeof t !== 'object' || t === null || typeof t.length !== 'number'))
      throw invalidArgument('vocab.tokenTypes', 'an array of numbers', t);
    return new Llama2cTokenizer(vocab);
  }

  /** Token ids of `text`, without BOS/EOS; starts with the dummy-prefix space when `text` is non-empty (unless addSpacePrefix is false). */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
    if (text === '') return [];
    // The dummy prefix is the token of " " (looked up like any codepoint).
    const bytes = utf8.encode(this.addSpacePrefix ? ` ${text}` : text);
    const ids: number[] = [];
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i]! & 0xc0) !== 0x80) start = i;
      // Gather a codepoint's continuation bytes (at most 4 bytes in all), as run.c does.
      if (i + 1 < bytes.length && (bytes[i + 1]! & 0xc0) === 0x80 && i + 1 - start < 4) continue;
      const codepoint = bytes.subarray(start, i + 1);
      const id = this.lookup.get(latin1(codepoint));
      if (id !== undefined) ids.push(id);
      else if (this.byteFallback) for (const b of codepoint) ids.push(b + 3);
      else ids.push(UNK);
      start = i + 1;
    }
    return mergePairs(ids, (a, b) => {
      const id = this.lookup.get(this.pieces[a]! + this.pieces[b]!);
      if (id === undefined) return undefined;
      const score = this.scores[id]!;
      return score > MIN_SCORE ? { id, priority: score } : undefined;
    });
  }

  /** Text of one token (a byte token that is not whole UTF-8 gives U+FFFD: use decode for sequences). */
  tokenText(id: number): string {
    return utf8Decoder.decode(this.decoded[checkInteger('id', id, 0, this.vocabSize - 1)]);
  }

  /** Text of `ids`: the tokens' bytes joined and read as UTF-8. Keeps the dummy-prefix space. */
  decode(ids: readonly number[]): string {
    if (!Array.isArray(ids)) throw invalidArgument('ids', 'an array of token ids', ids);
    const parts = ids.map((id, i) => this.decoded[checkInteger(`ids[${i}]`, id, 0, this.vocabSize - 1)]!);
    const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return utf8Decoder.decode(out);
  }
}

/**
 * Reads llama2.c's `tokenizer.bin`: int32 max token length, then per token a float32 score, an
 * int32 byte length and the bytes (little-endian). BOS is 1 and EOS 2, as in llama2.c.
 *
 * @param path - the tokenizer file.
 * @param vocabSize - the number of tokens (the checkpoint's vocab size; the file does not store it).
 * @throws LlmcError `LLMC_INVALID_ARGUMENT` naming the file when it cannot be read, is truncated,
 *   has a bad length or holds more tokens than `vocabSize`.
 */
export async function loadLlama2cTokenizer(
  path: string,
  vocabSize: number,
  options: { addSpacePrefix?: boolean } = {},
): Promise<Llama2cTokenizer> {
  if (typeof path !== 'string' || path === '') throw invalidArgument('path', 'a file path', path);
  checkInteger('vocabSize', vocabSize, 3);
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch (cause) {
    throw new LlmcError(
      'LLMC_INVALID_ARGUMENT',
      `Cannot read the llama2.c tokenizer ${path}: ${(cause as Error).message}`,
      undefined,
      { cause },
    );
  }
  const fail = (what: string): LlmcError =>
    new LlmcError('LLMC_INVALID_ARGUMENT', `${path}: not a llama2.c tokenizer of ${vocabSize} tokens: ${what}`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < 4) throw fail(`truncated (${file.length} bytes, no header)`);
  const maxLength = view.getInt32(0, true);
  if (maxLength < 1) throw fail(`bad max token length ${maxLength}`);
  // Each token takes at least 9 bytes: refuse a vocabSize the file cannot hold before allocating for it.
  if (4 + 9 * vocabSize > file.length)
    throw fail(`${file.length} bytes cannot hold ${vocabSize} tokens (9 bytes or more each)`);
  const tokens: Uint8Array[] = [];
  const scores = new Float32Array(vocabSize);
  let offset = 4;
  for (let i = 0; i < vocabSize; i++) {
    if (offset + 8 > file.length) throw fail(`truncated at token ${i} (offset ${offset} of ${file.length} bytes)`);
    scores[i] = view.getFloat32(offset, true);
    const length = view.getInt32(offset + 4, true);
    offset += 8;
    if (length < 1 || length > maxLength) throw fail(`token ${i} has length ${length}, outside [1, ${maxLength}]`);
    if (offset + length > file.length)
      throw fail(`truncated in token ${i} (needs ${length} bytes at offset ${offset} of ${file.length})`);
    tokens.push(file.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== file.length)
    throw fail(`${file.length - offset} bytes follow the last token (is the vocab size right?)`);
  return Llama2cTokenizer.fromVocab({
    tokens,
    scores,
    bos: 1,
    eos: 2,
    source: path,
    ...(options.addSpacePrefix !== undefined ? { addSpacePrefix: options.addSpacePrefix } : {}),
  });
}
