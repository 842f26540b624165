/** `llm-compress eval <model> --data <file>`: the quality protocol of DESIGN.md section 7. */
import { Command } from 'commander';

import { evaluate } from '../../model/model.js';
import { stageBars } from '../progress.js';
import { openModel, paragraphRange, withDeviceOption, withModelOptions } from './model_args.js';

export function evalCommand(): Command {
  return withDeviceOption(withModelOptions(new Command('eval')))
    .description('mean NLL, perplexity and bits per byte on a text (KL and top-1 agreement with --reference)')
    .argument('<model>', 'Hugging Face folder, llama2.c .bin, or .gguf')
    .requiredOption('--data <file>', 'text file (paragraphs separated by blank lines)')
    .option('--paragraphs <A:B>', 'score paragraphs [A, B) only')
    .option('--reference <model>', 'compare next-token distributions with this model')
    .option('--json', 'print one JSON object')
    .action(
      async (
        path: string,
        opts: {
          data: string;
          paragraphs?: string;
          reference?: string;
          tokenizer?: string;
          prependSpace?: boolean;
          device: string;
          json?: boolean;
        },
      ) => {
        const model = await openModel(path, opts);
        const reference = opts.reference !== undefined ? await openModel(opts.reference, opts) : undefined;
        const bars = stageBars(!opts.json && process.stderr.isTTY === true);
        const r = await evaluate(model, {
          file: opts.data,
          ...(opts.paragraphs !== undefined ? { paragraphs: paragraphRange(opts.paragraphs) } : {}),
          ...(reference ? { reference } : {}),
          onProgress: (e: { done: number; total: number }) => bars.update('evaluate', e.done, e.total, 'windows'),
        });
        bars.stop();
        if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else {
          process.stdout.write(
            `nll ${r.nll.toFixed(5)} nats/token, perplexity ${r.perplexity.toFixed(3)}, ${r.bitsPerByte.toFixed(4)} bits/byte (${r.tokens} tokens, ${r.bytes} bytes)\n`,
          );
          if (r.kl !== undefined)
            process.stdout.write(
              `KL to the reference ${r.kl.toFixed(5)} nats/token, top-1 agreement ${(100 * r.top1!).toFixed(2)}%\n`,
            );
        }
        model.dispose();
        reference?.dispose();
      },
    );
}
