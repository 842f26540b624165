/** `llm-compress compress <model> -o <dir>`: the layer-by-layer pipeline, written as compressed-tensors. */
import { Command } from 'commander';

import { compress, type CompressOptions } from '../../compress/compress.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../../compress/output.js';
import type { Device } from '../../device.js';
import { SCHEMES, type Scheme } from '../../compress/schemes.js';
import { invalidArgument } from '../../errors.js';
import { COMPRESS_FLAGS, namedByFlags } from '../flags.js';
import { stageBars } from '../progress.js';
import { paragraphRange, withModelOptions } from './model_args.js';

function int(name: string, text: string): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1) throw invalidArgument(name, 'a positive integer', text);
  return v;
}

interface Opts {
  output: string;
  scheme?: string;
  method?: string;
  bits?: string;
  groupSize?: string;
  asym?: boolean;
  actOrder?: string;
  prune?: string;
  structure?: string;
  sparsity?: string;
  calib?: string;
  calibParagraphs?: string;
  samples: string;
  seqLen: string;
  format: string;
  overwrite?: boolean;
  evalData?: string;
  evalParagraphs?: string;
  device: string;
  json?: boolean;
  tokenizer?: string;
  prependSpace?: boolean;
}

export function compressCommand(): Command {
  return withModelOptions(new Command('compress'))
    .description('compress a model layer by layer (GPTQ, SparseGPT, RTN, Wanda, magnitude) and write it')
    .argument('<model>', 'Hugging Face folder, llama2.c .bin or .gguf')
    .requiredOption(
      '-o, --output <path>',
      'output folder, or the .gguf file for --format gguf (must not exist unless --overwrite)',
    )
    .option('--scheme <name>', `preset: ${SCHEMES.join(', ')}`)
    .option('--method <m>', 'quantization method: gptq or rtn')
    .option('--bits <n>', 'bits per weight (2..8)')
    .option('--group-size <n>', "inputs per group, or 'row'")
    .option('--asym', 'asymmetric quantization (zero points)')
    .option('--act-order <mode>', 'static or dynamic')
    .option('--prune <m>', 'pruning method: sparsegpt, wanda or magnitude')
    .option('--structure <N:M>', 'N:M sparsity, e.g. 2:4')
    .option('--sparsity <f>', 'unstructured sparsity, e.g. 0.5')
    .option('--calib <file>', 'calibration text (paragraphs separated by blank lines)')
    .option('--calib-paragraphs <A:B>', 'calibration paragraphs [A, B)')
    .option('--samples <n>', 'calibration windows', '128')
    .option('--seq-len <n>', 'tokens per calibration window', '256')
    .option('--format <f>', `output format: ${OUTPUT_FORMATS.join(', ')}`, 'compressed-tensors')
    .option('--overwrite', 'replace the output folder')
    .option('--eval-data <file>', 'also report quality before and after on this text')
    .option('--eval-paragraphs <A:B>', 'evaluation paragraphs [A, B)')
    .option('--device <d>', 'where the Hessians and GPTQ / SparseGPT loops run: cpu, cuda or auto', 'cpu')
    .option('--json', 'progress events as JSON lines, then the report')
    .action(
      namedByFlags(COMPRESS_FLAGS, async (path: string, opts: Opts) => {
        if (!OUTPUT_FORMATS.includes(opts.format as OutputFormat))
          throw invalidArgument('--format', OUTPUT_FORMATS.join(' | '), opts.format);
        const quantize: NonNullable<CompressOptions['quantize']> = {
          ...(opts.method !== undefined ? { method: opts.method as 'gptq' | 'rtn' } : {}),
          ...(opts.bits !== undefined ? { bits: int('--bits', opts.bits) } : {}),
          ...(opts.groupSize !== undefined
            ? { groupSize: opts.groupSize === 'row' ? 'row' : int('--group-size', opts.groupSize) }
            : {}),
          ...(opts.asym ? { symmetric: false } : {}),
          ...(opts.actOrder !== undefined ? { actOrder: opts.actOrder as 'static' | 'dynamic' } : {}),
        };
        const prune: NonNullable<CompressOptions['prune']> = {
          ...(opts.prune !== undefined ? { method: opts.prune as 'sparsegpt' | 'wanda' | 'magnitude' } : {}),
          ...(opts.structure !== undefined ? { structure: opts.structure } : {}),
          ...(opts.sparsity !== undefined ? { sparsity: Number(opts.sparsity) } : {}),
        };
        const bars = stageBars(!opts.json && process.stderr.isTTY === true);
        const { report, model } = await compress(path, {
          ...(opts.scheme !== undefined ? { scheme: opts.scheme as Scheme } : {}),
          ...(Object.keys(quantize).length > 0 ? { quantize } : {}),
          ...(Object.keys(prune).length > 0 ? { prune } : {}),
          ...(opts.calib !== undefined
            ? {
                calibration: {
                  file: opts.calib,
                  samples: int('--samples', opts.samples),
                  seqLen: int('--seq-len', opts.seqLen),
                  ...(opts.calibParagraphs !== undefined ? { paragraphs: paragraphRange(opts.calibParagraphs) } : {}),
                },
              }
            : {}),
          ...(opts.evalData !== undefined
            ? {
                evaluate: {
                  file: opts.evalData,
                  ...(opts.evalParagraphs !== undefined ? { paragraphs: paragraphRange(opts.evalParagraphs) } : {}),
                },
              }
            : {}),
          ...(opts.tokenizer !== undefined ? { tokenizer: opts.tokenizer } : {}),
          ...(opts.prependSpace === false ? { prependSpace: false } : {}),
          output: opts.output,
          format: opts.format as OutputFormat,
          overwrite: opts.overwrite === true,
          device: opts.device as Device,
          onProgress: (e) => {
            if (opts.json) process.stdout.write(`${JSON.stringify(e)}\n`);
            else if (e.stage === 'device') process.stderr.write(`running on ${e.note}\n`);
            else bars.update(e.phase ? `${e.stage} (${e.phase})` : e.stage, e.done, e.total, e.module ?? '');
          },
        });
        model.dispose();
        bars.stop();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(report)}\n`);
          return;
        }
        process.stdout.write(
          `${opts.output}: ${report.layers.length} layers, ${report.bitsPerWeight.toFixed(2)} bits/weight in them, ` +
            `${(report.originalBytes / 1e6).toFixed(2)} MB -> ${(report.compressedBytes / 1e6).toFixed(2)} MB (${report.ratio.toFixed(2)}x), ${(report.totalMs / 1000).toFixed(1)} s\n`,
        );
        if (report.quality) {
          const { before, after } = report.quality;
          process.stdout.write(
            `bits/byte ${before.bitsPerByte.toFixed(4)} -> ${after.bitsPerByte.toFixed(4)}, KL ${after.kl!.toFixed(4)}, top-1 ${(100 * after.top1!).toFixed(1)}%\n`,
          );
        }
      }),
    );
}
