import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { LlmcError } from '../../lib/index.js';
import { dequantizeGgml, loadGguf, loadGgufTensors, readGgufHeader } from '../../lib/formats/gguf.js';
import {
  encodeF16Tensor,
  encodeQ4_0,
  encodeQ4_1,
  encodeQ6_K,
  encodeQ8_0,
  GGML_TYPE,
  ropeInterleavePermutation,
  writeGguf,
  type GgufMetaValue,
} from '../../lib/formats/gguf_write.js';
import { halfToFloat } from '../../lib/formats/safetensors.js';
import { floatToHalf } from '../../lib/formats/safetensors_write.js';
import { Rng } from '../../bench/random.js';
import { expectError } from '../helpers/errors.js';
import { tempDir } from '../helpers/paths.js';

const dir = tempDir('gguf-unit');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const h = (x: number) => halfToFloat(floatToHalf(x));

/** Random codes in [lo, hi] and positive scales spread over a factor of 8 (as real layers have). */
function codes(rng: Rng, n: number, lo: number, hi: number): Int8Array {
  return Int8Array.from({ length: n }, () => lo + Math.floor(rng.next() * (hi - lo + 1)));
}
function scales(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => 0.004 * 2 ** (3 * rng.next()));
}

describe('ggml block encoders (read back by our GGUF reader)', () => {
  const n = 8;
  const k = 256;
  const rng = new Rng(7);

  it('Q8_0: int8 per-channel codes and fp16 scales exactly', () => {
    const q = codes(rng, n * k, -128, 127);
    const s = scales(rng, n);
    const out = new Float32Array(n * k);
    dequantizeGgml(GGML_TYPE.Q8_0, encodeQ8_0(q, s, n, k), out);
    for (let i = 0; i < out.length; i++) expect(out[i]).toBe(Math.fround(h(s[Math.floor(i / k)]!) * q[i]!));
  });

  it('Q4_0: symmetric int4 codes of groups of 32 / 128 / per row, nibble j low = x[j], high = x[j + 16]', () => {
    for (const g of [32, 128, k]) {
      const q = codes(rng, n * k, -8, 7);
      const s = scales(rng, (n * k) / g);
      const bytes = encodeQ4_0(q, s, n, k, g);
      expect(bytes.length).toBe(((n * k) / 32) * 18);
      // First block by hand: fp16 d, then byte j = (q[j] + 8) | (q[j + 16] + 8) << 4.
      expect(bytes[0]! | (bytes[1]! << 8)).toBe(floatToHalf(s[0]!));
      for (let j = 0; j < 16; j++) expect(bytes[2 + j]).toBe((q[j]! + 8) | ((q[j + 16]! + 8) << 4));
      const out = new Float32Array(n * k);
      dequantizeGgml(GGML_TYPE.Q4_0, bytes, out);
      for (let i = 0; i < out.length; i++) {
        const sc = s[Math.floor(i / k) * (k / g) + Math.floor((i % k) / g)]!;
        expect(out[i]).toBe(Math.fround(h(sc) * q[i]!));
      }
    }
  });

  it('Q4_1: asymmetric codes kept, W = d·q + m with d = fp16(s), m = fp16(−s·z)', () => {
    const g = 32;
    const q = codes(rng, n * k, 0, 15);
    const s = scales(rng, (n * k) / g);
    const z = Uint8Array.from(codes(rng, (n * k) / g, 0, 15));
    const out = new Float32Array(n * k);
    dequantizeGgml(GGML_TYPE.Q4_1, encodeQ4_1(q, s, z, n, k, g), out);
    let maxRel = 0;
    for (let i = 0; i < out.length; i++) {
      const b = Math.floor(i / g);
      expect(out[i]).toBe(Math.fround(q[i]! * h(s[b]!) + h(-s[b]! * z[b]!)));
      const exact = h(s[b]!) * (q[i]! - z[b]!);
      maxRel = Math.max(maxRel, Math.abs(out[i]! - exact) / (h(s[b]!) * 15));
    }
    console.log(
      `Q4_1: max |W_file − fp16(s)·(q − z)| / (15·s) = ${maxRel.toExponential(2)} (the fp16 rounding of m alone)`,
    );
    expect(maxRel).toBeLessThan(2 ** -11);
  });

  it('Q6_K: int4 codes kept, scales re-expressed as fp16 d × int8 sub-scale × multiplier; measured error', () => {
    const rows = 256;
    for (const [label, lo, hi] of [
      ['symmetric int4 g32', -8, 7],
      ['asymmetric int4 g32 (q − z)', -15, 15],
    ] as const) {
      const q = codes(rng, rows * k, lo, hi);
      const s = scales(rng, (rows * k) / 32);
      const sub = Float32Array.from({ length: (rows * k) / 16 }, (_, b) => s[b >> 1]!);
      const { bytes, fit } = encodeQ6_K(q, sub, rows, k);
      expect(bytes.length).toBe(rows * 210);
      const out = new Float32Array(rows * k);
      dequantizeGgml(GGML_TYPE.Q6_K, bytes, out);
      let num = 0;
      let den = 0;
      for (let i = 0; i < out.length; i++) {
        const w = s[i >> 5]! * q[i]!;
        num += (out[i]! - w) ** 2;
        den += w * w;
        // The codes are kept: each value is the code times one positive factor per sub-block.
        if (q[i] === 0) expect(out[i]).toBe(0);
        else expect(Math.sign(out[i]!)).toBe(Math.sign(q[i]!));
      }
      const rel = Math.sqrt(num / den);
      console.log(
        `Q6_K from ${label}: scale error max ${(100 * fit.maxRelScaleError).toFixed(3)}%, rms ${(100 * fit.rmsRelScaleError).toFixed(3)}%; weight error ‖ΔW‖/‖W‖ ${(100 * rel).toFixed(3)}%`,
      );
      expect(fit.rmsRelScaleError).toBeLessThan(0.005);
      expect(rel).toBeLessThan(0.005);
    }
  });

  it('F16 rounds each value to the nearest half', () => {
    const x = Float32Array.of(1, 0.1, -2.5e-5, 65504, 1e-8);
    const out = new Float32Array(x.length);
    dequantizeGgml(GGML_TYPE.F16, encodeF16Tensor(x), out);
    expect(Array.from(out)).toEqual(Array.from(x, h));
  });

  it('rope reordering matches convert_hf_to_gguf (rows (i, i + hd/2) become (2i, 2i + 1))', () => {
    expect(Array.from(ropeInterleavePermutation(2, 4))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
  });
});

describe('writeGguf', () => {
  const metadata: Array<[string, GgufMetaValue]> = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.alignment', { type: 'uint32', value: 32 }],
    ['x.i32', { type: 'int32', value: -5 }],
    ['x.f32', { type: 'float32', value: 0.5 }],
    ['x.bool', { type: 'bool', value: true }],
    ['x.u64', { type: 'uint64', value: 2 ** 40 }],
    ['x.strings', { type: 'array', of: 'string', value: ['a', '▁b', ''] }],
    ['x.floats', { type: 'array', of: 'float32', value: Float32Array.of(1, -1) }],
    ['x.ints', { type: 'array', of: 'int32', value: [1, 2, 3] }],
  ];

  it('writes a GGUF v3 file our reader reads back: metadata, dims in ggml order, aligned data', async () => {
    const path = join(dir, 'a.gguf');
    const w = Float32Array.from({ length: 3 * 5 }, (_, i) => i);
    const q = Int8Array.from({ length: 2 * 32 }, (_, i) => (i % 16) - 8);
    await writeGguf(path, metadata, [
      { name: 'w', dims: [5, 3], type: 'F32', data: () => new Uint8Array(w.buffer) },
      { name: 'q', dims: [32, 2], type: 'Q4_0', data: () => encodeQ4_0(q, Float32Array.of(0.5, 0.25), 2, 32, 32) },
    ]);
    const header = await readGgufHeader(path);
    expect(header.version).toBe(3);
    expect(header.alignment).toBe(32);
    expect(header.dataStart % 32).toBe(0);
    expect(Object.fromEntries(header.metadata)).toEqual({
      'general.architecture': 'llama',
      'general.alignment': 32,
      'x.i32': -5,
      'x.f32': 0.5,
      'x.bool': true,
      'x.u64': 2 ** 40,
      'x.strings': ['a', '▁b', ''],
      'x.floats': [1, -1],
      'x.ints': [1, 2, 3],
    });
    expect(header.tensors.map((t) => [t.name, t.dims, t.typeName, t.offset % 32])).toEqual([
      ['w', [5, 3], 'F32', 0],
      ['q', [32, 2], 'Q4_0', 0],
    ]);
    const { tensors } = await loadGgufTensors(path);
    expect(tensors.get('w')).toEqual({ shape: [3, 5], data: w });
    expect(Array.from(tensors.get('q')!.data)).toEqual(Array.from(q, (v, i) => v * (i < 32 ? 0.5 : 0.25)));
  });

  it('is atomic: refuses to overwrite unless asked, and leaves nothing when a tensor fails', async () => {
    const path = join(dir, 'b.gguf');
    const tensor = { name: 't', dims: [4], type: 'F32' as const, data: () => new Uint8Array(16) };
    await writeGguf(path, metadata, [tensor]);
    const e = await writeGguf(path, metadata, [tensor]).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(LlmcError);
    expect((e as LlmcError).message).toMatch(/exists.*overwrite: true/);
    const failing = {
      ...tensor,
      data: () => {
        throw new Error('boom');
      },
    };
    await expect(writeGguf(join(dir, 'c.gguf'), metadata, [failing])).rejects.toThrow('boom');
    const ac = new AbortController();
    ac.abort();
    await expect(writeGguf(join(dir, 'd.gguf'), metadata, [tensor], { signal: ac.signal })).rejects.toThrow();
    expect(
      readdirSync(dir)
        .filter((f) => f !== 'a.gguf')
        .sort(),
    ).toEqual(['b.gguf']);
  });
});

describe('GGUF vocabularies', () => {
  it('reads 262,145 tokens and refuses the one beyond llama.vocab_size, naming the file and the id', async () => {
    const path = join(dir, 'vocab.gguf');
    const tokens = Array.from({ length: 262_145 }, (_, i) => `t${i}`);
    await writeGguf(
      path,
      [
        ['general.architecture', { type: 'string', value: 'llama' }],
        ['llama.attention.head_count', { type: 'uint32', value: 2 }],
        ['llama.embedding_length', { type: 'uint32', value: 8 }],
        ['llama.vocab_size', { type: 'uint32', value: 262_144 }],
        ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
        ['tokenizer.ggml.tokens', { type: 'array', of: 'string', value: tokens }],
      ],
      [],
    );
    await expectError(loadGguf(path), 'LLMC_INVALID_ARGUMENT', /vocab\.gguf.*token id 262144 \("t262144"\)/);
  });
});
