/** Timing with tinybench, on durations the native side measured (excludes the hop to its thread). */
import { Bench } from 'tinybench';

/** Bytes of distinct weight copies a cold measurement rotates over, so weights come from DRAM. */
export const COLD_BYTES = 256 * 2 ** 20;

/** Median and sample count of `run()`, which resolves to the milliseconds it measured natively. */
export async function medianMs(
  run: () => Promise<number>,
  timeMs: number,
): Promise<{ medianMs: number; samples: number }> {
  const bench = new Bench({ time: timeMs, iterations: 5, warmupIterations: 2, warmupTime: 0 });
  bench.add('kernel', async () => ({ overriddenDuration: await run() }), { async: true });
  await bench.run();
  const result = bench.tasks[0]?.result;
  if (!result || !('latency' in result)) throw new Error(`benchmark failed: ${JSON.stringify(result)}`);
  return { medianMs: result.latency.p50, samples: result.latency.samplesCount };
}

/** Number of copies of a `bytes`-sized weight that add up to at least {@link COLD_BYTES}. */
export function coldCopies(bytes: number): number {
  return Math.max(2, Math.ceil(COLD_BYTES / bytes));
}

/** A copy of packed weights `w` (same class and fields) holding `arrays`: fresh copies of its arrays, for cold rotation. */
export function withArrays<T extends object>(w: T, arrays: Partial<T>): T {
  return Object.assign(Object.create(Object.getPrototypeOf(w) as object) as object, w, arrays) as T;
}
