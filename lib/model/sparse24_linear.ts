/**
 * A linear layer on 2:4 sparse packed weights (kernels sparse24_f32, sparse24_w8a8,
 * sparse24_w4a16), and its dense twin for the format writers, which store 2:4 layers as dense
 * codes or values (lib/formats/*).
 */
import { packInt4, packInt8, toPackedGroupSize } from '../kernels/quant.js';
import { matmul, Packed24F32, type Packed24Int4, Packed24Int8, pack24, type Packed24 } from '../kernels/sparse24.js';
import { halfToFloat } from '../formats/safetensors.js';
import { floatToHalf } from '../formats/safetensors_write.js';
import { DenseLinear, type Linear } from './linear.js';
import { QuantLinear } from './quant_linear.js';

export class Sparse24Linear implements Linear {
  readonly outFeatures: number;
  readonly inFeatures: number;

  /** `packed.bits` 8 runs w8a8 (int8 activations), 4 and 32 float activations. */
  constructor(public packed: Packed24) {
    this.outFeatures = packed.n;
    this.inFeatures = packed.k;
  }

  /** The activations the kernel takes. */
  get activations(): 'float' | 'int8' {
    return this.packed.bits === 8 ? 'int8' : 'float';
  }

  forward(x: Float32Array, rows: number): Promise<Float32Array> {
    return matmul(x.subarray(0, rows * this.inFeatures), this.packed);
  }

  /**
   * Rounds the scales to fp16 (repacking), for the formats that store fp16 scales: the layer
   * then computes what the written file holds.
   */
  async roundScalesToF16(): Promise<void> {
    const p = this.packed;
    if (p instanceof Packed24F32) return;
    const { q, scale } = await p.unpack();
    const rounded = Float32Array.from(scale, (v) => halfToFloat(floatToHalf(v)));
    if (rounded.every((v, i) => v === scale[i])) return;
    const shape = { n: p.n, k: p.k };
    this.packed =
      p instanceof Packed24Int8
        ? await pack24(q, rounded, shape, { bits: 8 })
        : await pack24(q, rounded, shape, {
            bits: 4,
            groupSize: toPackedGroupSize(p.groupSize, p.k, 'a 2:4 int4 weight'),
          });
  }
}

/**
 * The model's linear layers with every 2:4 layer replaced by its dense twin (what the writers
 * store); `f16Scales` first rounds the 2:4 layers' scales to fp16 in the model itself.
 */
export async function writableLinears(
  linears: Map<string, Linear>,
  options: { f16Scales?: boolean } = {},
): Promise<Map<string, Linear>> {
  const out = new Map<string, Linear>();
  for (const [name, lin] of linears) {
    if (lin instanceof Sparse24Linear) {
      if (options.f16Scales) await lin.roundScalesToF16();
      out.set(name, await denseTwin(lin));
    } else out.set(name, lin);
  }
  return out;
}

/** The same weights as a dense-packed or fp32 layer (what the format writers store). */
export async function denseTwin(lin: Sparse24Linear): Promise<QuantLinear | DenseLinear> {
  const p = lin.packed;
  const shape = { n: p.n, k: p.k };
  if (p instanceof Packed24F32) return new DenseLinear({ shape: [p.n, p.k], data: await p.unpack() });
  const { q, scale } = await (p as Packed24Int8 | Packed24Int4).unpack();
  if (p instanceof Packed24Int8) return new QuantLinear(await packInt8(q, scale, shape), 'int8');
  return new QuantLinear(
    await packInt4(q, scale, shape, { groupSize: toPackedGroupSize(p.groupSize, p.k, 'a 2:4 int4 weight') }),
    'float',
  );
}

/**
 * Whether the 2:4 kernels run a layer of `k` inputs of this kind: fp32 (`bits` 32), int8 per
 * channel with int8 activations, or int4 symmetric in input order with float activations.
 */
export function has24Kernel(
  k: number,
  kind: { bits: 32 | 8 | 4; activations: 'float' | 'int8'; symmetric: boolean; ordered: boolean },
): boolean {
  if (k % 4 !== 0) return false;
  if (kind.bits === 8) return kind.activations === 'int8';
  return kind.bits === 32 || (kind.activations === 'float' && kind.symmetric && kind.ordered);
}

/** The 2:4 twin of a layer whose weights are 2:4 sparse and that the 2:4 kernels run ({@link has24Kernel}), else undefined. */
export async function sparseTwin(lin: Linear): Promise<Sparse24Linear | undefined> {
  const shape = { n: lin.outFeatures, k: lin.inFeatures };
  try {
    if (lin instanceof DenseLinear)
      return has24Kernel(shape.k, { bits: 32, activations: 'float', symmetric: true, ordered: true })
        ? new Sparse24Linear(await pack24(lin.weight, shape))
        : undefined;
    if (!(lin instanceof QuantLinear)) return undefined;
    const p = lin.packed;
    if (
      !has24Kernel(shape.k, {
        bits: p.bits,
        activations: lin.activations,
        symmetric: p.bits === 8 || p.symmetric,
        ordered: p.bits === 8 || !p.perm,
      })
    )
      return undefined;
    const c = await p.unpack();
    return new Sparse24Linear(
      await pack24(
        c.q,
        c.scale,
        shape,
        p.bits === 8 ? { bits: 8 } : { bits: 4, groupSize: toPackedGroupSize(p.groupSize, p.k, 'a 2:4 int4 weight') },
      ),
    );
  } catch (e) {
    if ((e as { code?: string }).code === 'LLMC_INVALID_ARGUMENT') return undefined; // not 2:4 after all
    throw e;
  }
}
