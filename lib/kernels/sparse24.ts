/**
 * 2:4 semi-structured sparse weights (at most 2 nonzeros in every 4 consecutive inputs of a row)
 * packed with f32, int8 or int4 values, their matmuls (`sparse24_f32`, `sparse24_w8a8`,
 * `sparse24_w4a16`) and their exports to compressed-tensors' `sparse-24-bitmask` and to NVIDIA's
 * sparse tensor core metadata. The packed layout is drawn in native/core/sparse24.h.
 */
import { native } from '../native/loader.js';
import { callNative, fromNative, invalidArgument, LlmcError } from '../errors.js';
import { checkFloat32Array, checkInteger, checkKnownKeys, checkObject, checkTypedArray } from '../validate.js';
import {
  checkPackedGroupSize,
  matmul as denseMatmul,
  PackedInt4,
  PackedInt8,
  type MatmulOptions,
  type PackedGroupSize,
  type WeightShape,
} from './quant.js';

/** compressed-tensors `sparse-24-bitmask` tensors of one weight (DESIGN.md §4). */
export interface Sparse24Bitmask<T extends Float32Array | Int8Array> {
  /** `[n, k]`: the dense shape (compressed-tensors' `shape`). */
  shape: [number, number];
  /** `[n × k/2]` row-major: the stored values of each row, in input order (codes for int8 / int4). */
  compressed: T;
  /** `[n × ceil(k/8)]`: bit i of byte b of a row (LSB first, numpy `packbits(bitorder="little")`) is set when input 8b + i is stored; exactly 2 per group of 4. */
  bitmask: Uint8Array;
}

type Bits = 32 | 8 | 4;

abstract class Packed24Base {
  /** @internal */
  constructor(
    readonly n: number,
    readonly k: number,
    /** 2-bit indices, one byte per channel and 8 inputs (layout: native/core/sparse24.h). */
    readonly meta: Uint8Array,
    /** The stored values (raw bytes; layout: native/core/sparse24.h). */
    readonly values: Uint8Array,
  ) {}
  abstract readonly bits: Bits;
  /** @internal */
  abstract get group(): number;
  /** @internal */
  abstract get scaleArray(): Float32Array | null;
  /** @internal */
  abstract get wsumArray(): Int32Array | null;

  /** Bytes the packed weight occupies. */
  get byteLength(): number {
    return (
      this.meta.byteLength +
      this.values.byteLength +
      (this.scaleArray?.byteLength ?? 0) +
      (this.wsumArray?.byteLength ?? 0)
    );
  }

  /** @internal the 8 weight arguments of the addon's s24* functions */
  args(): [Bits, number, number, number, Uint8Array, Uint8Array, Float32Array | null, Int32Array | null] {
    return [this.bits, this.n, this.k, this.group, this.meta, this.values, this.scaleArray, this.wsumArray];
  }

  /**
   * NVIDIA sparse tensor core metadata (PTX `mma.sp` with ordered metadata, cuSPARSELt): `[n × ceil(k/8)]`
   * bytes, row-major; byte b of a row holds group 2b (inputs 8b..8b+3) in its low nibble and group
   * 2b+1 in its high nibble, each nibble `idx0 | idx1 << 2` with idx0 < idx1. Read as little-endian
   * 16-bit words, nibble g of a word is the g-th group of the 16 inputs it covers (the logical
   * layout; a CUDA kernel reorders it per fragment).
   */
  async toNvMetadata(): Promise<Uint8Array> {
    const out = new Uint8Array(this.n * Math.ceil(this.k / 8));
    await callNative(() => native().s24NvMetadata(...this.args(), out));
    return out;
  }

  /** @internal */
  async bitmaskOf<T extends Float32Array | Int8Array>(compressed: T): Promise<Sparse24Bitmask<T>> {
    const bitmask = new Uint8Array(this.n * Math.ceil(this.k / 8));
    await callNative(() =>
      native().s24ToBitmask(
        ...this.args(),
        new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.byteLength),
        bitmask,
      ),
    );
    return { shape: [this.n, this.k], compressed, bitmask };
  }
}

/** A 2:4 sparse fp32 weight. Create with {@link pack24}; multiply with {@link matmul}. */
export class Packed24F32 extends Packed24Base {
  readonly bits = 32 as const;
  get group(): number {
    return 0;
  }
  get scaleArray(): null {
    return null;
  }
  get wsumArray(): null {
    return null;
  }

  /** The dense `[n × k]` matrix, exactly (a -0.0 in a position that was not stored comes back as +0.0). */
  async unpack(): Promise<Float32Array> {
    const dense = new Float32Array(this.n * this.k);
    await callNative(() => native().s24Unpack(...this.args(), dense, null, null));
    return dense;
  }

  /** compressed-tensors `sparse-24-bitmask`: `compressed` (f32 `[n × k/2]`) and `bitmask`. */
  toSparse24Bitmask(): Promise<Sparse24Bitmask<Float32Array>> {
    return this.bitmaskOf(new Float32Array((this.n * this.k) / 2));
  }
}

/** A 2:4 sparse int8 weight (one scale per output channel; w8a8: int8 activations). Create with {@link pack24}. */
export class Packed24Int8 extends Packed24Base {
  readonly bits = 8 as const;
  /** @internal */
  constructor(
    n: number,
    k: number,
    meta: Uint8Array,
    values: Uint8Array,
    /** Scales, padded to a multiple of 16 channels. */
    readonly scale: Float32Array,
    /** Σ of each channel's stored codes (the kernels' activation offset correction). */
    readonly wsum: Int32Array,
  ) {
    super(n, k, meta, values);
  }
  get group(): number {
    return 0;
  }
  get scaleArray(): Float32Array {
    return this.scale;
  }
  get wsumArray(): Int32Array {
    return this.wsum;
  }

  /** The dense codes `[n × k]` (0 where pruned) and scales `[n]`, exactly. */
  async unpack(): Promise<{ q: Int8Array; scale: Float32Array }> {
    const q = new Int8Array(this.n * this.k);
    const scale = new Float32Array(this.n);
    await callNative(() => native().s24Unpack(...this.args(), null, q, scale));
    return { q, scale };
  }

  /** compressed-tensors `sparse-24-bitmask` of the codes: `compressed` (int8 `[n × k/2]`) and `bitmask` (scales: {@link unpack}). */
  toSparse24Bitmask(): Promise<Sparse24Bitmask<Int8Array>> {
    return this.bitmaskOf(new Int8Array((this.n * this.k) / 2));
  }
}

/** A 2:4 sparse int4 weight (symmetric, group-wise scales; w4a16). Create with {@link pack24}. */
export class Packed24Int4 extends Packed24Base {
  readonly bits = 4 as const;
  /** @internal */
  constructor(
    n: number,
    k: number,
    /** Inputs per group (k when one group per row). */
    readonly groupSize: number,
    meta: Uint8Array,
    values: Uint8Array,
    /** Scales, block-major (native/core/gemm_q.h), padded to a multiple of 16 channels. */
    readonly scale: Float32Array,
  ) {
    super(n, k, meta, values);
  }
  get group(): number {
    return this.groupSize;
  }
  get scaleArray(): Float32Array {
    return this.scale;
  }
  get wsumArray(): null {
    return null;
  }

  /** The dense codes `[n × k]` in [-8, 7] (0 where pruned) and scales `[n × k/groupSize]`, exactly. */
  async unpack(): Promise<{ q: Int8Array; scale: Float32Array }> {
    const q = new Int8Array(this.n * this.k);
    const scale = new Float32Array((this.n * this.k) / this.groupSize);
    await callNative(() => native().s24Unpack(...this.args(), null, q, scale));
    return { q, scale };
  }

  /** compressed-tensors `sparse-24-bitmask` of the codes: `compressed` (int8 `[n × k/2]`) and `bitmask` (scales: {@link unpack}). */
  toSparse24Bitmask(): Promise<Sparse24Bitmask<Int8Array>> {
    return this.bitmaskOf(new Int8Array((this.n * this.k) / 2));
  }
}

export type Packed24 = Packed24F32 | Packed24Int8 | Packed24Int4;

export interface Pack24Options {
  /** 8: int8 codes in [-128, 127], one scale per output channel (w8a8). 4: int4 codes in [-8, 7], group-wise scales (w4a16). */
  bits: 8 | 4;
  /** int4: inputs per group, 32, 64 or 128 (dividing k) or `'row'`. Default 128. */
  groupSize?: PackedGroupSize;
}

function checkShape24(shape: unknown): WeightShape {
  const s = checkObject('shape', shape);
  checkKnownKeys('shape', s, ['n', 'k']);
  const n = checkInteger('shape.n', s.n, 1, 2 ** 31);
  const k = checkInteger('shape.k', s.k, 4, 2 ** 31);
  if (k % 4 !== 0) throw invalidArgument('shape.k', 'a multiple of 4 (2:4 groups run along k)', k);
  return { n, k };
}

async function packNative(
  argument: string,
  bits: Bits,
  n: number,
  k: number,
  group: number,
  w: Float32Array | null,
  q: Int8Array | null,
  scale: Float32Array | null,
): Promise<{ meta: Uint8Array; values: Uint8Array; scaleOut: Float32Array | null; wsum: Int32Array | null }> {
  const sizes = native().s24Sizes(bits, n, k, group);
  const meta = new Uint8Array(sizes.metaBytes);
  const values = new Uint8Array(sizes.valueBytes);
  const scaleOut = bits === 32 ? null : new Float32Array(sizes.scaleCount);
  const wsum = bits === 8 ? new Int32Array(sizes.scaleCount) : null;
  const bad = new Float64Array(2);
  try {
    await native().s24Pack(bits, n, k, group, w, q, scale, meta, values, scaleOut, wsum, bad);
  } catch (e) {
    if (bad[0]! >= 0) {
      const [row, col] = [bad[0]!, bad[1]!];
      const expected = 'a 2:4 sparse matrix (at most 2 nonzeros in every 4 consecutive inputs of a row)';
      const actual = `row ${row}, columns ${col}..${col + 3} holding more than 2 nonzeros (${argument}[${row * k + col}..${row * k + col + 3}])`;
      throw new LlmcError('LLMC_INVALID_ARGUMENT', `Invalid ${argument}: expected ${expected}, got ${actual}`, {
        argument,
        expected,
        actual,
      });
    }
    throw fromNative(e);
  }
  return { meta, values, scaleOut, wsum };
}

/**
 * Packs a 2:4 sparse fp32 weight `[n × k]` (k a multiple of 4) for {@link matmul}.
 *
 * @param w - `[n × k]` row-major (`[out, in]`), at most 2 nonzeros in every group of 4 consecutive inputs
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` naming the row and columns of the first group with more than 2 nonzeros
 *
 * @example
 * ```ts
 * import { kernels } from 'llm-compress-native';
 * const s = await kernels.sparsegpt(W, H, { rows: n, cols: k }, { structure: '2:4' });
 * const w = await kernels.pack24(s.weight, { n, k });
 * const y = await kernels.matmul(x, w); // sparse24_f32
 * ```
 */
export async function pack24(w: Float32Array, shape: WeightShape): Promise<Packed24F32>;
/**
 * Packs 2:4 sparse int8 or int4 codes (0 where pruned) with their scales for {@link matmul}.
 *
 * @param q - `[n × k]` codes: int8 in [-128, 127] (`bits: 8`) or int4 in [-8, 7] (`bits: 4`); a group of 4 may hold at most 2 nonzero codes
 * @param scale - `[n]` (int8) or `[n × k/groupSize]` (int4) finite scales: W = scale · q
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` naming the argument, or the row and columns of the first group with more than 2 nonzeros
 *
 * @example
 * ```ts
 * const s = await kernels.sparsegpt(W, H, { rows: n, cols: k }, { structure: '2:4', quantize: { bits: 4, groupSize: 128 } });
 * const w = await kernels.pack24(s.q!, s.scale!, { n, k }, { bits: 4, groupSize: 128 });
 * const y = await kernels.matmul(x, w); // sparse24_w4a16
 * ```
 */
export async function pack24(
  q: Int8Array,
  scale: Float32Array,
  shape: WeightShape,
  options: Pack24Options,
): Promise<Packed24Int8 | Packed24Int4>;
export async function pack24(a: Float32Array | Int8Array, b: unknown, c?: unknown, d?: unknown): Promise<Packed24> {
  if (a instanceof Float32Array) {
    const { n, k } = checkShape24(b);
    if (c !== undefined)
      throw invalidArgument('options', 'nothing for an fp32 weight (bits and groupSize apply to codes)', c);
    checkFloat32Array('w', a, n * k);
    const r = await packNative('w', 32, n, k, 0, a, null, null);
    return new Packed24F32(n, k, r.meta, r.values);
  }
  if (!(a instanceof Int8Array)) throw invalidArgument('w', 'a Float32Array (fp32 weight) or an Int8Array (codes)', a);
  const { n, k } = checkShape24(c);
  const o = checkObject('options', d);
  checkKnownKeys('options', o, ['bits', 'groupSize']);
  const bits = o.bits;
  if (bits !== 8 && bits !== 4) throw invalidArgument('options.bits', '8 or 4', bits);
  let group = 0;
  if (bits === 4) group = checkPackedGroupSize('options.groupSize', o.groupSize ?? 128, k);
  else if (o.groupSize !== undefined)
    throw invalidArgument('options.groupSize', 'nothing for int8 (one scale per output channel)', o.groupSize);
  checkTypedArray('q', a, Int8Array, n * k);
  const scale = checkFloat32Array('scale', b, bits === 8 ? n : (n * k) / group);
  for (let i = 0; i < scale.length; i++)
    if (!Number.isFinite(scale[i])) throw invalidArgument(`scale[${i}]`, 'a finite number', scale[i]);
  if (bits === 4)
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (v < -8 || v > 7) throw invalidArgument(`q[${i}]`, 'an int4 code in [-8, 7]', v);
    }
  const r = await packNative('q', bits, n, k, group, null, a, scale);
  if (bits === 8) return new Packed24Int8(n, k, r.meta, r.values, r.scaleOut!, r.wsum!);
  return new Packed24Int4(n, k, group, r.meta, r.values, r.scaleOut!);
}

export interface Matmul24Options extends MatmulOptions {
  /**
   * 2:4 weights only. `'auto'` (default): the faster path for this shape and ISA level (docs/kernels.md,
   * "2:4 sparsity"). `'sparse'`: the 2:4 kernels. `'dense'`: f32 / int4 through the fp32 GEMM on
   * panels expanded from the 2:4 values (int8 has one path).
   */
  path?: 'auto' | 'sparse' | 'dense';
}

const PATHS = { auto: 0, sparse: 1, dense: 2 } as const;

/** Which path `matmul` takes for a 2:4 weight of `bits` (32, 8, 4) at m rows on the active ISA level. */
export function sparse24Path(weight: Packed24, m: number): 'sparse' | 'dense' {
  checkInteger('m', m, 0, 2 ** 31);
  return native().s24Path(weight.bits, m, weight.n, weight.k) === 1 ? 'sparse' : 'dense';
}

/**
 * y = x · Wᵀ for packed weights W `[n × k]` and activations x `[m × k]` (m = x.length / k):
 * dense int8 / int4 weights ({@link packInt8}, {@link packInt4}) and 2:4 sparse weights
 * ({@link pack24}: f32 and int4 take float activations, int8 quantizes each row of x to int8 inside
 * the call — w8a8). Multi-threaded, with the fastest kernels the CPU supports.
 *
 * With float activations a NaN or ±Inf in a row of x makes every output of that row non-finite;
 * with int8 activations the row is NaN (as the dense kernels).
 *
 * @param x - activations, row-major `[m × k]`
 * @param weight - from {@link packInt8}, {@link packInt4} or {@link pack24}
 * @returns y `[m × n]` (`options.out` when given)
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` when x's length is not a multiple of k, or an option is off
 *
 * @example
 * ```ts
 * const w = await kernels.pack24(q, scale, { n: 11008, k: 4096 }, { bits: 4, groupSize: 128 });
 * const y = await kernels.matmul(x, w);                      // sparse24_w4a16, path picked per shape
 * const yd = await kernels.matmul(x, w, { path: 'dense' });  // force the dense-GEMM path
 * ```
 */
export async function matmul(
  x: Float32Array,
  weight: PackedInt8 | PackedInt4 | Packed24,
  options: Matmul24Options = {},
): Promise<Float32Array> {
  if (weight instanceof PackedInt8 || weight instanceof PackedInt4) {
    const o = checkObject('options', options);
    if (o.path !== undefined)
      throw invalidArgument('options.path', 'nothing for dense packed weights (path applies to 2:4 weights)', o.path);
    return denseMatmul(x, weight, options);
  }
  if (!(weight instanceof Packed24F32) && !(weight instanceof Packed24Int8) && !(weight instanceof Packed24Int4))
    throw invalidArgument(
      'weight',
      'a PackedInt8, PackedInt4 or 2:4 weight (from packInt8 / packInt4 / pack24)',
      weight,
    );
  checkFloat32Array('x', x);
  if (x.length % weight.k !== 0)
    throw invalidArgument('x', `a Float32Array whose length is a multiple of k = ${weight.k}`, x);
  const m = x.length / weight.k;
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['activations', 'out', 'path']);
  const wantAct = weight.bits === 8 ? 'int8' : 'float';
  const act = o.activations ?? wantAct;
  if (act !== wantAct)
    throw invalidArgument(
      'options.activations',
      `'${wantAct}' for a 2:4 ${weight.bits === 32 ? 'fp32' : `int${weight.bits}`} weight (sparse24_${weight.bits === 32 ? 'f32' : weight.bits === 8 ? 'w8a8' : 'w4a16'})`,
      act,
    );
  const path = o.path ?? 'auto';
  if (path !== 'auto' && path !== 'sparse' && path !== 'dense')
    throw invalidArgument('options.path', "'auto', 'sparse' or 'dense'", path);
  const out =
    o.out === undefined ? new Float32Array(m * weight.n) : checkFloat32Array('options.out', o.out, m * weight.n);
  if (out.buffer === x.buffer) throw invalidArgument('options.out', 'an array that does not share memory with x', out);
  await callNative(() => native().s24Matmul(...weight.args(), PATHS[path], x, m, out));
  return out;
}
