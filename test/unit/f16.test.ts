import { describe, expect, it } from 'vitest';

import { halfToFloat } from '../../lib/formats/safetensors.js';
import { encodeF16, floatToHalf } from '../../lib/formats/safetensors_write.js';

describe('floatToHalf', () => {
  it('maps every half value back to itself and rounds midpoints to even', () => {
    let bad = 0;
    let midpoints = 0;
    for (let h = 0; h < 0x10000; h++) {
      const f = halfToFloat(h);
      if (Number.isNaN(f)) {
        if (!Number.isNaN(halfToFloat(floatToHalf(f)))) bad++;
        continue;
      }
      if (floatToHalf(f) !== h) bad++;
      // The midpoint between h and the next half of the same sign (finite ones only).
      if ((h & 0x7fff) >= 0x7bff) continue;
      const mid = (f + halfToFloat(h + 1)) / 2;
      if (Math.fround(mid) !== mid) continue;
      midpoints++;
      if (floatToHalf(mid) !== ((h & 1) === 0 ? h : h + 1)) bad++;
      // Just off the midpoint, toward h, goes to h.
      if (floatToHalf(Math.fround(mid + (f - mid) / 64)) !== h) bad++;
    }
    expect(bad).toBe(0);
    expect(midpoints).toBeGreaterThan(60000);
  });

  it('handles overflow, underflow and special values', () => {
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(65519.99)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00);
    expect(floatToHalf(-Infinity)).toBe(0xfc00);
    expect(floatToHalf(0.1)).toBe(0x2e66);
    expect(floatToHalf(2 ** -25)).toBe(0); // halfway to the smallest subnormal: even (zero)
    expect(floatToHalf(2 ** -25 * 1.01)).toBe(1);
    expect(floatToHalf(-0)).toBe(0x8000);
    expect(Array.from(encodeF16(Float32Array.of(1, -2, 0.5)))).toEqual([0x3c00, 0xc000, 0x3800]);
  });
});
