// lib/formats on small synthetic safetensors and GGUF files written here, valid and corrupted.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  dequantizeGgml,
  expectedShapes,
  llamaConfigFromHf,
  loadGguf,
  loadGgufTensors,
  loadHfModel,
  loadSafetensors,
  readGgufHeader,
  readSafetensorsHeader,
} from '../../lib/formats/index.js';
import type { LlamaConfig, Weights } from '../../lib/model/types.js';
import { expectError } from '../helpers/errors.js';
import { tempDir } from '../helpers/paths.js';

const dir = tempDir('formats');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;

function writeTemp(bytes: Uint8Array, name = `f${fileCount++}.bin`): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const f32Bytes = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const u16Bytes = (values: number[]) => new Uint8Array(Uint16Array.from(values).buffer);

// ---------------------------------------------------------------- safetensors

/** A safetensors file from a header object (or raw header text) and a data section. */
function safetensors(header: object | string, data: Uint8Array, declaredLength?: number): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** A valid file holding the given tensors back to back. */
function safetensorsOf(tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.bytes.length] };
    parts.push(t.bytes);
    at += t.bytes.length;
  }
  const data = new Uint8Array(at);
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.length;
  }
  return safetensors(header, data);
}

describe('safetensors', () => {
  it('reads F32, F16 and BF16 tensors (half floats widened exactly)', async () => {
    const path = writeTemp(
      safetensorsOf({
        a: { dtype: 'F32', shape: [2, 2], bytes: f32Bytes([1, -2.5, 3e-8, 1e30]) },
        // 1, -2, 0.333251953125, 2^-24 (subnormal), 65504, -Infinity
        h: { dtype: 'F16', shape: [6], bytes: u16Bytes([0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0xfc00]) },
        // 1, -3, 0.33203125
        b: { dtype: 'BF16', shape: [3, 1], bytes: u16Bytes([0x3f80, 0xc040, 0x3eaa]) },
        empty: { dtype: 'F32', shape: [0, 4], bytes: new Uint8Array(0) },
      }),
    );
    const header = await readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.tensors.get('h')).toEqual({ dtype: 'F16', shape: [6], dataOffsets: [16, 28] });
    const w = await loadSafetensors([path]);
    expect(w.get('a')).toEqual({ shape: [2, 2], data: Float32Array.from([1, -2.5, 3e-8, 1e30]) });
    expect([...w.get('h')!.data]).toEqual([1, -2, 0.333251953125, 2 ** -24, 65504, -Infinity]);
    expect([...w.get('b')!.data]).toEqual([1, -3, 0.33203125]);
    expect(w.get('b')!.shape).toEqual([3, 1]);
    expect(w.get('empty')!.data.length).toBe(0);
  });

  it('reads a sharded model through model.safetensors.index.json', async () => {
    const shard1 = writeTemp(
      safetensorsOf({ x: { dtype: 'F32', shape: [1], bytes: f32Bytes([7]) } }),
      'm-00001-of-00002.safetensors',
    );
    writeTemp(
      safetensorsOf({ y: { dtype: 'F32', shape: [2], bytes: f32Bytes([8, 9]) } }),
      'm-00002-of-00002.safetensors',
    );
    const index = join(dir, 'm.safetensors.index.json');
    const weightMap = { x: 'm-00001-of-00002.safetensors', y: 'm-00002-of-00002.safetensors' };
    writeFileSync(index, JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const w = await loadSafetensors(index);
    expect([...w.get('x')!.data, ...w.get('y')!.data]).toEqual([7, 8, 9]);

    writeFileSync(index, JSON.stringify({ weight_map: { ...weightMap, z: 'm-00002-of-00002.safetensors' } }));
    await expectError(
      loadSafetensors(index),
      'LLMC_INVALID_ARGUMENT',
      /m-00002-of-00002.safetensors: tensor z \(listed in the index\) is not in this file/,
    );
    writeFileSync(index, JSON.stringify({ weight_map: { x: '../elsewhere.safetensors' } }));
    await expectError(loadSafetensors(index), 'LLMC_INVALID_ARGUMENT', /weight_map.x must be a file name/);
    await expectError(
      loadSafetensors([shard1, shard1]),
      'LLMC_INVALID_ARGUMENT',
      /tensor x appears in more than one file/,
    );
  });

  const good = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const data8 = new Uint8Array(8);
  const corrupt: [string, Uint8Array, string, RegExp][] = [
    [
      'a truncated length prefix',
      new Uint8Array(5),
      'LLMC_INVALID_ARGUMENT',
      /\.bin: the file is 5 bytes, too short for the 8-byte header length/,
    ],
    [
      'a header length past the end of the file',
      safetensors(good, data8, 10_000),
      'LLMC_INVALID_ARGUMENT',
      /header length 10000 runs past the end of the file/,
    ],
    [
      'a header length over 100 MB',
      safetensors(good, data8, 2 ** 40),
      'LLMC_INVALID_ARGUMENT',
      /header length 1099511627776/,
    ],
    ['bad JSON', safetensors('{"t": {', data8), 'LLMC_INVALID_ARGUMENT', /the header is not valid UTF-8 JSON/],
    ['a JSON array header', safetensors('[1, 2]', data8), 'LLMC_INVALID_ARGUMENT', /the header is not a JSON object/],
    [
      'an unsupported dtype',
      safetensors({ t: { dtype: 'I8', shape: [8], data_offsets: [0, 8] } }, data8),
      'LLMC_UNSUPPORTED',
      /tensor t: dtype I8 is not supported \(supported: F32, F16, BF16, and I32, I64, U8 for compressed weights\)/,
    ],
    [
      'an unknown dtype',
      safetensors({ t: { dtype: 'Q7', shape: [8], data_offsets: [0, 8] } }, data8),
      'LLMC_UNSUPPORTED',
      /dtype Q7 is not supported/,
    ],
    [
      'a missing dtype',
      safetensors({ t: { shape: [2], data_offsets: [0, 8] } }, data8),
      'LLMC_INVALID_ARGUMENT',
      /tensor t: dtype is missing/,
    ],
    [
      'a negative dimension',
      safetensors({ t: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, data8),
      'LLMC_INVALID_ARGUMENT',
      /tensor t: shape must be an array of non-negative integers/,
    ],
    [
      'reversed offsets',
      safetensors({ t: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, data8),
      'LLMC_INVALID_ARGUMENT',
      /tensor t: data_offsets must be \[begin, end\]/,
    ],
    [
      'offsets past the end',
      safetensors({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data8),
      'LLMC_INVALID_ARGUMENT',
      /tensor t: data_offsets \[0, 16\) run past the end of the data section \(8 bytes\)/,
    ],
    [
      'a shape/offset mismatch',
      safetensors({ t: { dtype: 'F16', shape: [2], data_offsets: [0, 8] } }, data8),
      'LLMC_INVALID_ARGUMENT',
      /tensor t: shape \[2\] of F16 needs 4 bytes but data_offsets \[0, 8\) hold 8/,
    ],
    [
      'overlapping tensors',
      safetensors(
        {
          t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          u: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        },
        data8,
      ),
      'LLMC_INVALID_ARGUMENT',
      /tensors t \[0, 8\) and u \[4, 8\) overlap/,
    ],
    [
      'a non-string __metadata__ value',
      safetensors({ __metadata__: { n: 1 }, ...good }, data8),
      'LLMC_INVALID_ARGUMENT',
      /__metadata__.n is not a string/,
    ],
  ];
  it.each(corrupt)('refuses %s with a typed error naming the file', async (_what, bytes, code, message) => {
    const path = writeTemp(bytes);
    await expectError(readSafetensorsHeader(path), code, message);
    await expectError(loadSafetensors([path]), code, message);
  });
});

// ---------------------------------------------------------------- Hugging Face config

const tinyHf = {
  hidden_size: 4,
  intermediate_size: 6,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  vocab_size: 5,
  max_position_embeddings: 16,
  rms_norm_eps: 1e-5,
};
const tinyConfig: LlamaConfig = {
  dim: 4,
  hiddenDim: 6,
  nLayers: 1,
  nHeads: 2,
  nKvHeads: 2,
  vocabSize: 5,
  maxSeqLen: 16,
  ropeTheta: 10000,
  normEps: 1e-5,
  ropeStyle: 'half',
  tiedEmbeddings: true,
};

function weightsFor(config: LlamaConfig): Weights {
  const weights: Weights = new Map();
  for (const [name, shape] of expectedShapes(config)) {
    weights.set(name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(weights.size) });
  }
  return weights;
}

describe('llamaConfigFromHf / loadHfModel', () => {
  it('maps config.json with its defaults (kv heads = heads, theta 10000, tied without lm_head)', () => {
    expect(llamaConfigFromHf(tinyHf, weightsFor(tinyConfig))).toEqual(tinyConfig);
    const untied = { ...tinyConfig, tiedEmbeddings: false, nKvHeads: 1, ropeTheta: 5e5 };
    expect(
      llamaConfigFromHf({ ...tinyHf, num_key_value_heads: 1, rope_theta: 5e5, rope_scaling: null }, weightsFor(untied)),
    ).toEqual(untied);
  });

  it('names a missing or mis-shaped tensor with the expected and actual shapes', async () => {
    const missing = weightsFor(tinyConfig);
    missing.delete('model.layers.0.mlp.up_proj.weight');
    await expectError(
      () => llamaConfigFromHf(tinyHf, missing),
      'LLMC_INVALID_ARGUMENT',
      /config.json: tensor model.layers.0.mlp.up_proj.weight \[6, 4\] is missing/,
    );
    const wrong = weightsFor(tinyConfig);
    wrong.set('model.layers.0.self_attn.k_proj.weight', { shape: [2, 4], data: new Float32Array(8) });
    await expectError(
      () => llamaConfigFromHf(tinyHf, wrong),
      'LLMC_INVALID_ARGUMENT',
      /tensor model.layers.0.self_attn.k_proj.weight: expected shape \[4, 4\], got \[2, 4\]/,
    );
    const biased = weightsFor(tinyConfig);
    biased.set('model.layers.0.self_attn.q_proj.bias', { shape: [4], data: new Float32Array(4) });
    await expectError(
      () => llamaConfigFromHf(tinyHf, biased),
      'LLMC_UNSUPPORTED',
      /tensor model.layers.0.self_attn.q_proj.bias is not part of the LLaMA architecture/,
    );
  });

  it('refuses rope scaling, other model types and bad fields', async () => {
    const w = weightsFor(tinyConfig);
    await expectError(
      () => llamaConfigFromHf({ ...tinyHf, rope_scaling: { type: 'linear', factor: 2 } }, w),
      'LLMC_UNSUPPORTED',
      /rope_scaling .*linear.* is not supported/,
    );
    await expectError(
      () => llamaConfigFromHf({ ...tinyHf, model_type: 'gpt2' }, w),
      'LLMC_UNSUPPORTED',
      /model_type "gpt2" is not supported/,
    );
    await expectError(
      () => llamaConfigFromHf({ ...tinyHf, hidden_size: '4' }, w),
      'LLMC_INVALID_ARGUMENT',
      /hidden_size must be a positive integer, got "4"/,
    );
    await expectError(
      () => llamaConfigFromHf({ ...tinyHf, num_key_value_heads: 3 }, w),
      'LLMC_INVALID_ARGUMENT',
      /do not divide evenly/,
    );
  });

  it('loads a folder whose tied embedding is stored as lm_head.weight only', async () => {
    const folder = mkdtempSync(join(dir, 'hf-'));
    const tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }> = {};
    for (const [name, t] of weightsFor(tinyConfig)) {
      const stored = name === 'model.embed_tokens.weight' ? 'lm_head.weight' : name;
      tensors[stored] = { dtype: 'F32', shape: t.shape, bytes: new Uint8Array(t.data.buffer) };
    }
    writeFileSync(join(folder, 'model.safetensors'), safetensorsOf(tensors));
    writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...tinyHf, tie_word_embeddings: true }));
    const { config, weights } = await loadHfModel(folder);
    expect(config).toEqual(tinyConfig);
    expect(weights.has('lm_head.weight')).toBe(false);
    expect(weights.get('model.embed_tokens.weight')!.shape).toEqual([5, 4]);
    await expectError(loadHfModel(dir), 'LLMC_INVALID_ARGUMENT', /no config.json in this folder/);
  });
});

// ---------------------------------------------------------------- GGUF

/** Little-endian byte writer for GGUF files. */
class Writer {
  private bytes: number[] = [];
  get length() {
    return this.bytes.length;
  }
  raw(b: ArrayLike<number>) {
    for (let i = 0; i < b.length; i++) this.bytes.push(b[i]!);
    return this;
  }
  private num(set: (v: DataView) => void, n: number) {
    const b = new Uint8Array(n);
    set(new DataView(b.buffer));
    return this.raw(b);
  }
  u8(v: number) {
    return this.num((d) => d.setUint8(0, v), 1);
  }
  i8(v: number) {
    return this.num((d) => d.setInt8(0, v), 1);
  }
  u16(v: number) {
    return this.num((d) => d.setUint16(0, v, true), 2);
  }
  i16(v: number) {
    return this.num((d) => d.setInt16(0, v, true), 2);
  }
  u32(v: number) {
    return this.num((d) => d.setUint32(0, v, true), 4);
  }
  i32(v: number) {
    return this.num((d) => d.setInt32(0, v, true), 4);
  }
  f32(v: number) {
    return this.num((d) => d.setFloat32(0, v, true), 4);
  }
  f64(v: number) {
    return this.num((d) => d.setFloat64(0, v, true), 8);
  }
  u64(v: number | bigint) {
    return this.num((d) => d.setBigUint64(0, BigInt(v), true), 8);
  }
  i64(v: number | bigint) {
    return this.num((d) => d.setBigInt64(0, BigInt(v), true), 8);
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    return this.u64(b.length).raw(b);
  }
  pad(alignment: number) {
    while (this.bytes.length % alignment) this.bytes.push(0);
    return this;
  }
  done() {
    return Uint8Array.from(this.bytes);
  }
}

interface GgufTensorSpec {
  name: string;
  dims: number[];
  type: number;
  data: Uint8Array;
  offset?: number;
}
type Kv = [key: string, type: number, write: (w: Writer) => unknown];

const TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;
const kvString = (key: string, v: string): Kv => [key, TYPE.string, (w) => w.str(v)];
const kvU32 = (key: string, v: number): Kv => [key, TYPE.u32, (w) => w.u32(v)];
const kvF32 = (key: string, v: number): Kv => [key, TYPE.f32, (w) => w.f32(v)];

function gguf(
  kvs: Kv[],
  tensors: GgufTensorSpec[],
  opts: { magic?: string; version?: number; tensorCount?: number } = {},
): Uint8Array {
  const w = new Writer().raw(new TextEncoder().encode(opts.magic ?? 'GGUF')).u32(opts.version ?? 3);
  w.u64(opts.tensorCount ?? tensors.length).u64(kvs.length);
  for (const [key, type, write] of kvs) write(w.str(key).u32(type));
  let offset = 0;
  const offsets = tensors.map((t) => {
    const at = t.offset ?? offset;
    offset = Math.ceil((at + t.data.length) / 32) * 32;
    return at;
  });
  tensors.forEach((t, i) => {
    w.str(t.name).u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type).u64(offsets[i]!);
  });
  const dataStart = w.pad(32).length;
  const end = Math.max(0, ...tensors.map((t, i) => offsets[i]! + t.data.length));
  const out = new Uint8Array(dataStart + end);
  out.set(w.done());
  for (const [i, t] of tensors.entries()) out.set(t.data, dataStart + offsets[i]!);
  return out;
}

/** Q8_0 block: fp16 scale 0.5 (0x3800), then 32 int8. */
const q8Block = new Writer()
  .u16(0x3800)
  .raw(Int8Array.from([-128, -1, 0, 1, 127, ...Array.from({ length: 27 }, (_, i) => i - 13)]).map((v) => v & 0xff))
  .done();
/** Q4_0 block: fp16 scale 2 (0x4000), then 16 bytes: low nibble j, high nibble 15 − j. */
const q4Block = new Writer()
  .u16(0x4000)
  .raw(Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4)))
  .done();

describe('GGUF', () => {
  it('reads metadata of every value type, nested arrays included', async () => {
    const kvs: Kv[] = [
      ['u8', 0, (w) => w.u8(200)],
      ['i8', 1, (w) => w.i8(-5)],
      ['u16', 2, (w) => w.u16(60000)],
      ['i16', 3, (w) => w.i16(-300)],
      ['u32', 4, (w) => w.u32(4e9)],
      ['i32', 5, (w) => w.i32(-7)],
      ['f32', 6, (w) => w.f32(0.25)],
      ['bool', 7, (w) => w.u8(1)],
      ['str', 8, (w) => w.str('héllo')],
      ['u64', 10, (w) => w.u64(2n ** 60n)],
      ['i64', 11, (w) => w.i64(-42)],
      ['f64', 12, (w) => w.f64(Math.PI)],
      ['arr', 9, (w) => w.u32(TYPE.string).u64(2).str('a').str('')],
      ['nested', 9, (w) => w.u32(TYPE.array).u64(2).u32(TYPE.i32).u64(1).i32(3).u32(TYPE.bool).u64(2).u8(0).u8(1)],
      ['general.alignment', 4, (w) => w.u32(64)],
    ];
    const header = await readGgufHeader(writeTemp(gguf(kvs, [])));
    expect(Object.fromEntries(header.metadata)).toEqual({
      u8: 200,
      i8: -5,
      u16: 60000,
      i16: -300,
      u32: 4e9,
      i32: -7,
      f32: 0.25,
      bool: true,
      str: 'héllo',
      u64: 2n ** 60n,
      i64: -42,
      f64: Math.PI,
      arr: ['a', ''],
      nested: [[3], [false, true]],
      'general.alignment': 64,
    });
    expect(header.version).toBe(3);
    expect(header.alignment).toBe(64);
  });

  it('dequantizes F32, F16, Q8_0 and Q4_0 tensors to hand-computed values, shapes row-major', async () => {
    const path = writeTemp(
      gguf(
        [],
        [
          { name: 'f32', dims: [3, 2], type: 0, data: f32Bytes([1, 2, 3, 4, 5, 6]) },
          { name: 'f16', dims: [3], type: 1, data: u16Bytes([0x3c00, 0xc000, 0x3555]) },
          { name: 'q8', dims: [32], type: 8, data: q8Block },
          { name: 'q4', dims: [32, 1], type: 2, data: q4Block },
        ],
      ),
    );
    const { tensors } = await loadGgufTensors(path);
    expect(tensors.get('f32')).toEqual({ shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    expect([...tensors.get('f16')!.data]).toEqual([1, -2, 0.333251953125]);
    const q8 = [...tensors.get('q8')!.data];
    expect(q8.slice(0, 5)).toEqual([-64, -0.5, 0, 0.5, 63.5]);
    expect(q8[5]).toBe(-6.5);
    const q4 = tensors.get('q4')!;
    expect(q4.shape).toEqual([1, 32]);
    // element j (< 16): (j − 8)·2; element 16 + j: (15 − j − 8)·2.
    expect([...q4.data.subarray(0, 3)]).toEqual([-16, -14, -12]);
    expect(q4.data[15]).toBe(14);
    expect([...q4.data.subarray(16, 18)]).toEqual([14, 12]);
    expect(q4.data[31]).toBe(-16);
    const bf = new Float32Array(2);
    dequantizeGgml(30, u16Bytes([0x3f80, 0xc040]), bf);
    expect([...bf]).toEqual([1, -3]);
    await expectError(
      () => dequantizeGgml(8, q8Block.subarray(0, 33), new Float32Array(32)),
      'LLMC_INVALID_ARGUMENT',
      /expected 34 bytes of Q8_0 for 32 values/,
    );
    await expectError(
      () => dequantizeGgml(2, q4Block, new Float32Array(16)),
      'LLMC_INVALID_ARGUMENT',
      /a multiple of 32/,
    );
    await expectError(
      () => dequantizeGgml(12, new Uint8Array(144), new Float32Array(256)),
      'LLMC_UNSUPPORTED',
      /ggml type Q4_K is not supported/,
    );
  });

  const tensorF32 = (name: string, dims: number[], offset?: number): GgufTensorSpec => ({
    name,
    dims,
    type: 0,
    data: new Uint8Array(4 * dims.reduce((a, b) => a * b, 1)),
    ...(offset === undefined ? {} : { offset }),
  });
  const valid = gguf([kvString('general.architecture', 'llama')], [tensorF32('a', [4])]);
  const truncated = valid.subarray(0, valid.length - 4);
  const corrupt: [string, Uint8Array, string, RegExp][] = [
    [
      'wrong magic',
      gguf([], [], { magic: 'GGML' }),
      'LLMC_INVALID_ARGUMENT',
      /not a GGUF file \(magic bytes "GGML", expected "GGUF"\)/,
    ],
    ['version 1', gguf([], [], { version: 1 }), 'LLMC_UNSUPPORTED', /GGUF version 1 is not supported/],
    [
      'a big-endian file',
      gguf([], [], { version: 0x03000000 }),
      'LLMC_UNSUPPORTED',
      /big-endian GGUF files are not supported/,
    ],
    [
      'an absurd tensor count',
      gguf([], [], { tensorCount: 1e12 }),
      'LLMC_INVALID_ARGUMENT',
      /tensor count 1000000000000 is too large/,
    ],
    [
      'a tensor past the end of the file',
      truncated,
      'LLMC_INVALID_ARGUMENT',
      /tensor a: data \[0, 16\) runs past the end of the data section \(12 bytes\)/,
    ],
    [
      'a string past the end of the file',
      valid.subarray(0, 40),
      'LLMC_INVALID_ARGUMENT',
      /metadata key 0: a string of 20 bytes at offset 24 runs past the end of the file \(40 bytes\)/,
    ],
    [
      'overlapping tensors',
      gguf([], [tensorF32('a', [16]), tensorF32('b', [8], 32)]),
      'LLMC_INVALID_ARGUMENT',
      /tensors a and b overlap/,
    ],
    [
      'a misaligned offset',
      gguf([], [tensorF32('a', [4], 4)]),
      'LLMC_INVALID_ARGUMENT',
      /tensor a: offset 4 is not a multiple of the alignment 32/,
    ],
    [
      'a row not made of whole blocks',
      gguf([], [{ name: 'q', dims: [16], type: 8, data: q8Block }]),
      'LLMC_INVALID_ARGUMENT',
      /tensor q: dims\[0\] = 16 is not a multiple of the Q8_0 block size 32/,
    ],
    [
      'an unknown ggml type',
      gguf([], [{ name: 'q', dims: [4], type: 99, data: new Uint8Array(16) }]),
      'LLMC_UNSUPPORTED',
      /tensor q: unknown ggml type 99/,
    ],
    [
      'an unknown metadata type',
      gguf([['k', 13, () => undefined]], []),
      'LLMC_INVALID_ARGUMENT',
      /metadata k: unknown metadata value type 13/,
    ],
    [
      'a duplicate key',
      gguf([kvU32('k', 1), kvU32('k', 2)], []),
      'LLMC_INVALID_ARGUMENT',
      /metadata key k appears twice/,
    ],
  ];
  it.each(corrupt)('refuses %s with a typed error naming the file', async (_what, bytes, code, message) => {
    const path = writeTemp(bytes);
    await expectError(readGgufHeader(path), code, new RegExp(`^f\\d+\\.bin: ${message.source}`));
  });

  it('names the tensor and type it cannot dequantize (Q4_K)', async () => {
    const path = writeTemp(gguf([], [{ name: 'k', dims: [256], type: 12, data: new Uint8Array(144) }]));
    expect((await readGgufHeader(path)).tensors[0]).toMatchObject({ name: 'k', typeName: 'Q4_K', byteSize: 144 });
    await expectError(
      loadGgufTensors(path),
      'LLMC_UNSUPPORTED',
      /tensor k: ggml type Q4_K is not supported \(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q6_K\)/,
    );
  });

  /** A complete tiny llama GGUF: dim 4, 1 layer, 2 heads, 1 kv head, hidden 6, vocab 3. */
  function tinyLlama(options: { drop?: string; arch?: string; noVocab?: boolean } = {}): Uint8Array {
    const kvs = (
      [
        kvString('general.architecture', options.arch ?? 'llama'),
        kvU32('llama.context_length', 16),
        kvU32('llama.embedding_length', 4),
        kvU32('llama.feed_forward_length', 6),
        kvU32('llama.block_count', 1),
        kvU32('llama.attention.head_count', 2),
        kvU32('llama.attention.head_count_kv', 1),
        kvF32('llama.attention.layer_norm_rms_epsilon', 1e-5),
        kvString('tokenizer.ggml.model', 'llama'),
        ['tokenizer.ggml.tokens', TYPE.array, (w) => w.u32(TYPE.string).u64(3).str('<unk>').str('<s>').str('▁a')],
        ['tokenizer.ggml.scores', TYPE.array, (w) => w.u32(TYPE.f32).u64(3).f32(0).f32(0).f32(-1.5)],
        ['tokenizer.ggml.token_type', TYPE.array, (w) => w.u32(TYPE.i32).u64(3).i32(2).i32(3).i32(1)],
        kvU32('tokenizer.ggml.bos_token_id', 1),
      ] satisfies Kv[]
    ).filter(([key]) => !(options.noVocab && key.startsWith('tokenizer.')));
    const tensors = [
      tensorF32('token_embd.weight', [4, 3]),
      tensorF32('output_norm.weight', [4]),
      tensorF32('output.weight', [4, 3]),
      tensorF32('blk.0.attn_norm.weight', [4]),
      tensorF32('blk.0.ffn_norm.weight', [4]),
      tensorF32('blk.0.attn_q.weight', [4, 4]),
      tensorF32('blk.0.attn_k.weight', [4, 2]),
      tensorF32('blk.0.attn_v.weight', [4, 2]),
      tensorF32('blk.0.attn_output.weight', [4, 4]),
      tensorF32('blk.0.ffn_gate.weight', [4, 6]),
      tensorF32('blk.0.ffn_up.weight', [4, 6]),
      tensorF32('blk.0.ffn_down.weight', [6, 4]),
    ].filter((t) => t.name !== options.drop);
    tensors.find((t) => t.name === 'output.weight')?.data.fill(1); // differs from token_embd: untied
    return gguf(kvs, tensors);
  }

  it('loads a llama GGUF under canonical names with its config and vocabulary', async () => {
    const { config, weights, vocab } = await loadGguf(writeTemp(tinyLlama()));
    expect(config).toEqual({
      dim: 4,
      hiddenDim: 6,
      nLayers: 1,
      nHeads: 2,
      nKvHeads: 1,
      vocabSize: 3,
      maxSeqLen: 16,
      ropeTheta: 10000,
      normEps: Math.fround(1e-5),
      ropeStyle: 'interleaved',
      tiedEmbeddings: false,
    });
    expect(weights.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([2, 4]);
    expect(weights.get('model.layers.0.mlp.down_proj.weight')!.shape).toEqual([4, 6]);
    expect(weights.get('lm_head.weight')!.shape).toEqual([3, 4]);
    expect(vocab).toEqual({
      model: 'llama',
      tokens: ['<unk>', '<s>', '▁a'],
      scores: Float32Array.from([0, 0, -1.5]),
      tokenTypes: Int32Array.from([2, 3, 1]),
      bos: 1,
      eos: undefined,
    });
  });

  it('refuses other architectures, a missing tensor and a missing vocabulary', async () => {
    await expectError(
      loadGguf(writeTemp(tinyLlama({ arch: 'gpt2' }))),
      'LLMC_UNSUPPORTED',
      /architecture "gpt2" is not supported \(only "llama"\)/,
    );
    await expectError(
      loadGguf(writeTemp(tinyLlama({ drop: 'blk.0.ffn_up.weight' }))),
      'LLMC_INVALID_ARGUMENT',
      /tensor model.layers.0.mlp.up_proj.weight \[6, 4\] is missing/,
    );
    await expectError(
      loadGguf(writeTemp(tinyLlama({ noVocab: true }))),
      'LLMC_INVALID_ARGUMENT',
      /metadata tokenizer.ggml.tokens is missing/,
    );
  });
});
