/** Argument checks shared by the public API. Each throws {@link invalidArgument}'s error. */
import { invalidArgument } from './errors.js';

export function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw invalidArgument(name, range, value);
  }
  return value;
}

export function checkFiniteNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidArgument(name, 'a finite number', value);
  return value;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidArgument(name, 'a boolean', value);
  return value;
}

export function checkFloat32Array(name: string, value: unknown, length?: number): Float32Array {
  if (!(value instanceof Float32Array)) throw invalidArgument(name, 'a Float32Array', value);
  if (length !== undefined && value.length !== length)
    throw invalidArgument(name, `a Float32Array of length ${length}`, value);
  return value;
}

export function checkObject(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidArgument(name, 'an object', value);
  return value as Record<string, unknown>;
}

/** Rejects keys the caller misspelled, so that a typo is an error instead of a silent default. */
export function checkKnownKeys(name: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw invalidArgument(`${name}.${key}`, `one of the options ${known.join(', ')}`, key);
  }
}

type TypedArrayClass<T> = { new (length: number): T; name: string };

/** A typed array of the given class (e.g. Int8Array) and, when given, exact length. */
export function checkTypedArray<T extends ArrayBufferView & { length: number }>(
  name: string,
  value: unknown,
  cls: TypedArrayClass<T>,
  length?: number,
): T {
  if (!(value instanceof (cls as unknown as new (...args: never[]) => T)))
    throw invalidArgument(name, `${article(cls.name)} ${cls.name}`, value);
  if (length !== undefined && value.length !== length)
    throw invalidArgument(name, `${article(cls.name)} ${cls.name} of length ${length}`, value);
  return value;
}

function article(word: string): string {
  return /^[AEIOU]/.test(word) ? 'an' : 'a';
}
