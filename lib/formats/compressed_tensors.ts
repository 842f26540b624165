/**
 * compressed-tensors `pack-quantized` folders (the format vLLM and Transformers load), for the
 * int4 / int8 weight-quantized layers of a compressed model. Per quantized Linear `{name}`:
 *   {name}.weight_packed      I32 [out, ceil(in / (32/bits))]: codes q (signed) + 2^(bits−1), value
 *                             i of each int32 in bits [bits·i, bits·(i+1)), packed along the inputs
 *   {name}.weight_scale       F32 [out, groups]
 *   {name}.weight_zero_point  I32 [ceil(out / (32/bits)), groups] (asymmetric): signed zero points,
 *                             offset and packed the same way along the outputs
 *   {name}.weight_g_idx       I32 [in] (act-order groups)
 *   {name}.weight_shape       I32 [2] = [out, in]
 * and `quantization_config` in config.json (quant_method "compressed-tensors", format
 * "pack-quantized", one config group for the quantized Linear layers, `ignore` naming the rest).
 * Layers that are not int4 / int8 quantized (other widths, unstructured pruning) are written dense
 * as `{name}.weight` and listed in `ignore`.
 * 2:4 sparse layers are named in `quantization_config.sparsity_config` (sparsity_structure "2:4",
 * `targets`). A model that is pruned only is stored `sparse-24-bitmask` (see sparse24_bitmask.ts:
 * {name}.compressed / .bitmask / .shape, no quantization fields); a quantized one keeps its packed
 * codes (the pruned weights are zero codes) with sparsity format "dense", as compressed-tensors
 * has no 2:4 layout for packed int4 / int8 codes.
 */
import { join } from 'node:path';

import { LlmcError } from '../errors.js';
import { packInt4, packInt8, toPackedGroupSize, type PackedInt4, type PackedInt8 } from '../kernels/quant.js';
import { DenseLinear } from '../model/linear.js';
import { QuantLinear } from '../model/quant_linear.js';
import type { LlamaConfig, Weights } from '../model/types.js';
import { hasGroupIndex, type QuantArgs } from '../quant_args.js';
import { canonicalWeights, llamaConfigFromHf } from './hf_config.js';
import { readFloatTensor, readSafetensorsHeader, readTensorBytes } from './safetensors.js';
import {
  checkHalfRope,
  checkOutputFolder,
  sourceFiles,
  untiedHead,
  writeModelFolder,
  type WritableModel,
} from './model_folder.js';
import { dequantizeCodes, packedQuantArgs } from './packed_codes.js';
import { writableLinears } from '../model/sparse24_linear.js';
import { decodeSparse24Bitmask, encodeSparse24Bitmask, is24Sparse } from './sparse24_bitmask.js';
import type { TensorToWrite } from './safetensors_write.js';

/** Packs signed codes [rows × cols] into int32 along `dim` (1: along each row; 0: down each column). */
export function packInt32(q: Int8Array, rows: number, cols: number, bits: number, dim: 0 | 1): Int32Array {
  const pf = 32 / bits;
  const offset = 1 << (bits - 1);
  const [pr, pc] = dim === 1 ? [rows, Math.ceil(cols / pf)] : [Math.ceil(rows / pf), cols];
  const out = new Uint32Array(pr * pc);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const u = (q[r * cols + c]! + offset) >>> 0;
      const [i, j, slot] = dim === 1 ? [r, Math.floor(c / pf), c % pf] : [Math.floor(r / pf), c, r % pf];
      out[i * pc + j] = (out[i * pc + j]! | (u << (bits * slot))) >>> 0;
    }
  return new Int32Array(out.buffer);
}

/** Inverse of {@link packInt32}. */
export function unpackInt32(p: Int32Array, rows: number, cols: number, bits: number, dim: 0 | 1): Int8Array {
  const pf = 32 / bits;
  const offset = 1 << (bits - 1);
  const mask = (1 << bits) - 1;
  const pc = dim === 1 ? Math.ceil(cols / pf) : cols;
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const [i, j, slot] = dim === 1 ? [r, Math.floor(c / pf), c % pf] : [Math.floor(r / pf), c, r % pf];
      q[r * cols + c] = ((p[i * pc + j]! >>> (bits * slot)) & mask) - offset;
    }
  return q;
}

interface WeightsArgs {
  num_bits: number;
  type: 'int';
  symmetric: boolean;
  strategy: 'group' | 'channel';
  group_size: number | null;
  dynamic: false;
  actorder: 'group' | null;
  observer: 'minmax';
  observer_kwargs: Record<string, never>;
  block_structure: null;
}

/** compressed-tensors' spelling of quantization args: one group per row is strategy "channel" with group_size null. */
export function weightsArgs(args: QuantArgs): WeightsArgs {
  const group = args.groupSize === 'row' ? null : args.groupSize;
  return {
    num_bits: args.bits,
    type: 'int',
    symmetric: args.symmetric,
    strategy: group ? 'group' : 'channel',
    group_size: group,
    dynamic: false,
    actorder: hasGroupIndex(args) ? 'group' : null,
    observer: 'minmax',
    observer_kwargs: {},
    block_structure: null,
  };
}

/**
 * Writes a compressed model (from `compress()`, loaded from a Hugging Face folder `sourceDir`) to
 * `outDir` atomically: everything goes to a temporary sibling folder that is renamed at the end.
 */
export async function saveCompressedTensors(
  model: WritableModel,
  outDir: string,
  options: { overwrite?: boolean } = {},
): Promise<void> {
  checkHalfRope(model, 'compressed-tensors');
  await checkOutputFolder(outDir, options.overwrite === true);
  const tensors: TensorToWrite[] = [];
  const ignore: string[] = ['lm_head'];
  let groupArgs: WeightsArgs | undefined;
  let activations: 'float' | 'int8' | undefined;
  for (const [name, tensor] of model.llama.otherTensors())
    tensors.push({ name, dtype: 'F32', shape: tensor.shape, data: tensor.data });
  const allLinears = await writableLinears(model.llama.linears);
  tensors.push(...untiedHead(model.config, allLinears));
  const linears = [...allLinears].filter(([name]) => name !== 'lm_head');
  const quantized = linears.some(([, lin]) => lin instanceof QuantLinear);
  // 2:4 sparse layers: listed in sparsity_config; stored as sparse-24-bitmask when nothing is
  // quantized (that format compresses fp weights only), else as their packed codes.
  const sparse24: string[] = [];
  let zeros = 0;
  let weights = 0;
  for (const [name, lin] of linears) {
    const l = lin as QuantLinear | DenseLinear;
    const w =
      l instanceof QuantLinear ? dequantizeCodes(await l.packed.unpack(), l.outFeatures, l.inFeatures) : l.weight;
    if (is24Sparse(w, l.outFeatures, l.inFeatures)) sparse24.push(name);
    for (const v of w) if (v === 0) zeros++;
    weights += w.length;
  }
  for (const [name, lin] of linears) {
    if (!quantized && lin instanceof DenseLinear && sparse24.includes(name)) {
      const { compressed, bitmask } = encodeSparse24Bitmask(lin.weight, lin.outFeatures, lin.inFeatures);
      tensors.push({
        name: `${name}.compressed`,
        dtype: 'F32',
        shape: [lin.outFeatures, lin.inFeatures / 2],
        data: compressed,
      });
      tensors.push({
        name: `${name}.bitmask`,
        dtype: 'U8',
        shape: [lin.outFeatures, Math.ceil(lin.inFeatures / 8)],
        data: bitmask,
      });
      tensors.push({
        name: `${name}.shape`,
        dtype: 'I64',
        shape: [2, 1],
        data: BigInt64Array.of(BigInt(lin.outFeatures), BigInt(lin.inFeatures)),
      });
    } else if (lin instanceof QuantLinear) {
      const p = lin.packed;
      const args = weightsArgs(packedQuantArgs(p));
      if (groupArgs && JSON.stringify(groupArgs) !== JSON.stringify(args))
        throw new LlmcError(
          'LLMC_UNSUPPORTED',
          `${name}: layers quantized in different ways need several config groups (not written yet)`,
        );
      if (activations && activations !== lin.activations)
        throw new LlmcError('LLMC_UNSUPPORTED', `${name}: mixed activation types`);
      groupArgs = args;
      activations = lin.activations;
      const codes = await p.unpack();
      const n = p.n,
        k = p.k;
      const groups = codes.scale.length / n;
      // Our asymmetric codes are 0..2^b−1 with zero points 0..2^b−1; compressed-tensors keeps both signed.
      const off = 1 << (p.bits - 1);
      const sym = args.symmetric;
      const q = sym ? codes.q : Int8Array.from(codes.q, (v) => v - off);
      tensors.push({
        name: `${name}.weight_packed`,
        dtype: 'I32',
        shape: [n, Math.ceil(k / (32 / p.bits))],
        data: packInt32(q, n, k, p.bits, 1),
      });
      tensors.push({ name: `${name}.weight_scale`, dtype: 'F32', shape: [n, groups], data: codes.scale });
      if (!sym) {
        const zp = Int8Array.from((codes as { zeroPoint?: Uint8Array }).zeroPoint!, (v) => v - off);
        tensors.push({
          name: `${name}.weight_zero_point`,
          dtype: 'I32',
          shape: [Math.ceil(n / (32 / p.bits)), groups],
          data: packInt32(zp, n, groups, p.bits, 0),
        });
      }
      const gIdx = (codes as { gIdx?: Int32Array }).gIdx;
      if (gIdx) tensors.push({ name: `${name}.weight_g_idx`, dtype: 'I32', shape: [k], data: gIdx });
      tensors.push({ name: `${name}.weight_shape`, dtype: 'I32', shape: [2], data: Int32Array.of(n, k) });
    } else if (lin instanceof DenseLinear) {
      tensors.push({
        name: `${name}.weight`,
        dtype: 'F32',
        shape: [lin.outFeatures, lin.inFeatures],
        data: lin.weight,
      });
      ignore.push(name);
    } else {
      throw new LlmcError(
        'LLMC_UNSUPPORTED',
        `${name}: a layer of type ${(lin as object).constructor.name} cannot be written`,
      );
    }
  }
  const { config, files } = await sourceFiles(model);
  config.tie_word_embeddings = model.config.tiedEmbeddings;
  config.quantization_config = {
    quant_method: 'compressed-tensors',
    ...(quantized
      ? {
          format: 'pack-quantized',
          quantization_status: 'compressed',
          global_compression_ratio: null,
          kv_cache_scheme: null,
          ignore,
          config_groups: {
            group_0: {
              targets: ['Linear'],
              weights: groupArgs,
              output_activations: null,
              input_activations:
                activations === 'int8'
                  ? {
                      num_bits: 8,
                      type: 'int',
                      symmetric: true,
                      strategy: 'token',
                      dynamic: true,
                      group_size: null,
                      observer: null,
                    }
                  : null,
            },
          },
        }
      : {}),
    ...(sparse24.length > 0
      ? {
          sparsity_config: {
            format: quantized ? 'dense' : 'sparse-24-bitmask',
            sparsity_structure: '2:4',
            targets: sparse24,
            ignore: ['lm_head'],
            global_sparsity: zeros / weights,
          },
        }
      : {}),
  };
  await writeModelFolder(outDir, { tensors, json: { 'config.json': config }, files }, options);
}

/** True when config.json describes a compressed-tensors pack-quantized model. */
export function isCompressedTensors(config: unknown): boolean {
  const q = (config as { quantization_config?: { quant_method?: unknown; format?: unknown } })?.quantization_config;
  return q?.quant_method === 'compressed-tensors';
}

/**
 * The weight quantization, activations and 2:4 layers a compressed-tensors `quantization_config`
 * describes, refusing the formats and layouts the readers do not support.
 */
function compressedTensorsScheme(
  dir: string,
  configJson: Record<string, unknown>,
): { args: WeightsArgs | undefined; activations: 'float' | 'int8'; sparse24: Set<string> } {
  const q = configJson.quantization_config as {
    format?: string;
    config_groups?: Record<string, { weights?: WeightsArgs; input_activations?: unknown }>;
    sparsity_config?: { format?: string; sparsity_structure?: string; targets?: unknown };
  };
  const sc = q.sparsity_config;
  if (q.format !== 'pack-quantized' && !(q.format === undefined && sc))
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `${dir}: compressed-tensors format ${q.format} is not supported (pack-quantized and sparse-24-bitmask are)`,
    );
  if (sc && sc.format !== 'dense' && sc.format !== 'sparse-24-bitmask')
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `${dir}: compressed-tensors sparsity format ${sc.format} is not supported (dense and sparse-24-bitmask are)`,
    );
  const sparse24 = new Set(
    sc?.sparsity_structure === '2:4' && Array.isArray(sc.targets)
      ? sc.targets.filter((t): t is string => typeof t === 'string')
      : [],
  );
  const groups = Object.values(q.config_groups ?? {});
  if (groups.length > 1)
    throw new LlmcError('LLMC_UNSUPPORTED', `${dir}: several compressed-tensors config groups are not supported yet`);
  return { args: groups[0]?.weights, activations: groups[0]?.input_activations ? 'int8' : 'float', sparse24 };
}

/**
 * Reads a compressed-tensors `pack-quantized` folder: its quantized layers become packed int4 /
 * int8 weights for the quantized kernels (returned in `packed`), the rest fp32 tensors. `weights`
 * also holds every layer dequantized (the model is validated and built from it; the packed
 * layers then replace the dense ones).
 */
export async function loadCompressedTensors(
  dir: string,
  configJson: Record<string, unknown>,
): Promise<{
  config: LlamaConfig;
  weights: Weights;
  packed: Map<string, { weight: PackedInt4 | PackedInt8; activations: 'float' | 'int8' }>;
  sparse24: Set<string>;
}> {
  const file = join(dir, 'model.safetensors');
  const { args, activations, sparse24 } = compressedTensorsScheme(dir, configJson);
  const header = await readSafetensorsHeader(file);
  const raw: Weights = new Map();
  const packed = new Map<string, { weight: PackedInt4 | PackedInt8; activations: 'float' | 'int8' }>();
  const i32 = async (name: string) => {
    const b = await readTensorBytes(header, name);
    return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const sideTensor = /\.(weight_(scale|zero_point|g_idx|shape)|bitmask|shape)$/;
  for (const [name, entry] of header.tensors) {
    if (sideTensor.test(name)) continue; // read with their weight_packed / compressed
    if (name.endsWith('.compressed')) {
      const layer = name.slice(0, -'.compressed'.length);
      const shape = await readTensorBytes(header, `${layer}.shape`);
      const dims = new BigInt64Array(shape.buffer, shape.byteOffset, shape.byteLength / 8);
      if (dims.length !== 2)
        throw new LlmcError('LLMC_INVALID_ARGUMENT', `${file}: ${layer}.shape holds ${dims.length} values, expected 2`);
      const [n, k] = [Number(dims[0]), Number(dims[1])];
      const values = (await readFloatTensor(header, name)).data;
      raw.set(`${layer}.weight`, {
        shape: [n, k],
        data: decodeSparse24Bitmask(
          values,
          await readTensorBytes(header, `${layer}.bitmask`),
          n,
          k,
          `${file}: ${layer}`,
        ),
      });
      continue;
    }
    if (entry.dtype !== 'I32') {
      raw.set(name, await readFloatTensor(header, name));
      continue;
    }
    if (!name.endsWith('.weight_packed')) continue;
    if (!args)
      throw new LlmcError(
        'LLMC_INVALID_ARGUMENT',
        `${file}: ${name} is packed but config.json has no weight quantization group`,
      );
    const layer = name.slice(0, -'.weight_packed'.length);
    const [n, k] = Array.from(await i32(`${layer}.weight_shape`)) as [number, number];
    const bits = args.num_bits;
    if (bits !== 4 && bits !== 8)
      throw new LlmcError('LLMC_UNSUPPORTED', `${file}: ${bits}-bit weights are not supported (4 and 8 are)`);
    const codes = unpackInt32(await i32(name), n, k, bits, 1);
    const scale = (await readFloatTensor(header, `${layer}.weight_scale`)).data;
    const groupCount = scale.length / n;
    const off = 1 << (bits - 1);
    let weight: PackedInt4 | PackedInt8;
    if (bits === 8) {
      if (!args.symmetric || groupCount !== 1)
        throw new LlmcError('LLMC_UNSUPPORTED', `${file}: ${layer}: 8-bit weights must be symmetric per channel`);
      weight = await packInt8(codes, scale, { n, k });
    } else {
      const gs = toPackedGroupSize(k / groupCount, k, `${file}: ${layer}`);
      const gIdx = header.tensors.has(`${layer}.weight_g_idx`) ? await i32(`${layer}.weight_g_idx`) : undefined;
      if (args.symmetric)
        weight = await packInt4(
          codes,
          scale,
          { n, k },
          { groupSize: gs, ...(gIdx ? { gIdx: Int32Array.from(gIdx) } : {}) },
        );
      else {
        const zp = unpackInt32(await i32(`${layer}.weight_zero_point`), n, groupCount, bits, 0);
        weight = await packInt4(
          Int8Array.from(codes, (v) => v + off),
          scale,
          { n, k },
          {
            groupSize: gs,
            zeroPoint: Uint8Array.from(zp, (v) => v + off),
            ...(gIdx ? { gIdx: Int32Array.from(gIdx) } : {}),
          },
        );
      }
    }
    packed.set(layer, { weight, activations });
    // The dequantized weight, for validation and the model's construction.
    const dq = dequantizeCodes(await weight.unpack(), n, k);
    raw.set(`${layer}.weight`, { shape: [n, k], data: dq });
  }
  const config = llamaConfigFromHf(configJson, raw);
  return { config, weights: canonicalWeights(raw, config.tiedEmbeddings), packed, sparse24 };
}

/**
 * A compressed-tensors folder from `config.json` and the safetensors header alone (no tensor data
 * is read): the config {@link loadCompressedTensors} returns, and what each linear layer's weight
 * holds (`w4a16 g64`, `w8a8`, `fp32 2:4`, …).
 */
export async function readCompressedTensorsHeader(
  dir: string,
  configJson: Record<string, unknown>,
): Promise<{ config: LlamaConfig; layers: Map<string, string> }> {
  const { args, activations, sparse24 } = compressedTensorsScheme(dir, configJson);
  const header = await readSafetensorsHeader(join(dir, 'model.safetensors'), { headerOnly: true });
  const shapes = new Map<string, { shape: readonly number[] }>();
  const layers = new Map<string, string>();
  const entry = (name: string) => {
    const e = header.tensors.get(name);
    if (!e) throw new LlmcError('LLMC_INVALID_ARGUMENT', `${header.path}: ${name} is missing`);
    return e;
  };
  for (const [name, e] of header.tensors) {
    if (/\.(weight_(scale|zero_point|g_idx|shape)|bitmask|shape)$/.test(name)) continue;
    const compressed = name.endsWith('.compressed');
    const packedWeight = e.dtype === 'I32' && name.endsWith('.weight_packed');
    if (!compressed && !packedWeight) {
      shapes.set(name, e);
      if (name.endsWith('.weight')) layers.set(name.slice(0, -'.weight'.length), e.dtype.toLowerCase());
      continue;
    }
    const layer = name.slice(0, name.lastIndexOf('.'));
    const sparse = compressed || sparse24.has(layer) ? ' 2:4' : '';
    if (compressed) {
      shapes.set(`${layer}.weight`, { shape: [e.shape[0]!, entry(`${layer}.bitmask`).shape[1]! * 8] });
      layers.set(layer, `${e.dtype.toLowerCase()}${sparse}`);
      continue;
    }
    if (!args)
      throw new LlmcError(
        'LLMC_INVALID_ARGUMENT',
        `${header.path}: ${name} is packed but config.json has no weight quantization group`,
      );
    const bits = args.num_bits;
    const [n, k] = [e.shape[0]!, (e.shape[1]! * 32) / bits];
    const groups = entry(`${layer}.weight_scale`).shape[1] ?? 1;
    shapes.set(`${layer}.weight`, { shape: [n, k] });
    layers.set(layer, `w${bits}a${activations === 'int8' ? 8 : 16}${groups > 1 ? ` g${k / groups}` : ''}${sparse}`);
  }
  return { config: llamaConfigFromHf(configJson, shapes), layers };
}
