import { describe, expect, it } from 'vitest';

import { decodeSparse24Bitmask, encodeSparse24Bitmask, is24Sparse } from '../../lib/formats/sparse24_bitmask.js';
import { LlmcError } from '../../lib/index.js';

describe('compressed-tensors sparse-24-bitmask', () => {
  it('matches a hand-encoded example (numpy packbits, little bit order; two kept per group of 4)', () => {
    // Row 0: group 0 keeps inputs 1 and 3; group 1 has one nonzero (input 4) and keeps input 5 as a zero.
    // Row 1: groups keep inputs 0, 2 and 6, 7.
    const w = Float32Array.of(0, 1.5, 0, -2, 3, 0, 0, 0, 4, 0, 5, 0, 0, 0, -6, 7);
    const { compressed, bitmask } = encodeSparse24Bitmask(w, 2, 8);
    expect(Array.from(compressed)).toEqual([1.5, -2, 3, 0, 4, 5, -6, 7]);
    expect(Array.from(bitmask)).toEqual([0b00111010, 0b11000101]);
    expect(decodeSparse24Bitmask(compressed, bitmask, 2, 8, 'w')).toEqual(w);
  });

  it('round-trips random 2:4 weights with k not a multiple of 8, and detects the pattern', () => {
    const n = 5;
    const k = 12;
    const w = new Float32Array(n * k);
    for (let j = 0; j < n; j++)
      for (let g = 0; g < k; g += 4) {
        const a = (j + g) % 4;
        const b = (a + 1 + (j % 3)) % 4;
        w[j * k + g + a] = j + g / 4 + 0.5;
        w[j * k + g + b] = -(j + 1) * 0.25;
      }
    expect(is24Sparse(w, n, k)).toBe(true);
    const { compressed, bitmask } = encodeSparse24Bitmask(w, n, k);
    expect(bitmask.length).toBe(n * 2);
    expect(decodeSparse24Bitmask(compressed, bitmask, n, k, 'w')).toEqual(w);
    w[3] = 1; // row 0, group 0 now has three nonzeros
    expect(is24Sparse(w, n, k)).toBe(false);
    expect(() => encodeSparse24Bitmask(w, n, k)).toThrow(/row 0, inputs 0\.\.3 hold 3 nonzeros/);
    expect(is24Sparse(new Float32Array(6), 1, 6)).toBe(false); // not a multiple of 4
  });

  it('refuses tensors that do not fit the shape or keep other than 2 of 4', () => {
    const { compressed, bitmask } = encodeSparse24Bitmask(Float32Array.of(1, 2, 0, 0), 1, 4);
    expect(() => decodeSparse24Bitmask(compressed, bitmask, 1, 8, 'x')).toThrow(LlmcError);
    expect(() => decodeSparse24Bitmask(compressed, Uint8Array.of(0b0111), 1, 4, 'x')).toThrow(
      /keeps 3 of inputs 0\.\.3 of row 0/,
    );
  });
});
