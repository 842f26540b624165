/**
 * The layer-by-layer compression pipeline (DESIGN.md section 7): calibration windows run through
 * the model block by block; inside a block, in the order [q, k, v] → o → [gate, up] → down, each
 * stage's Hessian is taken from inputs computed with the already compressed sub-layers before it,
 * then the stage's layers are compressed and swapped in.
 */
import { readFile } from 'node:fs/promises';

import { invalidArgument, LlmcError } from '../errors.js';
import { encodeParagraphs } from '../eval/evaluate.js';
import { splitParagraphs } from '../eval/text.js';
import {
  HessianAccumulator,
  gptq,
  magnitude,
  rtn,
  sparsegpt,
  wanda,
  type QuantizedCodes,
} from '../kernels/compress.js';
import { packedGroupSize, packInt4, packInt8, toPackedGroupSize } from '../kernels/quant.js';
import { gemm } from '../kernels/gemm.js';
import { DenseLinear, type Linear } from '../model/linear.js';
import type { Model } from '../model/model.js';
import { QuantLinear } from '../model/quant_linear.js';
import { has24Kernel, sparseTwin } from '../model/sparse24_linear.js';
import { groupLength, hasGroupIndex, layerQuantArgs, type QuantArgs } from '../quant_args.js';
import { checkInteger, checkObject, checkKnownKeys } from '../validate.js';
import { pruneGroup, type ResolvedSpec } from './schemes.js';

export interface CalibrationOptions {
  /** Text file whose paragraphs (split on blank lines) are encoded with BOS, as the eval protocol does. */
  file?: string;
  /** Or the paragraphs themselves. */
  text?: string[];
  /** Paragraphs [a, b) of the file. Default: all. */
  paragraphs?: [number, number];
  /** Windows to use. Default 128. */
  samples?: number;
  /** Tokens per window. Default 256. */
  seqLen?: number;
}

/**
 * Progress of compress(), in stages: `device` (once, first: where the Hessians and the GPTQ /
 * SparseGPT loops run, and why), `evaluate` (phase `before`, with `options.evaluate`: the
 * original model), `compress` (one event per compressed layer, with its module and loss),
 * `write` (with `output`), `evaluate` (phase `after`). `done` of `total` counts windows for
 * evaluate, layers for compress, files for write.
 */
export interface ProgressEvent {
  stage: 'device' | 'evaluate' | 'compress' | 'write';
  /** For device: the device chosen and a line saying why (e.g. `cpu: no CUDA device (no NVIDIA driver found)`). */
  device?: 'cpu' | 'cuda';
  note?: string;
  /** For evaluate: the original model or the compressed one. */
  phase?: 'before' | 'after';
  done: number;
  total: number;
  /** For compress: the block (0-based) and the number of blocks. */
  layer?: number;
  layers?: number;
  module?: string;
  loss?: number;
  /** Since compress() started. */
  elapsedMs: number;
}

export interface LayerReport {
  name: string;
  /** [out, in]. */
  shape: [number, number];
  method: string;
  /** ½·tr(ΔW·H·ΔWᵀ) the algorithm minimized (0 for data-free methods). */
  loss: number;
  /** ‖(W − Ŵ)·X‖² / ‖W·X‖² on the calibration inputs (when they were collected). */
  relError?: number;
  ms: number;
  /** Storage bits per weight of the compressed layer (codes, scales, sparsity metadata). */
  bitsPerWeight: number;
}

const STAGES = [
  ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'],
  ['self_attn.o_proj'],
  ['mlp.gate_proj', 'mlp.up_proj'],
  ['mlp.down_proj'],
];

/** Calibration token windows [samples × seqLen]. */
export interface CalibrationWindows {
  tokens: Int32Array;
  samples: number;
  seqLen: number;
}

/** The calibration windows `options` select from the model's tokenization of the text. */
export async function calibrationWindows(model: Model, options: CalibrationOptions): Promise<CalibrationWindows> {
  const o = checkObject('options.calibration', options);
  checkKnownKeys('options.calibration', o, ['file', 'text', 'paragraphs', 'samples', 'seqLen']);
  const samples = o.samples === undefined ? 128 : checkInteger('options.calibration.samples', o.samples, 1);
  const seqLen =
    o.seqLen === undefined ? 256 : checkInteger('options.calibration.seqLen', o.seqLen, 2, model.config.maxSeqLen);
  if ((o.file === undefined) === (o.text === undefined))
    throw invalidArgument('options.calibration', 'exactly one of file or text', o);
  let paragraphs =
    o.text !== undefined ? (o.text as unknown[]).map(String) : splitParagraphs(await readFile(String(o.file), 'utf8'));
  if (o.paragraphs !== undefined) {
    const r = o.paragraphs as unknown;
    if (!Array.isArray(r) || r.length !== 2) throw invalidArgument('options.calibration.paragraphs', '[start, end]', r);
    paragraphs = paragraphs.slice(
      checkInteger('options.calibration.paragraphs[0]', r[0], 0),
      checkInteger('options.calibration.paragraphs[1]', r[1], 0),
    );
  }
  const { stream } = encodeParagraphs(model.tokenizer, paragraphs);
  const available = Math.floor(stream.length / seqLen);
  if (available < samples)
    throw new LlmcError(
      'LLMC_INVALID_ARGUMENT',
      `the calibration text is too short: ${stream.length} tokens make ${available} windows of ${seqLen}, ${samples} requested (lower calibration.samples or give more text)`,
    );
  return { tokens: stream.slice(0, samples * seqLen), samples, seqLen };
}

/** Records the Hessian of the inputs a linear layer sees, and passes them through. */
class CapturingLinear implements Linear {
  readonly outFeatures: number;
  readonly inFeatures: number;
  constructor(
    readonly inner: Linear,
    readonly acc: HessianAccumulator,
  ) {
    this.outFeatures = inner.outFeatures;
    this.inFeatures = inner.inFeatures;
  }
  async forward(x: Float32Array, rows: number): Promise<Float32Array> {
    await this.acc.add(x.subarray(0, rows * this.inFeatures));
    return this.inner.forward(x, rows);
  }
}

function bitsPerWeight(spec: ResolvedSpec, cols: number): number {
  const q = spec.quantize?.args;
  const valueBits = q ? q.bits : 16;
  const scaleBits = q ? (16 + (q.symmetric ? 0 : q.bits)) / groupLength(q.groupSize, cols) : 0; // fp16 scale (+ zero point) per group
  const p = spec.prune;
  if (!p) return valueBits + scaleBits;
  if (p.structure) {
    const [n, m] = p.structure.split(':').map(Number) as [number, number];
    const keep = (m - n) / m;
    return keep * (valueBits + Math.log2(m)) + scaleBits; // kept values + their index within each group of M
  }
  return (1 - p.sparsity!) * valueBits + 1 + scaleBits; // kept values + a bitmask
}

/** ½·Σ (A·H) ∘ A over rows: ½·tr(A·H·Aᵀ). */
async function quadratic(a: Float32Array, h: Float32Array, rows: number, cols: number): Promise<number> {
  const ah = await gemm(a, h, { m: rows, n: cols, k: cols }, { transB: false });
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ah[i]! * a[i]!;
  return 0.5 * s;
}

async function compressLayer(
  weight: Float32Array,
  rows: number,
  cols: number,
  h: Float32Array | undefined,
  spec: ResolvedSpec,
  device: 'cpu' | 'cuda',
) {
  const shape = { rows, cols };
  const q = spec.quantize;
  const p = spec.prune;
  const quantOpts = q
    ? { bits: q.args.bits, groupSize: q.args.groupSize, symmetric: q.args.symmetric, mse: q.mse }
    : undefined;
  const loop = q ? { dampPercent: q.dampPercent, device } : { device };
  const pruneOpts = p ? (p.structure ? { structure: p.structure } : { sparsity: p.sparsity! }) : undefined;
  let out: Float32Array;
  let loss = 0;
  let method: string;
  let codes: QuantizedCodes | undefined;
  if (p?.method === 'sparsegpt') {
    const r = await sparsegpt(weight, h!, shape, {
      ...pruneOpts!,
      ...loop,
      ...(q?.method === 'gptq' ? { quantize: quantOpts! } : {}),
    });
    out = r.weight;
    loss = r.loss;
    method = q?.method === 'gptq' ? 'sparsegpt+gptq' : 'sparsegpt';
    if (r.q && r.scale) codes = r as QuantizedCodes; // pruned weights are codes of zero
  } else if (p) {
    const r =
      p.method === 'wanda'
        ? await wanda(weight, shape, { ...pruneOpts!, hessian: h! })
        : await magnitude(weight, shape, pruneOpts!);
    out = r.weight;
    method = p.method;
  } else if (q!.method === 'gptq') {
    const r = await gptq(weight, h!, shape, { ...quantOpts!, ...loop, actOrder: q!.args.actOrder });
    out = r.weight;
    loss = r.loss;
    method = 'gptq';
    codes = r;
  } else {
    out = weight;
    method = '';
  }
  if (q?.method === 'rtn') {
    const r = await rtn(out, shape, quantOpts!);
    out = r.weight;
    codes = r; // after pruning too: a pruned (zero) weight rounds to a code of exactly zero
    method = method ? `${method}+rtn` : 'rtn';
  }
  return { weight: out, loss, method, codes };
}

/** What {@link compressInPlace} makes of one linear layer, known before any compute. */
export interface LayerPlan {
  name: string;
  rows: number;
  cols: number;
  /** The layer's quantization as its codes hold it (groupSize `'row'` when one group spans its inputs). */
  quant?: QuantArgs;
  /**
   * The kernel the compressed layer runs on: packed `int4` (groups of 32, 64, 128 or one per row)
   * or `int8` (symmetric, one scale per row) codes, else the dequantized weight on the fp32 GEMM
   * (`dense`: other widths and groups, pruned-only layers).
   */
  kernel: 'int4' | 'int8' | 'dense';
  /** Whether it then runs on the 2:4 kernels (2:4 pruning, and a kernel type they have). */
  sparse24: boolean;
}

/**
 * Plans every layer compressInPlace compresses (all but the `ignore`d ones, in its order), and
 * refuses before any compute a spec that does not fit a layer's shape: a group that does not
 * divide its inputs (or GPTQ's 128-column blocks), an N:M structure whose M does not, or a layer
 * that is not dense fp32.
 */
export function planLayers(model: Model, spec: ResolvedSpec, ignore: RegExp[]): LayerPlan[] {
  const plans: LayerPlan[] = [];
  const q = spec.quantize;
  // Only GPTQ on its own orders the columns (RTN and SparseGPT take the inputs in order).
  const args = q && (q.method !== 'gptq' || spec.prune) ? { ...q.args, actOrder: false as const } : q?.args;
  const m = spec.prune?.structure === undefined ? undefined : pruneGroup(spec.prune.structure);
  for (let i = 0; i < model.config.nLayers; i++)
    for (const stage of STAGES)
      for (const s of stage) {
        const name = `model.layers.${i}.${s}`;
        if (ignore.some((re) => re.test(name))) continue;
        const lin = model.llama.linears.get(name);
        if (!(lin instanceof DenseLinear))
          throw new LlmcError('LLMC_UNSUPPORTED', `${name} is not a dense fp32 layer (already compressed?)`);
        const rows = lin.outFeatures;
        const cols = lin.inFeatures;
        const inputs = `the ${cols} inputs of ${name}`;
        const quant = args ? layerQuantArgs(args, cols, 'options.quantize.groupSize', inputs) : undefined;
        // The GPTQ / SparseGPT loops run in blocks of 128 columns, which groups must tile.
        if (quant && q?.method === 'gptq' && quant.groupSize !== 'row' && 128 % quant.groupSize !== 0)
          throw invalidArgument(
            'options.quantize.groupSize',
            `a divisor of both GPTQ's 128-column blocks and ${inputs} (or 'row')`,
            quant.groupSize,
          );
        if (m !== undefined && cols % m !== 0)
          throw invalidArgument('options.prune.structure', `N:M with M dividing ${inputs}`, spec.prune?.structure);
        if (m !== undefined && spec.prune?.method === 'sparsegpt' && 128 % m !== 0)
          throw invalidArgument(
            'options.prune.structure',
            "N:M with M dividing SparseGPT's 128-column blocks",
            spec.prune.structure,
          );
        const kernel =
          quant?.bits === 4 && packedGroupSize(quant.groupSize, cols) !== undefined
            ? 'int4'
            : quant?.bits === 8 && quant.symmetric && quant.groupSize === 'row'
              ? 'int8'
              : 'dense';
        const sparse24 =
          spec.prune?.structure === '2:4' &&
          has24Kernel(cols, {
            bits: kernel === 'int4' ? 4 : kernel === 'int8' ? 8 : 32,
            activations: spec.activations,
            symmetric: quant?.symmetric ?? true,
            ordered: !(quant && hasGroupIndex(quant)),
          });
        plans.push({ name, rows, cols, ...(quant ? { quant } : {}), kernel, sparse24 });
      }
  return plans;
}

/** The layer the compressed model runs, as `plan` says: packed codes on the quantized kernels, or the (dequantized) weight on the fp32 GEMM. */
async function runtimeLinear(
  plan: LayerPlan,
  weight: Float32Array,
  codes: QuantizedCodes | undefined,
  activations: 'float' | 'int8',
): Promise<Linear> {
  const shape = { n: plan.rows, k: plan.cols };
  if (codes && plan.quant && plan.kernel === 'int4')
    return new QuantLinear(
      await packInt4(codes.q, codes.scale, shape, {
        groupSize: toPackedGroupSize(plan.quant.groupSize, plan.cols, plan.name),
        ...(codes.zeroPoint ? { zeroPoint: codes.zeroPoint } : {}),
        ...(codes.gIdx ? { gIdx: codes.gIdx } : {}),
      }),
      activations,
    );
  if (codes && plan.kernel === 'int8') return new QuantLinear(await packInt8(codes.q, codes.scale, shape), activations);
  return new DenseLinear({ shape: [plan.rows, plan.cols], data: weight });
}

/**
 * Compresses `model` in place as `plan` says (see {@link planLayers}; its linear layers are
 * replaced) and returns the per-layer report. `calibration` holds the windows for the methods that
 * need data (GPTQ, SparseGPT, Wanda: `needsCalibration` in schemes.ts).
 */
export async function compressInPlace(
  model: Model,
  spec: ResolvedSpec,
  plan: LayerPlan[],
  options: {
    calibration?: CalibrationWindows;
    device: 'cpu' | 'cuda';
    onProgress?: (e: ProgressEvent) => void;
    signal?: AbortSignal;
  },
): Promise<LayerReport[]> {
  const t0 = performance.now();
  const llama = model.llama;
  const c = model.config;
  const windows = options.calibration?.samples ?? 0;
  const seqLen = options.calibration?.seqLen ?? 0;
  const x = options.calibration ? llama.embed(options.calibration.tokens) : undefined;
  const chunk = Math.max(1, Math.floor(8192 / Math.max(1, seqLen))); // windows per block call
  const runBlock = async (i: number, target: Float32Array) => {
    for (let w = 0; w < windows; w += chunk) {
      const b = Math.min(chunk, windows - w);
      const part = target.subarray(w * seqLen * c.dim, (w + b) * seqLen * c.dim);
      await llama.block(i, part, b, seqLen);
    }
  };
  const reports: LayerReport[] = [];
  const byName = new Map(plan.map((l) => [l.name, l]));
  for (let i = 0; i < c.nLayers; i++) {
    for (const stage of STAGES) {
      const layers = stage.flatMap((s) => byName.get(`model.layers.${i}.${s}`) ?? []);
      const names = layers.map((l) => l.name);
      if (names.length === 0) continue;
      options.signal?.throwIfAborted();
      let h: Float32Array | undefined;
      if (x) {
        // the stage's inputs: run the block on a copy with the first layer captured
        const first = llama.linears.get(names[0]!)!;
        const acc = new HessianAccumulator(first.inFeatures, { device: options.device });
        llama.linears.set(names[0]!, new CapturingLinear(first, acc));
        try {
          await runBlock(i, Float32Array.from(x));
        } finally {
          llama.linears.set(names[0]!, first);
        }
        h = acc.hessian;
      }
      for (const layer of layers) {
        options.signal?.throwIfAborted();
        const { name, rows, cols } = layer;
        const lin = llama.linears.get(name) as DenseLinear; // planLayers checked
        const t = performance.now();
        const r = await compressLayer(lin.weight, rows, cols, h, spec, options.device);
        let relError: number | undefined;
        if (h) {
          const d = lin.weight.map((v, k) => v - r.weight[k]!);
          const den = await quadratic(lin.weight, h, rows, cols);
          relError = den > 0 ? (await quadratic(d, h, rows, cols)) / den : 0;
        }
        const runtime = await runtimeLinear(layer, r.weight, r.codes, spec.activations);
        llama.linears.set(name, (layer.sparse24 ? await sparseTwin(runtime) : undefined) ?? runtime);
        reports.push({
          name,
          shape: [rows, cols],
          method: r.method,
          loss: r.loss,
          ...(relError !== undefined ? { relError } : {}),
          ms: performance.now() - t,
          bitsPerWeight: bitsPerWeight(spec, cols),
        });
        options.onProgress?.({
          stage: 'compress',
          done: reports.length,
          total: plan.length,
          layer: i,
          layers: c.nLayers,
          module: name,
          loss: r.loss,
          elapsedMs: performance.now() - t0,
        });
      }
    }
    if (x) await runBlock(i, x); // the next block's inputs, through the compressed block
  }
  return reports;
}
