/**
 * Writing a Hugging Face-style model folder (config.json, model.safetensors, JSON side files and
 * the source's tokenizer files) atomically: everything goes to a temporary sibling folder that is
 * renamed onto the output at the end, so a failed or aborted write leaves nothing behind.
 */
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { LlmcError } from '../errors.js';
import { DenseLinear, type Linear } from '../model/linear.js';
import type { LlamaConfig, Tensor, Tokenizer } from '../model/types.js';
import { Llama2cTokenizer } from '../tokenizers/llama2c.js';
import { hfConfigJson } from './hf_config.js';
import { writeSafetensors, type TensorToWrite } from './safetensors_write.js';

/** Tokenizer and generation files copied from the source folder when it has them. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'tokenizer.model',
  'tokenizer.bin',
];

/** What the writers of compressed models need of a model (a `Model` from loadModel or compress()). */
export interface WritableModel {
  config: LlamaConfig;
  format: string;
  path: string;
  tokenizer: Tokenizer;
  llama: { linears: Map<string, Linear>; otherTensors(): Map<string, Tensor> };
}

/**
 * The classifier as the F32 tensor `lm_head.weight` when the model is untied (it is never
 * compressed, so it is written dense), or nothing when it reuses the token embedding.
 *
 * @param linears - the model's layers as the writer stores them (see `writableLinears`).
 * @throws {@link LlmcError} `LLMC_UNSUPPORTED` when an untied classifier is not a dense fp32 layer.
 */
export function untiedHead(config: LlamaConfig, linears: Map<string, Linear>): TensorToWrite[] {
  if (config.tiedEmbeddings) return [];
  const head = linears.get('lm_head');
  if (!(head instanceof DenseLinear))
    throw new LlmcError('LLMC_UNSUPPORTED', 'lm_head: only a dense fp32 classifier can be written');
  return [{ name: 'lm_head.weight', dtype: 'F32', shape: [head.outFeatures, head.inFeatures], data: head.weight }];
}

/** Refuses a model whose Q/K rows are not in Hugging Face's order (toHalfRope converts them). */
export function checkHalfRope(model: WritableModel, format: string): void {
  if (model.config.ropeStyle !== 'half')
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `writing ${format} needs Q/K rows in Hugging Face's rotate_half order; convert the model with toHalfRope first`,
    );
}

/** A file of the output folder besides the weights and JSON files: copied, or given. */
export type ExtraFile = { name: string; copyFrom: string } | { name: string; data: Uint8Array };

export interface ModelFolder {
  tensors: readonly TensorToWrite[];
  /** JSON files by name (config.json, quantize_config.json, ...). */
  json: Record<string, unknown>;
  /** Tokenizer files (see {@link sourceFiles}). */
  files: readonly ExtraFile[];
}

/**
 * What an output folder takes from the model's source: its config.json and tokenizer files (a
 * Hugging Face folder), or a config.json written from the config and the vocabulary as a llama2.c
 * `tokenizer.bin` (llama2.c and GGUF sources; loadModel reads that tokenizer in a folder without
 * tokenizer.json).
 */
export async function sourceFiles(
  model: WritableModel,
): Promise<{ config: Record<string, unknown>; files: ExtraFile[] }> {
  if (model.format === 'huggingface') {
    const config = JSON.parse(await readFile(join(model.path, 'config.json'), 'utf8')) as Record<string, unknown>;
    const files = [];
    for (const name of TOKENIZER_FILES)
      if (
        await stat(join(model.path, name)).then(
          () => true,
          () => false,
        )
      )
        files.push({ name, copyFrom: join(model.path, name) });
    return { config, files };
  }
  if (!(model.tokenizer instanceof Llama2cTokenizer))
    throw new LlmcError('LLMC_UNSUPPORTED', `${model.path}: its tokenizer cannot be written to a Hugging Face folder`);
  return {
    config: hfConfigJson(model.config, model.tokenizer),
    files: [{ name: 'tokenizer.bin', data: model.tokenizer.toLlama2cFile() }],
  };
}

/** Refuses an existing `outDir` unless `overwrite`. */
export async function checkOutputFolder(outDir: string, overwrite: boolean): Promise<void> {
  if (
    !overwrite &&
    (await stat(outDir).then(
      () => true,
      () => false,
    ))
  )
    throw new LlmcError(
      'LLMC_INVALID_ARGUMENT',
      `${outDir} exists: choose another output folder or pass overwrite: true`,
    );
}

/** Writes `folder` to `outDir` atomically (see the module comment). */
export async function writeModelFolder(
  outDir: string,
  folder: ModelFolder,
  options: { overwrite?: boolean } = {},
): Promise<void> {
  await checkOutputFolder(outDir, options.overwrite === true);
  const tmp = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}-${Date.now()}`);
  await mkdir(tmp, { recursive: true });
  try {
    await writeSafetensors(join(tmp, 'model.safetensors'), folder.tensors, { format: 'pt' });
    for (const [name, value] of Object.entries(folder.json))
      await writeFile(join(tmp, name), `${JSON.stringify(value, null, 2)}\n`);
    for (const f of folder.files) {
      if ('copyFrom' in f) await copyFile(f.copyFrom, join(tmp, f.name));
      else await writeFile(join(tmp, f.name), f.data);
    }
    if (options.overwrite) await rm(outDir, { recursive: true, force: true });
    await rename(tmp, outDir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
