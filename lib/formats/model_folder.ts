/**
 * Writing a Hugging Face-style model folder (config.json, model.safetensors, JSON side files and
 * the source's tokenizer files) atomically: everything goes to a temporary sibling folder that is
 * renamed onto the output at the end, so a failed or aborted write leaves nothing behind.
 */
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { LlmcError } from '../errors.js';
import { writeSafetensors, type TensorToWrite } from './safetensors_write.js';

/** Tokenizer and generation files copied from the source folder when it has them. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'tokenizer.model'];

export interface ModelFolder {
  tensors: readonly TensorToWrite[];
  /** JSON files by name (config.json, quantize_config.json, ...). */
  json: Record<string, unknown>;
  /** Folder whose tokenizer files are copied. */
  sourceDir: string;
}

/** Refuses an existing `outDir` unless `overwrite`. */
export async function checkOutputFolder(outDir: string, overwrite: boolean): Promise<void> {
  if (!overwrite && (await stat(outDir).then(() => true, () => false)))
    throw new LlmcError('LLMC_INVALID_ARGUMENT', `${outDir} exists: choose another output folder or pass overwrite: true`);
}

/** Writes `folder` to `outDir` atomically (see the module comment). */
export async function writeModelFolder(outDir: string, folder: ModelFolder, options: { overwrite?: boolean } = {}): Promise<void> {
  await checkOutputFolder(outDir, options.overwrite === true);
  const tmp = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}-${Date.now()}`);
  await mkdir(tmp, { recursive: true });
  try {
    await writeSafetensors(join(tmp, 'model.safetensors'), folder.tensors, { format: 'pt' });
    for (const [name, value] of Object.entries(folder.json)) await writeFile(join(tmp, name), `${JSON.stringify(value, null, 2)}\n`);
    for (const f of TOKENIZER_FILES) await copyFile(join(folder.sourceDir, f), join(tmp, f)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    if (options.overwrite) await rm(outDir, { recursive: true, force: true });
    await rename(tmp, outDir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
