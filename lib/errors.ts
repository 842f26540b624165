/**
 * Errors thrown by llm-compress-native. Every failure is an {@link LlmcError} with a stable
 * `code`; argument errors also name the argument, what was expected and what was given.
 */

/** Stable error codes. Native failures keep the code the C++ core reported. */
export type LlmcErrorCode =
  | 'LLMC_INVALID_ARGUMENT'
  | 'LLMC_OUT_OF_MEMORY'
  | 'LLMC_UNSUPPORTED'
  | 'LLMC_INTERNAL'
  | 'LLMC_CUDA_ERROR'
  | 'LLMC_NATIVE_LOAD_FAILED';

const KNOWN_CODES: ReadonlySet<string> = new Set<LlmcErrorCode>([
  'LLMC_INVALID_ARGUMENT',
  'LLMC_OUT_OF_MEMORY',
  'LLMC_UNSUPPORTED',
  'LLMC_INTERNAL',
  'LLMC_CUDA_ERROR',
  'LLMC_NATIVE_LOAD_FAILED',
]);

/** Details of an argument error. */
export interface ArgumentDetails {
  /** The argument's name as the caller wrote it, e.g. `"shape.m"`. */
  argument: string;
  /** What was expected, in words. */
  expected: string;
  /** A short description of the value given. */
  actual: string;
}

/**
 * The one error class of the library.
 *
 * @example
 * ```ts
 * try {
 *   await kernels.gemm(a, b, { m: 2, n: 3, k: 4 });
 * } catch (e) {
 *   if (e instanceof LlmcError && e.code === 'LLMC_INVALID_ARGUMENT') console.error(e.argument, e.message);
 * }
 * ```
 */
export class LlmcError extends Error {
  override name = 'LlmcError';
  readonly code: LlmcErrorCode;
  readonly argument?: string;
  readonly expected?: string;
  readonly actual?: string;

  constructor(code: LlmcErrorCode, message: string, details?: ArgumentDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    if (details) {
      this.argument = details.argument;
      this.expected = details.expected;
      this.actual = details.actual;
    }
  }
}

/** Describes a value for an error message: its type and, when short, its value. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (ArrayBuffer.isView(value)) {
    const length = 'length' in value ? (value as { length: number }).length : value.byteLength;
    return `${value.constructor.name} of length ${length}`;
  }
  if (Array.isArray(value)) return `Array of length ${value.length}`;
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${String(value)} (${typeof value})`;
    case 'string':
      return value.length > 60 ? `a string of length ${value.length}` : `"${value}" (string)`;
    case 'function':
      return 'a function';
    default:
      return value.constructor?.name ? `an object (${value.constructor.name})` : 'an object';
  }
}

/** The error for a bad argument: `Invalid <argument>: expected <expected>, got <actual>`. */
export function invalidArgument(argument: string, expected: string, value: unknown): LlmcError {
  const actual = describe(value);
  return new LlmcError('LLMC_INVALID_ARGUMENT', `Invalid ${argument}: expected ${expected}, got ${actual}`, {
    argument,
    expected,
    actual,
  });
}

/** Runs a native call, turning what it throws or rejects with into an {@link LlmcError}. */
export async function callNative<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw fromNative(e);
  }
}

/** Turns an error thrown or rejected by the native addon into an {@link LlmcError}. */
export function fromNative(error: unknown): LlmcError {
  if (error instanceof LlmcError) return error;
  const err = error as { code?: unknown; message?: unknown };
  const code =
    typeof err?.code === 'string' && KNOWN_CODES.has(err.code) ? (err.code as LlmcErrorCode) : 'LLMC_INTERNAL';
  const message = typeof err?.message === 'string' ? err.message : String(error);
  return new LlmcError(code, message, undefined, { cause: error });
}
