/**
 * compressed-tensors `sparse-24-bitmask`: a 2:4 sparse weight W `[n × k]` stored as
 *   {layer}.compressed  [n, k/2]        the two kept values of each group of 4 inputs, in input order
 *   {layer}.bitmask     U8 [n, ceil(k/8)] bit i of byte j of a row set when input 8j + i is kept
 *                                         (numpy.packbits(..., bitorder="little") along the row)
 *   {layer}.shape       I64 [2, 1]      = [n, k]
 * Exactly two inputs of every group of four are kept (compressed-tensors picks the two largest
 * magnitudes; a group with fewer than two nonzeros keeps zeros at its first free positions).
 */
import { LlmcError } from '../errors.js';

/** True when every group of 4 consecutive inputs of each row of W `[n × k]` holds at most 2 nonzeros (k a multiple of 4). */
export function is24Sparse(w: ArrayLike<number>, n: number, k: number, zero = 0): boolean {
  if (k % 4 !== 0) return false;
  for (let j = 0; j < n; j++)
    for (let g = 0; g < k; g += 4) {
      let nz = 0;
      for (let t = 0; t < 4; t++) if (w[j * k + g + t] !== zero) nz++;
      if (nz > 2) return false;
    }
  return true;
}

/** Encodes a 2:4 sparse W `[n × k]`; throws naming the first group with more than two nonzeros. */
export function encodeSparse24Bitmask(
  w: Float32Array,
  n: number,
  k: number,
): { compressed: Float32Array; bitmask: Uint8Array } {
  if (k % 4 !== 0)
    throw new LlmcError('LLMC_INVALID_ARGUMENT', `a 2:4 sparse weight needs a multiple of 4 inputs, got ${k}`);
  const stride = Math.ceil(k / 8);
  const compressed = new Float32Array((n * k) / 2);
  const bitmask = new Uint8Array(n * stride);
  let at = 0;
  for (let j = 0; j < n; j++)
    for (let g = 0; g < k; g += 4) {
      const row = j * k + g;
      let keep = 0;
      for (let t = 0; t < 4; t++) if (w[row + t] !== 0) keep |= 1 << t;
      const count = (keep & 1) + ((keep >> 1) & 1) + ((keep >> 2) & 1) + ((keep >> 3) & 1);
      if (count > 2)
        throw new LlmcError(
          'LLMC_INVALID_ARGUMENT',
          `the weight is not 2:4 sparse: row ${j}, inputs ${g}..${g + 3} hold ${count} nonzeros`,
        );
      for (let t = 0, c = count; t < 4 && c < 2; t++)
        if (!(keep & (1 << t))) {
          keep |= 1 << t;
          c++;
        }
      for (let t = 0; t < 4; t++)
        if (keep & (1 << t)) {
          compressed[at++] = w[row + t]!;
          const p = g + t;
          const byte = j * stride + (p >> 3);
          bitmask[byte] = bitmask[byte]! | (1 << (p & 7));
        }
    }
  return { compressed, bitmask };
}

/** Decodes {@link encodeSparse24Bitmask}'s layout back to the dense W `[n × k]`, checking it. */
export function decodeSparse24Bitmask(
  compressed: Float32Array,
  bitmask: Uint8Array,
  n: number,
  k: number,
  where: string,
): Float32Array {
  const stride = Math.ceil(k / 8);
  if (k % 4 !== 0 || compressed.length !== (n * k) / 2 || bitmask.length !== n * stride)
    throw new LlmcError(
      'LLMC_INVALID_ARGUMENT',
      `${where}: sparse-24-bitmask tensors of ${compressed.length} values and ${bitmask.length} mask bytes do not fit shape [${n}, ${k}]`,
    );
  const w = new Float32Array(n * k);
  let at = 0;
  for (let j = 0; j < n; j++)
    for (let g = 0; g < k; g += 4) {
      let kept = 0;
      for (let t = 0; t < 4; t++) {
        const p = g + t;
        if (bitmask[j * stride + (p >> 3)]! & (1 << (p & 7))) {
          w[j * k + p] = compressed[at++]!;
          kept++;
        }
      }
      if (kept !== 2)
        throw new LlmcError(
          'LLMC_INVALID_ARGUMENT',
          `${where}: the bitmask keeps ${kept} of inputs ${g}..${g + 3} of row ${j} (2:4 keeps 2)`,
        );
    }
  return w;
}
