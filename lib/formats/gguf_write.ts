/**
 * GGUF v3 writer (the format llama.cpp, node-llama-cpp and ollama load) and the ggml block
 * encoders it needs, for models loaded or compressed by this library.
 *
 * File layout (little-endian): "GGUF", uint32 version 3, uint64 tensor count, uint64 metadata
 * count, metadata (uint64-length string key, uint32 value type, value), tensor infos (name,
 * uint32 n_dims, uint64 dims with dims[0] the fastest-varying = a linear layer's input dimension,
 * uint32 ggml type, uint64 offset into the data section), padding to `general.alignment` (32),
 * then each tensor's data at its (aligned) offset.
 *
 * Block layouts written here (ggml-common.h; d, m are fp16):
 *   Q8_0  34 bytes / 32 values: d, int8 qs[32]                         x[i] = d·qs[i]
 *   Q4_0  18 bytes / 32 values: d, uint8 qs[16]                        x[j] = d·((qs[j] & 15) − 8),
 *                                                                      x[j + 16] = d·((qs[j] >> 4) − 8)
 *   Q4_1  20 bytes / 32 values: d, m, uint8 qs[16] (nibbles as Q4_0)   x = d·nibble + m
 *   Q6_K 210 bytes / 256 values: uint8 ql[128] (low 4 bits), uint8 qh[64] (high 2 bits),
 *                                int8 scales[16] (one per 16 values), d   x = d·scales[i/16]·(q6 − 32)
 *        per half of 128 values, value l + 32·r (l < 32, r < 4): low bits in ql[l + 32·(r & 1)]
 *        (low nibble for r < 2, high nibble for r >= 2), high bits in qh[l] bits 2r, 2r + 1.
 *
 * How a compressed model's layers map (see {@link saveGguf}): int8 per-channel codes onto Q8_0 and
 * symmetric int4 codes (groups of 32, 64, 128, or per row) onto Q4_0 exactly — the only change is
 * the scale rounded to fp16, which the model in memory adopts before writing; asymmetric int4 onto
 * Q4_1 (codes exact, d = fp16(scale), m = fp16(−scale·zero)); int4 onto Q6_K on request (codes
 * exact, the scales re-expressed as fp16 d × int8 sub-scale × a code multiplier of 1..4).
 */
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

import { invalidArgument, LlmcError } from '../errors.js';
import type { Int4Codes } from '../kernels/quant.js';
import { DenseLinear } from '../model/linear.js';
import type { WritableModel } from './model_folder.js';
import { QuantLinear } from '../model/quant_linear.js';
import { groupLength, type QuantArgs } from '../quant_args.js';
import type { LlamaConfig, Tensor } from '../model/types.js';
import { HfBpeTokenizer } from '../tokenizers/hf_bpe.js';
import { Llama2cTokenizer } from '../tokenizers/llama2c.js';
import { checkBoolean, checkKnownKeys, checkObject } from '../validate.js';
import { readGgufHeader, type GgufValue } from './gguf.js';
import { dequantizeCodes, packedQuantArgs, withF16Scales } from './packed_codes.js';
import { writableLinears } from '../model/sparse24_linear.js';
import { halfToFloat } from './safetensors.js';
import { floatToHalf } from './safetensors_write.js';

/** ggml type ids of the tensor types this writer produces. */
export const GGML_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 8, Q6_K: 14 } as const;
export type GgmlTypeName = keyof typeof GGML_TYPE;

/** Values per block and bytes per block of each written type. */
const LAYOUT: Record<GgmlTypeName, { block: number; bytes: number }> = {
  F32: { block: 1, bytes: 4 },
  F16: { block: 1, bytes: 2 },
  Q4_0: { block: 32, bytes: 18 },
  Q4_1: { block: 32, bytes: 20 },
  Q8_0: { block: 32, bytes: 34 },
  Q6_K: { block: 256, bytes: 210 },
};

/** Bytes a tensor of `type` with `rowLength` values per row and `rows` rows takes. */
export function ggmlByteSize(type: GgmlTypeName, rowLength: number, rows: number): number {
  const l = LAYOUT[type];
  if (rowLength % l.block !== 0)
    throw invalidArgument('rowLength', `a multiple of the ${type} block size ${l.block}`, rowLength);
  return (rowLength / l.block) * l.bytes * rows;
}

/** A metadata value with its GGUF type. */
export type GgufMetaValue =
  | { type: 'uint32' | 'int32' | 'float32' | 'uint64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; of: 'string'; value: readonly string[] }
  | { type: 'array'; of: 'float32' | 'int32' | 'uint32'; value: ArrayLike<number> };

const TYPE_ID = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10 } as const;

/** One tensor to write: its GGUF name, ggml dims (dims[0] fastest), type, and its bytes on demand. */
export interface GgufTensorToWrite {
  name: string;
  dims: number[];
  type: GgmlTypeName;
  /** The tensor's encoded bytes (called once, while writing, so that one tensor is in memory at a time). */
  data: () => Promise<Uint8Array> | Uint8Array;
}

export const GGUF_ALIGNMENT = 32;

/** Appends little-endian values to a growing byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private static readonly utf8 = new TextEncoder();

  private need(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u32(v: number): void {
    this.need(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.need(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.need(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number): void {
    this.need(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  u8(v: number): void {
    this.need(1);
    this.buf[this.length++] = v;
  }
  string(s: string): void {
    const bytes = ByteWriter.utf8.encode(s);
    this.u64(bytes.length);
    this.need(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.need(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(w: ByteWriter, key: string, v: GgufMetaValue): void {
  w.u32(TYPE_ID[v.type]);
  const scalar = (type: string, x: unknown) => {
    switch (type) {
      case 'uint32':
        return w.u32(x as number);
      case 'int32':
        return w.i32(x as number);
      case 'float32':
        return w.f32(x as number);
      case 'uint64':
        return w.u64(x as number);
      case 'bool':
        return w.u8(x ? 1 : 0);
      case 'string':
        return w.string(x as string);
    }
    throw invalidArgument(`metadata ${key}`, 'a known GGUF value type', type);
  };
  if (v.type !== 'array') {
    scalar(v.type, v.value);
    return;
  }
  w.u32(TYPE_ID[v.of]);
  w.u64(v.value.length);
  for (let i = 0; i < v.value.length; i++) scalar(v.of, v.value[i]);
}

/** The header (magic .. tensor infos, padded) and each tensor's offset in the data section. */
export function encodeGgufHeader(
  metadata: ReadonlyArray<readonly [string, GgufMetaValue]>,
  tensors: readonly Omit<GgufTensorToWrite, 'data'>[],
): { header: Uint8Array; sizes: number[]; offsets: number[] } {
  const w = new ByteWriter();
  for (const c of 'GGUF') w.u8(c.charCodeAt(0));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  const keys = new Set<string>();
  for (const [key, value] of metadata) {
    if (keys.has(key)) throw invalidArgument('metadata', 'unique keys', key);
    keys.add(key);
    w.string(key);
    writeValue(w, key, value);
  }
  const offsets: number[] = [];
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const rows = t.dims.slice(1).reduce((a, b) => a * b, 1);
    const size = ggmlByteSize(t.type, t.dims[0]!, rows);
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_TYPE[t.type]);
    w.u64(offset);
    offsets.push(offset);
    sizes.push(size);
    offset += Math.ceil(size / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  }
  w.pad(GGUF_ALIGNMENT);
  return { header: w.bytes(), sizes, offsets };
}

/**
 * Writes a GGUF v3 file atomically: a temporary file in the same folder, renamed onto `path` once
 * complete (removed if anything fails or `signal` aborts). `general.alignment` must be 32 or absent.
 */
export async function writeGguf(
  path: string,
  metadata: ReadonlyArray<readonly [string, GgufMetaValue]>,
  tensors: readonly GgufTensorToWrite[],
  options: { overwrite?: boolean; signal?: AbortSignal } = {},
): Promise<void> {
  if (
    !options.overwrite &&
    (await stat(path).then(
      () => true,
      () => false,
    ))
  )
    throw new LlmcError('LLMC_INVALID_ARGUMENT', `${path} exists: choose another output file or pass overwrite: true`);
  const { header, sizes } = encodeGgufHeader(metadata, tensors);
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  const handle = await open(tmp, 'wx');
  try {
    let at = 0;
    const put = async (bytes: Uint8Array) => {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, at + done);
        done += bytesWritten;
      }
      at += bytes.length;
    };
    await put(header);
    for (let i = 0; i < tensors.length; i++) {
      options.signal?.throwIfAborted();
      const t = tensors[i]!;
      const bytes = await t.data();
      if (bytes.length !== sizes[i])
        throw new LlmcError(
          'LLMC_INTERNAL',
          `tensor ${t.name}: ${bytes.length} bytes encoded, ${sizes[i]} expected for ${t.type} [${t.dims.join(', ')}]`,
        );
      await put(bytes);
      const pad = (GGUF_ALIGNMENT - (bytes.length % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;
      if (pad && i + 1 < tensors.length) await put(new Uint8Array(pad));
    }
    await handle.sync();
    await handle.close();
    await rename(tmp, path);
  } catch (e) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Block encoders. Codes are row-major [n × k]; k (the row length) is a multiple of the block size.

function f32Bytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** F32 tensor bytes (little-endian hosts: the array's own bytes). */
export function encodeF32(data: Float32Array): Uint8Array {
  return f32Bytes(data);
}

/** F16 tensor bytes, each value rounded to the nearest fp16 (ties to even). */
export function encodeF16Tensor(data: Float32Array): Uint8Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = floatToHalf(data[i]!);
  return new Uint8Array(out.buffer);
}

/** The scale of block b (32 values) of row j, from per-row groups of `groupSize` inputs. */
function groupScale(scale: Float32Array, j: number, p: number, k: number, groupSize: number): number {
  const groups = k / groupSize;
  return scale[j * groups + Math.floor(p / groupSize)]!;
}

/**
 * Q8_0 blocks of int8 codes: d = fp16(scale) of the block's group (per-channel codes: the row's
 * scale in every block), qs = the codes unchanged.
 */
export function encodeQ8_0(q: Int8Array, scale: Float32Array, n: number, k: number, groupSize = k): Uint8Array {
  if (k % 32 !== 0 || groupSize % 32 !== 0)
    throw invalidArgument('k', 'a multiple of 32 (Q8_0 blocks), groups too', { k, groupSize });
  const out = new Uint8Array(ggmlByteSize('Q8_0', k, n));
  const view = new DataView(out.buffer);
  let o = 0;
  for (let j = 0; j < n; j++)
    for (let p = 0; p < k; p += 32) {
      view.setUint16(o, floatToHalf(groupScale(scale, j, p, k, groupSize)), true);
      for (let i = 0; i < 32; i++) out[o + 2 + i] = q[j * k + p + i]! & 0xff;
      o += 34;
    }
  return out;
}

/** Packs 32 nibbles (0..15) of `u` at `src` into 16 bytes at `o`: element i low, i + 16 high. */
function packNibbles(out: Uint8Array, o: number, u: (i: number) => number): void {
  for (let i = 0; i < 16; i++) out[o + i] = (u(i) & 15) | ((u(i + 16) & 15) << 4);
}

/** Q4_0 blocks of symmetric int4 codes q ∈ [−8, 7]: nibble = q + 8, d = fp16(scale of the block's group). */
export function encodeQ4_0(q: Int8Array, scale: Float32Array, n: number, k: number, groupSize: number): Uint8Array {
  if (k % 32 !== 0 || groupSize % 32 !== 0)
    throw invalidArgument('groupSize', 'a multiple of 32 (Q4_0 blocks) dividing k', { k, groupSize });
  const out = new Uint8Array(ggmlByteSize('Q4_0', k, n));
  const view = new DataView(out.buffer);
  let o = 0;
  for (let j = 0; j < n; j++)
    for (let p = 0; p < k; p += 32) {
      view.setUint16(o, floatToHalf(groupScale(scale, j, p, k, groupSize)), true);
      const base = j * k + p;
      packNibbles(out, o + 2, (i) => q[base + i]! + 8);
      o += 18;
    }
  return out;
}

/**
 * Q4_1 blocks of asymmetric int4 codes q ∈ [0, 15] with zero points z (W = s·(q − z)):
 * nibble = q, d = fp16(s), m = fp16(−s·z).
 */
export function encodeQ4_1(
  q: Int8Array,
  scale: Float32Array,
  zero: Uint8Array,
  n: number,
  k: number,
  groupSize: number,
): Uint8Array {
  if (k % 32 !== 0 || groupSize % 32 !== 0)
    throw invalidArgument('groupSize', 'a multiple of 32 (Q4_1 blocks) dividing k', { k, groupSize });
  const out = new Uint8Array(ggmlByteSize('Q4_1', k, n));
  const view = new DataView(out.buffer);
  const groups = k / groupSize;
  let o = 0;
  for (let j = 0; j < n; j++)
    for (let p = 0; p < k; p += 32) {
      const g = j * groups + Math.floor(p / groupSize);
      const s = scale[g]!;
      view.setUint16(o, floatToHalf(s), true);
      view.setUint16(o + 2, floatToHalf(-s * zero[g]!), true);
      const base = j * k + p;
      packNibbles(out, o + 4, (i) => q[base + i]!);
      o += 20;
    }
  return out;
}

/** How closely Q6_K holds a weight: max and RMS of |Δscale| / scale over the sub-blocks. */
export interface Q6KFit {
  maxRelScaleError: number;
  rmsRelScaleError: number;
}

/**
 * Q6_K super-blocks of integer codes c (|c| small: int4 codes, or q − zero) with one target scale
 * per 16-value sub-block: the written value is d·sc·(m·c) for an fp16 d per 256 values, an int8
 * sub-scale sc and a multiplier m ∈ 1..4 with m·c ∈ [−32, 31]. The codes are kept; d, sc and m are
 * chosen to bring d·sc·m closest to each target scale (d tried over several candidates per
 * super-block, the one with the least squared weight error kept).
 *
 * @param codes - `[n × k]` signed codes (k a multiple of 256)
 * @param subScale - `[n × k/16]` target scale of each sub-block (> 0, or 0 for an all-zero sub-block)
 */
export function encodeQ6_K(
  codes: Int8Array,
  subScale: Float32Array,
  n: number,
  k: number,
): { bytes: Uint8Array; fit: Q6KFit } {
  if (k % 256 !== 0) throw invalidArgument('k', 'a multiple of 256 (Q6_K super-blocks)', k);
  const out = new Uint8Array(ggmlByteSize('Q6_K', k, n));
  const view = new DataView(out.buffer);
  let maxRel = 0;
  let sumRel2 = 0;
  let count = 0;
  const sc = new Int8Array(16);
  const mul = new Int8Array(16);
  const bestSc = new Int8Array(16);
  const bestMul = new Int8Array(16);
  const sq = new Float64Array(16);
  const mmax = new Int8Array(16);
  let o = 0;
  for (let j = 0; j < n; j++)
    for (let p = 0; p < k; p += 256) {
      const base = j * k + p;
      const sBase = (j * k + p) / 16;
      let tmax = 0;
      for (let b = 0; b < 16; b++) {
        let lo = 0;
        let hi = 0;
        let s2 = 0;
        for (let i = 0; i < 16; i++) {
          const c = codes[base + 16 * b + i]!;
          lo = Math.min(lo, c);
          hi = Math.max(hi, c);
          s2 += c * c;
        }
        if (lo < -32 || hi > 31) throw invalidArgument('codes', 'codes in [-32, 31] (Q6_K holds 6 bits)', { lo, hi });
        sq[b] = s2;
        mmax[b] = Math.max(1, Math.min(4, lo < 0 ? Math.floor(32 / -lo) : 4, hi > 0 ? Math.floor(31 / hi) : 4));
        tmax = Math.max(tmax, subScale[sBase + b]!);
      }
      // Candidates for d: the largest target scale over 127·m (m = 1..4) and values between them.
      let bestErr = Infinity;
      let bestD = 0;
      if (tmax > 0) {
        for (let t = 0; t < 64; t++) {
          const d = halfToFloat(floatToHalf(tmax / (127 * (1 + (3 * t) / 63))));
          if (!(d > 0)) continue;
          let err = 0;
          for (let b = 0; b < 16; b++) {
            const target = subScale[sBase + b]!;
            let be = Infinity;
            for (let m = 1; m <= mmax[b]!; m++) {
              const s = Math.max(1, Math.min(127, Math.round(target / (d * m))));
              const e = Math.abs(d * s * m - target);
              if (e < be) {
                be = e;
                sc[b] = s;
                mul[b] = m;
              }
            }
            if (target === 0) {
              sc[b] = 0;
              mul[b] = 1;
              be = 0;
            }
            err += be * be * sq[b]!;
          }
          if (err < bestErr) {
            bestErr = err;
            bestD = d;
            bestSc.set(sc);
            bestMul.set(mul);
          }
        }
      } else {
        bestSc.fill(0);
        bestMul.fill(1);
      }
      // ql[128], qh[64], scales[16], d
      for (let half = 0; half < 2; half++)
        for (let l = 0; l < 32; l++) {
          let h = 0;
          for (let r = 0; r < 4; r++) {
            const e = 128 * half + l + 32 * r;
            const u = bestMul[e >> 4]! * codes[base + e]! + 32;
            const qlAt = o + 64 * half + l + 32 * (r & 1);
            out[qlAt] = r < 2 ? (out[qlAt]! & 0xf0) | (u & 15) : (out[qlAt]! & 0x0f) | ((u & 15) << 4);
            h |= (u >> 4) << (2 * r);
          }
          out[o + 128 + 32 * half + l] = h;
        }
      for (let b = 0; b < 16; b++) {
        out[o + 192 + b] = bestSc[b]! & 0xff;
        const target = subScale[sBase + b]!;
        if (target > 0) {
          const rel = Math.abs(bestD * bestSc[b]! * bestMul[b]! - target) / target;
          maxRel = Math.max(maxRel, rel);
          sumRel2 += rel * rel;
          count++;
        }
      }
      view.setUint16(o + 208, floatToHalf(bestD), true);
      o += 210;
    }
  return { bytes: out, fit: { maxRelScaleError: maxRel, rmsRelScaleError: Math.sqrt(sumRel2 / Math.max(1, count)) } };
}

// ---------------------------------------------------------------------------------------------
// Model → GGUF tensor names and metadata.

/** GGUF (llama.cpp) name of a canonical (Hugging Face) tensor or linear layer name. */
export function ggufName(canonical: string): string {
  const global: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight',
    'model.norm.weight': 'output_norm.weight',
    'lm_head.weight': 'output.weight',
    lm_head: 'output.weight',
  };
  if (global[canonical]) return global[canonical]!;
  const layer: Record<string, string> = {
    input_layernorm: 'attn_norm',
    'self_attn.q_proj': 'attn_q',
    'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output',
    post_attention_layernorm: 'ffn_norm',
    'mlp.gate_proj': 'ffn_gate',
    'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down',
  };
  const m = /^model\.layers\.(\d+)\.(.+?)(\.weight)?$/.exec(canonical);
  const short = m && layer[m[2]!];
  if (!short) throw new LlmcError('LLMC_UNSUPPORTED', `tensor ${canonical} has no GGUF llama name`);
  return `blk.${m[1]}.${short}.weight`;
}

/**
 * Row order of a Q or K projection for ggml's rope (pairs 2i, 2i+1) from Hugging Face's rotate_half
 * order (pairs i, i + headDim/2): new row h·hd + 2i + t is old row h·hd + t·hd/2 + i — the
 * permutation llama.cpp's convert_hf_to_gguf.py applies.
 */
export function ropeInterleavePermutation(heads: number, headDim: number): Int32Array {
  const perm = new Int32Array(heads * headDim);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let t = 0; t < 2; t++) perm[h * headDim + 2 * i + t] = h * headDim + t * half + i;
  return perm;
}

/** Rows of a row-major `[rows × cols]` array in the order `perm` (new row r = old row perm[r]). */
export function permuteRows<T extends Float32Array | Int8Array | Uint8Array>(a: T, rows: number, perm: Int32Array): T {
  const cols = a.length / rows;
  const out = new (a.constructor as new (n: number) => T)(a.length);
  for (let r = 0; r < rows; r++) out.set(a.subarray(perm[r]! * cols, (perm[r]! + 1) * cols), r * cols);
  return out;
}

/** The `llama.*` hyper-parameters of a config. */
export function llamaMetadata(c: LlamaConfig): Array<[string, GgufMetaValue]> {
  const u = (value: number): GgufMetaValue => ({ type: 'uint32', value });
  return [
    ['llama.context_length', u(c.maxSeqLen)],
    ['llama.embedding_length', u(c.dim)],
    ['llama.block_count', u(c.nLayers)],
    ['llama.feed_forward_length', u(c.hiddenDim)],
    ['llama.attention.head_count', u(c.nHeads)],
    ['llama.attention.head_count_kv', u(c.nKvHeads)],
    ['llama.rope.dimension_count', u(c.dim / c.nHeads)],
    ['llama.rope.freq_base', { type: 'float32', value: c.ropeTheta }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'float32', value: c.normEps }],
    ['llama.vocab_size', u(c.vocabSize)],
  ];
}

/** llama.cpp's `general.file_type` (enum llama_ftype) for the dominant tensor type. */
export const FILE_TYPE: Record<GgmlTypeName, number> = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7, Q6_K: 18 };

// ---------------------------------------------------------------------------------------------
// Tokenizer metadata.

const SPACE_MARK = '\u2581';
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
/** GGUF token types (llama_token_type). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

/** Re-types the `tokenizer.*` values of a GGUF source (the reader keeps values, not their types). */
function copyTokenizerMetadata(metadata: Map<string, GgufValue>): Array<[string, GgufMetaValue]> {
  const out: Array<[string, GgufMetaValue]> = [];
  for (const [key, v] of metadata) {
    if (!key.startsWith('tokenizer.')) continue;
    if (typeof v === 'string') out.push([key, { type: 'string', value: v }]);
    else if (typeof v === 'boolean') out.push([key, { type: 'bool', value: v }]);
    else if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32)
      out.push([key, { type: 'uint32', value: v }]);
    else if (typeof v === 'number') out.push([key, { type: 'float32', value: v }]);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string'))
      out.push([key, { type: 'array', of: 'string', value: v as string[] }]);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'number'))
      out.push([key, { type: 'array', of: key.endsWith('scores') ? 'float32' : 'int32', value: v as number[] }]);
    // anything else (nested arrays, 64-bit values) is not part of a llama vocabulary: left out
  }
  return out;
}

function spmMetadata(
  tokens: string[],
  scores: ArrayLike<number>,
  types: ArrayLike<number>,
  ids: { bos: number; eos: number; unk?: number },
  addSpacePrefix: boolean,
): Array<[string, GgufMetaValue]> {
  return [
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', of: 'string', value: tokens }],
    ['tokenizer.ggml.scores', { type: 'array', of: 'float32', value: scores }],
    ['tokenizer.ggml.token_type', { type: 'array', of: 'int32', value: types }],
    ['tokenizer.ggml.bos_token_id', { type: 'uint32', value: ids.bos }],
    ['tokenizer.ggml.eos_token_id', { type: 'uint32', value: ids.eos }],
    ...(ids.unk !== undefined
      ? [['tokenizer.ggml.unknown_token_id', { type: 'uint32', value: ids.unk }] as [string, GgufMetaValue]]
      : []),
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    ['tokenizer.ggml.add_space_prefix', { type: 'bool', value: addSpacePrefix }],
  ];
}

/** A llama2.c vocabulary (tokenizer.bin) as a GGUF `llama` (SentencePiece) vocabulary, as llama.cpp's converter writes it. */
function llama2cVocab(tok: Llama2cTokenizer): Array<[string, GgufMetaValue]> {
  const file = tok.toLlama2cFile();
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const tokens: string[] = [];
  const scores = new Float32Array(tok.vocabSize);
  const types = new Int32Array(tok.vocabSize);
  let at = 4;
  for (let i = 0; i < tok.vocabSize; i++) {
    scores[i] = view.getFloat32(at, true);
    const len = view.getInt32(at + 4, true);
    let text: string;
    try {
      text = decoder.decode(file.subarray(at + 8, at + 8 + len));
    } catch {
      throw new LlmcError(
        'LLMC_UNSUPPORTED',
        `token ${i} of the vocabulary is not UTF-8 text: a GGUF vocabulary cannot hold it`,
      );
    }
    at += 8 + len;
    tokens.push(text.replaceAll(' ', SPACE_MARK));
    types[i] =
      i === tok.bos || i === tok.eos
        ? TOKEN_TYPE.control
        : text === '<unk>'
          ? TOKEN_TYPE.unknown
          : BYTE_TOKEN.test(text)
            ? TOKEN_TYPE.byte
            : TOKEN_TYPE.normal;
  }
  const unk = tokens.indexOf('<unk>');
  return spmMetadata(tokens, scores, types, { bos: tok.bos, eos: tok.eos, ...(unk >= 0 ? { unk } : {}) }, true);
}

/**
 * A Hugging Face sentencepiece-style BPE `tokenizer.json` ('▁' spaces, byte fallback) as a GGUF
 * `llama` vocabulary. llama.cpp's SentencePiece tokenizer merges the adjacent pair whose
 * concatenation has the highest score: each token gets −(rank of the first merge that makes it), so
 * that merges apply in the file's order; the merges are written too (`tokenizer.ggml.merges`).
 */
async function hfVocab(tok: HfBpeTokenizer, dir: string): Promise<Array<[string, GgufMetaValue]>> {
  const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number>; merges: Array<string | [string, string]>; unk_token?: string };
    added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
  };
  const n = tok.vocabSize;
  const tokens = new Array<string>(n).fill('');
  for (const [t, id] of Object.entries(json.model.vocab)) if (id < n) tokens[id] = t;
  const types = new Int32Array(n).fill(TOKEN_TYPE.normal);
  for (const a of json.added_tokens ?? [])
    if (a.id < n) {
      tokens[a.id] = a.content;
      if (a.special) types[a.id] = TOKEN_TYPE.control;
    }
  const scores = new Float32Array(n);
  const merges = json.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' ')));
  const made = new Set<number>();
  merges.forEach((m, rank) => {
    const [a, b] = m.split(' ') as [string, string];
    const id = json.model.vocab[a + b];
    if (id !== undefined && !made.has(id)) {
      made.add(id);
      scores[id] = -(rank + 1);
    }
  });
  // Multi-character tokens no merge makes come last.
  tokens.forEach((t, id) => {
    if (!made.has(id) && [...t].length > 1 && types[id] === TOKEN_TYPE.normal && !BYTE_TOKEN.test(t))
      scores[id] = -(merges.length + 1 + id);
  });
  tokens.forEach((t, id) => {
    if (BYTE_TOKEN.test(t)) types[id] = TOKEN_TYPE.byte;
  });
  const unk = json.model.unk_token !== undefined ? json.model.vocab[json.model.unk_token] : undefined;
  if (unk !== undefined) types[unk] = TOKEN_TYPE.unknown;
  return [
    ...spmMetadata(
      tokens,
      scores,
      types,
      { bos: tok.bos, eos: tok.eos, ...(unk !== undefined ? { unk } : {}) },
      tok.prependSpace,
    ),
    ['tokenizer.ggml.merges', { type: 'array', of: 'string', value: merges }],
  ];
}

async function tokenizerMetadata(model: WritableModel): Promise<Array<[string, GgufMetaValue]>> {
  if (model.format === 'gguf') return copyTokenizerMetadata((await readGgufHeader(model.path)).metadata);
  const tok = model.tokenizer;
  if (tok instanceof Llama2cTokenizer) return llama2cVocab(tok);
  if (tok instanceof HfBpeTokenizer) return hfVocab(tok, model.path);
  throw new LlmcError(
    'LLMC_UNSUPPORTED',
    `a GGUF vocabulary cannot be written from a ${(tok as object).constructor.name}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Models.

export interface GgufWriteOptions {
  /** Replace `path` when it exists. Default false. */
  overwrite?: boolean;
  /**
   * Type of the tensors that are not quantized (token embedding, classifier, dense linear layers):
   * `'F32'` (default: exactly what the model computes with) or `'F16'` (half the size, rounded).
   * Norms are always F32.
   */
  floatType?: 'F32' | 'F16';
  /**
   * Type of the int4 layers: `'Q4_0'` (default; `Q4_1` for asymmetric codes) holds the codes and
   * fp16 scales exactly; `'Q6_K'` holds the codes exactly but re-expresses the scales (k-quant
   * super-blocks of 256 inputs; layers whose inputs are not a multiple of 256 stay Q4_0 / Q4_1).
   */
  int4Type?: 'Q4_0' | 'Q6_K';
  /** Write layers that look pruned (GGUF has no sparse type) dense instead of refusing. Default false. */
  allowDense?: boolean;
  /** `general.name`. Default: the model's file or folder name. */
  name?: string;
  /** Aborts between tensors; nothing is left behind. */
  signal?: AbortSignal;
}

/** One written tensor: its GGUF name and type, and how it was obtained. */
export interface GgufTensorReport {
  name: string;
  type: GgmlTypeName;
  /** 'codes' (the quantized codes kept), 'dense' (float weights), 'dequantized' (codes no block holds, written as float). */
  source: 'codes' | 'dense' | 'dequantized';
  /** Q6_K only: relative error of the re-expressed scales. */
  fit?: Q6KFit;
}

export interface GgufWriteReport {
  path: string;
  bytes: number;
  fileType: GgmlTypeName;
  tensors: GgufTensorReport[];
  /** Layers written with less than their codes' compactness, and why. */
  warnings: string[];
}

const Q_OR_K = /\.self_attn\.[qk]_proj$/;

/** Fraction of exact zeros at or above which a dense layer counts as pruned. */
const PRUNED_ZEROS = 0.25;

function zeroFraction(w: Float32Array): number {
  let z = 0;
  for (let i = 0; i < w.length; i++) if (w[i] === 0) z++;
  return z / w.length;
}

/**
 * GGUF's spelling of quantization args: the ggml block type that holds such codes in rows of `k`
 * inputs exactly — Q8_0 (8-bit), Q4_0 (4-bit symmetric), Q4_1 (asymmetric), or Q6_K for 4-bit codes
 * on request (`int4Type`) where super-blocks of 256 fit — or undefined when no block type fits
 * (the layer is then written dequantized).
 */
export function ggmlTypeOf(
  args: QuantArgs,
  k: number,
  int4Type: 'Q4_0' | 'Q6_K',
): 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q6_K' | undefined {
  const group = groupLength(args.groupSize, k);
  if (args.bits === 4 && int4Type === 'Q6_K' && k % 256 === 0 && group % 16 === 0) return 'Q6_K';
  if (k % 32 !== 0 || group % 32 !== 0) return undefined;
  return args.bits === 8 ? 'Q8_0' : args.symmetric ? 'Q4_0' : 'Q4_1';
}

/**
 * Writes a model (uncompressed, or compressed by compress()) as a GGUF v3 file that llama.cpp and
 * node-llama-cpp load, atomically (a temporary file in the same folder renamed at the end).
 *
 * Layer types: int8 per-channel codes → Q8_0; symmetric int4 codes (groups of 32, 64, 128 or per
 * row) → Q4_0; asymmetric int4 → Q4_1 (or both → Q6_K with `int4Type: 'Q6_K'`); dense layers →
 * `floatType`. Q8_0 / Q4_0 / Q4_1 store fp16 scales: the model's quantized layers adopt the
 * fp16-rounded scales first, so that the model in memory computes what the file holds (Q4_1 also
 * rounds −scale·zero to fp16: that term alone differs, by at most 2⁻¹¹ of it). Quantized layers
 * whose inputs are not a multiple of 32 are written dequantized as `floatType` (exact in F32),
 * with a warning. Hugging Face models get their Q/K rows reordered for ggml's rope, as llama.cpp's
 * converter does.
 *
 * @throws {@link LlmcError} `LLMC_UNSUPPORTED` for act-order int4 layers (groups not contiguous:
 *   no ggml block holds them; compress with `actOrder: false`, or write 'gptq' / 'compressed-tensors'),
 *   for pruned layers (unless `allowDense`), and for a vocabulary GGUF cannot hold;
 *   `LLMC_INVALID_ARGUMENT` for bad options or an existing `path` without `overwrite`.
 */
export async function saveGguf(
  model: WritableModel,
  path: string,
  options: GgufWriteOptions = {},
): Promise<GgufWriteReport> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path', 'a .gguf file path', path);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['overwrite', 'floatType', 'int4Type', 'allowDense', 'name', 'signal']);
  const floatType = o.floatType ?? 'F32';
  if (floatType !== 'F32' && floatType !== 'F16')
    throw invalidArgument('options.floatType', "'F32' or 'F16'", floatType);
  const int4Type = o.int4Type ?? 'Q4_0';
  if (int4Type !== 'Q4_0' && int4Type !== 'Q6_K')
    throw invalidArgument('options.int4Type', "'Q4_0' or 'Q6_K'", int4Type);
  const allowDense = o.allowDense === undefined ? false : checkBoolean('options.allowDense', o.allowDense);
  const overwrite = o.overwrite === undefined ? false : checkBoolean('options.overwrite', o.overwrite);
  if (o.name !== undefined && typeof o.name !== 'string') throw invalidArgument('options.name', 'a string', o.name);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    throw invalidArgument('options.signal', 'an AbortSignal', o.signal);
  if (
    !overwrite &&
    (await stat(path).then(
      () => true,
      () => false,
    ))
  )
    throw new LlmcError('LLMC_INVALID_ARGUMENT', `${path} exists: choose another output file or pass overwrite: true`);
  const c = model.config;
  const headDim = c.dim / c.nHeads;
  const fromHalf = c.ropeStyle === 'half';
  const permFor = (name: string): Int32Array | undefined =>
    fromHalf && Q_OR_K.test(name)
      ? ropeInterleavePermutation(name.endsWith('q_proj') ? c.nHeads : c.nKvHeads, headDim)
      : undefined;

  const tensors: GgufTensorToWrite[] = [];
  const report: GgufTensorReport[] = [];
  const warnings: string[] = [];
  const counts = new Map<GgmlTypeName, number>();
  const floatTensor = (name: string, t: Tensor, type: GgmlTypeName, source: GgufTensorReport['source']) => {
    const dims = [...t.shape].reverse();
    tensors.push({ name, dims, type, data: () => (type === 'F16' ? encodeF16Tensor(t.data) : encodeF32(t.data)) });
    report.push({ name, type, source });
  };

  const others = model.llama.otherTensors();
  for (const [name, t] of others)
    floatTensor(ggufName(name), t, name.endsWith('norm.weight') ? 'F32' : floatType, 'dense');
  for (const [name, lin] of await writableLinears(model.llama.linears, { f16Scales: true })) {
    if (name === 'lm_head' && c.tiedEmbeddings) continue;
    const gname = ggufName(name);
    const perm = permFor(name);
    if (lin instanceof DenseLinear) {
      const rows = lin.outFeatures;
      if (name !== 'lm_head' && !allowDense && zeroFraction(lin.weight) >= PRUNED_ZEROS)
        throw new LlmcError(
          'LLMC_UNSUPPORTED',
          `${name}: ${(100 * zeroFraction(lin.weight)).toFixed(0)}% of its weights are zero (a pruned layer): GGUF has no sparse tensor type, and writing it dense keeps none of the savings; use format 'compressed-tensors' (or saveGguf(..., { allowDense: true }) to write it dense)`,
        );
      const data = perm ? permuteRows(lin.weight, rows, perm) : lin.weight;
      floatTensor(gname, { shape: [rows, lin.inFeatures], data }, floatType, 'dense');
      counts.set(floatType, (counts.get(floatType) ?? 0) + data.length);
      continue;
    }
    if (!(lin instanceof QuantLinear))
      throw new LlmcError(
        'LLMC_UNSUPPORTED',
        `${name}: a layer of type ${(lin as object).constructor.name} cannot be written as GGUF`,
      );
    const p = lin.packed;
    const { n, k } = p;
    const args = packedQuantArgs(p);
    if (args.actOrder === 'dynamic') {
      throw new LlmcError(
        'LLMC_UNSUPPORTED',
        `${name}: act-order int4 codes (g_idx) put inputs of different groups in the same 32-input block, which no ggml block type holds without re-quantizing; compress with actOrder: false for GGUF, or write format 'gptq' or 'compressed-tensors'`,
      );
    }
    const type = ggmlTypeOf(args, k, int4Type);
    const q6k = type === 'Q6_K';
    if (!type) {
      warnings.push(
        `${name}: ${k} inputs make no whole ${p.bits === 8 ? 'Q8_0' : 'Q4_0'} blocks of 32: written dequantized as ${floatType}${floatType === 'F32' ? ' (exact)' : ''}`,
      );
      const codes = await p.unpack();
      const w = dequantizeCodes(codes, n, k);
      floatTensor(gname, { shape: [n, k], data: perm ? permuteRows(w, n, perm) : w }, floatType, 'dequantized');
      counts.set(floatType, (counts.get(floatType) ?? 0) + n * k);
      continue;
    }
    if (args.bits === 4 && int4Type === 'Q6_K' && !q6k)
      warnings.push(`${name}: ${k} inputs make no whole Q6_K super-blocks of 256: written as ${type}`);
    // Q6_K keeps the model's own scales (the file's differ slightly: see the report's fit); the
    // fp16 block types hold fp16 scales, which the model adopts so that both compute the same.
    if (!q6k) lin.packed = await withF16Scales(p);
    const codes = await lin.packed.unpack();
    counts.set(type, (counts.get(type) ?? 0) + n * k);
    const entry: GgufTensorReport = { name: gname, type, source: 'codes' };
    report.push(entry);
    tensors.push({
      name: gname,
      dims: [k, n],
      type,
      data: () => {
        const G = codes.scale.length / n;
        const q = perm ? permuteRows(codes.q, n, perm) : codes.q;
        const scale = perm ? permuteRows(codes.scale, n, perm) : codes.scale;
        const zp = (codes as Int4Codes).zeroPoint;
        const zero = zp && perm ? permuteRows(zp, n, perm) : zp;
        if (type === 'Q8_0') return encodeQ8_0(q, scale, n, k);
        if (type === 'Q4_0') return encodeQ4_0(q, scale, n, k, k / G);
        if (type === 'Q4_1') return encodeQ4_1(q, scale, zero!, n, k, k / G);
        const signed = zero
          ? Int8Array.from(q, (v, i) => v - zero[Math.floor(i / k) * G + Math.floor((i % k) / (k / G))]!)
          : q;
        const sub = new Float32Array((n * k) / 16);
        for (let b = 0; b < sub.length; b++) {
          const j = Math.floor((b * 16) / k);
          sub[b] = scale[j * G + Math.floor(((b * 16) % k) / (k / G))]!;
        }
        const { bytes, fit } = encodeQ6_K(signed, sub, n, k);
        entry.fit = fit;
        return bytes;
      },
    });
  }
  let fileType: GgmlTypeName = floatType;
  let most = 0;
  for (const [type, count] of counts)
    if (type !== 'F32' && type !== 'F16' && count > most) [fileType, most] = [type, count];
  const quantized = most > 0;
  const name = o.name ?? basename(model.path, extname(model.path));
  const layerTypes = [...new Set(report.filter((r) => r.source === 'codes').map((r) => r.type))];
  const metadata: Array<[string, GgufMetaValue]> = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: name }],
    ['general.alignment', { type: 'uint32', value: GGUF_ALIGNMENT }],
    ['general.file_type', { type: 'uint32', value: FILE_TYPE[fileType] }],
    ...(quantized ? [['general.quantization_version', { type: 'uint32', value: 2 }] as [string, GgufMetaValue]] : []),
    ['general.quantized_by', { type: 'string', value: 'llm-compress-native' }],
    [
      'llm_compress.quantization',
      { type: 'string', value: quantized ? describeQuantization(model, layerTypes) : 'none' },
    ],
    ...llamaMetadata(c),
    ...(await tokenizerMetadata(model)),
  ];
  for (const w of warnings) process.emitWarning(w, { code: 'LLMC_GGUF_EXPORT' });
  await writeGguf(path, metadata, tensors, { overwrite, ...(o.signal ? { signal: o.signal as AbortSignal } : {}) });
  return { path, bytes: (await stat(path)).size, fileType, tensors: report, warnings };
}

/** A one-line description of the quantized layers (`llm_compress.quantization`). */
function describeQuantization(model: WritableModel, types: GgmlTypeName[]): string {
  const kinds = new Set<string>();
  for (const lin of model.llama.linears.values()) {
    if (!(lin instanceof QuantLinear)) continue;
    const a = packedQuantArgs(lin.packed);
    kinds.add(
      a.bits === 8
        ? `int8 per-channel${lin.activations === 'int8' ? ' (int8 activations)' : ''}`
        : `int4 ${a.symmetric ? 'symmetric' : 'asymmetric'} ${a.groupSize === 'row' ? 'per-row' : `group ${a.groupSize}`}${lin.activations === 'int8' ? ' (int8 activations)' : ''}`,
    );
  }
  return `${[...kinds].join(', ')} codes as ${types.join(', ')}`;
}
