/** `llm-compress generate <model> --prompt "..."`: text continuation (greedy or sampled). */
import { Command } from 'commander';

import { invalidArgument } from '../../errors.js';
import { generateTokens } from '../../model/model.js';
import { openModel, withDeviceOption, withModelOptions } from './model_args.js';

function num(name: string, text: string): number {
  const v = Number(text);
  if (!Number.isFinite(v)) throw invalidArgument(name, 'a number', text);
  return v;
}

export function generateCommand(): Command {
  return withDeviceOption(withModelOptions(new Command('generate')))
    .description('continue a prompt')
    .argument('<model>', 'Hugging Face folder, llama2.c .bin, or .gguf')
    .option('--prompt <text>', 'the prompt (default: empty, generate from BOS)', '')
    .option('--max-tokens <n>', 'tokens to generate at most', '64')
    .option('--temperature <t>', '0: greedy', '0')
    .option('--top-p <p>', 'nucleus sampling', '1')
    .option('--seed <n>', 'sampling seed', '1')
    .option('--json', 'print {"text", "tokens"}')
    .action(
      async (
        path: string,
        opts: {
          prompt: string;
          maxTokens: string;
          temperature: string;
          topP: string;
          seed: string;
          tokenizer?: string;
          prependSpace?: boolean;
          device: string;
          json?: boolean;
        },
      ) => {
        const model = await openModel(path, opts);
        const ids = await generateTokens(model, opts.prompt, {
          maxTokens: num('--max-tokens', opts.maxTokens),
          temperature: num('--temperature', opts.temperature),
          topP: num('--top-p', opts.topP),
          seed: num('--seed', opts.seed),
        });
        let text = model.tokenizer.decode(ids);
        if (opts.prompt.length === 0 && text.startsWith(' ')) text = text.slice(1);
        process.stdout.write(opts.json ? `${JSON.stringify({ text, tokens: ids })}\n` : `${opts.prompt}${text}\n`);
        model.dispose();
      },
    );
}
