/**
 * The CLI's names for the API arguments it sets: an {@link LlmcError} about an argument (its
 * `argument` detail, e.g. `options.quantize.groupSize`) is reported with the flag the user typed
 * (`--group-size`). Each command declares its table and wraps its action with {@link namedByFlags}.
 */
import { LlmcError } from '../errors.js';

/** A command's flags by the API argument each sets. */
export type FlagTable = Readonly<Record<string, string>>;

/** `llm-compress compress`: the compress() options its flags set. */
export const COMPRESS_FLAGS: FlagTable = {
  'options.output': '--output',
  'options.scheme': '--scheme',
  'options.quantize.method': '--method',
  'options.quantize.bits': '--bits',
  'options.quantize.groupSize': '--group-size',
  'options.quantize.symmetric': '--asym',
  'options.quantize.actOrder': '--act-order',
  'options.prune': '--structure / --sparsity',
  'options.prune.method': '--prune',
  'options.prune.structure': '--structure',
  'options.prune.sparsity': '--sparsity',
  'options.calibration': '--calib',
  'options.calibration.file': '--calib',
  'options.calibration.paragraphs': '--calib-paragraphs',
  'options.calibration.samples': '--samples',
  'options.calibration.seqLen': '--seq-len',
  'options.format': '--format',
  'options.overwrite': '--overwrite',
  'options.evaluate': '--eval-data',
  'options.evaluate.paragraphs': '--eval-paragraphs',
  'options.device': '--device',
  'options.tokenizer': '--tokenizer',
};

/**
 * `e` with its argument named by the flag that set it (`Invalid --group-size: expected ...`), when
 * `flags` has one; any other error as it is. Indices are ignored (`options.calibration.paragraphs[1]`
 * is `--calib-paragraphs`).
 */
export function withFlagName(e: unknown, flags: FlagTable): unknown {
  if (!(e instanceof LlmcError) || e.argument === undefined) return e;
  const flag = flags[e.argument] ?? flags[e.argument.replace(/\[\d+\]$/, '')];
  if (flag === undefined) return e;
  const expected = e.expected ?? '';
  const actual = e.actual ?? '';
  return new LlmcError(
    e.code,
    `Invalid ${flag}: expected ${expected}, got ${actual}`,
    { argument: flag, expected, actual },
    { cause: e },
  );
}

/**
 * A command action whose argument errors name the flags in `flags`.
 *
 * @example
 * ```ts
 * new Command('compress').option('--bits <n>').action(namedByFlags(COMPRESS_FLAGS, async (path, opts) => { ... }));
 * ```
 */
export function namedByFlags<A extends unknown[]>(
  flags: FlagTable,
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await action(...args);
    } catch (e) {
      throw withFlagName(e, flags);
    }
  };
}
