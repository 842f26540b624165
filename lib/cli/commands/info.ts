/** `llm-compress info <model>`: format, architecture, tensors, size — from the headers alone. */
import { Command } from 'commander';

import { describeModel } from '../../model/model.js';
import { withModelOptions } from './model_args.js';

export function infoCommand(): Command {
  return withModelOptions(new Command('info'))
    .description('describe a model: format, architecture, tensors, parameters')
    .argument('<model>', 'Hugging Face folder, llama2.c .bin, or .gguf')
    .option('--json', 'print one JSON object')
    .action(async (path: string, opts: { tokenizer?: string; prependSpace?: boolean; json?: boolean }) => {
      // Headers only (no tensor data): instant and small on any model, even a truncated file.
      const model = await describeModel(path, {
        ...(opts.tokenizer !== undefined ? { tokenizer: opts.tokenizer } : {}),
        ...(opts.prependSpace === false ? { prependSpace: false } : {}),
      });
      const { linears } = model;
      const params =
        linears.reduce((a, l) => a + l.shape[0] * l.shape[1], 0) -
        (model.config.tiedEmbeddings ? model.config.vocabSize * model.config.dim : 0);
      const report = {
        path: model.path,
        format: model.format,
        config: model.config,
        tokenizer: { vocabSize: model.tokenizer.vocabSize, bos: model.tokenizer.bos, eos: model.tokenizer.eos },
        linearParameters: params,
        linears,
      };
      if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        const c = model.config;
        // What the stored weights hold: one kind, or a count of each (e.g. "14 w4a16 g64, 1 fp32").
        const kinds = new Map<string, number>();
        for (const l of linears) kinds.set(l.dtype, (kinds.get(l.dtype) ?? 0) + 1);
        const held = kinds.size === 1 ? [...kinds.keys()][0] : [...kinds].map(([k, n]) => `${n} ${k}`).join(', ');
        process.stdout.write(
          `${model.path}\n  format ${model.format}, LLaMA: dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} kv), vocab ${c.vocabSize}, context ${c.maxSeqLen}\n`,
        );
        process.stdout.write(
          `  RoPE ${c.ropeStyle} θ=${c.ropeTheta}, RMSNorm ε=${c.normEps}, embeddings ${c.tiedEmbeddings ? 'tied' : 'separate'}\n`,
        );
        process.stdout.write(
          `  ${linears.length} linear layers, ${params.toLocaleString('en-US')} parameters in them (${held})\n`,
        );
      }
    });
}
