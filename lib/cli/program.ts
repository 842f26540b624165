/**
 * The `llm-compress` program: one file per command under ./commands; main.ts runs it.
 * Exit codes: 0 success, 1 user error (bad arguments, unusable input), 2 internal error.
 */
import { Command, CommanderError } from 'commander';

import { packageVersion } from '../native/loader.js';
import { LlmcError } from '../errors.js';
import { benchCommand } from './commands/bench.js';
import { buildFromSourceCommand } from './commands/build_from_source.js';
import { compressCommand } from './commands/compress.js';
import { doctorCommand } from './commands/doctor.js';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { infoCommand } from './commands/info.js';

const USER_ERRORS = new Set(['LLMC_INVALID_ARGUMENT', 'LLMC_UNSUPPORTED', 'LLMC_NATIVE_LOAD_FAILED']);

/** Runs the CLI on `argv` (as process.argv: node, script, args...) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('llm-compress')
    .description('Compress large language models and run their kernels fast, from Node.js')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  program.addCommand(doctorCommand());
  program.addCommand(benchCommand());
  program.addCommand(compressCommand());
  program.addCommand(infoCommand());
  program.addCommand(evalCommand());
  program.addCommand(generateCommand());
  program.addCommand(buildFromSourceCommand());
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1; // commander printed the message
    if (e instanceof LlmcError) {
      process.stderr.write(`llm-compress: ${e.message}\n`);
      return USER_ERRORS.has(e.code) ? 1 : 2;
    }
    process.stderr.write(`llm-compress: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 2;
  }
}
