/**
 * How a layer's weights are quantized — bits, group, symmetry, act-order — as one validated value
 * that every hop carries (the role of llm-compressor's QuantizationArgs): compress() options and
 * CLI flags are checked into it once ({@link checkQuantArgs}), the pipeline resolves it per layer
 * ({@link layerQuantArgs}), and each consumer gets its own spelling from one converter:
 * {@link nativeQuantParams} (the native column loops), `toPackedGroupSize` in kernels/quant.ts (the
 * packed int4 kernels), `weightsArgs` in formats/compressed_tensors.ts and `gptqLayerConfig` in
 * formats/gptq.ts (the files). One group per row is `'row'` everywhere in TypeScript; the native
 * `group` 0, GPTQ's `group_size` −1 and compressed-tensors' `group_size` null exist only in those
 * converters.
 */
import { invalidArgument } from './errors.js';
import type { NativeObsParams } from './native/contract.js';
import { checkBoolean, checkInteger } from './validate.js';

/** Inputs per group sharing one scale (a divisor of the layer's inputs), or `'row'`: one group per output row. */
export type GroupSize = number | 'row';

/**
 * GPTQ's act-order (desc_act): columns processed by descending diag(H). `'static'` keeps groups of
 * consecutive inputs; `'dynamic'` forms them in processing order (a `g_idx` per input).
 */
export type ActOrder = false | 'static' | 'dynamic';

/** The quantization of a weight, validated. */
export interface QuantArgs {
  /** Bits per weight, 2..8. */
  bits: number;
  groupSize: GroupSize;
  /** Symmetric (signed codes, no zero points) or asymmetric (codes 0..2^bits − 1 with zero points). 8 bits are symmetric. */
  symmetric: boolean;
  actOrder: ActOrder;
}

/**
 * Validates quantization arguments, filling in the defaults (4 bits, groups of 128, symmetric, no
 * act-order): the one check every entry point runs. Errors name `${name}.bits`, `${name}.groupSize`,
 * `${name}.symmetric` or `${name}.actOrder`. Whether the group fits a layer is
 * {@link layerQuantArgs}'s check.
 *
 * @example
 * ```ts
 * checkQuantArgs('options.quantize', { groupSize: 32 }); // { bits: 4, groupSize: 32, symmetric: true, actOrder: false }
 * ```
 */
export function checkQuantArgs(name: string, o: Record<string, unknown>): QuantArgs {
  const bits = o.bits === undefined ? 4 : checkInteger(`${name}.bits`, o.bits, 2, 8);
  const groupSize = o.groupSize ?? 128;
  if (groupSize !== 'row') checkInteger(`${name}.groupSize`, groupSize, 1);
  const symmetric = o.symmetric === undefined || checkBoolean(`${name}.symmetric`, o.symmetric);
  if (bits === 8 && !symmetric)
    throw invalidArgument(
      `${name}.symmetric`,
      'true for 8 bits (asymmetric 8-bit codes do not fit an Int8Array)',
      o.symmetric,
    );
  const actOrder = o.actOrder ?? false;
  if (actOrder !== false && actOrder !== 'static' && actOrder !== 'dynamic')
    throw invalidArgument(`${name}.actOrder`, "false, 'static' or 'dynamic'", actOrder);
  return { bits, groupSize: groupSize as GroupSize, symmetric, actOrder };
}

/**
 * The args as a weight of `cols` inputs holds them: a group that spans the row is `'row'`. Refuses
 * a group that does not divide `cols`, naming `argument` and the weight's inputs (`inputs`, e.g.
 * "the 172 inputs of model.layers.0.mlp.down_proj").
 */
export function layerQuantArgs(args: QuantArgs, cols: number, argument: string, inputs: string): QuantArgs {
  if (args.groupSize === 'row' || args.groupSize === cols)
    return args.groupSize === 'row' ? args : { ...args, groupSize: 'row' };
  if (cols % args.groupSize !== 0) throw invalidArgument(argument, `a divisor of ${inputs} (or 'row')`, args.groupSize);
  return args;
}

/** Inputs per group of a weight with `cols` inputs. */
export function groupLength(groupSize: GroupSize, cols: number): number {
  return groupSize === 'row' ? cols : groupSize;
}

/** The native column loops' spelling (llmc_obs_params, native/include/llmc.h): group 0 for one per row, act-order 0 / 1 (static) / 2 (dynamic). */
export function nativeQuantParams(
  args: QuantArgs,
  cols: number,
): Pick<NativeObsParams, 'bits' | 'group' | 'symmetric' | 'actOrder'> {
  const group = groupLength(args.groupSize, cols);
  return {
    bits: args.bits,
    group: group === cols ? 0 : group,
    symmetric: args.symmetric ? 1 : 0,
    actOrder: args.actOrder === false ? 0 : args.actOrder === 'static' ? 1 : 2,
  };
}

/** True when a weight with these (per-layer) args carries a group index (`g_idx`): dynamic act-order with several groups per row. */
export function hasGroupIndex(args: QuantArgs): boolean {
  return args.actOrder === 'dynamic' && args.groupSize !== 'row';
}
