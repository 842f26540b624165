/**
 * Hessian-based compression of single weight matrices — GPTQ, SparseGPT — with the baselines RTN,
 * magnitude and Wanda, and the Hessian they need. W is a linear layer's weight `[rows × cols]` =
 * `[out × in]` (row-major); H its inputs' Hessian `[cols × cols]`, H = 2/n · Σ x·xᵀ.
 */
import { native } from '../native/loader.js';
import type { NativeObsParams } from '../native/contract.js';
import { deviceCode, resolveDevice, type Device } from '../device.js';
import { callNative, invalidArgument } from '../errors.js';
import { checkQuantArgs, layerQuantArgs, nativeQuantParams, type ActOrder, type GroupSize } from '../quant_args.js';
import {
  checkBoolean,
  checkFiniteNumber,
  checkFloat32Array,
  checkInteger,
  checkKnownKeys,
  checkObject,
} from '../validate.js';

/** Size of a weight matrix: `rows` outputs × `cols` inputs. */
export interface MatrixShape {
  rows: number;
  cols: number;
}

/** The quantizer (GPTQ's): min/max range per row and group, round to nearest even. */
export interface QuantizerOptions {
  /** Bits per weight, 2..8. Default 4. */
  bits?: number;
  /** Inputs per group sharing a scale (a divisor of cols: 32, 64, 128 pack for the int4 kernels), or `'row'`: one per row. Default 128. */
  groupSize?: GroupSize;
  /** Symmetric (codes q − 2^(bits−1), no zero points) or asymmetric (codes 0..2^bits − 1 with zero points). Default true. */
  symmetric?: boolean;
  /** Search a shrunk range per group for the least |error|^2.4 (GPTQ's `--mse`). Default false. */
  mse?: boolean;
}

export interface GptqOptions extends QuantizerOptions {
  /**
   * Process columns by descending diag(H) (GPTQ's act-order / desc_act): `'static'` keeps the
   * groups of consecutive inputs (static_groups); `'dynamic'` forms groups in processing order and
   * returns `gIdx`. Default false.
   */
  actOrder?: ActOrder;
  /** Damping: H += dampPercent · mean(diag H) · I. Default 0.01. */
  dampPercent?: number;
  /** Lazy-batch block size (columns), a multiple of the group size. Default 128. */
  blockSize?: number;
  /** Where the column loop runs: `'cpu'` (default), `'cuda'` or `'auto'` (see {@link resolveDevice}). */
  device?: Device;
}

/** What to prune: a fraction (unstructured) or an N:M structure, e.g. `'2:4'`. */
export interface PruneOptions {
  sparsity?: number;
  structure?: string;
}

export interface SparseGptOptions extends PruneOptions {
  /** Quantize in the same pass (SparseGPT's joint --wbits), e.g. `{ bits: 4, groupSize: 128 }`. */
  quantize?: QuantizerOptions;
  dampPercent?: number;
  blockSize?: number;
  /** Where the column loop runs: `'cpu'` (default), `'cuda'` or `'auto'`. */
  device?: Device;
}

export interface WandaOptions extends PruneOptions {
  /** ‖X_j‖₂ of each input over the calibration tokens `[cols]`. */
  inputNorms?: Float32Array;
  /** Or the Hessian `[cols × cols]`: its diagonal gives the norms (up to a common factor). */
  hessian?: Float32Array;
}

/** Codes and scales of a quantized matrix, ready for `packInt4` / `packInt8` when bits are 4 / 8. */
export interface QuantizedCodes {
  bits: number;
  /** Inputs per group (cols when one group per row). */
  groupSize: number;
  symmetric: boolean;
  /** `[rows × cols]` codes: signed (q − 2^(bits−1)) when symmetric, 0..2^bits − 1 otherwise. */
  q: Int8Array;
  /** `[rows × G]` scales, G = cols / groupSize. */
  scale: Float32Array;
  /** `[rows × G]` zero points (asymmetric only). */
  zeroPoint?: Uint8Array;
  /** `[cols]` group of each input (dynamic act-order only). */
  gIdx?: Int32Array;
}

export interface CompressedMatrix {
  /** The compressed weight `[rows × cols]`, dequantized (zeros where pruned). */
  weight: Float32Array;
  /** ½·tr(ΔW·H·ΔWᵀ) with the damped H: the layer's output error the algorithm minimized (0 for baselines). */
  loss: number;
}

export type GptqResult = CompressedMatrix & QuantizedCodes;
export type RtnResult = CompressedMatrix & QuantizedCodes;
export interface PruneResult extends CompressedMatrix {
  /** `[rows × cols]` 1 where the weight was pruned. */
  mask: Uint8Array;
}
export type SparseGptResult = PruneResult & Partial<QuantizedCodes>;

type NativeParams = NativeObsParams;

function checkShape(shape: unknown): MatrixShape {
  const s = checkObject('shape', shape);
  checkKnownKeys('shape', s, ['rows', 'cols']);
  return { rows: checkInteger('shape.rows', s.rows, 1, 2 ** 31), cols: checkInteger('shape.cols', s.cols, 1, 2 ** 31) };
}

function baseParams(shape: MatrixShape): NativeParams {
  return {
    ...shape,
    bits: 0,
    group: 0,
    symmetric: 1,
    actOrder: 0,
    mse: 0,
    damp: 0.01,
    block: 128,
    sparsity: 0,
    pruneN: 0,
    pruneM: 0,
  };
}

const QUANTIZER_KEYS = ['bits', 'groupSize', 'symmetric', 'mse'] as const;

function quantizerParams(name: string, o: Record<string, unknown>, p: NativeParams): void {
  const args = layerQuantArgs(checkQuantArgs(name, o), p.cols, `${name}.groupSize`, `cols = ${p.cols}`);
  Object.assign(p, nativeQuantParams(args, p.cols));
  p.mse = o.mse !== undefined && checkBoolean(`${name}.mse`, o.mse) ? 1 : 0;
}

/** The addon's device argument for `options.device` (default CPU). */
function loopDevice(name: string, o: Record<string, unknown>): 0 | 1 {
  return o.device === undefined ? 0 : deviceCode(resolveDevice(`${name}.device`, o.device).device);
}

function loopParams(name: string, o: Record<string, unknown>, p: NativeParams): void {
  p.damp = o.dampPercent === undefined ? 0.01 : checkFiniteNumber(`${name}.dampPercent`, o.dampPercent);
  if (p.damp < 0) throw invalidArgument(`${name}.dampPercent`, 'a number >= 0', o.dampPercent);
  p.block = o.blockSize === undefined ? 128 : checkInteger(`${name}.blockSize`, o.blockSize, 1);
}

function pruneParams(name: string, o: Record<string, unknown>, p: NativeParams): void {
  if ((o.sparsity === undefined) === (o.structure === undefined))
    throw invalidArgument(`${name}`, 'exactly one of sparsity (e.g. 0.5) or structure (e.g. "2:4")', o);
  if (o.sparsity !== undefined) {
    p.sparsity = checkFiniteNumber(`${name}.sparsity`, o.sparsity);
    if (!(p.sparsity > 0 && p.sparsity < 1))
      throw invalidArgument(`${name}.sparsity`, 'a fraction in (0, 1)', o.sparsity);
  } else {
    const m = typeof o.structure === 'string' ? /^(\d+):(\d+)$/.exec(o.structure) : null;
    const n = Number(m?.[1]);
    const mm = Number(m?.[2]);
    if (!m || !(n > 0 && n < mm && mm <= 64))
      throw invalidArgument(`${name}.structure`, "'N:M' with 0 < N < M <= 64, e.g. '2:4'", o.structure);
    if (p.cols % mm !== 0) throw invalidArgument(`${name}.structure`, `M dividing cols = ${p.cols}`, o.structure);
    p.pruneN = n;
    p.pruneM = mm;
  }
}

function checkMatrices(w: unknown, h: unknown, shape: MatrixShape): void {
  checkFloat32Array('W', w, shape.rows * shape.cols);
  if (h !== undefined) checkFloat32Array('H', h, shape.cols * shape.cols);
}

function codes(p: NativeParams): { q: Int8Array; scale: Float32Array; zero: Uint8Array | null } {
  const G = p.group > 0 ? p.cols / p.group : 1;
  return {
    q: new Int8Array(p.rows * p.cols),
    scale: new Float32Array(p.rows * G),
    zero: p.symmetric ? null : new Uint8Array(p.rows * G),
  };
}

function codesResult(
  p: NativeParams,
  c: { q: Int8Array; scale: Float32Array; zero: Uint8Array | null },
  gIdx: Int32Array | null,
): QuantizedCodes {
  return {
    bits: p.bits,
    groupSize: p.group > 0 ? p.group : p.cols,
    symmetric: p.symmetric === 1,
    q: c.q,
    scale: c.scale,
    ...(c.zero ? { zeroPoint: c.zero } : {}),
    ...(gIdx ? { gIdx } : {}),
  };
}

/**
 * GPTQ (Frantar et al. 2022): quantizes W column by column, spreading each column's error over the
 * remaining ones through the inverse Hessian, in lazy batches.
 *
 * @param W - weight `[rows × cols]` (`[out × in]`)
 * @param H - Hessian of the layer's inputs `[cols × cols]` (see {@link hessian}); not modified
 * @throws {@link LlmcError} `LLMC_INVALID_ARGUMENT` for bad shapes or options, or when H is not
 *   positive definite after damping (the message suggests raising `dampPercent`)
 *
 * @example
 * ```ts
 * const H = await kernels.hessian(X, { tokens: 4096, features: 4096 });
 * const r = await kernels.gptq(W, H, { rows: 4096, cols: 4096 }, { bits: 4, groupSize: 128, actOrder: 'static' });
 * const packed = await kernels.packInt4(r.q, r.scale, { n: 4096, k: 4096 }, { groupSize: 128 });
 * ```
 */
export async function gptq(
  W: Float32Array,
  H: Float32Array,
  shape: MatrixShape,
  options: GptqOptions = {},
): Promise<GptqResult> {
  const s = checkShape(shape);
  checkMatrices(W, H, s);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, [...QUANTIZER_KEYS, 'actOrder', 'dampPercent', 'blockSize', 'device']);
  const p = baseParams(s);
  quantizerParams('options', o, p);
  loopParams('options', o, p);
  if (p.group > 0 && p.block % p.group !== 0)
    throw invalidArgument('options.blockSize', `a multiple of the group size ${p.group}`, p.block);
  const c = codes(p);
  const weight = new Float32Array(s.rows * s.cols);
  const gIdx = p.actOrder === 2 && p.group > 0 ? new Int32Array(s.cols) : null;
  const device = loopDevice('options', o);
  const loss = await callNative(() =>
    native().obsCompress(W, H, p, { weight, q: c.q, scale: c.scale, zero: c.zero, gIdx }, device),
  );
  return { weight, loss, ...codesResult(p, c, gIdx) };
}

/**
 * SparseGPT (Frantar & Alistarh 2023): prunes W (unstructured per 128-column block by w²/[H⁻¹]²,
 * or N:M) with the OBS weight update, optionally quantizing in the same pass.
 *
 * @example
 * ```ts
 * const r = await kernels.sparsegpt(W, H, { rows, cols }, { structure: '2:4', quantize: { bits: 4, groupSize: 128 } });
 * // r.mask has exactly two 1s in every 4 inputs of each row; r.q / r.scale pack with packInt4
 * ```
 */
export async function sparsegpt(
  W: Float32Array,
  H: Float32Array,
  shape: MatrixShape,
  options: SparseGptOptions,
): Promise<SparseGptResult> {
  const s = checkShape(shape);
  checkMatrices(W, H, s);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['sparsity', 'structure', 'quantize', 'dampPercent', 'blockSize', 'device']);
  const p = baseParams(s);
  pruneParams('options', o, p);
  loopParams('options', o, p);
  if (o.quantize !== undefined) {
    const qo = checkObject('options.quantize', o.quantize);
    checkKnownKeys('options.quantize', qo, QUANTIZER_KEYS);
    quantizerParams('options.quantize', qo, p);
    if (p.group > 0 && p.block % p.group !== 0)
      throw invalidArgument('options.blockSize', `a multiple of the group size ${p.group}`, p.block);
  }
  if (p.pruneM > 0 && p.block % p.pruneM !== 0)
    throw invalidArgument('options.blockSize', `a multiple of M = ${p.pruneM}`, p.block);
  const c = p.bits > 0 ? codes(p) : null;
  const weight = new Float32Array(s.rows * s.cols);
  const mask = new Uint8Array(s.rows * s.cols);
  const device = loopDevice('options', o);
  const loss = await callNative(() =>
    native().obsCompress(W, H, p, { weight, mask, q: c?.q, scale: c?.scale, zero: c?.zero }, device),
  );
  return { weight, mask, loss, ...(c ? codesResult(p, c, null) : {}) };
}

/** Round to nearest with GPTQ's quantizer (the baseline GPTQ is measured against). */
export async function rtn(W: Float32Array, shape: MatrixShape, options: QuantizerOptions = {}): Promise<RtnResult> {
  const s = checkShape(shape);
  checkMatrices(W, undefined, s);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, QUANTIZER_KEYS);
  const p = baseParams(s);
  quantizerParams('options', o, p);
  const c = codes(p);
  const weight = new Float32Array(s.rows * s.cols);
  await callNative(() => native().rtn(W, p, { weight, q: c.q, scale: c.scale, zero: c.zero }));
  return { weight, loss: 0, ...codesResult(p, c, null) };
}

/** Magnitude pruning: the smallest |W| over the whole matrix (unstructured) or within each group of M inputs of a row (N:M). */
export async function magnitude(W: Float32Array, shape: MatrixShape, options: PruneOptions): Promise<PruneResult> {
  const s = checkShape(shape);
  checkMatrices(W, undefined, s);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['sparsity', 'structure']);
  const p = baseParams(s);
  pruneParams('options', o, p);
  const weight = new Float32Array(s.rows * s.cols);
  const mask = new Uint8Array(s.rows * s.cols);
  await callNative(() => native().prune(W, null, p, { weight, mask }));
  return { weight, mask, loss: 0 };
}

/** Wanda (Sun et al. 2023): prunes the smallest |W_ij|·‖X_j‖₂ within each row (or each group of M inputs of a row). */
export async function wanda(W: Float32Array, shape: MatrixShape, options: WandaOptions): Promise<PruneResult> {
  const s = checkShape(shape);
  checkMatrices(W, undefined, s);
  const o = checkObject('options', options);
  checkKnownKeys('options', o, ['sparsity', 'structure', 'inputNorms', 'hessian']);
  const p = baseParams(s);
  pruneParams('options', o, p);
  if ((o.inputNorms === undefined) === (o.hessian === undefined))
    throw invalidArgument('options', 'exactly one of inputNorms ([cols]) or hessian ([cols × cols])', o);
  let norms: Float32Array;
  if (o.inputNorms !== undefined) norms = checkFloat32Array('options.inputNorms', o.inputNorms, s.cols);
  else {
    const h = checkFloat32Array('options.hessian', o.hessian, s.cols * s.cols);
    norms = new Float32Array(s.cols).map((_, j) => Math.sqrt(Math.max(0, h[j * s.cols + j]!)));
  }
  const weight = new Float32Array(s.rows * s.cols);
  const mask = new Uint8Array(s.rows * s.cols);
  await callNative(() => native().prune(W, norms, p, { weight, mask }));
  return { weight, mask, loss: 0 };
}

/**
 * Accumulates the Hessian H = 2/n · Σ x·xᵀ of a layer's inputs over batches of tokens, as GPTQ's
 * add_batch does (float32 storage, each batch a symmetric rank-t update on the GEMM).
 *
 * @example
 * ```ts
 * const acc = new kernels.HessianAccumulator(4096);            // { device: 'cuda' } for the GPU
 * for (const batch of batches) await acc.add(batch); // Float32Array [tokens × 4096]
 * const H = acc.hessian;
 * ```
 */
export class HessianAccumulator {
  readonly features: number;
  /** Where the updates run. */
  readonly device: 'cpu' | 'cuda';
  /** H `[features × features]`, updated in place by {@link add}. */
  readonly hessian: Float32Array;
  private seen = 0;
  private busy = false;

  constructor(features: number, options: { device?: Device } = {}) {
    this.features = checkInteger('features', features, 1, 65536);
    const o = checkObject('options', options);
    checkKnownKeys('options', o, ['device']);
    this.device = o.device === undefined ? 'cpu' : resolveDevice('options.device', o.device).device;
    this.hessian = new Float32Array(this.features * this.features);
  }

  /** Tokens accumulated so far. */
  get tokens(): number {
    return this.seen;
  }

  /** Adds a batch of inputs `[tokens × features]` (row-major). Calls must not overlap. */
  async add(x: Float32Array): Promise<void> {
    checkFloat32Array('x', x);
    if (x.length % this.features !== 0)
      throw invalidArgument('x', `a Float32Array whose length is a multiple of features = ${this.features}`, x);
    if (this.busy) throw invalidArgument('x', 'no add() while another is still running (await it first)', x);
    const tokens = x.length / this.features;
    this.busy = true;
    try {
      await callNative(() =>
        native().hessianUpdate(this.hessian, this.features, this.seen, x, tokens, deviceCode(this.device)),
      );
      this.seen += tokens;
    } finally {
      this.busy = false;
    }
  }
}

/** H = 2/n · XᵀX of inputs X `[tokens × features]` in one call (see {@link HessianAccumulator} for batches). */
export async function hessian(
  x: Float32Array,
  shape: { tokens: number; features: number },
  options: { device?: Device } = {},
): Promise<Float32Array> {
  const s = checkObject('shape', shape);
  checkKnownKeys('shape', s, ['tokens', 'features']);
  const tokens = checkInteger('shape.tokens', s.tokens, 1);
  const features = checkInteger('shape.features', s.features, 1, 65536);
  checkFloat32Array('x', x, tokens * features);
  const acc = new HessianAccumulator(features, options);
  await acc.add(x);
  return acc.hessian;
}
