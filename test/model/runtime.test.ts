import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { evaluate, generate, loadModel } from '../../lib/index.js';
import { haveShared, STORIES, TEXT, TINY656 } from '../helpers/paths.js';

const stories = STORIES;
const tiny656 = TINY656;
const text = TEXT;
const have = haveShared('the stories260K runtime tests', stories, text);

const close = (got: number, want: number, rel = 1e-4) =>
  expect(Math.abs(got - want) / want, `${got} vs ${want}`).toBeLessThan(rel);

describe.skipIf(!have)('stories260K (llama2.c .bin + tok512.bin)', () => {
  it('greedy generation from BOS reproduces the known text', async () => {
    const model = await loadModel(join(stories, 'stories260K.bin'));
    expect(model.config).toMatchObject({
      dim: 64,
      hiddenDim: 172,
      nLayers: 5,
      nHeads: 8,
      nKvHeads: 4,
      vocabSize: 512,
      maxSeqLen: 512,
      tiedEmbeddings: true,
    });
    const out = await generate(model, '', { maxTokens: 60, temperature: 0 });
    expect(
      out.startsWith(
        'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.',
      ),
      out,
    ).toBe(true);
    model.dispose();
  });

  it('evaluate reproduces the reference numbers (first 200 paragraphs and the whole file)', async () => {
    const model = await loadModel(join(stories, 'stories260K.bin'));
    const first = await evaluate(model, { file: text, paragraphs: [0, 200] });
    close(first.nll, 1.40816);
    close(first.bitsPerByte, 0.96162);
    const t0 = performance.now();
    const all = await evaluate(model, { file: text });
    const s = (performance.now() - t0) / 1000;
    close(all.nll, 1.67787);
    close(all.perplexity, 5.354, 2e-4);
    close(all.bitsPerByte, 1.185, 1e-3);
    console.log(
      `stories260K whole file: ${all.tokens} tokens, nll ${all.nll.toFixed(5)}, ppl ${all.perplexity.toFixed(3)}, bpb ${all.bitsPerByte.toFixed(4)}, ${(all.tokens / s).toFixed(0)} tokens/s`,
    );
  });

  it('the GGUF copy gives identical logits and the same vocabulary', async () => {
    const bin = await loadModel(join(stories, 'stories260K.bin'));
    const gguf = await loadModel(join(stories, 'stories260K.gguf'));
    // The GGUF declares a context of 2048 and stores ε as float32 (the kernels use float32 ε anyway).
    const same = (c: typeof bin.config) => ({ ...c, maxSeqLen: 0, normEps: Math.fround(c.normEps) });
    expect(same(gguf.config)).toEqual(same(bin.config));
    const tokens = Int32Array.from([1, ...bin.tokenizer.encode('Once upon a time, there was a big dog.')]);
    expect(gguf.tokenizer.encode('Once upon a time, there was a big dog.')).toEqual(Array.from(tokens.subarray(1)));
    const a = await bin.llama.forward(tokens, 1, tokens.length);
    const b = await gguf.llama.forward(tokens, 1, tokens.length);
    expect(b).toEqual(a);
  });
});

describe.skipIf(!haveShared('the tinystories-656k runtime tests', tiny656, text))(
  'tinystories-656k (Hugging Face folder)',
  () => {
    it('greedy generation reproduces the known text; evaluate the reference numbers (no leading ▁)', async () => {
      const model = await loadModel(tiny656, { prependSpace: false });
      const out = await generate(model, '', { maxTokens: 40, temperature: 0 });
      expect(
        out.startsWith(
          'Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much.',
        ),
        out,
      ).toBe(true);
      const first = await evaluate(model, { file: text, paragraphs: [0, 200] });
      close(first.nll, 4.05187);
      close(first.bitsPerByte, 1.3189, 1e-3);
      const t0 = performance.now();
      const all = await evaluate(model, { file: text });
      const s = (performance.now() - t0) / 1000;
      close(all.nll, 4.09635);
      close(all.perplexity, 60.12, 2e-4);
      close(all.bitsPerByte, 1.4619, 1e-3);
      console.log(
        `tinystories-656k whole file: ${all.tokens} tokens, nll ${all.nll.toFixed(5)}, ppl ${all.perplexity.toFixed(2)}, bpb ${all.bitsPerByte.toFixed(4)}, ${(all.tokens / s).toFixed(0)} tokens/s`,
      );
      // Evaluation against itself as the reference: KL 0 and full top-1 agreement.
      const self = await evaluate(model, { file: text, paragraphs: [0, 20], reference: model });
      expect(self.kl).toBeLessThan(1e-9);
      expect(self.top1).toBe(1);
    });
  },
);
