/**
 * Where `compress({ output, format })` sends the compressed model: one writer per output format,
 * each atomic (a temporary sibling renamed at the end; nothing is left behind on failure).
 */
import { invalidArgument, LlmcError } from '../errors.js';
import { saveCompressedTensors } from '../formats/compressed_tensors.js';
import type { Model } from '../model/model.js';

/** Output formats: compressed-tensors `pack-quantized` folders (vLLM, Transformers). */
export const OUTPUT_FORMATS = ['compressed-tensors'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Validates `options.format`. */
export function checkOutputFormat(format: unknown): OutputFormat {
  if (!OUTPUT_FORMATS.includes(format as OutputFormat)) throw invalidArgument('options.format', `one of ${OUTPUT_FORMATS.join(', ')}`, format);
  return format as OutputFormat;
}

/** Refuses, before any compression work, a model that `format` cannot be written from. */
export function checkWritable(model: Model, format: OutputFormat): void {
  switch (format) {
    case 'compressed-tensors':
      if (model.format !== 'huggingface')
        throw new LlmcError('LLMC_UNSUPPORTED', `writing ${format} needs a Hugging Face source folder; ${model.path} is ${model.format} (its Q/K rows would need converting to rotate_half order)`);
  }
}

/** Writes `model` to `path` in `format` (`overwrite` replaces what is there). */
export async function writeOutput(model: Model, path: string, format: OutputFormat, options: { overwrite: boolean }): Promise<void> {
  switch (format) {
    case 'compressed-tensors':
      return saveCompressedTensors(model, path, options);
  }
}
