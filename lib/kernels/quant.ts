/**
 * Packed int8 / int4 weights and the quantized matrix multiplications that run them
 * (w8a16, w8a8, w4a16, w4a8). Layouts are drawn in native/core/gemm_q.h; packing is exact both ways.
 */
import { native } from '../native/loader.js';
import { fromNative, invalidArgument, LlmcError } from '../errors.js';
import { groupLength, type GroupSize } from '../quant_args.js';
import { checkFloat32Array, checkInteger, checkKnownKeys, checkObject, checkTypedArray } from '../validate.js';

/** Size of a linear layer's weight: `n` outputs × `k` inputs (PyTorch's `[out, in]`). */
export interface WeightShape {
  n: number;
  k: number;
}

/** Codes and scales of an int8 weight, as {@link packInt8} takes them and {@link PackedInt8.unpack} gives them back. */
export interface Int8Codes {
  /** `[n × k]` codes in [-128, 127]: W[j, p] = scale[j] · q[j·k + p]. */
  q: Int8Array;
  /** `[n]` one scale per output channel. */
  scale: Float32Array;
}

/** Codes, scales and zero points of an int4 weight, as {@link packInt4} takes them and {@link PackedInt4.unpack} gives them back. */
export interface Int4Codes {
  /** `[n × k]` codes: [-8, 7] when symmetric, [0, 15] with zero points. */
  q: Int8Array;
  /** `[n × G]` (G = k / groupSize) scale of each output channel and group. */
  scale: Float32Array;
  /** `[n × G]` zero points in [0, 15] (asymmetric); W = scale · (q − zero). Absent: symmetric, W = scale · q. */
  zeroPoint?: Uint8Array;
  /** `[k]` group of each input (act-order models); absent: input p is in group p / groupSize. */
  gIdx?: Int32Array;
}

const PACKED_GROUP_SIZES = [32, 64, 128, 'row'] as const;

/** The groups the int4 kernels (dense and 2:4) take: 32, 64 or 128 inputs (dividing k), or `'row'` (one group per output row, k any). */
export type PackedGroupSize = (typeof PACKED_GROUP_SIZES)[number];

function isPackedGroupSize(value: unknown): value is PackedGroupSize {
  return (PACKED_GROUP_SIZES as readonly unknown[]).includes(value);
}

/**
 * The int4 kernels' group for groups of `groupSize` inputs in rows of `k` (`'row'` when one group
 * spans the row), or undefined when the kernels take no such group.
 */
export function packedGroupSize(groupSize: GroupSize, k: number): PackedGroupSize | undefined {
  if (groupSize === 'row' || groupSize === k) return 'row';
  return isPackedGroupSize(groupSize) && k % groupSize === 0 ? groupSize : undefined;
}

/** {@link packedGroupSize}, refusing a group the kernels do not take with an error that starts with `where` (the weight). */
export function toPackedGroupSize(groupSize: GroupSize, k: number, where: string): PackedGroupSize {
  const g = packedGroupSize(groupSize, k);
  if (g === undefined)
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `${where}: group size ${groupSize} (the int4 kernels take 32, 64, 128 or one per row)`,
    );
  return g;
}

/** Validates a `groupSize` option of {@link packInt4} / `pack24` for rows of `k` inputs; returns the inputs per group. */
export function checkPackedGroupSize(argument: string, groupSize: unknown, k: number): number {
  if (!isPackedGroupSize(groupSize)) throw invalidArgument(argument, "32, 64, 128 or 'row'", groupSize);
  if (packedGroupSize(groupSize, k) === undefined)
    throw invalidArgument(argument, `a group size that divides k = ${k} (or 'row')`, groupSize);
  return groupLength(groupSize, k);
}

export interface PackInt4Options {
  /** Inputs per group: 32, 64 or 128 (dividing k), or `'row'` (one group per output row, k any). Default 128. */
  groupSize?: PackedGroupSize;
  /** `[n × G]` zero points in [0, 15]: asymmetric quantization. Default: symmetric. */
  zeroPoint?: Uint8Array;
  /** `[k]` group index of each input (GPTQ act-order `g_idx`); each group must hold `groupSize` inputs. */
  gIdx?: Int32Array;
}

/** An int8 weight packed for the kernels (per-output-channel scales, symmetric). Create with {@link packInt8}. */
export class PackedInt8 {
  readonly bits = 8 as const;
  /** @internal */
  constructor(
    readonly n: number,
    readonly k: number,
    /** The packed codes (layout: native/core/gemm_q.h). */
    readonly data: Uint8Array,
    /** Scales, padded to a multiple of 16 channels. */
    readonly scale: Float32Array,
  ) {}

  /** Bytes the packed weight occupies. */
  get byteLength(): number {
    return this.data.byteLength + this.scale.byteLength;
  }

  /** The codes and scales this weight was packed from, exactly. */
  async unpack(): Promise<Int8Codes> {
    const q = new Int8Array(this.n * this.k);
    const scale = new Float32Array(this.n);
    try {
      await native().q8Unpack(this.data, this.scale, this.n, this.k, q, scale);
    } catch (e) {
      throw fromNative(e);
    }
    return { q, scale };
  }
}

/** An int4 weight packed for the kernels (group-wise scales, optional zero points and act-order). Create with {@link packInt4}. */
export class PackedInt4 {
  readonly bits = 4 as const;
  /** @internal */
  constructor(
    readonly n: number,
    readonly k: number,
    /** Inputs per group (k when one group per row). */
    readonly groupSize: number,
    /** The packed codes (layout: native/core/gemm_q.h). */
    readonly data: Uint8Array,
    /** Scales, group-major, padded to a multiple of 16 channels. */
    readonly scale: Float32Array,
    /** Zero points in the scales' layout, or null (symmetric). */
    readonly zero: Uint8Array | null,
    /** Order of the inputs in the packed data (act-order), or null (in order). */
    readonly perm: Int32Array | null,
  ) {}

  get symmetric(): boolean {
    return this.zero === null;
  }

  /** Bytes the packed weight occupies. */
  get byteLength(): number {
    return this.data.byteLength + this.scale.byteLength + (this.zero?.byteLength ?? 0) + (this.perm?.byteLength ?? 0);
  }

  /** The codes, scales, zero points and group index this weight was packed from, exactly. */
  async unpack(): Promise<Int4Codes> {
    const G = this.k / this.groupSize;
    const q = new Int8Array(this.n * this.k);
    const scale = new Float32Array(this.n * G);
    const zeroPoint = this.zero ? new Uint8Array(this.n * G) : null;
    const gIdx = this.perm ? new Int32Array(this.k) : null;
    try {
      await native().q4Unpack(
        this.data,
        this.scale,
        this.zero,
        this.perm,
        this.n,
        this.k,
        this.groupSize,
        q,
        scale,
        zeroPoint,
        gIdx,
      );
    } catch (e) {
      throw fromNative(e);
    }
    return { q, scale, ...(zeroPoint ? { zeroPoint } : {}), ...(gIdx ? { gIdx } : {}) };
  }
}

function checkShape(shape: unknown): WeightShape {
  const s = checkObject('shape', shape);
  checkKnownKeys('shape', s, ['n', 'k']);
  return { n: checkInteger('shape.n', s.n, 1, 2 ** 31), k: checkInteger('shape.k', s.k, 1, 2 ** 31) };
}

/**
 * Packs an int8 weight (one scale per output channel) for {@link matmul}.
 *
 * @param q - `[n × k]` codes in [-128, 127], row-major (`[out, in]`)
 * @param scale - `[n]` finite scales: W[j, p] = scale[j] · q[j·k + p]
 * @param shape - `{ n, k }`
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` naming the argument when a length or value is off
 *
 * @example
 * ```ts
 * import { kernels } from 'llm-compress-native';
 * const w = await kernels.packInt8(q, scale, { n: 4096, k: 4096 });
 * const y = await kernels.matmul(x, w, { activations: 'int8' }); // w8a8
 * ```
 */
export async function packInt8(q: Int8Array, scale: Float32Array, shape: WeightShape): Promise<PackedInt8> {
  const { n, k } = checkShape(shape);
  checkTypedArray('q', q, Int8Array, n * k);
  checkFloat32Array('scale', scale, n);
  for (let j = 0; j < n; j++)
    if (!Number.isFinite(scale[j])) throw invalidArgument(`scale[${j}]`, 'a finite number', scale[j]);
  const sizes = native().quantSizes(8, n, k, 0);
  const data = new Uint8Array(sizes.dataBytes);
  const scaleOut = new Float32Array(sizes.scaleCount);
  try {
    await native().q8Pack(q, scale, n, k, data, scaleOut);
  } catch (e) {
    throw fromNative(e);
  }
  return new PackedInt8(n, k, data, scaleOut);
}

/**
 * Packs an int4 weight with group-wise scales (optionally zero points and an act-order group
 * index) for {@link matmul}.
 *
 * @param q - `[n × k]` codes: [-8, 7] (symmetric) or [0, 15] (with `zeroPoint`)
 * @param scale - `[n × G]` finite scales, G = k / groupSize (row-major: channel j's groups together)
 * @param shape - `{ n, k }`; k must be a multiple of the group size (unless `groupSize: 'row'`)
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` naming the argument when a length, range or group is off
 *
 * @example
 * ```ts
 * // GPTQ output: codes, scales and zeros per group of 128, act-order g_idx
 * const w = await kernels.packInt4(q, scale, { n, k }, { groupSize: 128, zeroPoint: zeros, gIdx });
 * const y = await kernels.matmul(x, w); // w4a16
 * ```
 */
export async function packInt4(
  q: Int8Array,
  scale: Float32Array,
  shape: WeightShape,
  options: PackInt4Options = {},
): Promise<PackedInt4> {
  const { n, k } = checkShape(shape);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['groupSize', 'zeroPoint', 'gIdx']);
  const group = checkPackedGroupSize('options.groupSize', o.groupSize ?? 128, k);
  const G = k / group;
  checkTypedArray('q', q, Int8Array, n * k);
  checkFloat32Array('scale', scale, n * G);
  for (let i = 0; i < scale.length; i++)
    if (!Number.isFinite(scale[i])) throw invalidArgument(`scale[${i}]`, 'a finite number', scale[i]);
  const zero = o.zeroPoint === undefined ? null : checkTypedArray('options.zeroPoint', o.zeroPoint, Uint8Array, n * G);
  const gIdx = o.gIdx === undefined ? null : checkTypedArray('options.gIdx', o.gIdx, Int32Array, k);
  const [lo, hi] = zero ? [0, 15] : [-8, 7];
  for (let i = 0; i < q.length; i++) {
    const v = q[i]!;
    if (v < lo || v > hi)
      throw invalidArgument(`q[${i}]`, `a code in [${lo}, ${hi}] (${zero ? 'asymmetric' : 'symmetric'})`, v);
  }
  if (zero)
    for (let i = 0; i < zero.length; i++)
      if (zero[i]! > 15) throw invalidArgument(`options.zeroPoint[${i}]`, 'a zero point in [0, 15]', zero[i]);
  const sizes = native().quantSizes(4, n, k, group);
  const data = new Uint8Array(sizes.dataBytes);
  const scaleOut = new Float32Array(sizes.scaleCount);
  const zeroOut = zero ? new Uint8Array(sizes.scaleCount) : null;
  const perm = new Int32Array(k);
  let hasPerm: boolean;
  try {
    hasPerm = await native().q4Pack(q, scale, zero, gIdx, n, k, group, data, scaleOut, zeroOut, perm);
  } catch (e) {
    throw fromNative(e);
  }
  return new PackedInt4(n, k, group, data, scaleOut, zeroOut, hasPerm ? perm : null);
}

export interface MatmulOptions {
  /**
   * `'float'` (default): activations stay fp32 (w8a16 / w4a16). `'int8'`: each row of `x` is
   * quantized to int8 inside the call (symmetric, scale max|x|/127) and the products run on int8
   * dot-product instructions (w8a8 / w4a8). A row holding NaN or ±Inf then gives a row of NaN;
   * with `'float'` they propagate as IEEE arithmetic does.
   */
  activations?: 'float' | 'int8';
  /** Where to write y `[m × n]`. Default: a new array. */
  out?: Float32Array;
}

/**
 * y = x · Wᵀ for packed weights W `[n × k]` and activations x `[m × k]` (m = x.length / k),
 * multi-threaded, with the fastest kernels the CPU supports.
 *
 * @param x - activations, row-major `[m × k]`
 * @param weight - from {@link packInt8} or {@link packInt4}
 * @returns y `[m × n]` (`options.out` when given)
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` when x's length is not a multiple of k, or an option is off
 *
 * @example
 * ```ts
 * const w = await kernels.packInt4(q, scale, { n: 11008, k: 4096 }, { groupSize: 128 });
 * const y = await kernels.matmul(x, w);                            // w4a16
 * const y8 = await kernels.matmul(x, w, { activations: 'int8' }); // w4a8
 * ```
 */
export async function matmul(
  x: Float32Array,
  weight: PackedInt8 | PackedInt4,
  options: MatmulOptions = {},
): Promise<Float32Array> {
  if (!(weight instanceof PackedInt8) && !(weight instanceof PackedInt4))
    throw invalidArgument('weight', 'a PackedInt8 or PackedInt4 (from packInt8 / packInt4)', weight);
  checkFloat32Array('x', x);
  if (x.length % weight.k !== 0)
    throw invalidArgument('x', `a Float32Array whose length is a multiple of k = ${weight.k}`, x);
  const m = x.length / weight.k;
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['activations', 'out']);
  const act = o.activations ?? 'float';
  if (act !== 'float' && act !== 'int8') throw invalidArgument('options.activations', "'float' or 'int8'", act);
  const out =
    o.out === undefined ? new Float32Array(m * weight.n) : checkFloat32Array('options.out', o.out, m * weight.n);
  if (out.buffer === x.buffer) throw invalidArgument('options.out', 'an array that does not share memory with x', out);
  try {
    if (weight instanceof PackedInt8)
      await native().q8Matmul(weight.data, weight.scale, weight.n, weight.k, act === 'int8', x, m, out);
    else
      await native().q4Matmul(
        weight.data,
        weight.scale,
        weight.zero,
        weight.perm,
        weight.n,
        weight.k,
        weight.groupSize,
        act === 'int8',
        x,
        m,
        out,
      );
  } catch (e) {
    throw fromNative(e);
  }
  return out;
}
