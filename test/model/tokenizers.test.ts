import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadHfTokenizer, loadLlama2cTokenizer, type Tokenizer } from '../../lib/tokenizers/index.js';
import { haveShared, SHARED, STORIES, TEXT, TINY656 } from '../helpers/paths.js';

const textPath = TEXT;

/** Paragraphs of the quality protocol: split on blank lines, trimmed, non-empty. */
function paragraphs(): string[] {
  return readFileSync(textPath, 'utf8')
    .split('\n\n')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** Tokens of the paragraphs as the protocol encodes them: each paragraph with BOS prepended. */
function protocolTokens(tok: Tokenizer, paras: string[]): number {
  return paras.reduce((n, p) => n + 1 + tok.encode(p).length, 0);
}

/**
 * ../shared/README.md's quality numbers fix the token count: scored tokens (all but the first of each
 * 512-token window) = bits per byte · bytes · ln 2 / nats per token. Checks ours to their precision.
 */
function expectReadmeCount(tok: Tokenizer, paras: string[], natsPerToken: number, bitsPerByte: number): void {
  const tokens = protocolTokens(tok, paras);
  const bytes = paras.reduce((n, p) => n + Buffer.byteLength(p), 0);
  const scored = tokens - Math.ceil(tokens / 512);
  expect(Math.abs(scored / ((bitsPerByte * bytes * Math.LN2) / natsPerToken) - 1)).toBeLessThan(2e-4);
}

describe.skipIf(!haveShared('the tokenizer tests on real files', SHARED))(
  'tokenizers on the real files of ../shared',
  () => {
    it('tok512.bin (llama2.c) round-trips paragraphs and encodes the file', async () => {
      const tok = await loadLlama2cTokenizer(join(STORIES, 'tok512.bin'), 512);
      const paras = paragraphs();
      for (const p of paras.slice(0, 50)) {
        const text = tok.decode(tok.encode(p));
        expect(text.startsWith(' ')).toBe(true); // the dummy prefix
        expect(text.slice(1)).toBe(p);
      }
      const once = tok.encode('Once upon a time');
      expect(once.map((id) => tok.tokenText(id))).toEqual([' Once', ' upon', ' a', ' time']);
      const tokens = protocolTokens(tok, paras);
      const bytes = paras.reduce((n, p) => n + Buffer.byteLength(p), 0);
      console.log(
        `tok512.bin: ${paras.length} paragraphs, ${bytes} bytes -> ${tokens} tokens (BOS included), ${(bytes / tokens).toFixed(3)} bytes/token`,
      );
      expect(tokens).toBeGreaterThan(bytes / 3);
      expect(tokens).toBeLessThan(bytes / 1.5);
      expectReadmeCount(tok, paras.slice(0, 200), 1.40816, 0.96162);
      expectReadmeCount(tok, paras, 1.67787, 1.185);
    });

    it('tinystories-656k tokenizer.json round-trips paragraphs without the prepended ▁', async () => {
      const tok = await loadHfTokenizer(join(TINY656, 'tokenizer.json'), { prependSpace: false });
      expect([tok.vocabSize, tok.bos, tok.eos, tok.prependSpace]).toEqual([2048, 1, 2, false]);
      expect([tok.piece(1), tok.piece(2)]).toEqual(['<|start_story|>', '<|end_story|>']);
      const paras = paragraphs();
      for (const p of paras.slice(0, 50)) expect(tok.decode(tok.encode(p))).toBe(p);
      const once = tok.encode('Once upon a time');
      expect(once.slice(0, 2).map((id) => tok.piece(id))).toEqual(['On', 'ce▁']);
      expect(once.slice(0, 2).map((id) => tok.tokenText(id))).toEqual(['On', 'ce ']);
      const tokens = protocolTokens(tok, paras);
      const bytes = paras.reduce((n, p) => n + Buffer.byteLength(p), 0);
      console.log(
        `tinystories-656k: ${paras.length} paragraphs, ${bytes} bytes -> ${tokens} tokens (BOS included), ${(bytes / tokens).toFixed(3)} bytes/token`,
      );
      expect(tokens).toBeGreaterThan(bytes / 6);
      expect(tokens).toBeLessThan(bytes / 2);
      expectReadmeCount(tok, paras.slice(0, 200), 4.05187, 1.3189);
      expectReadmeCount(tok, paras, 4.09635, 1.4619);
      // With the file's own normalizer the text starts with '▁'.
      const withPrefix = await loadHfTokenizer(join(TINY656, 'tokenizer.json'));
      expect(withPrefix.piece(withPrefix.encode('Once')[0]!).startsWith('▁')).toBe(true);
      expect(withPrefix.decode(withPrefix.encode(paras[0]!))).toBe(paras[0]);
    });
  },
);
