/** Writing safetensors files: an 8-byte header length, the JSON header, then the tensors' bytes. */
import { open } from 'node:fs/promises';

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F16' | 'I32' | 'I64' | 'U8';
  shape: number[];
  /** F32: Float32Array; F16: Uint16Array of IEEE half bits (see {@link encodeF16}); I32: Int32Array; I64: BigInt64Array; U8: Uint8Array. */
  data: Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE half-precision bits nearest to `x` (round half to even; overflow to ±Inf; NaN kept). */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  // Normal halves keep 10 of the 23 mantissa bits; subnormal ones (e <= 0) shift the implicit 1 in.
  const m = e > 0 ? mant : mant | 0x800000;
  const shift = e > 0 ? 13 : 14 - e;
  if (shift > 24) return sign;
  let half = (e > 0 ? e << 10 : 0) | (m >>> shift);
  const rem = m & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++; // a carry into the exponent is right
  return sign | half;
}

/** Narrows float32 values to IEEE half bits (round half to even). */
export function encodeF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]!);
  return out;
}

/** Writes `tensors` (in order) to `path`; the header is padded with spaces to a multiple of 8 bytes. */
export async function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let at = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.data.byteLength] };
    at += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const file = await open(path, 'w');
  try {
    await file.write(head);
    await file.write(Buffer.from(json));
    for (const t of tensors) await file.write(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    await file.sync();
  } finally {
    await file.close();
  }
}
