/** Compression schemes: the compressed-tensors preset names and the explicit quantize / prune options. */
import { invalidArgument } from '../errors.js';
import { checkQuantArgs, type ActOrder, type GroupSize, type QuantArgs } from '../quant_args.js';
import { checkBoolean, checkFiniteNumber, checkKnownKeys, checkObject } from '../validate.js';

export interface QuantizeSpec {
  /** `gptq` (default; needs calibration data) or `rtn`. */
  method?: 'gptq' | 'rtn';
  bits?: number;
  /** Inputs per group: a divisor of each layer's inputs (32, 64, 128 pack for the int4 kernels), or `'row'`. */
  groupSize?: GroupSize;
  symmetric?: boolean;
  actOrder?: ActOrder;
  dampPercent?: number;
  mse?: boolean;
}

export interface PruneSpec {
  /** `sparsegpt` (default; needs calibration data), `wanda` (needs it) or `magnitude`. */
  method?: 'sparsegpt' | 'wanda' | 'magnitude';
  sparsity?: number;
  structure?: string;
}

export const SCHEMES = ['W4A16', 'W4A16_ASYM', 'W8A16', 'W8A8', 'W4A8', 'W4A16_2:4', 'W8A8_2:4', '2:4'] as const;
export type Scheme = (typeof SCHEMES)[number];

/** The quantize / prune options a preset stands for (compressed-tensors naming). */
export function schemeSpec(scheme: Scheme): { quantize?: QuantizeSpec; prune?: PruneSpec } {
  const w4: QuantizeSpec = { method: 'gptq', bits: 4, groupSize: 128, symmetric: true };
  const w8: QuantizeSpec = { method: 'gptq', bits: 8, groupSize: 'row', symmetric: true };
  const p24: PruneSpec = { method: 'sparsegpt', structure: '2:4' };
  switch (scheme) {
    case 'W4A16':
    case 'W4A8':
      return { quantize: w4 };
    case 'W4A16_ASYM':
      return { quantize: { ...w4, symmetric: false } };
    case 'W8A16':
    case 'W8A8':
      return { quantize: w8 };
    case 'W4A16_2:4':
      return { quantize: w4, prune: p24 };
    case 'W8A8_2:4':
      return { quantize: w8, prune: p24 };
    case '2:4':
      return { prune: p24 };
  }
}

/** Validated, complete specs. */
export interface ResolvedSpec {
  /** Activations of the compressed model's quantized layers: int8 per token (W8A8, W4A8) or float. */
  activations: 'float' | 'int8';
  /** What the layers are quantized to (`args`), and how the codes are chosen. */
  quantize?: { args: QuantArgs; method: 'gptq' | 'rtn'; dampPercent: number; mse: boolean };
  prune?: { method: 'sparsegpt' | 'wanda' | 'magnitude'; sparsity?: number; structure?: string };
}

export function resolveSpec(scheme: unknown, quantize: unknown, prune: unknown, activations?: unknown): ResolvedSpec {
  let q = quantize as QuantizeSpec | undefined;
  let p = prune as PruneSpec | undefined;
  if (scheme !== undefined) {
    if (!SCHEMES.includes(scheme as Scheme))
      throw invalidArgument('options.scheme', `one of ${SCHEMES.join(', ')}`, scheme);
    const s = schemeSpec(scheme as Scheme);
    q = q === undefined ? s.quantize : { ...s.quantize, ...q };
    p = p === undefined ? s.prune : { ...s.prune, ...p };
  }
  if (q === undefined && p === undefined)
    throw invalidArgument('options', 'a scheme, or quantize and/or prune options', { scheme, quantize, prune });
  const act = activations ?? (typeof scheme === 'string' && /^W\dA8/.test(scheme) ? 'int8' : 'float');
  if (act !== 'float' && act !== 'int8') throw invalidArgument('options.activations', "'float' or 'int8'", activations);
  const out: ResolvedSpec = { activations: act };
  if (q !== undefined) {
    const o = checkObject('options.quantize', q);
    checkKnownKeys('options.quantize', o, [
      'method',
      'bits',
      'groupSize',
      'symmetric',
      'actOrder',
      'dampPercent',
      'mse',
    ]);
    const method = o.method ?? 'gptq';
    if (method !== 'gptq' && method !== 'rtn')
      throw invalidArgument('options.quantize.method', "'gptq' or 'rtn'", method);
    out.quantize = {
      args: checkQuantArgs('options.quantize', o),
      method,
      dampPercent:
        o.dampPercent === undefined ? 0.01 : checkFiniteNumber('options.quantize.dampPercent', o.dampPercent),
      mse: o.mse === undefined ? false : checkBoolean('options.quantize.mse', o.mse),
    };
  }
  if (p !== undefined) {
    const o = checkObject('options.prune', p);
    checkKnownKeys('options.prune', o, ['method', 'sparsity', 'structure']);
    const method = o.method ?? 'sparsegpt';
    if (method !== 'sparsegpt' && method !== 'wanda' && method !== 'magnitude')
      throw invalidArgument('options.prune.method', "'sparsegpt', 'wanda' or 'magnitude'", method);
    if ((o.sparsity === undefined) === (o.structure === undefined))
      throw invalidArgument('options.prune', 'exactly one of sparsity or structure', o);
    if (o.sparsity !== undefined && !(typeof o.sparsity === 'number' && o.sparsity > 0 && o.sparsity < 1))
      throw invalidArgument('options.prune.sparsity', 'a fraction in (0, 1)', o.sparsity);
    if (o.structure !== undefined && pruneGroup(o.structure) === undefined)
      throw invalidArgument('options.prune.structure', "'N:M' with 0 < N < M <= 64, e.g. '2:4'", o.structure);
    out.prune = {
      method,
      ...(o.sparsity !== undefined ? { sparsity: o.sparsity as number } : {}),
      ...(o.structure !== undefined ? { structure: o.structure as string } : {}),
    };
    if (out.quantize?.method === 'gptq' && method !== 'sparsegpt')
      throw invalidArgument(
        'options.quantize.method',
        `'rtn' with ${method} pruning (GPTQ would refill the pruned weights; SparseGPT prunes and quantizes in one pass)`,
        'gptq',
      );
  }
  // The damping of the GPTQ / SparseGPT loops (RTN alone has none).
  if (
    out.quantize &&
    out.quantize.dampPercent < 0 &&
    (out.quantize.method === 'gptq' || out.prune?.method === 'sparsegpt')
  )
    throw invalidArgument('options.quantize.dampPercent', 'a number >= 0', out.quantize.dampPercent);
  return out;
}

/** M of an N:M structure (0 < N < M <= 64), or undefined when `structure` is not one. */
export function pruneGroup(structure: unknown): number | undefined {
  const m = typeof structure === 'string' ? /^(\d+):(\d+)$/.exec(structure) : null;
  const n = Number(m?.[1]);
  const mm = Number(m?.[2]);
  return m && n > 0 && n < mm && mm <= 64 ? mm : undefined;
}

/** True when the methods need calibration data (Hessians or input norms). */
export function needsCalibration(spec: ResolvedSpec): boolean {
  return spec.quantize?.method === 'gptq' || (spec.prune !== undefined && spec.prune.method !== 'magnitude');
}
