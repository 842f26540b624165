/**
 * Where `compress({ output, format })` sends the compressed model: one writer per output format,
 * each atomic (a temporary sibling renamed at the end; nothing is left behind on failure).
 */
import { invalidArgument, LlmcError } from '../errors.js';
import { saveCompressedTensors, weightsArgs } from '../formats/compressed_tensors.js';
import { saveGguf } from '../formats/gguf_write.js';
import { gptqLayerConfig, saveGptq } from '../formats/gptq.js';
import type { Model } from '../model/model.js';
import { toHalfRope } from '../model/rope_order.js';
import { Llama2cTokenizer } from '../tokenizers/llama2c.js';
import type { QuantArgs } from '../quant_args.js';
import type { LayerPlan } from './pipeline.js';
import type { ResolvedSpec } from './schemes.js';

/**
 * Output formats: compressed-tensors `pack-quantized` folders (vLLM, Transformers), GPTQ v1
 * folders (Transformers, vLLM, AutoGPTQ / GPTQModel, TGI; weight-only int4 / int8) and GGUF v3
 * files (llama.cpp, node-llama-cpp; `output` is the `.gguf` file).
 */
export const OUTPUT_FORMATS = ['compressed-tensors', 'gptq', 'gguf'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Validates `options.format`. */
export function checkOutputFormat(format: unknown): OutputFormat {
  if (!OUTPUT_FORMATS.includes(format as OutputFormat))
    throw invalidArgument('options.format', `one of ${OUTPUT_FORMATS.join(', ')}`, format);
  return format as OutputFormat;
}

/** Refuses, before any compression work, a model or scheme that `format` cannot hold. */
export function checkWritable(model: Model, format: OutputFormat, spec: ResolvedSpec): void {
  if (
    (format === 'compressed-tensors' || format === 'gptq') &&
    model.format !== 'huggingface' &&
    !(model.tokenizer instanceof Llama2cTokenizer && model.tokenizer.bos === 1 && model.tokenizer.eos === 2)
  )
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `writing ${format} from ${model.path}: its tokenizer cannot be written to a Hugging Face folder`,
    );
  if (format === 'gptq') {
    const q = spec.quantize?.args;
    const why = !q
      ? 'holds quantized weights and this scheme only prunes'
      : q.bits !== 4 && q.bits !== 8
        ? `holds 4- or 8-bit weights, not ${q.bits}-bit`
        : spec.activations !== 'float'
          ? 'holds weight-only quantization (int8 activations need compressed-tensors)'
          : q.bits === 8 && (q.groupSize !== 'row' || !q.symmetric)
            ? 'holds 8-bit weights here only per channel and symmetric (the int8 kernels)'
            : undefined;
    if (why) throw new LlmcError('LLMC_UNSUPPORTED', `format 'gptq' ${why}; use format 'compressed-tensors'`);
  }
  if (format === 'gguf') {
    // What ggml's block types hold without re-quantizing (lib/formats/gguf_write.ts, docs/formats.md "GGUF export").
    const q = spec.quantize?.args;
    const p = spec.prune;
    const why = p
      ? `has no sparse tensor type (${p.structure ?? `${p.sparsity} sparsity`} would be stored dense, saving nothing); use format 'compressed-tensors'`
      : !q
        ? undefined
        : q.bits !== 4 && q.bits !== 8
          ? `holds our 4-bit (Q4_0 / Q4_1 / Q6_K) and 8-bit (Q8_0) codes, not ${q.bits}-bit ones (they would be re-quantized); use bits 4 or 8, or format 'compressed-tensors'`
          : q.actOrder !== false
            ? `blocks hold 32 consecutive inputs with one scale, which act-order groups (g_idx) do not fill; use actOrder: false, or format 'gptq' / 'compressed-tensors'`
            : q.bits === 8 && (q.groupSize !== 'row' || !q.symmetric)
              ? `holds 8-bit codes as Q8_0 from per-channel symmetric int8 (groupSize 'row', symmetric) only; use that, or format 'compressed-tensors'`
              : q.bits === 4 && q.groupSize !== 'row' && q.groupSize % 32 !== 0
                ? `blocks hold 32 inputs: int4 groups must be 32, 64, 128 or 'row', not ${q.groupSize}`
                : undefined;
    if (why) throw new LlmcError('LLMC_UNSUPPORTED', `format 'gguf' ${why}`);
  }
}

/**
 * Refuses, before any compression work, layers that `format` cannot hold as the pipeline will make
 * them (`plan`): Hugging Face folders (compressed-tensors, GPTQ) declare one quantization config
 * for all layers, and their Q/K rows in rotate_half order.
 */
export function checkLayersWritable(model: Model, format: OutputFormat, spec: ResolvedSpec, plan: LayerPlan[]): void {
  if (format === 'gguf') return;
  // writeOutput reorders the Q/K rows of llama2.c / GGUF models for Hugging Face's rope, which it
  // cannot do to a layer packed for the 2:4 kernels.
  const sparseQk =
    model.config.ropeStyle === 'half' ? undefined : plan.find((l) => l.sparse24 && /\.(q|k)_proj$/.test(l.name));
  if (sparseQk)
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `writing ${format} from ${model.path}: Hugging Face folders hold the Q/K rows in rotate_half order, and the 2:4 sparse ${sparseQk.name} cannot be reordered yet; leave the q_proj / k_proj layers uncompressed (ignore), or compress the model from a Hugging Face folder`,
    );
  // Both formats declare one quantization config for all the layers they hold as codes.
  const codes = plan.flatMap((l) => (l.quant && l.kernel !== 'dense' ? [{ ...l, quant: l.quant }] : []));
  const spelling = (a: QuantArgs) => JSON.stringify(format === 'gptq' ? gptqLayerConfig(a) : weightsArgs(a));
  const first = codes[0];
  const other = first && codes.find((l) => spelling(l.quant) !== spelling(first.quant));
  if (first && other) {
    const how = (l: typeof first) =>
      `${l.name} (${l.cols} inputs) with ${l.quant.groupSize === 'row' ? 'one group per row' : `groups of ${l.quant.groupSize}`}`;
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `format '${format}' holds one quantization config for all layers, and a group size of ${spec.quantize?.args.groupSize} quantizes ${how(first)} but ${how(other)}; use a group size below every layer's inputs, or 'row'`,
    );
  }
  if (format === 'gptq' && !first)
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `format 'gptq' holds int4 / int8 codes, and a group size of ${spec.quantize?.args.groupSize} leaves every layer dense (the int4 kernels take groups of 32, 64, 128 or one per row); use one of those, or format 'compressed-tensors'`,
    );
}

/** Writes `model` to `path` (a folder; a `.gguf` file for gguf) in `format` (`overwrite` replaces what is there). */
export async function writeOutput(
  model: Model,
  path: string,
  format: OutputFormat,
  options: { overwrite: boolean },
): Promise<void> {
  // Hugging Face folders hold Q/K rows in rotate_half order (llama2.c and GGUF sources are converted).
  if (format === 'compressed-tensors' || format === 'gptq') await toHalfRope(model);
  switch (format) {
    case 'compressed-tensors':
      return saveCompressedTensors(model, path, options);
    case 'gptq':
      return saveGptq(model, path, options);
    case 'gguf':
      await saveGguf(model, path, options);
  }
}
