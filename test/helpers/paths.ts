/**
 * Paths the tests share: the repository root, the real models and text of `../shared` (beside the
 * repository root; see its README) that the tests of test/model use, and temp folders. Tests that
 * need ../shared skip, with a message, when it is absent.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHARED = join(REPO_ROOT, '..', 'shared');
/** llama2.c checkpoint stories260K.bin, its tokenizer tok512.bin, and the same weights as stories260K.gguf. */
export const STORIES = join(SHARED, 'models', 'stories260K');
/** A Hugging Face folder (safetensors, config.json, tokenizer.json). */
export const TINY656 = join(SHARED, 'models', 'tinystories-656k');
/** The calibration and evaluation text. */
export const TEXT = join(SHARED, 'text', 'tinystories_val.txt');

/**
 * True when every path exists. Otherwise prints why `what` is skipped (the first missing path)
 * and returns false: use it as `describe.skipIf(!haveShared('the GGUF export tests', STORIES, TEXT))`.
 */
export function haveShared(what: string, ...paths: string[]): boolean {
  const missing = paths.find((p) => !existsSync(p));
  if (missing !== undefined)
    console.warn(`skipping ${what}: ${missing} is absent (the real models and text of ../shared)`);
  return missing === undefined;
}

/** A new empty folder under the OS temp folder, named llmc-<name>-XXXXXX. */
export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `llmc-${name}-`));
}
