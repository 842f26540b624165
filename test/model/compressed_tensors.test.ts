import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { packInt32, unpackInt32 } from '../../lib/formats/compressed_tensors.js';
import { readFloatTensor, readSafetensorsHeader, readTensorBytes } from '../../lib/formats/safetensors.js';
import { compress, evaluate, LlmcError, loadModel } from '../../lib/index.js';
import { type Packed24F32, Packed24Int4 } from '../../lib/kernels/sparse24.js';
import { Sparse24Linear } from '../../lib/model/sparse24_linear.js';
import { QuantLinear } from '../../lib/model/quant_linear.js';
import { toHalfRope } from '../../lib/model/rope_order.js';
import { haveShared, STORIES, tempDir, TEXT, TINY656 } from '../helpers/paths.js';

const tiny = TINY656;
const text = TEXT;
const haveTiny = haveShared('the tinystories-656k output tests', tiny, text);

describe('compressed-tensors packing', () => {
  it('packs along rows and columns as compressed-tensors does (first value in the low bits, codes offset to unsigned)', () => {
    const q = Int8Array.from([-8, 7, 0, 1, -1, 2, 3, -4, 5]); // 1 × 9 codes of 4 bits
    const p = packInt32(q, 1, 9, 4, 1);
    expect(p.length).toBe(2);
    expect((p[0]! >>> 0).toString(16)).toBe('4ba798f0'); // codes + 8 = 0, f, 8, 9, 7, a, b, 4 from the low nibble up
    expect(unpackInt32(p, 1, 9, 4, 1)).toEqual(q);
    const z = Int8Array.from({ length: 10 * 3 }, (_, i) => ((i * 7) % 16) - 8);
    expect(unpackInt32(packInt32(z, 10, 3, 4, 0), 10, 3, 4, 0)).toEqual(z);
    const q8 = Int8Array.from([-128, 127, 0, -1, 5]);
    expect(unpackInt32(packInt32(q8, 1, 5, 8, 1), 1, 5, 8, 1)).toEqual(q8);
  });
});

describe.skipIf(!haveTiny)('compress() with output (tinystories-656k)', () => {
  it('an aborted run writes nothing', async () => {
    const parent = tempDir('ct');
    const ac = new AbortController();
    let n = 0;
    const run = compress(tiny, {
      quantize: { method: 'rtn', bits: 4, groupSize: 32 },
      prependSpace: false,
      output: join(parent, 'out'),
      signal: ac.signal,
      onProgress: () => ++n === 3 && ac.abort(),
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(readdirSync(parent)).toEqual([]);
  });

  const calibration = { file: text, paragraphs: [1000, 4300] as [number, number], samples: 16, seqLen: 256 };
  for (const [label, options] of [
    [
      'W4A16 g32 symmetric, act-order groups',
      { scheme: 'W4A16' as const, quantize: { groupSize: 32, actOrder: 'dynamic' as const } },
    ],
    ['W4A16 g32 asymmetric', { scheme: 'W4A16_ASYM' as const, quantize: { groupSize: 32 } }],
    ['W8A8 per channel', { scheme: 'W8A8' as const }],
  ] as const) {
    it(`${label}: the written folder loads back onto the packed kernels and evaluates exactly as in memory`, async () => {
      const out = join(tempDir('ct'), 'model');
      const { model } = await compress(tiny, { ...options, prependSpace: false, calibration, output: out });
      const files = readdirSync(out).sort();
      expect(files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json']));
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).quantization_config;
      expect(cfg).toMatchObject({
        quant_method: 'compressed-tensors',
        format: 'pack-quantized',
        quantization_status: 'compressed',
      });
      const w = cfg.config_groups.group_0.weights;
      expect(w.num_bits).toBe(options.scheme === 'W8A8' ? 8 : 4);
      expect(w.type).toBe('int');
      expect(cfg.ignore).toContain('lm_head');
      const header = await readSafetensorsHeader(join(out, 'model.safetensors'));
      const q = header.tensors.get('model.layers.0.self_attn.q_proj.weight_packed')!;
      expect(q.dtype).toBe('I32');
      expect(q.shape).toEqual([128, 128 / (32 / w.num_bits)]);
      expect(header.tensors.get('model.layers.0.mlp.down_proj.weight_scale')!.shape).toEqual([
        128,
        w.group_size ? 384 / w.group_size : 1,
      ]);
      const back = await loadModel(out, { prependSpace: false });
      expect(back.llama.linears.get('model.layers.1.mlp.up_proj')).toBeInstanceOf(QuantLinear);
      const a = await evaluate(model, { file: text, paragraphs: [0, 30] });
      const b = await evaluate(back, { file: text, paragraphs: [0, 30] });
      expect(b.nll).toBe(a.nll);
      await expect(
        compress(tiny, {
          scheme: 'W4A16',
          quantize: { method: 'rtn', groupSize: 32 },
          prependSpace: false,
          output: out,
        }),
      ).rejects.toBeInstanceOf(LlmcError);
    });
  }
});

describe.skipIf(!haveTiny)('2:4 sparse compressed-tensors output (tinystories-656k)', () => {
  const calibration = { file: text, paragraphs: [1000, 4300] as [number, number], samples: 16, seqLen: 256 };
  it("a pruned-only model is stored sparse-24-bitmask: the file decodes (packbits, little bit order) to the model's weights; loads back exactly", async () => {
    const out = join(tempDir('24'), 'model');
    const { model } = await compress(tiny, {
      prune: { method: 'magnitude', structure: '2:4' },
      prependSpace: false,
      output: out,
    });
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).quantization_config;
    expect(cfg.quant_method).toBe('compressed-tensors');
    expect(cfg.format).toBeUndefined(); // no quantization fields: a sparsity-only config
    expect(cfg.sparsity_config).toMatchObject({
      format: 'sparse-24-bitmask',
      sparsity_structure: '2:4',
      ignore: ['lm_head'],
    });
    expect(cfg.sparsity_config.targets).toHaveLength(14);
    expect(cfg.sparsity_config.global_sparsity).toBeGreaterThanOrEqual(0.5);
    const h = await readSafetensorsHeader(join(out, 'model.safetensors'));
    const layer = 'model.layers.1.mlp.down_proj';
    expect(h.tensors.get(`${layer}.compressed`)).toMatchObject({ dtype: 'F32', shape: [128, 192] });
    expect(h.tensors.get(`${layer}.bitmask`)).toMatchObject({ dtype: 'U8', shape: [128, 48] });
    expect(h.tensors.get(`${layer}.shape`)).toMatchObject({ dtype: 'I64', shape: [2, 1] });
    expect(h.tensors.has(`${layer}.weight`)).toBe(false);
    // Decoded from the file as compressed-tensors does: values fill the set bits of each row in order.
    const values = (await readFloatTensor(h, `${layer}.compressed`)).data;
    const mask = await readTensorBytes(h, `${layer}.bitmask`);
    const dense = new Float32Array(128 * 384);
    let at = 0;
    for (let j = 0; j < 128; j++)
      for (let p = 0; p < 384; p++) if ((mask[j * 48 + (p >> 3)]! >> (p & 7)) & 1) dense[j * 384 + p] = values[at++]!;
    expect(at).toBe(values.length);
    const lin = model.llama.linears.get(layer) as Sparse24Linear;
    expect(lin).toBeInstanceOf(Sparse24Linear); // the model runs sparse24_f32
    expect(dense).toEqual(await (lin.packed as Packed24F32).unpack());
    const back = await loadModel(out, { prependSpace: false });
    expect(back.llama.linears.get(layer)).toBeInstanceOf(Sparse24Linear);
    const a = await evaluate(model, { file: text, paragraphs: [0, 30] });
    const b = await evaluate(back, { file: text, paragraphs: [0, 30] });
    expect(b.nll).toBe(a.nll);
  });

  it('a pruned and quantized model keeps its packed codes and names its 2:4 layers in sparsity_config (format dense)', async () => {
    const out = join(tempDir('24'), 'model');
    const { model } = await compress(tiny, {
      scheme: 'W4A16_2:4',
      quantize: { groupSize: 32 },
      prependSpace: false,
      output: out,
      calibration,
    });
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).quantization_config;
    expect(cfg).toMatchObject({
      format: 'pack-quantized',
      sparsity_config: { format: 'dense', sparsity_structure: '2:4' },
    });
    expect(cfg.sparsity_config.targets).toHaveLength(14);
    for (const m of [model, await loadModel(out, { prependSpace: false })]) {
      const lin = m.llama.linears.get('model.layers.0.self_attn.q_proj') as Sparse24Linear;
      expect(lin).toBeInstanceOf(Sparse24Linear); // sparse24_w4a16, in memory and loaded back
      expect(lin.packed).toBeInstanceOf(Packed24Int4);
    }
    const back = await loadModel(out, { prependSpace: false });
    const a = await evaluate(model, { file: text, paragraphs: [0, 30] });
    const b = await evaluate(back, { file: text, paragraphs: [0, 30] });
    expect(b.nll).toBe(a.nll);
  });
});

const stories = join(STORIES, 'stories260K.bin');
const haveStories = haveShared('the llama2.c to Hugging Face test', stories, TEXT);

describe.skipIf(!haveStories)('a llama2.c source written as a Hugging Face folder (stories260K)', () => {
  it('Q/K rows converted to rotate_half order compute what the interleaved model did', async () => {
    const a = await loadModel(stories);
    const before = await evaluate(a, { file: TEXT, paragraphs: [0, 30] });
    await toHalfRope(a);
    expect(a.config.ropeStyle).toBe('half');
    const after = await evaluate(a, { file: TEXT, paragraphs: [0, 30] });
    expect(after.tokens).toBe(before.tokens);
    expect(Math.abs(after.nll - before.nll) / before.nll).toBeLessThan(1e-6);
    a.dispose();
  });

  for (const format of ['compressed-tensors', 'gptq'] as const) {
    it(`GPTQ W4A16 per channel as ${format}: config.json and tokenizer.bin written, loads back and evaluates exactly as in memory`, async () => {
      const out = join(tempDir('l2c'), 'model');
      const { model } = await compress(stories, {
        scheme: 'W4A16',
        quantize: { groupSize: 'row' },
        output: out,
        format,
        calibration: { file: TEXT, paragraphs: [1000, 4300], samples: 16, seqLen: 256 },
      });
      expect(readdirSync(out).sort()).toEqual(
        format === 'gptq'
          ? ['config.json', 'model.safetensors', 'quantize_config.json', 'tokenizer.bin']
          : ['config.json', 'model.safetensors', 'tokenizer.bin'],
      );
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      expect(cfg).toMatchObject({
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        hidden_size: model.config.dim,
        num_hidden_layers: model.config.nLayers,
        bos_token_id: 1,
        eos_token_id: 2,
      });
      expect(readFileSync(join(out, 'tokenizer.bin'))).toEqual(readFileSync(join(STORIES, 'tok512.bin')));
      const back = await loadModel(out);
      expect(back.config).toEqual(model.config);
      const a = await evaluate(model, { file: TEXT, paragraphs: [0, 30] });
      const b = await evaluate(back, { file: TEXT, paragraphs: [0, 30] });
      expect(b.nll).toBe(a.nll);
      back.dispose();
      model.dispose();
    });
  }
});
