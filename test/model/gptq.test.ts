import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { dequantizeCodes } from '../../lib/formats/packed_codes.js';
import {
  readFloatTensor,
  readSafetensorsHeader,
  readTensorBytes,
  type SafetensorsHeader,
} from '../../lib/formats/safetensors.js';
import { compress, evaluate, loadModel } from '../../lib/index.js';
import { QuantLinear } from '../../lib/model/quant_linear.js';
import { Sparse24Linear } from '../../lib/model/sparse24_linear.js';
import { haveShared, tempDir, TEXT, TINY656 } from '../helpers/paths.js';

const tiny = TINY656;
const text = TEXT;

async function i32(h: SafetensorsHeader, name: string): Promise<Int32Array> {
  const b = await readTensorBytes(h, name);
  return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/**
 * Dequantizes one layer straight from the file as AutoGPTQ's v1 kernels do (written from the
 * format's description, independent of lib/formats/gptq.ts): qweight [k/pf, n] packed down the
 * inputs, qzeros [G, n/pf] packed along the outputs holding zero − 1, scales [G, n], g_idx [k].
 */
async function dequantizeFromFile(
  h: SafetensorsHeader,
  layer: string,
  bits: number,
): Promise<{ w: Float32Array; n: number; k: number }> {
  const qweight = await i32(h, `${layer}.qweight`);
  const qzeros = await i32(h, `${layer}.qzeros`);
  const gIdx = await i32(h, `${layer}.g_idx`);
  const scales = await readFloatTensor(h, `${layer}.scales`);
  const [G, n] = scales.shape as [number, number];
  const pf = 32 / bits;
  const mask = (1 << bits) - 1;
  const k = gIdx.length;
  expect(h.tensors.get(`${layer}.qweight`)!.shape).toEqual([k / pf, n]);
  expect(h.tensors.get(`${layer}.qzeros`)!.shape).toEqual([G, n / pf]);
  expect(h.tensors.get(`${layer}.scales`)!.dtype).toBe('F16');
  const w = new Float32Array(n * k);
  for (let p = 0; p < k; p++)
    for (let j = 0; j < n; j++) {
      const u = (qweight[Math.floor(p / pf) * n + j]! >>> (bits * (p % pf))) & mask;
      const g = gIdx[p]!;
      const zero = ((qzeros[g * (n / pf) + Math.floor(j / pf)]! >>> (bits * (j % pf))) & mask) + 1;
      w[j * k + p] = scales.data[g * n + j]! * (u - zero);
    }
  return { w, n, k };
}

describe.skipIf(!haveShared('the GPTQ v1 output tests', tiny, text))('GPTQ v1 output (tinystories-656k)', () => {
  const calibration = { file: text, paragraphs: [1000, 4300] as [number, number], samples: 16, seqLen: 256 };
  for (const [label, options, bits, groupSize, descAct, sym] of [
    [
      'W4A16 g32 symmetric, act-order',
      { scheme: 'W4A16' as const, quantize: { groupSize: 32, actOrder: 'dynamic' as const } },
      4,
      32,
      true,
      true,
    ],
    ['W4A16 g64 asymmetric', { scheme: 'W4A16_ASYM' as const, quantize: { groupSize: 64 } }, 4, 64, false, false],
    ['W8A16 per channel', { scheme: 'W8A16' as const }, 8, -1, false, true],
    ['SparseGPT 2:4 + W4 g32', { scheme: 'W4A16_2:4' as const, quantize: { groupSize: 32 } }, 4, 32, false, true],
  ] as const) {
    it(`${label}: the folder follows the v1 layout, loads back onto the packed kernels and evaluates exactly as in memory`, async () => {
      const out = join(tempDir('gptq'), 'model');
      const { model } = await compress(tiny, {
        ...options,
        prependSpace: false,
        calibration,
        output: out,
        format: 'gptq',
      });
      expect(readdirSync(out).sort()).toEqual(
        expect.arrayContaining(['config.json', 'model.safetensors', 'quantize_config.json', 'tokenizer.json']),
      );
      const qc = JSON.parse(readFileSync(join(out, 'quantize_config.json'), 'utf8'));
      expect(qc).toMatchObject({
        bits,
        group_size: groupSize,
        desc_act: descAct,
        sym,
        quant_method: 'gptq',
        checkpoint_format: 'gptq',
      });
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      expect(cfg.quantization_config).toMatchObject({
        quant_method: 'gptq',
        bits,
        group_size: groupSize,
        desc_act: descAct,
        sym,
      });
      const h = await readSafetensorsHeader(join(out, 'model.safetensors'));
      expect(h.tensors.has('lm_head.weight') || cfg.tie_word_embeddings).toBe(true);
      expect(h.tensors.has('model.layers.0.self_attn.q_proj.weight')).toBe(false);
      // Every layer's weight, decoded from the file by the v1 rules, is the returned model's weight.
      const sparse = options.scheme.endsWith('2:4');
      for (const name of ['model.layers.0.self_attn.q_proj', 'model.layers.1.mlp.down_proj']) {
        const lin = model.llama.linears.get(name) as QuantLinear | Sparse24Linear;
        expect(lin).toBeInstanceOf(sparse ? Sparse24Linear : QuantLinear);
        const { w, n, k } = await dequantizeFromFile(h, name, bits);
        const codes = (await lin.packed.unpack()) as { q: Int8Array; scale: Float32Array };
        expect(w).toEqual(dequantizeCodes(codes, n, k));
      }
      const back = await loadModel(out, { prependSpace: false });
      // A 2:4 GPTQ file is found 2:4 from its codes and runs on the 2:4 kernels again.
      expect(back.llama.linears.get('model.layers.1.mlp.up_proj')).toBeInstanceOf(
        sparse ? Sparse24Linear : QuantLinear,
      );
      const a = await evaluate(model, { file: text, paragraphs: [0, 30] });
      const b = await evaluate(back, { file: text, paragraphs: [0, 30] });
      expect(b.nll).toBe(a.nll);
      back.dispose();
      model.dispose();
    });
  }

  it('refuses, before compressing and writing anything, schemes GPTQ v1 cannot hold', async () => {
    const parent = tempDir('gptq');
    let events = 0;
    const onProgress = () => events++;
    for (const options of [
      { scheme: 'W8A8' as const },
      { scheme: '2:4' as const },
      { quantize: { method: 'rtn' as const, bits: 3, groupSize: 32 } },
      { quantize: { method: 'rtn' as const, bits: 8, groupSize: 32 } },
    ]) {
      await expect(
        compress(tiny, { ...options, prependSpace: false, output: join(parent, 'm'), format: 'gptq', onProgress }),
      ).rejects.toMatchObject({
        code: 'LLMC_UNSUPPORTED',
        message: expect.stringContaining("use format 'compressed-tensors'"),
      });
    }
    expect(events).toBe(0);
    expect(readdirSync(parent)).toEqual([]);
  });
});
