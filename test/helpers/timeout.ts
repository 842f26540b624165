/**
 * Test timeouts that scale with the machine: every timeout (vitest.config.ts's per-test and hook
 * timeouts, and any explicit one in a test) is a base time multiplied by LLMC_TEST_TIMEOUT_FACTOR
 * (default 1). On a slow or busy machine run e.g. `LLMC_TEST_TIMEOUT_FACTOR=4 npm test` instead of
 * getting timeouts.
 */
const raw = process.env.LLMC_TEST_TIMEOUT_FACTOR;
const factor = raw === undefined || raw === '' ? 1 : Number(raw);
if (!(factor > 0) || !Number.isFinite(factor))
  throw new Error(`LLMC_TEST_TIMEOUT_FACTOR must be a positive number (e.g. 2), got ${JSON.stringify(raw)}`);

/** The multiplier of every test timeout (LLMC_TEST_TIMEOUT_FACTOR, default 1). */
export const TIMEOUT_FACTOR = factor;

/** `ms` times LLMC_TEST_TIMEOUT_FACTOR. */
export function scaledTimeout(ms: number): number {
  return Math.round(ms * TIMEOUT_FACTOR);
}
