/**
 * Where `compress({ output, format })` sends the compressed model: one writer per output format,
 * each atomic (a temporary sibling renamed at the end; nothing is left behind on failure).
 */
import { invalidArgument, LlmcError } from '../errors.js';
import { saveCompressedTensors } from '../formats/compressed_tensors.js';
import { saveGptq } from '../formats/gptq.js';
import type { Model } from '../model/model.js';
import { toHalfRope } from '../model/rope_order.js';
import { Llama2cTokenizer } from '../tokenizers/llama2c.js';
import type { ResolvedSpec } from './schemes.js';

/**
 * Output formats: compressed-tensors `pack-quantized` folders (vLLM, Transformers) and GPTQ v1
 * folders (Transformers, vLLM, AutoGPTQ / GPTQModel, TGI; weight-only int4 / int8).
 */
export const OUTPUT_FORMATS = ['compressed-tensors', 'gptq'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Validates `options.format`. */
export function checkOutputFormat(format: unknown): OutputFormat {
  if (!OUTPUT_FORMATS.includes(format as OutputFormat)) throw invalidArgument('options.format', `one of ${OUTPUT_FORMATS.join(', ')}`, format);
  return format as OutputFormat;
}

/** Refuses, before any compression work, a model or scheme that `format` cannot hold. */
export function checkWritable(model: Model, format: OutputFormat, spec: ResolvedSpec): void {
  if ((format === 'compressed-tensors' || format === 'gptq') && model.format !== 'huggingface'
    && !(model.tokenizer instanceof Llama2cTokenizer && model.tokenizer.bos === 1 && model.tokenizer.eos === 2))
    throw new LlmcError('LLMC_UNSUPPORTED', `writing ${format} from ${model.path}: its tokenizer cannot be written to a Hugging Face folder`);
  if (format === 'gptq') {
    const q = spec.quantize;
    const why = !q ? 'holds quantized weights and this scheme only prunes'
      : q.bits !== 4 && q.bits !== 8 ? `holds 4- or 8-bit weights, not ${q.bits}-bit`
        : spec.activations !== 'float' ? 'holds weight-only quantization (int8 activations need compressed-tensors)'
          : q.bits === 8 && (q.groupSize !== 'row' || !q.symmetric) ? 'holds 8-bit weights here only per channel and symmetric (the int8 kernels)'
            : undefined;
    if (why) throw new LlmcError('LLMC_UNSUPPORTED', `format 'gptq' ${why}; use format 'compressed-tensors'`);
  }
}

/** Writes `model` to `path` in `format` (`overwrite` replaces what is there). */
export async function writeOutput(model: Model, path: string, format: OutputFormat, options: { overwrite: boolean }): Promise<void> {
  // Hugging Face folders hold Q/K rows in rotate_half order (llama2.c and GGUF sources are converted).
  if (format === 'compressed-tensors' || format === 'gptq') await toHalfRope(model);
  switch (format) {
    case 'compressed-tensors':
      return saveCompressedTensors(model, path, options);
    case 'gptq':
      return saveGptq(model, path, options);
  }
}
