import { describe, expect, it } from 'vitest';

import { COMPRESS_FLAGS, withFlagName } from '../../lib/cli/flags.js';
import { invalidArgument, LlmcError } from '../../lib/errors.js';

describe('withFlagName', () => {
  it('names the flag that set an argument, and leaves other errors as they are', () => {
    const e = withFlagName(
      invalidArgument('options.quantize.groupSize', 'a divisor of 64', 48),
      COMPRESS_FLAGS,
    ) as LlmcError;
    expect(e.message).toBe('Invalid --group-size: expected a divisor of 64, got 48 (number)');
    expect([e.code, e.argument, e.expected, e.actual]).toEqual([
      'LLMC_INVALID_ARGUMENT',
      '--group-size',
      'a divisor of 64',
      '48 (number)',
    ]);
    expect(
      (
        withFlagName(
          invalidArgument('options.calibration.paragraphs[1]', 'an integer >= 0', -1),
          COMPRESS_FLAGS,
        ) as LlmcError
      ).argument,
    ).toBe('--calib-paragraphs');
    const other = invalidArgument('options.quantize.mse', 'a boolean', 1);
    expect(withFlagName(other, COMPRESS_FLAGS)).toBe(other);
    const unsupported = new LlmcError('LLMC_UNSUPPORTED', 'no');
    expect(withFlagName(unsupported, COMPRESS_FLAGS)).toBe(unsupported);
  });
});
