/** The one assertion for typed errors (LlmcError) that every test file uses. */
import { expect } from 'vitest';

import { LlmcError } from '../../lib/errors.js';

/**
 * Expects `p` (a promise, or a function that throws or returns one) to fail with an LlmcError of
 * `code`; with `argument`, naming that argument; with `message`, a message matching it. Returns
 * the error for further checks.
 *
 *   await expectError(kernels.packInt8(q, scale, shape), 'LLMC_INVALID_ARGUMENT', 'scale');
 *   await expectError(loadModel(path), 'LLMC_UNSUPPORTED', /unknown model format/);
 */
export async function expectError(
  p: Promise<unknown> | (() => unknown),
  code: string,
  message: RegExp,
): Promise<LlmcError>;
export async function expectError(
  p: Promise<unknown> | (() => unknown),
  code: string,
  argument?: string,
  message?: RegExp,
): Promise<LlmcError>;
export async function expectError(
  p: Promise<unknown> | (() => unknown),
  code: string,
  argumentOrMessage?: string | RegExp,
  message?: RegExp,
): Promise<LlmcError> {
  const e = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LlmcError);
  const err = e as LlmcError;
  expect(err.code).toBe(code);
  if (typeof argumentOrMessage === 'string') expect(err.argument).toBe(argumentOrMessage);
  const re = argumentOrMessage instanceof RegExp ? argumentOrMessage : message;
  if (re) expect(err.message).toMatch(re);
  return err;
}
