/**
 * GGUF (v2, v3) reader: header, metadata of every value type, tensor infos, and tensors
 * dequantized to float32 (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q6_K). {@link loadGguf} maps a `llama`
 * architecture file to the canonical {@link LlamaConfig} / {@link Weights} and its vocabulary.
 *
 * Layout (little-endian): "GGUF", uint32 version, uint64 tensor count, uint64 metadata count,
 * metadata (string key, uint32 value type, value), tensor infos (string name, uint32 n_dims,
 * uint64 dims[n_dims] with dims[0] the fastest-varying, uint32 ggml type, uint64 offset), then the
 * data section at the next multiple of `general.alignment` (default 32); offsets are relative to it.
 */
import { open, type FileHandle } from 'node:fs/promises';

import { invalidArgument, type LlmcError } from '../errors.js';
import type { LlamaConfig, Tensor, Weights } from '../model/types.js';
import { checkLlamaWeights } from './hf_config.js';
import {
  decodeBF16,
  decodeF16,
  formatError,
  halfToFloat,
  type HeaderOnlyOptions,
  readExactly,
  unsupportedError,
} from './safetensors.js';

/** A metadata value; 64-bit integers beyond 2^53 stay bigint. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** One tensor's info. `dims` are in ggml order (dims[0] fastest-varying). */
export interface GgufTensorInfo {
  name: string;
  dims: number[];
  /** ggml type id (0 F32, 1 F16, 2 Q4_0, 8 Q8_0, 30 BF16, ...). */
  type: number;
  typeName: string;
  /** Byte offset relative to the data section. */
  offset: number;
  byteSize: number;
}

/** A validated GGUF header. */
export interface GgufHeader {
  path: string;
  version: number;
  fileSize: number;
  alignment: number;
  /** Absolute file offset of the data section. */
  dataStart: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
}

/** The vocabulary a GGUF file embeds (`tokenizer.ggml.*`). */
export interface GgufVocab {
  /** `tokenizer.ggml.model`, e.g. `"llama"` (SentencePiece) or `"gpt2"` (byte-level BPE). */
  model: string | undefined;
  tokens: string[];
  scores: Float32Array | undefined;
  tokenTypes: Int32Array | undefined;
  bos: number | undefined;
  eos: number | undefined;
  /** `tokenizer.ggml.add_space_prefix` (SentencePiece's dummy prefix); undefined when absent. */
  addSpacePrefix: boolean | undefined;
}

interface GgmlType {
  name: string;
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/** Every ggml type id with its block layout (ggml.c type_traits), so any file's ranges can be checked. */
const GGML_TYPES = new Map<number, GgmlType>(
  (
    [
      [0, 'F32', 1, 4],
      [1, 'F16', 1, 2],
      [2, 'Q4_0', 32, 18],
      [3, 'Q4_1', 32, 20],
      [6, 'Q5_0', 32, 22],
      [7, 'Q5_1', 32, 24],
      [8, 'Q8_0', 32, 34],
      [9, 'Q8_1', 32, 36],
      [10, 'Q2_K', 256, 84],
      [11, 'Q3_K', 256, 110],
      [12, 'Q4_K', 256, 144],
      [13, 'Q5_K', 256, 176],
      [14, 'Q6_K', 256, 210],
      [15, 'Q8_K', 256, 292],
      [16, 'IQ2_XXS', 256, 66],
      [17, 'IQ2_XS', 256, 74],
      [18, 'IQ3_XXS', 256, 98],
      [19, 'IQ1_S', 256, 50],
      [20, 'IQ4_NL', 32, 18],
      [21, 'IQ3_S', 256, 110],
      [22, 'IQ2_S', 256, 82],
      [23, 'IQ4_XS', 256, 136],
      [24, 'I8', 1, 1],
      [25, 'I16', 1, 2],
      [26, 'I32', 1, 4],
      [27, 'I64', 1, 8],
      [28, 'F64', 1, 8],
      [29, 'IQ1_M', 256, 56],
      [30, 'BF16', 1, 2],
      [34, 'TQ1_0', 256, 54],
      [35, 'TQ2_0', 256, 66],
      [39, 'MXFP4', 32, 17],
    ] as const
  ).map(([id, name, blockSize, typeSize]) => [id, { name, blockSize, typeSize }]),
);

/** Signals that the header runs past the bytes read so far (but not past the file). */
class NeedMore extends Error {}

/** Reads little-endian values from the first bytes of a file. */
class Cursor {
  pos = 0;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(
    private readonly buf: Uint8Array,
    private readonly path: string,
    private readonly fileSize: number,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private take(n: number, what: string): number {
    const at = this.pos;
    if (at + n > this.fileSize) {
      throw formatError(this.path, `${what} at offset ${at} runs past the end of the file (${this.fileSize} bytes)`);
    }
    if (at + n > this.buf.length) throw new NeedMore();
    this.pos += n;
    return at;
  }

  u8(what: string): number {
    return this.view.getUint8(this.take(1, what));
  }
  i8(what: string): number {
    return this.view.getInt8(this.take(1, what));
  }
  u16(what: string): number {
    return this.view.getUint16(this.take(2, what), true);
  }
  i16(what: string): number {
    return this.view.getInt16(this.take(2, what), true);
  }
  u32(what: string): number {
    return this.view.getUint32(this.take(4, what), true);
  }
  i32(what: string): number {
    return this.view.getInt32(this.take(4, what), true);
  }
  f32(what: string): number {
    return this.view.getFloat32(this.take(4, what), true);
  }
  f64(what: string): number {
    return this.view.getFloat64(this.take(8, what), true);
  }
  u64(what: string): number | bigint {
    return small(this.view.getBigUint64(this.take(8, what), true));
  }
  i64(what: string): number | bigint {
    return small(this.view.getBigInt64(this.take(8, what), true));
  }

  /** A uint64 count or size that must be at most `max`. */
  count(what: string, max: number): number {
    const value = this.view.getBigUint64(this.take(8, what), true);
    if (value > BigInt(max))
      throw formatError(this.path, `${what} ${value} is too large (at most ${max} fits in this file)`);
    return Number(value);
  }

  string(what: string): string {
    const start = this.pos;
    const length = this.view.getBigUint64(this.take(8, `length of ${what}`), true);
    if (length > BigInt(this.remaining())) {
      throw formatError(
        this.path,
        `${what}: a string of ${length} bytes at offset ${start} runs past the end of the file (${this.fileSize} bytes)`,
      );
    }
    const at = this.take(Number(length), what);
    return this.decoder.decode(this.buf.subarray(at, at + Number(length)));
  }

  remaining(): number {
    return this.fileSize - this.pos;
  }
}

function small(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** Smallest encoded size of one value of each type (to bound array counts by the file size). */
const MIN_VALUE_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];
const MAX_ARRAY_DEPTH = 16;

function readValue(c: Cursor, path: string, type: number, what: string, depth = 0): GgufValue {
  switch (type) {
    case 0:
      return c.u8(what);
    case 1:
      return c.i8(what);
    case 2:
      return c.u16(what);
    case 3:
      return c.i16(what);
    case 4:
      return c.u32(what);
    case 5:
      return c.i32(what);
    case 6:
      return c.f32(what);
    case 7:
      return c.u8(what) !== 0;
    case 8:
      return c.string(what);
    case 9: {
      if (depth >= MAX_ARRAY_DEPTH) throw formatError(path, `${what}: arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
      const elementType = c.u32(`element type of ${what}`);
      const minBytes = MIN_VALUE_BYTES[elementType];
      if (minBytes === undefined) throw formatError(path, `${what}: unknown array element type ${elementType}`);
      const n = c.count(`element count of ${what}`, Math.floor(c.remaining() / minBytes));
      const values: GgufValue[] = new Array<GgufValue>(n);
      for (let i = 0; i < n; i++) values[i] = readValue(c, path, elementType, what, depth + 1);
      return values;
    }
    case 10:
      return c.u64(what);
    case 11:
      return c.i64(what);
    case 12:
      return c.f64(what);
    default:
      throw formatError(path, `${what}: unknown metadata value type ${type}`);
  }
}

const MAX_DIMS = 4;

function readTensorInfo(c: Cursor, path: string, index: number): GgufTensorInfo {
  const name = c.string(`name of tensor ${index}`);
  const nDims = c.u32(`n_dims of tensor ${name}`);
  if (nDims < 1 || nDims > MAX_DIMS)
    throw formatError(path, `tensor ${name}: n_dims ${nDims} is not in [1, ${MAX_DIMS}]`);
  const dims: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    const dim = c.count(`dims[${d}] of tensor ${name}`, Number.MAX_SAFE_INTEGER);
    elements *= dim;
    if (!Number.isSafeInteger(elements))
      throw formatError(path, `tensor ${name}: dims [${dims.join(', ')}, ${dim}] overflow`);
    dims.push(dim);
  }
  const type = c.u32(`type of tensor ${name}`);
  const ggmlType = GGML_TYPES.get(type);
  if (!ggmlType) throw unsupportedError(path, `tensor ${name}: unknown ggml type ${type}`);
  if (dims[0]! % ggmlType.blockSize !== 0) {
    throw formatError(
      path,
      `tensor ${name}: dims[0] = ${dims[0]} is not a multiple of the ${ggmlType.name} block size ${ggmlType.blockSize}`,
    );
  }
  const offset = c.count(`offset of tensor ${name}`, Number.MAX_SAFE_INTEGER);
  const byteSize = (elements / ggmlType.blockSize) * ggmlType.typeSize;
  return { name, dims, type, typeName: ggmlType.name, offset, byteSize };
}

/** Parses the header from the first `buf.length` bytes; throws NeedMore when it needs more of the file. */
function parseHeader(buf: Uint8Array, path: string, fileSize: number, headerOnly: boolean): GgufHeader {
  const c = new Cursor(buf, path, fileSize);
  let magic = '';
  for (let i = 0; i < 4; i++) magic += String.fromCharCode(c.u8('magic'));
  if (magic !== 'GGUF') {
    throw formatError(path, `not a GGUF file (magic bytes ${JSON.stringify(magic)}, expected "GGUF")`);
  }
  const version = c.u32('version');
  if (version === 0x02000000 || version === 0x03000000)
    throw unsupportedError(path, 'big-endian GGUF files are not supported');
  if (version !== 2 && version !== 3) throw unsupportedError(path, `GGUF version ${version} is not supported (2 or 3)`);
  // Each tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes, each key/value at least 8 + 4 + 1.
  const tensorCount = c.count('tensor count', Math.floor(c.remaining() / 32));
  const kvCount = c.count('metadata count', Math.floor(c.remaining() / 13));
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key ${i}`);
    if (metadata.has(key)) throw formatError(path, `metadata key ${key} appears twice`);
    metadata.set(key, readValue(c, path, c.u32(`value type of ${key}`), `metadata ${key}`));
  }
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const info = readTensorInfo(c, path, i);
    if (names.has(info.name)) throw formatError(path, `tensor ${info.name} appears twice`);
    names.add(info.name);
    tensors.push(info);
  }
  const alignment = metadata.get('general.alignment') ?? 32;
  if (typeof alignment !== 'number' || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw formatError(path, `general.alignment ${String(alignment)} is not a power of two`);
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  checkRanges(path, tensors, alignment, headerOnly ? Number.MAX_SAFE_INTEGER : fileSize - dataStart);
  return { path, version, fileSize, alignment, dataStart, metadata, tensors };
}

function checkRanges(path: string, tensors: GgufTensorInfo[], alignment: number, dataSize: number): void {
  for (const t of tensors) {
    if (t.offset % alignment !== 0)
      throw formatError(path, `tensor ${t.name}: offset ${t.offset} is not a multiple of the alignment ${alignment}`);
    if (t.offset + t.byteSize > dataSize) {
      throw formatError(
        path,
        `tensor ${t.name}: data [${t.offset}, ${t.offset + t.byteSize}) runs past the end of the data section (${Math.max(0, dataSize)} bytes)`,
      );
    }
  }
  const sorted = tensors.filter((t) => t.byteSize > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.offset < prev.offset + prev.byteSize)
      throw formatError(path, `tensors ${prev.name} and ${cur.name} overlap`);
  }
}

/**
 * Reads and validates a GGUF header: magic, version 2 or 3, counts, metadata, tensor infos,
 * alignment, and tensor data ranges inside the file and not overlapping.
 *
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` naming the file and the problem;
 *   `LLMC_UNSUPPORTED` for another version or an unknown ggml type.
 */
export async function readGgufHeader(path: string, options: HeaderOnlyOptions = {}): Promise<GgufHeader> {
  const handle = await open(path, 'r');
  try {
    return await readHeader(handle, path, options.headerOnly === true);
  } finally {
    await handle.close();
  }
}

async function readHeader(handle: FileHandle, path: string, headerOnly = false): Promise<GgufHeader> {
  const fileSize = (await handle.stat()).size;
  for (let size = Math.min(fileSize, 1 << 20); ; size = Math.min(fileSize, size * 2)) {
    const buf = new Uint8Array(size);
    await readExactly(handle, path, buf, 0);
    try {
      return parseHeader(buf, path, fileSize, headerOnly);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
    }
  }
}

/**
 * Dequantizes `out.length` values of ggml type `type` from `bytes` into `out`.
 * Q8_0: blocks of fp16 scale + 32 int8 (value = q·scale). Q4_0: blocks of fp16 scale + 16 bytes,
 * value = (nibble − 8)·scale, low nibbles elements 0..15, high nibbles 16..31. Q4_1: fp16 d, fp16 m,
 * 16 bytes: value = nibble·d + m. Q6_K: super-blocks of 256 (lib/formats/gguf_write.ts draws them):
 * value = d·scale[i/16]·(q6 − 32).
 *
 * @throws {@link LlmcError} `LLMC_UNSUPPORTED` for a type other than F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q6_K;
 *   `LLMC_INVALID_ARGUMENT` when `bytes` is too short or `out.length` is not whole blocks.
 */
export function dequantizeGgml(type: number, bytes: Uint8Array, out: Float32Array, path = 'tensor'): void {
  const layout = GGML_TYPES.get(type);
  if (!layout || !DEQUANTIZABLE.has(type)) throw unsupportedType(path, type);
  const needed = (out.length / layout.blockSize) * layout.typeSize;
  if (out.length % layout.blockSize !== 0 || bytes.length < needed) {
    throw invalidArgument(
      'bytes',
      `${needed} bytes of ${layout.name} for ${out.length} values (a multiple of ${layout.blockSize})`,
      bytes,
    );
  }
  switch (type) {
    case 0:
      new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes.subarray(0, out.byteLength));
      return;
    case 1:
      decodeF16(bytes, out);
      return;
    case 30:
      decodeBF16(bytes, out);
      return;
    case 8:
      for (let b = 0, src = 0; b < out.length; b += 32, src += 34) {
        const d = halfToFloat(bytes[src]! | (bytes[src + 1]! << 8));
        for (let j = 0; j < 32; j++) out[b + j] = ((bytes[src + 2 + j]! << 24) >> 24) * d;
      }
      return;
    case 3: // Q4_1
      for (let b = 0, src = 0; b < out.length; b += 32, src += 20) {
        const d = halfToFloat(bytes[src]! | (bytes[src + 1]! << 8));
        const m = halfToFloat(bytes[src + 2]! | (bytes[src + 3]! << 8));
        for (let j = 0; j < 16; j++) {
          const q = bytes[src + 4 + j]!;
          out[b + j] = (q & 0x0f) * d + m;
          out[b + j + 16] = (q >> 4) * d + m;
        }
      }
      return;
    case 14: // Q6_K: ql[128], qh[64], int8 scales[16], fp16 d per 256 values
      for (let b = 0, src = 0; b < out.length; b += 256, src += 210) {
        const d = halfToFloat(bytes[src + 208]! | (bytes[src + 209]! << 8));
        for (let half = 0; half < 2; half++)
          for (let l = 0; l < 32; l++) {
            const h = bytes[src + 128 + 32 * half + l]!;
            for (let r = 0; r < 4; r++) {
              const ql = bytes[src + 64 * half + l + 32 * (r & 1)]!;
              const q = ((r < 2 ? ql & 15 : ql >> 4) | (((h >> (2 * r)) & 3) << 4)) - 32;
              const e = 128 * half + l + 32 * r;
              out[b + e] = d * ((bytes[src + 192 + (e >> 4)]! << 24) >> 24) * q;
            }
          }
      }
      return;
    default: // 2: Q4_0
      for (let b = 0, src = 0; b < out.length; b += 32, src += 18) {
        const d = halfToFloat(bytes[src]! | (bytes[src + 1]! << 8));
        for (let j = 0; j < 16; j++) {
          const q = bytes[src + 2 + j]!;
          out[b + j] = ((q & 0x0f) - 8) * d;
          out[b + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      return;
  }
}

/** ggml types {@link dequantizeGgml} reads: F32, F16, Q4_0, Q4_1, Q8_0, Q6_K, BF16. */
const DEQUANTIZABLE = new Set([0, 1, 2, 3, 8, 14, 30]);

function unsupportedType(path: string, type: number, where = ''): LlmcError {
  const name = GGML_TYPES.get(type)?.name ?? String(type);
  return unsupportedError(
    path,
    `${where}ggml type ${name} is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q6_K)`,
  );
}

/**
 * Loads every tensor of a GGUF file as float32 under its GGUF name, shaped row-major (the ggml
 * dims reversed: a weight with dims [in, out] becomes [out, in]).
 *
 * @param checkHeader - called with the header before any tensor is read (may throw).
 * @throws {@link LlmcError} as {@link readGgufHeader}, and `LLMC_UNSUPPORTED` naming a tensor whose
 *   type {@link dequantizeGgml} cannot read.
 */
export async function loadGgufTensors(
  path: string,
  checkHeader?: (header: GgufHeader) => void,
): Promise<{ header: GgufHeader; tensors: Map<string, Tensor> }> {
  const handle = await open(path, 'r');
  try {
    const header = await readHeader(handle, path);
    checkHeader?.(header);
    return { header, tensors: await readTensors(handle, header) };
  } finally {
    await handle.close();
  }
}

async function readTensors(handle: FileHandle, header: GgufHeader): Promise<Map<string, Tensor>> {
  const { path } = header;
  const tensors = new Map<string, Tensor>();
  for (const info of header.tensors) {
    if (!DEQUANTIZABLE.has(info.type)) throw unsupportedType(path, info.type, `tensor ${info.name}: `);
    const data = new Float32Array(info.dims.reduce((a, b) => a * b, 1));
    const raw = info.type === 0 ? new Uint8Array(data.buffer) : new Uint8Array(info.byteSize);
    await readExactly(handle, path, raw, header.dataStart + info.offset);
    if (info.type !== 0) dequantizeGgml(info.type, raw, data, path);
    tensors.set(info.name, { shape: [...info.dims].reverse(), data });
  }
  return tensors;
}

const LAYER_TENSORS: Record<string, string> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

const GLOBAL_TENSORS: Record<string, string> = {
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
};

/** The canonical (Hugging Face) name of a llama.cpp tensor name, or undefined. */
function canonicalName(name: string): string | undefined {
  const global = GLOBAL_TENSORS[name];
  if (global) return global;
  const match = /^blk\.(\d+)\.([a-z_]+)\.weight$/.exec(name);
  const layerName = match && LAYER_TENSORS[match[2]!];
  return layerName ? `model.layers.${match[1]}.${layerName}.weight` : undefined;
}

/** Typed accessors of metadata values, each error naming the file and key. */
function metadataReader(path: string, metadata: Map<string, GgufValue>) {
  const number = (key: string, fallback?: number): number => {
    const value = metadata.get(key) ?? fallback;
    if (value === undefined) throw formatError(path, `metadata ${key} is missing`);
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw formatError(path, `metadata ${key} must be a number, got ${String(value)}`);
    return value;
  };
  const integer = (key: string, fallback?: number): number => {
    const value = number(key, fallback);
    if (!Number.isInteger(value) || value <= 0)
      throw formatError(path, `metadata ${key} must be a positive integer, got ${value}`);
    return value;
  };
  const array = <T>(key: string, check: (v: GgufValue) => v is T & GgufValue, what: string): T[] | undefined => {
    const value = metadata.get(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every(check))
      throw formatError(path, `metadata ${key} must be an array of ${what}`);
    return value as T[];
  };
  return { number, integer, array };
}

const isString = (v: GgufValue): v is string => typeof v === 'string';
const isNumber = (v: GgufValue): v is number => typeof v === 'number';

function readVocab(path: string, metadata: Map<string, GgufValue>): GgufVocab {
  const meta = metadataReader(path, metadata);
  const tokens = meta.array('tokenizer.ggml.tokens', isString, 'strings');
  if (!tokens) throw formatError(path, 'metadata tokenizer.ggml.tokens is missing (the file embeds no vocabulary)');
  const scores = meta.array('tokenizer.ggml.scores', isNumber, 'numbers');
  const tokenTypes = meta.array('tokenizer.ggml.token_type', isNumber, 'numbers');
  for (const [key, list] of [
    ['scores', scores],
    ['token_type', tokenTypes],
  ] as const) {
    if (list && list.length !== tokens.length) {
      throw formatError(path, `metadata tokenizer.ggml.${key} has ${list.length} entries for ${tokens.length} tokens`);
    }
  }
  const tokenId = (key: string): number | undefined => {
    if (!metadata.has(key)) return undefined;
    const id = meta.number(key);
    if (!Number.isInteger(id) || id < 0 || id >= tokens.length)
      throw formatError(path, `metadata ${key} ${id} is not a token id`);
    return id;
  };
  const model = metadata.get('tokenizer.ggml.model');
  const prefix = metadata.get('tokenizer.ggml.add_space_prefix');
  if (prefix !== undefined && typeof prefix !== 'boolean')
    throw formatError(path, `metadata tokenizer.ggml.add_space_prefix must be a bool, got ${JSON.stringify(prefix)}`);
  return {
    addSpacePrefix: prefix,
    model: typeof model === 'string' ? model : undefined,
    tokens,
    scores: scores && Float32Array.from(scores),
    tokenTypes: tokenTypes && Int32Array.from(tokenTypes),
    bos: tokenId('tokenizer.ggml.bos_token_id'),
    eos: tokenId('tokenizer.ggml.eos_token_id'),
  };
}

/** Refuses architectures and rope variants the forward pass does not implement. */
function checkArchitecture({ path, metadata }: GgufHeader): void {
  const arch = metadata.get('general.architecture');
  if (arch !== 'llama') {
    throw unsupportedError(path, `architecture ${JSON.stringify(arch ?? null)} is not supported (only "llama")`);
  }
  const scaling = metadata.get('llama.rope.scaling.type');
  if (scaling !== undefined && scaling !== 'none')
    throw unsupportedError(path, `rope scaling ${String(scaling)} is not supported`);
}

function llamaConfig(header: GgufHeader, vocab: GgufVocab, tied: boolean): LlamaConfig {
  const { path, metadata } = header;
  const meta = metadataReader(path, metadata);
  const nHeads = meta.integer('llama.attention.head_count');
  const dim = meta.integer('llama.embedding_length');
  if (dim % nHeads !== 0) throw formatError(path, `embedding_length ${dim} is not a multiple of head_count ${nHeads}`);
  if (metadata.has('llama.rope.dimension_count') && meta.integer('llama.rope.dimension_count') !== dim / nHeads) {
    throw unsupportedError(
      path,
      `llama.rope.dimension_count differs from the head size ${dim / nHeads} (partial rotary)`,
    );
  }
  const vocabSize = meta.integer('llama.vocab_size', vocab.tokens.length);
  if (vocab.tokens.length > vocabSize)
    throw formatError(
      path,
      `token id ${vocabSize} ("${vocab.tokens[vocabSize]}") is not below llama.vocab_size ${vocabSize} (the vocabulary has ${vocab.tokens.length} tokens)`,
    );
  return {
    dim,
    hiddenDim: meta.integer('llama.feed_forward_length'),
    nLayers: meta.integer('llama.block_count'),
    nHeads,
    nKvHeads: meta.integer('llama.attention.head_count_kv', nHeads),
    vocabSize,
    maxSeqLen: meta.integer('llama.context_length'),
    ropeTheta: meta.number('llama.rope.freq_base', 10000),
    normEps: meta.number('llama.attention.layer_norm_rms_epsilon'),
    ropeStyle: 'interleaved',
    tiedEmbeddings: tied,
  };
}

/** Drops `output.weight` when it is a bit-exact copy of `token_embd.weight` (a tied model, as llama2.c conversions store it). */
function dropCopiedClassifier(tensors: Map<string, Tensor>): void {
  const output = tensors.get('output.weight');
  const embedding = tensors.get('token_embd.weight');
  if (!output || !embedding || output.shape.join() !== embedding.shape.join()) return;
  const a = new Uint32Array(output.data.buffer, output.data.byteOffset, output.data.length);
  const b = new Uint32Array(embedding.data.buffer, embedding.data.byteOffset, embedding.data.length);
  if (a.every((bits, i) => bits === b[i])) tensors.delete('output.weight');
}

/**
 * Loads a GGUF file of architecture `llama`: config (ropeStyle `'interleaved'`: llama.cpp's
 * converter already permuted the Q/K rows for ggml's rope), weights under canonical names (a
 * classifier that copies the token embedding bit for bit is dropped: the model is tied), the
 * embedded vocabulary and all metadata.
 *
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` for a malformed file, missing metadata (the
 *   vocabulary included) or a missing or mis-shaped tensor; `LLMC_UNSUPPORTED` for another architecture, rope scaling, an
 *   unknown tensor or an unsupported tensor type.
 */
export async function loadGguf(
  path: string,
): Promise<{ config: LlamaConfig; weights: Weights; vocab: GgufVocab; metadata: Map<string, GgufValue> }> {
  const { header, tensors } = await loadGgufTensors(path, checkArchitecture);
  dropCopiedClassifier(tensors);
  const vocab = readVocab(path, header.metadata);
  const config = llamaConfig(header, vocab, !tensors.has('output.weight'));
  const weights: Weights = new Map();
  for (const [name, tensor] of tensors) {
    const canonical = canonicalName(name);
    if (!canonical) throw unsupportedError(path, `tensor ${name} is not part of the llama architecture`);
    weights.set(canonical, tensor);
  }
  checkLlamaWeights(config, weights, path);
  return { config, weights, vocab, metadata: header.metadata };
}

/**
 * Whether `output.weight` holds the same bytes as `token_embd.weight` (what {@link loadGguf} then
 * drops as a tied classifier), compared through a fixed 1 MiB buffer, stopping at the first
 * difference; false when either's data is not in the file (a file cut after its header).
 */
async function classifierIsCopy(header: GgufHeader): Promise<boolean> {
  const output = header.tensors.find((t) => t.name === 'output.weight');
  const embedding = header.tensors.find((t) => t.name === 'token_embd.weight');
  if (!output || !embedding || output.type !== embedding.type || output.dims.join() !== embedding.dims.join())
    return false;
  const end = header.dataStart + Math.max(output.offset, embedding.offset) + output.byteSize;
  if (end > header.fileSize) return false;
  const chunk = 1 << 20;
  const a = new Uint8Array(chunk);
  const b = new Uint8Array(chunk);
  const handle = await open(header.path, 'r');
  try {
    for (let at = 0; at < output.byteSize; at += chunk) {
      const n = Math.min(chunk, output.byteSize - at);
      await readExactly(handle, header.path, a.subarray(0, n), header.dataStart + output.offset + at);
      await readExactly(handle, header.path, b.subarray(0, n), header.dataStart + embedding.offset + at);
      if (!Buffer.from(a.buffer, 0, n).equals(Buffer.from(b.buffer, 0, n))) return false;
    }
    return true;
  } finally {
    await handle.close();
  }
}

/**
 * A GGUF `llama` model from its header alone: the config {@link loadGguf} would return (checked
 * against the tensor infos' shapes), the embedded vocabulary, and the canonical name of each
 * tensor with its row-major shape and ggml type. The tensor data is not read, except to tell a
 * classifier copied from the token embedding (tied) as {@link loadGguf} does; the file may be cut
 * after its tensor infos (the classifier then counts as separate).
 *
 * @throws {@link LlmcError} as {@link loadGguf}, except for tensor types it cannot dequantize.
 */
export async function readGgufModelHeader(path: string): Promise<{
  config: LlamaConfig;
  vocab: GgufVocab;
  tensors: Map<string, { shape: number[]; typeName: string }>;
}> {
  const header = await readGgufHeader(path, { headerOnly: true });
  checkArchitecture(header);
  const vocab = readVocab(path, header.metadata);
  const tied = !header.tensors.some((t) => t.name === 'output.weight') || (await classifierIsCopy(header));
  const config = llamaConfig(header, vocab, tied);
  const tensors = new Map<string, { shape: number[]; typeName: string }>();
  for (const info of header.tensors) {
    if (tied && info.name === 'output.weight') continue;
    const canonical = canonicalName(info.name);
    if (!canonical) throw unsupportedError(path, `tensor ${info.name} is not part of the llama architecture`);
    tensors.set(canonical, { shape: [...info.dims].reverse(), typeName: info.typeName });
  }
  checkLlamaWeights(config, tensors, path);
  return { config, vocab, tensors };
}
