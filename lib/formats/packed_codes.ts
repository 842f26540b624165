/**
 * Packed int4 / int8 weights as plain codes, for the writers and readers of quantized formats:
 * dequantization (a model's dense view of a packed layer) and fp16 rounding of the scales.
 */
import {
  packInt4,
  packInt8,
  type PackedInt4,
  PackedInt8,
  toPackedGroupSize,
  type Int4Codes,
  type Int8Codes,
} from '../kernels/quant.js';
import type { QuantArgs } from '../quant_args.js';
import { halfToFloat } from './safetensors.js';
import { floatToHalf } from './safetensors_write.js';

/** W `[n × k]` = scale · (q − zero) of unpacked codes (group of input p: gIdx[p], or p / (k / G)). */
export function dequantizeCodes(c: Int4Codes | Int8Codes, n: number, k: number): Float32Array {
  const G = c.scale.length / n;
  const gIdx = (c as Int4Codes).gIdx;
  const zero = (c as Int4Codes).zeroPoint;
  const dq = new Float32Array(n * k);
  for (let j = 0; j < n; j++)
    for (let p = 0; p < k; p++) {
      const t = G === 1 ? 0 : gIdx ? gIdx[p]! : Math.floor(p / (k / G));
      dq[j * k + p] = c.scale[j * G + t]! * (c.q[j * k + p]! - (zero ? zero[j * G + t]! : 0));
    }
  return dq;
}

/**
 * How a packed weight is quantized, as a file declares it: one group per row when its group spans
 * the row, dynamic act-order when it holds an input order (g_idx).
 */
export function packedQuantArgs(p: PackedInt4 | PackedInt8): QuantArgs {
  if (p instanceof PackedInt8) return { bits: 8, groupSize: 'row', symmetric: true, actOrder: false };
  return {
    bits: 4,
    groupSize: p.groupSize === p.k ? 'row' : p.groupSize,
    symmetric: p.symmetric,
    actOrder: p.perm ? 'dynamic' : false,
  };
}

/** Packs codes back into the type `like` has (same group size, zero points, act-order). */
export async function repack(
  like: PackedInt4 | PackedInt8,
  c: Int4Codes | Int8Codes,
): Promise<PackedInt4 | PackedInt8> {
  const shape = { n: like.n, k: like.k };
  if (like instanceof PackedInt8) return packInt8(c.q, c.scale, shape);
  const c4 = c as Int4Codes;
  return packInt4(c4.q, c4.scale, shape, {
    groupSize: toPackedGroupSize(like.groupSize, like.k, 'an int4 weight'),
    ...(c4.zeroPoint ? { zeroPoint: c4.zeroPoint } : {}),
    ...(c4.gIdx ? { gIdx: c4.gIdx } : {}),
  });
}

/**
 * The same weight with its scales rounded to fp16, for formats that store fp16 scales (GPTQ,
 * GGUF): the model in memory then computes exactly what the written file will.
 * Returns `packed` itself when every scale already is an fp16 value.
 */
export async function withF16Scales<T extends PackedInt4 | PackedInt8>(packed: T): Promise<T> {
  const c = await packed.unpack();
  let changed = false;
  for (let i = 0; i < c.scale.length; i++) {
    const h = halfToFloat(floatToHalf(c.scale[i]!));
    if (h !== c.scale[i]) {
      c.scale[i] = h;
      changed = true;
    }
  }
  return changed ? ((await repack(packed, c)) as T) : packed;
}
