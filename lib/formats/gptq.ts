/**
 * GPTQ v1 checkpoints (AutoGPTQ's `checkpoint_format: "gptq"`, which Transformers, vLLM,
 * GPTQModel and text-generation-inference load). Per quantized Linear `{name}`, with pf = 32 / bits
 * codes per int32 and G groups:
 *   {name}.qweight  I32 [k / pf, n]  unsigned codes u = q + 2^(bits−1) (symmetric) or q (with zero
 *                                    points), input i·pf + t of output j in bits [bits·t, bits·(t+1))
 *                                    of qweight[i, j]: packed down the inputs
 *   {name}.qzeros   I32 [G, n / pf]  zero point − 1 (the v1 convention), packed along the outputs;
 *                                    symmetric models store 2^(bits−1) − 1
 *   {name}.scales   F16 [G, n]
 *   {name}.g_idx    I32 [k]          group of each input (act-order, or p / groupSize)
 * W[j, p] = scales[g, j] · (u − zero), g = g_idx[p]. `quantize_config.json` and config.json's
 * `quantization_config` describe bits, group_size (−1: one group per row), desc_act and sym.
 * Scales are fp16 in the file: the writer rounds the in-memory model's scales to fp16 first, so
 * what is written evaluates exactly as the model returned by compress(). Layers that are not
 * quantized are written as fp32 `{name}.weight` and left out of `modules_in_block_to_quantize`.
 */
import { join } from 'node:path';

import { LlmcError } from '../errors.js';
import { packInt4, packInt8, toPackedGroupSize, type PackedInt4, type PackedInt8 } from '../kernels/quant.js';
import { DenseLinear } from '../model/linear.js';
import { QuantLinear } from '../model/quant_linear.js';
import type { LlamaConfig, Weights } from '../model/types.js';
import { hasGroupIndex, type QuantArgs } from '../quant_args.js';
import { packInt32, unpackInt32 } from './compressed_tensors.js';
import { canonicalWeights, llamaConfigFromHf } from './hf_config.js';
import {
  checkHalfRope,
  checkOutputFolder,
  sourceFiles,
  untiedHead,
  writeModelFolder,
  type WritableModel,
} from './model_folder.js';
import { dequantizeCodes, packedQuantArgs, withF16Scales } from './packed_codes.js';
import { writableLinears } from '../model/sparse24_linear.js';
import { readFloatTensor, readSafetensorsHeader, readTensorBytes } from './safetensors.js';
import { encodeF16, type TensorToWrite } from './safetensors_write.js';

/** What quantize_config.json holds (the fields AutoGPTQ / GPTQModel read). */
export interface GptqConfig {
  bits: 4 | 8;
  group_size: number;
  desc_act: boolean;
  sym: boolean;
  damp_percent: number;
  true_sequential: boolean;
  static_groups: boolean;
  quant_method: 'gptq';
  checkpoint_format: 'gptq';
  model_file_base_name: 'model';
}

/** GPTQ's spelling of quantization args: one group per row is group_size −1, a g_idx order desc_act. */
export function gptqLayerConfig(args: QuantArgs): Pick<GptqConfig, 'bits' | 'group_size' | 'desc_act' | 'sym'> {
  const { bits } = args;
  if (bits !== 4 && bits !== 8)
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `format 'gptq' holds 4- or 8-bit weights, not ${bits}-bit; use format 'compressed-tensors'`,
    );
  return {
    bits,
    group_size: args.groupSize === 'row' ? -1 : args.groupSize,
    desc_act: hasGroupIndex(args),
    sym: args.symmetric,
  };
}

/** Transposes a row-major `[rows × cols]` array. */
function transpose<T extends Int8Array | Float32Array>(a: T, rows: number, cols: number): T {
  const out = new (a.constructor as new (n: number) => T)(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/**
 * Writes a compressed model (quantized by compress(), Q/K rows in HF order) as a GPTQ
 * v1 folder, atomically. The model's quantized layers are first given fp16-rounded scales.
 */
export async function saveGptq(
  model: WritableModel,
  outDir: string,
  options: { overwrite?: boolean; dampPercent?: number } = {},
): Promise<void> {
  checkHalfRope(model, 'GPTQ');
  await checkOutputFolder(outDir, options.overwrite === true);
  const tensors: TensorToWrite[] = [];
  for (const [name, tensor] of model.llama.otherTensors())
    tensors.push({ name, dtype: 'F32', shape: tensor.shape, data: tensor.data });
  let config: ReturnType<typeof gptqLayerConfig> | undefined;
  const quantizedModules = new Set<string>();
  const linears = await writableLinears(model.llama.linears, { f16Scales: true });
  tensors.push(...untiedHead(model.config, linears));
  for (const [name, lin] of linears) {
    if (name === 'lm_head') continue;
    if (lin instanceof QuantLinear) {
      if (lin.activations !== 'float')
        throw new LlmcError(
          'LLMC_UNSUPPORTED',
          `${name}: GPTQ checkpoints hold weight-only quantization; int8 activations (W8A8 / W4A8) need format 'compressed-tensors'`,
        );
      const c = gptqLayerConfig(packedQuantArgs(lin.packed));
      if (config && JSON.stringify(config) !== JSON.stringify(c))
        throw new LlmcError(
          'LLMC_UNSUPPORTED',
          `${name}: GPTQ checkpoints have one quantization config for all layers; this layer has ${JSON.stringify(c)}, an earlier one ${JSON.stringify(config)}`,
        );
      config = c;
      const packed = await withF16Scales(lin.packed);
      lin.packed = packed;
      const codes = await packed.unpack();
      const { n, k, bits } = packed;
      const off = 1 << (bits - 1);
      const G = codes.scale.length / n;
      const zero = (codes as { zeroPoint?: Uint8Array }).zeroPoint;
      if (zero?.includes(0))
        throw new LlmcError(
          'LLMC_UNSUPPORTED',
          `${name}: a zero point of 0 cannot be stored in GPTQ v1 (it keeps zero − 1 in ${bits} bits); use format 'compressed-tensors' or symmetric quantization`,
        );
      // Signed codes for packInt32 (which adds 2^(bits−1)): u − 2^(bits−1).
      const q = zero ? Int8Array.from(codes.q, (u) => u - off) : codes.q;
      tensors.push({
        name: `${name}.qweight`,
        dtype: 'I32',
        shape: [Math.ceil(k / (32 / bits)), n],
        data: packInt32(transpose(q, n, k), k, n, bits, 0),
      });
      const z = new Int8Array(G * n);
      for (let j = 0; j < n; j++) for (let g = 0; g < G; g++) z[g * n + j] = (zero ? zero[j * G + g]! : off) - 1 - off;
      tensors.push({
        name: `${name}.qzeros`,
        dtype: 'I32',
        shape: [G, Math.ceil(n / (32 / bits))],
        data: packInt32(z, G, n, bits, 1),
      });
      tensors.push({
        name: `${name}.scales`,
        dtype: 'F16',
        shape: [G, n],
        data: encodeF16(transpose(codes.scale, n, G)),
      });
      const gIdx =
        (codes as { gIdx?: Int32Array }).gIdx ?? Int32Array.from({ length: k }, (_, p) => Math.floor(p / (k / G)));
      tensors.push({ name: `${name}.g_idx`, dtype: 'I32', shape: [k], data: gIdx });
      quantizedModules.add(name.replace(/^model\.layers\.\d+\./, ''));
    } else if (lin instanceof DenseLinear) {
      tensors.push({
        name: `${name}.weight`,
        dtype: 'F32',
        shape: [lin.outFeatures, lin.inFeatures],
        data: lin.weight,
      });
    } else {
      throw new LlmcError(
        'LLMC_UNSUPPORTED',
        `${name}: a layer of type ${(lin as object).constructor.name} cannot be written as GPTQ`,
      );
    }
  }
  if (!config)
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      "GPTQ checkpoints hold quantized layers and this model has none (pruning only? use format 'compressed-tensors')",
    );
  const quantizeConfig: GptqConfig = {
    ...config,
    damp_percent: options.dampPercent ?? 0.01,
    true_sequential: true,
    static_groups: false,
    quant_method: 'gptq',
    checkpoint_format: 'gptq',
    model_file_base_name: 'model',
  };
  const { config: hfConfig, files } = await sourceFiles(model);
  hfConfig.tie_word_embeddings = model.config.tiedEmbeddings;
  const all = [
    'self_attn.q_proj',
    'self_attn.k_proj',
    'self_attn.v_proj',
    'self_attn.o_proj',
    'mlp.gate_proj',
    'mlp.up_proj',
    'mlp.down_proj',
  ];
  hfConfig.quantization_config = {
    ...quantizeConfig,
    // Transformers quantizes every Linear of a block unless told which ones hold GPTQ tensors.
    ...(all.every((m) => quantizedModules.has(m))
      ? {}
      : { modules_in_block_to_quantize: [all.filter((m) => quantizedModules.has(m))] }),
  };
  await writeModelFolder(
    outDir,
    { tensors, json: { 'config.json': hfConfig, 'quantize_config.json': quantizeConfig }, files },
    options,
  );
}

/** True when config.json (or a quantize_config.json beside it) describes a GPTQ checkpoint. */
export function isGptq(config: unknown): boolean {
  return (config as { quantization_config?: { quant_method?: unknown } })?.quantization_config?.quant_method === 'gptq';
}

/** The bits per weight of a GPTQ `quantization_config`, refusing what the readers do not support. */
function gptqBits(dir: string, configJson: Record<string, unknown>): 4 | 8 {
  const q = configJson.quantization_config as Partial<GptqConfig> & { checkpoint_format?: string };
  const bits = q.bits;
  if (bits !== 4 && bits !== 8)
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `${dir}: GPTQ with ${String(bits)}-bit weights is not supported (4 and 8 are)`,
    );
  if (q.checkpoint_format !== undefined && q.checkpoint_format !== 'gptq')
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `${dir}: GPTQ checkpoint_format ${q.checkpoint_format} is not supported (gptq, i.e. v1, is)`,
    );
  return bits;
}

/**
 * Reads a GPTQ v1 folder: its quantized layers become packed int4 / int8 weights for the quantized
 * kernels (in `packed`), the rest fp32. `weights` also holds every layer dequantized (the model is
 * validated and built from it; the packed layers then replace the dense ones).
 */
export async function loadGptq(
  dir: string,
  configJson: Record<string, unknown>,
): Promise<{
  config: LlamaConfig;
  weights: Weights;
  packed: Map<string, { weight: PackedInt4 | PackedInt8; activations: 'float' }>;
}> {
  const file = join(dir, 'model.safetensors');
  const bits = gptqBits(dir, configJson);
  const header = await readSafetensorsHeader(file);
  const raw: Weights = new Map();
  const packed = new Map<string, { weight: PackedInt4 | PackedInt8; activations: 'float' }>();
  const i32 = async (name: string) => {
    if (!header.tensors.has(name)) throw new LlmcError('LLMC_INVALID_ARGUMENT', `${file}: ${name} is missing`);
    const b = await readTensorBytes(header, name);
    return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const pf = 32 / bits;
  const off = 1 << (bits - 1);
  for (const [name, entry] of header.tensors) {
    if (/\.(qzeros|scales|g_idx)$/.test(name)) continue; // read with their qweight
    if (!name.endsWith('.qweight')) {
      raw.set(name, await readFloatTensor(header, name));
      continue;
    }
    const layer = name.slice(0, -'.qweight'.length);
    const scalesT = await readFloatTensor(header, `${layer}.scales`);
    const [G, n] = scalesT.shape as [number, number];
    const gIdx = Int32Array.from(await i32(`${layer}.g_idx`));
    const k = gIdx.length;
    if (entry.shape.length !== 2 || entry.shape[0] !== Math.ceil(k / pf) || entry.shape[1] !== n)
      throw new LlmcError(
        'LLMC_INVALID_ARGUMENT',
        `${file}: ${name} has shape [${entry.shape.join(', ')}], expected [${Math.ceil(k / pf)}, ${n}] for g_idx [${k}] and scales [${G}, ${n}]`,
      );
    const u = transpose(unpackInt32(await i32(name), k, n, bits, 0), k, n); // u − 2^(bits−1), [n × k]
    const zq = unpackInt32(await i32(`${layer}.qzeros`), G, n, bits, 1); // (zero − 1) − 2^(bits−1)
    const scale = transpose(scalesT.data, G, n);
    const zero = new Uint8Array(n * G);
    for (let g = 0; g < G; g++) for (let j = 0; j < n; j++) zero[j * G + g] = zq[g * n + j]! + off + 1;
    const symmetric = zero.every((z) => z === off);
    const groupSize = k / G;
    if (!Number.isInteger(groupSize))
      throw new LlmcError('LLMC_INVALID_ARGUMENT', `${file}: ${layer}: ${G} groups do not divide k = ${k}`);
    const sequential = gIdx.every((g, p) => g === Math.floor(p / groupSize));
    let weight: PackedInt4 | PackedInt8;
    if (bits === 8) {
      if (!symmetric || G !== 1)
        throw new LlmcError(
          'LLMC_UNSUPPORTED',
          `${file}: ${layer}: 8-bit GPTQ weights must be symmetric with one group per row (the int8 kernels are per channel)`,
        );
      weight = await packInt8(u, scale, { n, k });
    } else {
      if (zero.some((z) => z > 15))
        throw new LlmcError(
          'LLMC_UNSUPPORTED',
          `${file}: ${layer}: a zero point of 16 (stored 15: the v1 wrap-around of 0) is not representable`,
        );
      const gs = toPackedGroupSize(groupSize, k, `${file}: ${layer}`);
      weight = await packInt4(
        symmetric ? u : Int8Array.from(u, (v) => v + off),
        scale,
        { n, k },
        {
          groupSize: gs,
          ...(symmetric ? {} : { zeroPoint: zero }),
          ...(sequential || G === 1 ? {} : { gIdx }),
        },
      );
    }
    packed.set(layer, { weight, activations: 'float' });
    raw.set(`${layer}.weight`, { shape: [n, k], data: dequantizeCodes(await weight.unpack(), n, k) });
  }
  const config = llamaConfigFromHf(configJson, raw);
  return { config, weights: canonicalWeights(raw, config.tiedEmbeddings), packed };
}

/**
 * A GPTQ folder from `config.json` and the safetensors header alone (no tensor data is read): the
 * config {@link loadGptq} returns, and what each linear layer's weight holds (`w4a16 g128`, `fp32`, …).
 */
export async function readGptqHeader(
  dir: string,
  configJson: Record<string, unknown>,
): Promise<{ config: LlamaConfig; layers: Map<string, string> }> {
  const bits = gptqBits(dir, configJson);
  const header = await readSafetensorsHeader(join(dir, 'model.safetensors'), { headerOnly: true });
  const shapes = new Map<string, { shape: readonly number[] }>();
  const layers = new Map<string, string>();
  for (const [name, e] of header.tensors) {
    if (/\.(qzeros|scales|g_idx)$/.test(name)) continue;
    if (!name.endsWith('.qweight')) {
      shapes.set(name, e);
      if (name.endsWith('.weight')) layers.set(name.slice(0, -'.weight'.length), e.dtype.toLowerCase());
      continue;
    }
    const layer = name.slice(0, -'.qweight'.length);
    const gIdx = header.tensors.get(`${layer}.g_idx`);
    const scales = header.tensors.get(`${layer}.scales`);
    if (!gIdx || !scales)
      throw new LlmcError('LLMC_INVALID_ARGUMENT', `${header.path}: ${layer} lacks g_idx or scales`);
    const [k, groups] = [gIdx.shape[0]!, scales.shape[0]!];
    shapes.set(`${layer}.weight`, { shape: [e.shape[1]!, k] });
    layers.set(layer, `w${bits}a16${groups > 1 ? ` g${k / groups}` : ''}`);
  }
  return { config: llamaConfigFromHf(configJson, shapes), layers };
}
