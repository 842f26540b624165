/** Options shared by the commands that load a model (info, eval, generate). */
import type { Command } from 'commander';

import { resolveDevice } from '../../device.js';
import { invalidArgument } from '../../errors.js';
import { loadModel, type Model } from '../../model/model.js';

export function withModelOptions(cmd: Command): Command {
  return cmd
    .option('--tokenizer <file>', 'tokenizer file when it is not beside the model')
    .option('--no-prepend-space', 'do not prepend the tokenizer\'s leading "▁" (models trained without it)');
}

/** `--device` of the commands that run a model (eval, generate). */
export function withDeviceOption(cmd: Command): Command {
  return cmd.option('--device <d>', 'where the linear layers run: cpu, cuda (GPU kernels) or auto', 'cpu');
}

export async function openModel(
  path: string,
  opts: { tokenizer?: string; prependSpace?: boolean; device?: string },
): Promise<Model> {
  let device: 'cpu' | 'cuda' = 'cpu';
  if (opts.device !== undefined && opts.device !== 'cpu') {
    const choice = resolveDevice('--device', opts.device);
    if (opts.device === 'auto') process.stderr.write(`linear layers on ${choice.note}\n`);
    device = choice.device;
  }
  return loadModel(path, {
    ...(opts.tokenizer !== undefined ? { tokenizer: opts.tokenizer } : {}),
    ...(opts.prependSpace === false ? { prependSpace: false } : {}),
    device,
  });
}

/** Parses "A:B" into [A, B). */
export function paragraphRange(text: string): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  if (!m || Number(m[2]) < Number(m[1]))
    throw invalidArgument('--paragraphs', 'A:B with 0 <= A <= B (e.g. 0:500)', text);
  return [Number(m[1]), Number(m[2])];
}
