/**
 * Quality of a model on a text, by the protocol of DESIGN.md section 7: paragraphs encoded with BOS
 * prepended and concatenated into one stream, cut into non-overlapping windows of the model's
 * context length; every token with a predecessor in its window is scored. Reports the mean NLL
 * (nats/token), perplexity and bits per byte (total NLL / ln 2 / UTF-8 bytes of the paragraphs);
 * with a reference model, the mean KL divergence KL(reference ‖ model) of the next-token
 * distributions and how often their top-1 tokens agree.
 */
import { native } from '../native/loader.js';
import { fromNative } from '../errors.js';
import type { LlamaModel } from '../model/llama.js';
import type { Tokenizer } from '../model/types.js';

export interface EvaluableModel {
  readonly llama: LlamaModel;
  readonly tokenizer: Tokenizer;
}

export interface EvaluateResult {
  nll: number;
  perplexity: number;
  bitsPerByte: number;
  /** Tokens scored. */
  tokens: number;
  /** UTF-8 bytes of the paragraphs. */
  bytes: number;
  /** Mean KL(reference ‖ model) in nats per token (with a reference). */
  kl?: number;
  /** Fraction of tokens whose most likely next token agrees with the reference's. */
  top1?: number;
}

/** The token stream of the protocol: each paragraph as BOS + its tokens. */
export function encodeParagraphs(
  tokenizer: Tokenizer,
  paragraphs: readonly string[],
): { stream: Int32Array; bytes: number } {
  const ids: number[] = [];
  let bytes = 0;
  for (const p of paragraphs) {
    ids.push(tokenizer.bos);
    // A loop, not a spread: a paragraph can have more tokens than a call takes arguments.
    for (const id of tokenizer.encode(p)) ids.push(id);
    bytes += Buffer.byteLength(p, 'utf8');
  }
  return { stream: Int32Array.from(ids), bytes };
}

function logSoftmaxRow(logits: Float32Array, at: number, vocab: number, out: Float64Array): void {
  let mx = -Infinity;
  for (let i = 0; i < vocab; i++) mx = Math.max(mx, logits[at + i]!);
  let s = 0;
  for (let i = 0; i < vocab; i++) s += Math.exp(logits[at + i]! - mx);
  const lse = mx + Math.log(s);
  for (let i = 0; i < vocab; i++) out[i] = logits[at + i]! - lse;
}

/**
 * Scores `stream` in windows of `window` tokens (batches of `batch` windows per forward pass).
 * `onProgress(done, total)` reports windows.
 */
export async function scoreStream(
  model: EvaluableModel,
  stream: Int32Array,
  window: number,
  options: { reference?: EvaluableModel; batch?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ nll: number; tokens: number; kl?: number; top1?: number }> {
  const vocab = model.llama.config.vocabSize;
  const batchMax = options.batch ?? 8;
  const windows: Array<[number, number]> = [];
  for (let s = 0; s < stream.length; s += window) {
    const e = Math.min(stream.length, s + window);
    if (e - s >= 2) windows.push([s, e]);
  }
  let nll = 0;
  let scored = 0;
  let kl = 0;
  let agree = 0;
  const lp = new Float64Array(vocab);
  const lq = new Float64Array(vocab);
  for (let w = 0; w < windows.length; ) {
    // Windows of equal length run together.
    const len = windows[w]![1] - windows[w]![0];
    let b = 1;
    while (b < batchMax && w + b < windows.length && windows[w + b]![1] - windows[w + b]![0] === len) b++;
    const tokens = new Int32Array(b * len);
    const targets = new Int32Array(b * len).fill(-1);
    for (let i = 0; i < b; i++) {
      const [s] = windows[w + i]!;
      tokens.set(stream.subarray(s, s + len), i * len);
      targets.set(stream.subarray(s + 1, s + len), i * len); // the last position of a window predicts nothing
    }
    const logits = await model.llama.forward(tokens, b, len);
    const rowNll = new Float64Array(b * len);
    try {
      await native().nll(logits, b * len, vocab, targets, rowNll);
    } catch (e) {
      throw fromNative(e);
    }
    for (let r = 0; r < b * len; r++) {
      if (targets[r]! < 0) continue;
      nll += rowNll[r]!;
      scored++;
    }
    if (options.reference) {
      const ref = await options.reference.llama.forward(tokens, b, len);
      for (let r = 0; r < b * len; r++) {
        if (targets[r]! < 0) continue;
        logSoftmaxRow(ref, r * vocab, vocab, lp);
        logSoftmaxRow(logits, r * vocab, vocab, lq);
        let k = 0;
        let ap = 0;
        let aq = 0;
        for (let i = 0; i < vocab; i++) {
          k += Math.exp(lp[i]!) * (lp[i]! - lq[i]!);
          if (lp[i]! > lp[ap]!) ap = i;
          if (lq[i]! > lq[aq]!) aq = i;
        }
        kl += k;
        if (ap === aq) agree++;
      }
    }
    w += b;
    options.onProgress?.(w, windows.length);
  }
  return { nll, tokens: scored, ...(options.reference ? { kl: kl / scored, top1: agree / scored } : {}) };
}
