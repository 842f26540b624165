/**
 * An untied classifier (`lm_head.weight`, as almost every real Llama / Mistral / Qwen checkpoint
 * has) survives every output format: written dense in F32 (compressed-tensors, GPTQ: safetensors
 * `lm_head.weight`; GGUF: `output.weight`, in F16 with floatType 'F16'), read back bit for bit (or
 * as the F16 rounding) by loadModel, and the loaded model scores a text as the in-memory
 * compressed one (exactly; GGUF up to float rounding). A tied model stays tied: no classifier
 * tensor is written. On synthetic models (test/helpers/synthetic_model.ts): no ../shared.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readGgufHeader } from '../../lib/formats/gguf.js';
import { encodeF16Tensor, saveGguf } from '../../lib/formats/gguf_write.js';
import { decodeF16, readSafetensorsHeader } from '../../lib/formats/safetensors.js';
import { compress, evaluate, loadModel } from '../../lib/index.js';
import { DenseLinear } from '../../lib/model/linear.js';
import type { Model } from '../../lib/model/model.js';
import { writeSyntheticModel } from '../helpers/synthetic_model.js';
import { tempDir } from '../helpers/paths.js';

const FORMATS = ['compressed-tensors', 'gptq', 'gguf'] as const;
const TEXT = 'Once upon a time there was a little fox.\n\nThe fox ran to the river and saw a big fish.';
const OPTIONS = { scheme: 'W4A16', quantize: { method: 'rtn', groupSize: 32 } } as const;

/** The path `compress` writes `format` to under `dir`. */
function outputPath(dir: string, format: (typeof FORMATS)[number]): string {
  return join(dir, format === 'gguf' ? 'model.gguf' : format);
}

/** The model's classifier weight (a dense fp32 layer: the classifier is never compressed). */
function head(model: Model): Float32Array {
  const lin = model.llama.linears.get('lm_head');
  expect(lin).toBeInstanceOf(DenseLinear);
  return (lin as DenseLinear).weight;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Names of the tensors stored in a compressed-tensors / GPTQ folder or a GGUF file. */
async function storedTensors(path: string): Promise<Map<string, string>> {
  if (path.endsWith('.gguf'))
    return new Map((await readGgufHeader(path)).tensors.map((t) => [t.name, t.typeName] as [string, string]));
  const h = await readSafetensorsHeader(join(path, 'model.safetensors'));
  return new Map([...h.tensors].map(([name, e]) => [name, e.dtype] as [string, string]));
}

describe('an untied lm_head in every output format', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('is written in F32, loads back bit for bit and scores as the in-memory model (150k vocabulary)', async () => {
    const dir = tempDir('untied');
    dirs.push(dir);
    const src = join(dir, 'source');
    const written = writeSyntheticModel(src, { tied: false, vocab: 150_000, dim: 64 });
    const writtenHead = written.get('lm_head.weight')!;
    expect(sameBits(writtenHead, written.get('model.embed_tokens.weight')!)).toBe(false);
    for (const format of FORMATS) {
      const out = outputPath(dir, format);
      const { model } = await compress(src, { ...OPTIONS, output: out, format });
      expect(model.config.tiedEmbeddings).toBe(false);
      const stored = await storedTensors(out);
      if (format === 'gguf') expect(stored.get('output.weight')).toBe('F32');
      else {
        expect(stored.get('lm_head.weight')).toBe('F32');
        const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
        expect(config.tie_word_embeddings).toBe(false);
      }
      const loaded = await loadModel(out);
      expect(loaded.config.tiedEmbeddings, format).toBe(false);
      expect(sameBits(head(loaded), writtenHead), format).toBe(true);
      expect(sameBits(head(loaded), loaded.llama.otherTensors().get('model.embed_tokens.weight')!.data)).toBe(false);
      const [a, b] = [await evaluate(model, { text: TEXT }), await evaluate(loaded, { text: TEXT })];
      expect(b.tokens, format).toBeGreaterThan(10);
      // GGUF is read back dequantized to fp32 (Q/K rows interleaved), so its forward pass runs the
      // fp32 GEMM where the in-memory model runs the int4 kernel: equal up to float rounding.
      if (format === 'gguf') expect(b.nll, format).toBeCloseTo(a.nll, 6);
      else expect(b.nll, format).toBe(a.nll);
      rmSync(out, { recursive: true, force: true });
      if (format === 'gguf') {
        // floatType F16 writes the head (as every float tensor but the norms) in F16: read back as
        // the F16 rounding of the written head, exactly.
        const out16 = join(dir, 'model-f16.gguf');
        await saveGguf(model, out16, { floatType: 'F16' });
        expect((await storedTensors(out16)).get('output.weight')).toBe('F16');
        const rounded = new Float32Array(writtenHead.length);
        decodeF16(encodeF16Tensor(writtenHead), rounded);
        expect(sameBits(head(await loadModel(out16)), rounded)).toBe(true);
        rmSync(out16, { force: true });
      }
    }
  }, 120_000);

  it('stays absent for a tied model', async () => {
    const dir = tempDir('tied');
    dirs.push(dir);
    const src = join(dir, 'source');
    writeSyntheticModel(src, { tied: true });
    for (const format of FORMATS) {
      const out = outputPath(dir, format);
      await compress(src, { ...OPTIONS, output: out, format });
      const stored = await storedTensors(out);
      expect(stored.has('lm_head.weight') || stored.has('output.weight'), format).toBe(false);
      if (format !== 'gguf') {
        const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
        expect(config.tie_word_embeddings).toBe(true);
      }
      expect((await loadModel(out)).config.tiedEmbeddings, format).toBe(true);
    }
  }, 60_000);
});
