/**
 * `compress()`: a model and a scheme in, the compressed model and a report out (DESIGN.md section
 * 2). The compressed model is returned (its int4 / int8 layers on the packed kernels) and, with
 * `output`, written as a compressed-tensors folder.
 */
import { stat } from 'node:fs/promises';

import { resolveDevice, type Device } from '../device.js';
import { invalidArgument } from '../errors.js';
import type { EvaluateResult } from '../eval/evaluate.js';
import { evaluate, loadModel, Model, type LoadModelOptions } from '../model/model.js';
import { checkBoolean, checkKnownKeys, checkObject } from '../validate.js';
import { checkLayersWritable, checkOutputFormat, checkWritable, writeOutput, type OutputFormat } from './output.js';
import {
  calibrationWindows,
  compressInPlace,
  planLayers,
  type CalibrationOptions,
  type CalibrationWindows,
  type LayerReport,
  type ProgressEvent,
} from './pipeline.js';
import { needsCalibration, resolveSpec, type PruneSpec, type QuantizeSpec, type Scheme } from './schemes.js';

export interface CompressOptions extends Omit<LoadModelOptions, 'lazy'> {
  /** A compressed-tensors preset: W4A16, W4A16_ASYM, W8A16, W8A8, W4A8, W4A16_2:4, W8A8_2:4, 2:4. */
  scheme?: Scheme;
  /** Quantization (overrides the preset's): `{ method: 'gptq' | 'rtn', bits, groupSize, symmetric, actOrder, dampPercent, mse }`. */
  quantize?: QuantizeSpec;
  /** Pruning (overrides the preset's): `{ method: 'sparsegpt' | 'wanda' | 'magnitude', sparsity | structure }`. */
  prune?: PruneSpec;
  /**
   * Activations of the quantized layers at run time: `'int8'` (per token, as W8A8 / W4A8 do) or
   * `'float'`. Default: what the scheme says (float without one).
   */
  activations?: 'float' | 'int8';
  /** Calibration text (GPTQ, SparseGPT and Wanda need it). */
  calibration?: CalibrationOptions;
  /** Layers left as they are: exact names or regular expressions. The classifier is never compressed. */
  ignore?: Array<string | RegExp>;
  /**
   * Write the compressed model here (compressed-tensors `pack-quantized`, atomically: a temporary
   * folder renamed at the end; nothing is written when the run fails or is aborted). Needs a model
   * loaded from a Hugging Face folder — except for `format: 'gguf'`, where `output` is the `.gguf`
   * file (a temporary sibling file renamed at the end) and any source works.
   */
  output?: string;
  /** The format written to `output`. Default `'compressed-tensors'`. */
  format?: OutputFormat;
  /** Replace `output` when it exists. Default false. */
  overwrite?: boolean;
  /**
   * Where the Hessians and the GPTQ / SparseGPT column loops run: `'cpu'` (default), `'cuda'` (an
   * NVIDIA GPU; an error when none is usable) or `'auto'` (the GPU when one is usable, else the CPU).
   * The first progress event, stage `device`, says which and why. The forward passes that produce
   * the calibration inputs run on the CPU either way. (The default becomes `'auto'` once the CUDA
   * path has been validated on GPU hardware: docs/cuda.md.)
   */
  device?: Device;
  /** Measure quality before and after on this text (DESIGN.md section 7 protocol, KL against the original). */
  evaluate?: { file: string; paragraphs?: [number, number] };
  onProgress?: (e: ProgressEvent) => void;
  /** Aborts between layers with an AbortError. */
  signal?: AbortSignal;
}

export interface CompressReport {
  /** Average storage bits per weight of the compressed layers. */
  bitsPerWeight: number;
  /** fp32 bytes of all tensors before, and the storage bytes after (uncompressed tensors at fp32). */
  originalBytes: number;
  compressedBytes: number;
  ratio: number;
  /** Where the Hessians and the column loops ran. */
  device: 'cpu' | 'cuda';
  layers: LayerReport[];
  totalMs: number;
  quality?: { before: EvaluateResult; after: EvaluateResult };
}

/**
 * Compresses a model layer by layer (GPTQ / SparseGPT / RTN / Wanda / magnitude) and reports what
 * it did. The input model (a path, or a Model from loadModel) is compressed in place when a Model
 * is given.
 *
 * @example
 * ```ts
 * const { model, report } = await compress('../shared/models/tinystories-656k', {
 *   prependSpace: false, scheme: 'W4A16', quantize: { groupSize: 32 },
 *   calibration: { file: '../shared/text/tinystories_val.txt', paragraphs: [1000, 4300] },
 *   evaluate: { file: '../shared/text/tinystories_val.txt', paragraphs: [0, 500] },
 * });
 * console.log(report.bitsPerWeight, report.quality?.after.bitsPerByte);
 * ```
 */
export async function compress(
  source: string | Model,
  options: CompressOptions,
): Promise<{ model: Model; report: CompressReport }> {
  const o = checkObject('options', options);
  checkKnownKeys('options', o, [
    'scheme',
    'quantize',
    'prune',
    'activations',
    'calibration',
    'ignore',
    'output',
    'format',
    'overwrite',
    'evaluate',
    'device',
    'onProgress',
    'signal',
    'prependSpace',
    'tokenizer',
  ]);
  if (o.output !== undefined && (typeof o.output !== 'string' || o.output.length === 0))
    throw invalidArgument('options.output', 'a folder path (a .gguf file path for gguf)', o.output);
  const format = o.format === undefined ? 'compressed-tensors' : checkOutputFormat(o.format);
  const overwrite = o.overwrite === undefined ? false : checkBoolean('options.overwrite', o.overwrite);
  if (
    o.output !== undefined &&
    !overwrite &&
    (await stat(o.output as string).then(
      () => true,
      () => false,
    ))
  )
    throw invalidArgument('options.output', 'a path that does not exist yet (or overwrite: true)', o.output);
  const spec = resolveSpec(o.scheme, o.quantize, o.prune, o.activations);
  const device = resolveDevice('options.device', o.device ?? 'cpu');
  const ignore = (o.ignore === undefined ? [] : (o.ignore as unknown[])).map((p, i) => {
    if (p instanceof RegExp) return p;
    if (typeof p === 'string') return new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    throw invalidArgument(`options.ignore[${i}]`, 'a layer name or a RegExp', p);
  });
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    throw invalidArgument('options.signal', 'an AbortSignal', o.signal);
  const loadOpts: LoadModelOptions = {
    ...(o.tokenizer !== undefined ? { tokenizer: o.tokenizer as string } : {}),
    ...(o.prependSpace !== undefined ? { prependSpace: o.prependSpace as boolean } : {}),
  };
  // Lazily: each block's fp32 weights are read when the pipeline reaches it and released once compressed.
  const model =
    source instanceof Model
      ? source
      : typeof source === 'string'
        ? await loadModel(source, { ...loadOpts, lazy: true })
        : undefined;
  if (!model) throw invalidArgument('source', 'a model path or a Model from loadModel', source);
  // Everything that can be refused is refused here, before any compute: the spec against the
  // output format and every layer's shape, and the calibration text.
  if (o.output !== undefined) checkWritable(model, format, spec);
  const plan = planLayers(model, spec, ignore);
  if (o.output !== undefined) checkLayersWritable(model, format, spec, plan);
  let calibration: CalibrationWindows | undefined;
  if (needsCalibration(spec)) {
    if (o.calibration === undefined)
      throw invalidArgument(
        'options.calibration',
        'calibration text (file or text) for GPTQ, SparseGPT and Wanda',
        undefined,
      );
    calibration = await calibrationWindows(model, o.calibration as CalibrationOptions);
  }
  const t0 = performance.now();
  const ev = o.evaluate as CompressOptions['evaluate'];
  // The original, for quality before and KL after (loaded again: the model is compressed in place).
  const reference = ev
    ? source instanceof Model
      ? undefined
      : await loadModel(source as string, loadOpts)
    : undefined;
  if (ev && !reference)
    throw invalidArgument('options.evaluate', 'a model given by path (the original is reloaded to compare with)', ev);
  const onProgress = o.onProgress as ((e: ProgressEvent) => void) | undefined;
  onProgress?.({
    stage: 'device',
    device: device.device,
    note: device.note,
    done: 1,
    total: 1,
    elapsedMs: performance.now() - t0,
  });
  const evalProgress = (phase: 'before' | 'after') =>
    onProgress
      ? {
          onProgress: ({ done, total }: { done: number; total: number }) =>
            onProgress({ stage: 'evaluate', phase, done, total, elapsedMs: performance.now() - t0 }),
        }
      : {};
  const before =
    ev && reference
      ? await evaluate(reference, {
          file: ev.file,
          ...(ev.paragraphs ? { paragraphs: ev.paragraphs } : {}),
          ...evalProgress('before'),
        })
      : undefined;
  const sizes = new Map([...model.llama.linears.entries()].map(([n, l]) => [n, l.outFeatures * l.inFeatures]));
  const layers = await compressInPlace(model, spec, plan, {
    device: device.device,
    ...(calibration ? { calibration } : {}),
    ...(onProgress ? { onProgress } : {}),
    ...(o.signal ? { signal: o.signal as AbortSignal } : {}),
  });
  const c = model.config;
  const allWeights =
    [...sizes.entries()].filter(([n]) => n !== 'lm_head').reduce((a, [, v]) => a + v, 0) +
    c.vocabSize * c.dim * (c.tiedEmbeddings ? 1 : 2) +
    c.dim * (2 * c.nLayers + 1);
  const compressedWeights = layers.reduce((a, l) => a + l.shape[0] * l.shape[1], 0);
  const compressedBits = layers.reduce((a, l) => a + l.shape[0] * l.shape[1] * l.bitsPerWeight, 0);
  const originalBytes = allWeights * 4;
  const compressedBytes = Math.ceil(compressedBits / 8) + (allWeights - compressedWeights) * 4;
  if (o.output !== undefined) {
    onProgress?.({ stage: 'write', done: 0, total: 1, elapsedMs: performance.now() - t0 });
    await writeOutput(model, o.output as string, format, { overwrite });
    onProgress?.({ stage: 'write', done: 1, total: 1, elapsedMs: performance.now() - t0 });
  }
  let quality: CompressReport['quality'];
  if (ev && reference && before) {
    const after = await evaluate(model, {
      file: ev.file,
      ...(ev.paragraphs ? { paragraphs: ev.paragraphs } : {}),
      reference,
      ...evalProgress('after'),
    });
    quality = { before, after };
    reference.dispose();
  }
  return {
    model,
    report: {
      bitsPerWeight: compressedWeights ? compressedBits / compressedWeights : 0,
      originalBytes,
      compressedBytes,
      ratio: originalBytes / compressedBytes,
      device: device.device,
      layers,
      totalMs: performance.now() - t0,
      ...(quality ? { quality } : {}),
    },
  };
}
