/**
 * Rotary-embedding row order of the Q and K projections. llama2.c and GGUF rotate pairs
 * (2i, 2i+1) of each head ('interleaved'); Hugging Face rotates (i, i + headDim/2) ('half'). The
 * two are the same model with the rows of q_proj and k_proj permuted inside each head: row 2i + t
 * of a head moves to t·headDim/2 + i (what Transformers' convert_llama_weights_to_hf applies).
 */
import { repack } from '../formats/packed_codes.js';
import { DenseLinear, type Linear } from './linear.js';
import { QuantLinear } from './quant_linear.js';
import type { LlamaConfig } from './types.js';

/** perm[newRow] = oldRow, for `heads` heads of `headDim` rows, interleaved → half. */
function halfOrder(heads: number, headDim: number): Int32Array {
  const perm = new Int32Array(heads * headDim);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < headDim / 2; i++)
      for (let t = 0; t < 2; t++) perm[h * headDim + t * (headDim / 2) + i] = h * headDim + 2 * i + t;
  return perm;
}

function permuteRows<T extends Int8Array | Uint8Array | Float32Array>(a: T, perm: Int32Array): T {
  const cols = a.length / perm.length;
  const out = new (a.constructor as new (n: number) => T)(a.length);
  for (const [to, from] of perm.entries()) out.set(a.subarray(from * cols, (from + 1) * cols), to * cols);
  return out;
}

async function permuteLinear(lin: Linear, perm: Int32Array): Promise<Linear> {
  if (lin instanceof DenseLinear)
    return new DenseLinear({ shape: [lin.outFeatures, lin.inFeatures], data: permuteRows(lin.weight, perm) });
  if (lin instanceof QuantLinear) {
    const c = await lin.packed.unpack();
    const zero = (c as { zeroPoint?: Uint8Array }).zeroPoint;
    const moved = {
      ...c,
      q: permuteRows(c.q, perm),
      scale: permuteRows(c.scale, perm),
      ...(zero ? { zeroPoint: permuteRows(zero, perm) } : {}),
    };
    return new QuantLinear(await repack(lin.packed, moved), lin.activations);
  }
  throw new TypeError(`cannot permute the rows of a ${(lin as object).constructor.name}`);
}

/**
 * Converts a model in 'interleaved' order to Hugging Face's 'half' order in place (its Q/K rows
 * permuted, `config.ropeStyle` set): it computes exactly what it did, and can be written as HF.
 */
export async function toHalfRope(model: {
  config: LlamaConfig;
  llama: { linears: Map<string, Linear> };
}): Promise<void> {
  const c = model.config;
  if (c.ropeStyle === 'half') return;
  const headDim = c.dim / c.nHeads;
  const q = halfOrder(c.nHeads, headDim);
  const k = halfOrder(c.nKvHeads, headDim);
  for (let i = 0; i < c.nLayers; i++) {
    for (const [name, perm] of [
      [`model.layers.${i}.self_attn.q_proj`, q],
      [`model.layers.${i}.self_attn.k_proj`, k],
    ] as const)
      model.llama.linears.set(name, await permuteLinear(model.llama.linears.get(name)!, perm));
  }
  c.ropeStyle = 'half';
}
