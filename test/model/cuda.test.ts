// The device selection and the GPU runtime on a real model of ../shared (the rest is in test/unit/cuda.test.ts).
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { cudaUnavailable } from '../../lib/device.js';
import { compress, evaluate, loadModel } from '../../lib/index.js';
import { haveShared, STORIES, TEXT } from '../helpers/paths.js';

const noGpu = cudaUnavailable();
const stories = join(STORIES, 'stories260K.bin');
const text = TEXT;
const have = haveShared('the device tests on stories260K', stories, text);

describe.skipIf(!have)('device selection (stories260K)', () => {
  it.runIf(noGpu !== null)("compress() with device 'auto' reports the CPU in its first progress event", async () => {
    const events: Array<{ stage: string; note?: string }> = [];
    const { report, model: m } = await compress(stories, {
      scheme: 'W8A16',
      quantize: { method: 'rtn' },
      device: 'auto',
      onProgress: (e) => events.push(e),
    });
    m.dispose();
    expect(report.device).toBe('cpu');
    expect(events[0]).toMatchObject({ stage: 'device', device: 'cpu' });
    expect(events[0]!.note).toContain('no CUDA device');
  });

  it.runIf(noGpu !== null)(
    "loadModel: device 'cuda' without a GPU is a typed error, 'auto' stays on the CPU",
    async () => {
      await expect(loadModel(stories, { device: 'cuda' })).rejects.toMatchObject({
        code: 'LLMC_UNSUPPORTED',
        argument: 'options.device',
      });
      const m = await loadModel(stories, { device: 'auto' });
      expect(m.device).toBe('cpu');
      m.dispose();
    },
  );
});

describe.skipIf(!have || noGpu !== null)('CUDA runtime (stories260K)', () => {
  it('a model with its linear layers on the GPU scores as on the CPU (dense layers as f16)', async () => {
    const cpu = await loadModel(stories);
    const gpu = await loadModel(stories, { device: 'cuda' });
    expect(gpu.device).toBe('cuda');
    const a = await evaluate(cpu, { file: text, paragraphs: [0, 20] });
    const b = await evaluate(gpu, { file: text, paragraphs: [0, 20] });
    expect(Math.abs(b.bitsPerByte - a.bitsPerByte) / a.bitsPerByte).toBeLessThan(5e-3);
    cpu.dispose();
    gpu.dispose();
  });
});
