import { describe, expect, it } from 'vitest';

import { weightsArgs } from '../../lib/formats/compressed_tensors.js';
import { ggmlTypeOf } from '../../lib/formats/gguf_write.js';
import { gptqLayerConfig } from '../../lib/formats/gptq.js';
import { packedQuantArgs } from '../../lib/formats/packed_codes.js';
import { kernels } from '../../lib/index.js';
import { packedGroupSize, toPackedGroupSize } from '../../lib/kernels/quant.js';
import { checkQuantArgs, layerQuantArgs, nativeQuantParams, type QuantArgs } from '../../lib/quant_args.js';
import { expectError } from '../helpers/errors.js';

describe('QuantArgs', () => {
  it('checkQuantArgs fills the defaults and names the argument it refuses', async () => {
    expect(checkQuantArgs('options.quantize', {})).toEqual({
      bits: 4,
      groupSize: 128,
      symmetric: true,
      actOrder: false,
    });
    expect(checkQuantArgs('options.quantize', { bits: 8, groupSize: 'row', actOrder: 'dynamic' })).toEqual({
      bits: 8,
      groupSize: 'row',
      symmetric: true,
      actOrder: 'dynamic',
    });
    await expectError(
      () => checkQuantArgs('options.quantize', { bits: 9 }),
      'LLMC_INVALID_ARGUMENT',
      'options.quantize.bits',
    );
    await expectError(
      () => checkQuantArgs('options.quantize', { groupSize: 0 }),
      'LLMC_INVALID_ARGUMENT',
      'options.quantize.groupSize',
    );
    await expectError(
      () => checkQuantArgs('options.quantize', { groupSize: 'channel' }),
      'LLMC_INVALID_ARGUMENT',
      'options.quantize.groupSize',
    );
    await expectError(
      () => checkQuantArgs('options.quantize', { bits: 8, symmetric: false }),
      'LLMC_INVALID_ARGUMENT',
      'options.quantize.symmetric',
    );
    await expectError(() => checkQuantArgs('options', { actOrder: true }), 'LLMC_INVALID_ARGUMENT', 'options.actOrder');
  });

  it("layerQuantArgs makes a group that spans the row 'row' and refuses one that does not divide it", async () => {
    const args = checkQuantArgs('q', { groupSize: 64 });
    expect(layerQuantArgs(args, 128, 'q.groupSize', 'cols = 128').groupSize).toBe(64);
    expect(layerQuantArgs(args, 64, 'q.groupSize', 'cols = 64').groupSize).toBe('row');
    const e = await expectError(
      () => layerQuantArgs(args, 172, 'q.groupSize', 'the 172 inputs of down_proj'),
      'LLMC_INVALID_ARGUMENT',
      'q.groupSize',
    );
    expect(e.message).toBe(
      "Invalid q.groupSize: expected a divisor of the 172 inputs of down_proj (or 'row'), got 64 (number)",
    );
  });

  it("spells 'row' as each consumer does: native 0, packed 'row', GPTQ -1, compressed-tensors null", async () => {
    const row: QuantArgs = { bits: 4, groupSize: 'row', symmetric: false, actOrder: 'dynamic' };
    const g32: QuantArgs = { ...row, groupSize: 32 };
    expect(nativeQuantParams(row, 96)).toEqual({ bits: 4, group: 0, symmetric: 0, actOrder: 2 });
    expect(nativeQuantParams({ ...g32, groupSize: 96 }, 96).group).toBe(0);
    expect(nativeQuantParams(g32, 96).group).toBe(32);
    expect([
      packedGroupSize('row', 96),
      packedGroupSize(96, 96),
      packedGroupSize(32, 96),
      packedGroupSize(48, 96),
      packedGroupSize(64, 96),
    ]).toEqual(['row', 'row', 32, undefined, undefined]);
    expect((await expectError(() => toPackedGroupSize(48, 96, 'w'), 'LLMC_UNSUPPORTED')).message).toBe(
      'w: group size 48 (the int4 kernels take 32, 64, 128 or one per row)',
    );
    expect(gptqLayerConfig(row)).toEqual({ bits: 4, group_size: -1, desc_act: false, sym: false });
    expect(gptqLayerConfig(g32)).toEqual({ bits: 4, group_size: 32, desc_act: true, sym: false });
    await expectError(() => gptqLayerConfig({ ...row, bits: 3 }), 'LLMC_UNSUPPORTED');
    expect(weightsArgs(row)).toMatchObject({ strategy: 'channel', group_size: null, actorder: null });
    expect(weightsArgs(g32)).toMatchObject({ strategy: 'group', group_size: 32, actorder: 'group' });
    expect([
      ggmlTypeOf(row, 96, 'Q4_0'),
      ggmlTypeOf({ ...row, symmetric: true }, 256, 'Q6_K'),
      ggmlTypeOf({ ...row, bits: 8, symmetric: true }, 64, 'Q4_0'),
      ggmlTypeOf(g32, 100, 'Q4_0'),
    ]).toEqual(['Q4_1', 'Q6_K', 'Q8_0', undefined]);
  });

  it('packedQuantArgs reads a packed weight back as the args it was packed with', async () => {
    const n = 2;
    const k = 64;
    const q = new Int8Array(n * k);
    const row = await kernels.packInt4(q, new Float32Array(n).fill(1), { n, k }, { groupSize: 'row' });
    const g32 = await kernels.packInt4(
      q,
      new Float32Array(n * 2).fill(1),
      { n, k },
      { groupSize: 32, zeroPoint: new Uint8Array(n * 2).fill(8) },
    );
    const w8 = await kernels.packInt8(q, new Float32Array(n).fill(1), { n, k });
    expect(packedQuantArgs(row)).toEqual({ bits: 4, groupSize: 'row', symmetric: true, actOrder: false });
    expect(packedQuantArgs(g32)).toEqual({ bits: 4, groupSize: 32, symmetric: false, actOrder: false });
    expect(packedQuantArgs(w8)).toEqual({ bits: 8, groupSize: 'row', symmetric: true, actOrder: false });
  });
});
