/**
 * Safetensors reader: validates the header of each file, then reads every tensor by its byte range
 * (never the whole file at once) into a Float32Array. F16 and BF16 are widened to float32 exactly.
 * Sharded models are read through their `model.safetensors.index.json`.
 *
 * Also holds the small helpers the other format readers share (ranged reads, half-float decoding,
 * format errors).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { LlmcError } from '../errors.js';
import type { Tensor, Weights } from '../model/types.js';

/** The error for a malformed file: `<file>: <problem>`. */
export function formatError(file: string, problem: string): LlmcError {
  return new LlmcError('LLMC_INVALID_ARGUMENT', `${basename(file)}: ${problem}`);
}

/** The error for a well-formed file that uses a feature this library does not support. */
export function unsupportedError(file: string, problem: string): LlmcError {
  return new LlmcError('LLMC_UNSUPPORTED', `${basename(file)}: ${problem}`);
}

/** Largest single `read` call (Node limits one read to 2 GiB). */
const READ_CHUNK = 1 << 30;

/** Reads `target.length` bytes at `position`, failing with a format error when the file ends first. */
export async function readExactly(
  handle: FileHandle,
  file: string,
  target: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(READ_CHUNK, target.length - done);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) {
      throw formatError(file, `unexpected end of file reading ${target.length} bytes at offset ${position}`);
    }
    done += bytesRead;
  }
}

let halfTable: Float32Array | undefined;

/** float32 value of every IEEE half-precision bit pattern (built once, 256 KiB). */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[h] = mantissa ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  halfTable = table;
  return table;
}

/** The float32 value of one IEEE half-precision bit pattern. */
export function halfToFloat(bits: number): number {
  return halfToFloatTable()[bits & 0xffff]!;
}

/** Widens little-endian IEEE half-precision values to float32 (exact). */
export function decodeF16(bytes: Uint8Array, out: Float32Array): void {
  const table = halfToFloatTable();
  for (let i = 0; i < out.length; i++) out[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
}

/** Widens little-endian bfloat16 values to float32 (exact: bf16 is the top half of a float32). */
export function decodeBF16(bytes: Uint8Array, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < out.length; i++) bits[i] = ((bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16) >>> 0;
}

/** Element types this reader converts to float32. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 };

/** One tensor's entry in a safetensors header. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range `[begin, end)` relative to the start of the data section. */
  dataOffsets: [number, number];
}

/** A validated safetensors header. */
export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  /** Absolute file offset of the data section (8 + header length). */
  dataStart: number;
  tensors: Map<string, SafetensorsEntry>;
  /** The optional `__metadata__` string map. */
  metadata: Record<string, string>;
}

/** Longest header accepted (the reference implementation's limit). */
const MAX_HEADER_BYTES = 100_000_000;

/** Options of the header readers. */
export interface HeaderOnlyOptions {
  /**
   * Only the header will be used: do not check that the tensors' data lies inside the file (it
   * may be cut after its header). Default false.
   */
  headerOnly?: boolean;
}

/**
 * Reads and validates the header of one `.safetensors` file: length prefix, JSON, dtypes, shapes
 * against byte ranges, ranges inside the data section and not overlapping.
 *
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` naming the file and the problem;
 *   `LLMC_UNSUPPORTED` for a dtype other than F32, F16 or BF16.
 */
export async function readSafetensorsHeader(path: string, options: HeaderOnlyOptions = {}): Promise<SafetensorsHeader> {
  const handle = await open(path, 'r');
  try {
    return await readHeader(handle, path, options.headerOnly === true);
  } finally {
    await handle.close();
  }
}

async function readHeader(handle: FileHandle, path: string, headerOnly = false): Promise<SafetensorsHeader> {
  const fileSize = (await handle.stat()).size;
  if (fileSize < 8) throw formatError(path, `the file is ${fileSize} bytes, too short for the 8-byte header length`);
  const prefix = new Uint8Array(8);
  await readExactly(handle, path, prefix, 0);
  const headerLength = Number(new DataView(prefix.buffer).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > fileSize) {
    throw formatError(
      path,
      `header length ${headerLength} runs past the end of the file (${fileSize} bytes) or exceeds ${MAX_HEADER_BYTES} bytes`,
    );
  }
  const text = new Uint8Array(headerLength);
  await readExactly(handle, path, text, 8);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text));
  } catch (e) {
    throw formatError(path, `the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw formatError(path, 'the header is not a JSON object');
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') metadata = parseMetadata(path, value);
    else tensors.set(name, parseEntry(path, name, value, headerOnly ? Number.MAX_SAFE_INTEGER : fileSize - dataStart));
  }
  checkNoOverlap(path, tensors);
  return { path, fileSize, dataStart, tensors, metadata };
}

function parseMetadata(path: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw formatError(path, '__metadata__ is not an object');
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw formatError(path, `__metadata__.${key} is not a string`);
  }
  return value as Record<string, string>;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(path: string, name: string, value: unknown, dataSize: number): SafetensorsEntry {
  const where = `tensor ${name}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw formatError(path, `${where}: the entry is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw formatError(path, `${where}: dtype is missing or not a string`);
  if (!(dtype in DTYPE_BYTES)) {
    throw unsupportedError(
      path,
      `${where}: dtype ${dtype} is not supported (supported: F32, F16, BF16, and I32, I64, U8 for compressed weights)`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw formatError(path, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0]! > offsets[1]!) {
    throw formatError(
      path,
      `${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataSize) {
    throw formatError(
      path,
      `${where}: data_offsets [${begin}, ${end}) run past the end of the data section (${dataSize} bytes)`,
    );
  }
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const bytes = elements * DTYPE_BYTES[dtype as SafetensorsDtype];
  if (bytes !== end - begin) {
    throw formatError(
      path,
      `${where}: shape [${shape.join(', ')}] of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}) hold ${end - begin}`,
    );
  }
  return { dtype: dtype as SafetensorsDtype, shape: shape as number[], dataOffsets: [begin, end] };
}

function checkNoOverlap(path: string, tensors: Map<string, SafetensorsEntry>): void {
  const sorted = [...tensors].filter(([, e]) => e.dataOffsets[1] > e.dataOffsets[0]);
  sorted.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  for (let i = 1; i < sorted.length; i++) {
    const [prevName, prev] = sorted[i - 1]!;
    const [name, cur] = sorted[i]!;
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      throw formatError(
        path,
        `tensors ${prevName} [${prev.dataOffsets.join(', ')}) and ${name} [${cur.dataOffsets.join(', ')}) overlap`,
      );
    }
  }
}

/** The raw bytes of a tensor (integer tensors: packed quantized weights). */
export async function readTensorBytes(header: SafetensorsHeader, name: string): Promise<Uint8Array> {
  const entry = header.tensors.get(name);
  if (!entry) throw formatError(header.path, `tensor ${name} is missing`);
  const [begin, end] = entry.dataOffsets;
  const raw = new Uint8Array(end - begin);
  const handle = await open(header.path, 'r');
  try {
    await readExactly(handle, header.path, raw, header.dataStart + begin);
  } finally {
    await handle.close();
  }
  return raw;
}

/** One floating-point tensor as float32. */
export async function readFloatTensor(header: SafetensorsHeader, name: string): Promise<Tensor> {
  const entry = header.tensors.get(name);
  if (!entry) throw formatError(header.path, `tensor ${name} is missing`);
  const handle = await open(header.path, 'r');
  try {
    return await readTensor(handle, header, entry, name);
  } finally {
    await handle.close();
  }
}

async function readTensor(
  handle: FileHandle,
  header: SafetensorsHeader,
  entry: SafetensorsEntry,
  name: string,
): Promise<Tensor> {
  const [begin, end] = entry.dataOffsets;
  if (entry.dtype !== 'F32' && entry.dtype !== 'F16' && entry.dtype !== 'BF16')
    throw unsupportedError(
      header.path,
      `tensor ${name}: ${entry.dtype} tensors are only read as parts of compressed weights (a compressed-tensors or GPTQ model)`,
    );
  const data = new Float32Array((end - begin) / DTYPE_BYTES[entry.dtype]);
  if (entry.dtype === 'F32') {
    await readExactly(handle, header.path, new Uint8Array(data.buffer), header.dataStart + begin);
  } else {
    const raw = new Uint8Array(end - begin);
    await readExactly(handle, header.path, raw, header.dataStart + begin);
    (entry.dtype === 'F16' ? decodeF16 : decodeBF16)(raw, data);
  }
  return { shape: [...entry.shape], data };
}

/**
 * A tensor whose `data` is read from the file at each access (synchronously; callers keep what
 * they need), so that a model's layers need memory only while they are in use.
 */
function lazyTensor(header: SafetensorsHeader, entry: SafetensorsEntry, name: string): Tensor {
  if (entry.dtype !== 'F32' && entry.dtype !== 'F16' && entry.dtype !== 'BF16')
    throw unsupportedError(
      header.path,
      `tensor ${name}: ${entry.dtype} tensors are only read as parts of compressed weights (a compressed-tensors or GPTQ model)`,
    );
  const shape = [...entry.shape];
  return {
    shape,
    get data(): Float32Array {
      const [begin, end] = entry.dataOffsets;
      const raw = new Uint8Array(end - begin);
      const fd = openSync(header.path, 'r');
      try {
        for (let at = 0; at < raw.length; ) {
          const n = readSync(fd, raw, at, raw.length - at, header.dataStart + begin + at);
          if (n === 0)
            throw formatError(
              header.path,
              `tensor ${name}: the file ends inside its data (was it changed after loading?)`,
            );
          at += n;
        }
      } finally {
        closeSync(fd);
      }
      if (entry.dtype === 'F32') return new Float32Array(raw.buffer);
      const data = new Float32Array(raw.length / 2);
      (entry.dtype === 'F16' ? decodeF16 : decodeBF16)(raw, data);
      return data;
    },
  };
}

/** Reads the named tensors (all when `names` is omitted) of one file into `out` (or maps them, with `lazy`). */
async function loadFile(path: string, out: Weights, names?: readonly string[], lazy = false): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const header = await readHeader(handle, path);
    for (const name of names ?? header.tensors.keys()) {
      const entry = header.tensors.get(name);
      if (!entry) throw formatError(path, `tensor ${name} (listed in the index) is not in this file`);
      if (out.has(name)) throw formatError(path, `tensor ${name} appears in more than one file`);
      out.set(name, lazy ? lazyTensor(header, entry, name) : await readTensor(handle, header, entry, name));
    }
  } finally {
    await handle.close();
  }
}

/** Groups the index's `weight_map` by shard file. */
async function readIndex(indexPath: string): Promise<Map<string, string[]>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code) throw e;
    throw formatError(indexPath, `not valid JSON (${(e as Error).message})`);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw formatError(indexPath, 'weight_map is missing or not an object');
  }
  const shards = new Map<string, string[]>();
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || file !== basename(file)) {
      throw formatError(
        indexPath,
        `weight_map.${name} must be a file name in the same folder, got ${JSON.stringify(file)}`,
      );
    }
    const list = shards.get(file) ?? [];
    list.push(name);
    shards.set(file, list);
  }
  return shards;
}

/**
 * The header entries of every tensor of a `.safetensors` file or of a sharded model (the path of
 * its `model.safetensors.index.json`), without reading tensor data.
 *
 * @throws {@link LlmcError} as {@link loadSafetensors}.
 */
export async function readSafetensorsEntries(
  source: string,
  options: HeaderOnlyOptions = {},
): Promise<Map<string, SafetensorsEntry>> {
  const entries = new Map<string, SafetensorsEntry>();
  const files = source.endsWith('.json')
    ? [...(await readIndex(source))].map(([file, names]) => [join(dirname(source), file), names] as const)
    : [[source, undefined] as const];
  for (const [path, names] of files) {
    const header = await readSafetensorsHeader(path, options);
    for (const name of names ?? header.tensors.keys()) {
      const entry = header.tensors.get(name);
      if (!entry) throw formatError(path, `tensor ${name} (listed in the index) is not in this file`);
      if (entries.has(name)) throw formatError(path, `tensor ${name} appears in more than one file`);
      entries.set(name, entry);
    }
  }
  return entries;
}

/**
 * Loads every tensor of one or more `.safetensors` files, or of a sharded model given the path of
 * its `model.safetensors.index.json`, as float32 tensors.
 *
 * @param source - the files, one file, or the index path (ending in `.json`).
 * @param options - `lazy`: only the headers are read; each tensor's `data` is read from its file
 *   when accessed (see lazyTensor).
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` naming the file and the problem (also when a
 *   tensor appears twice or an index entry is missing from its shard); `LLMC_UNSUPPORTED` for an
 *   unsupported dtype.
 */
export async function loadSafetensors(
  source: readonly string[] | string,
  options: { lazy?: boolean } = {},
): Promise<Weights> {
  const weights: Weights = new Map();
  const lazy = options.lazy === true;
  if (typeof source === 'string') {
    if (!source.endsWith('.json')) {
      await loadFile(source, weights, undefined, lazy);
      return weights;
    }
    for (const [file, names] of await readIndex(source))
      await loadFile(join(dirname(source), file), weights, names, lazy);
    return weights;
  }
  for (const path of source) await loadFile(path, weights, undefined, lazy);
  return weights;
}
