/**
 * What the native code runs on, and the two settings that change it: the number of threads of the
 * process-wide pool and the CPU instruction-set level the kernels dispatch on.
 */
import { loadBinding, native } from './native/loader.js';
import type { IsaLevel, NativeCudaInfo, NativeRuntimeInfo } from './native/contract.js';
import { fromNative, invalidArgument } from './errors.js';
import { checkInteger } from './validate.js';

export type { CpuFeatures, IsaLevel } from './native/contract.js';
export type CudaInfo = NativeCudaInfo;

/** Runtime facts, as `llm-compress doctor` prints them. */
export interface RuntimeInfo extends NativeRuntimeInfo {
  /** The `.node` file in use and which loader candidate it came from. */
  binary: { path: string; source: string };
}

const ISA_LEVELS: readonly IsaLevel[] = ['scalar', 'neon', 'avx2', 'avx512'];

/**
 * Describes the native runtime: version, binary, CPU and its features, ISA level in use, threads.
 *
 * @example
 * ```ts
 * import { runtimeInfo } from 'llm-compress-native';
 * const { isa, threads, cpu } = runtimeInfo();
 * console.log(`${cpu.brand}: ${isa} kernels on ${threads} threads`);
 * ```
 */
export function runtimeInfo(): RuntimeInfo {
  const { binding, path, source } = loadBinding();
  return { ...binding.runtimeInfo(), binary: { path, source } };
}

/**
 * Sets the number of threads of the process-wide pool (default: the number of cores, or the
 * `LLMC_THREADS` environment variable).
 *
 * @param threads - an integer in [1, 1024]
 * @example
 * ```ts
 * setThreads(1); // single-threaded kernels, e.g. to share the machine
 * ```
 */
export function setThreads(threads: number): void {
  checkInteger('threads', threads, 1, 1024);
  try {
    native().setThreads(threads);
  } catch (e) {
    throw fromNative(e);
  }
}

/**
 * Forces the CPU instruction-set level the kernels use. The default is the best the CPU supports,
 * lowered by the `LLMC_ISA` environment variable. Asking for a level the CPU lacks throws
 * `LLMC_UNSUPPORTED`. Meant for tests and for working around a misbehaving CPU.
 *
 * @param isa - `'scalar'`, `'neon'`, `'avx2'` or `'avx512'`
 * @example
 * ```ts
 * setIsa('avx2'); // compare the AVX2 path with the AVX-512 one
 * ```
 */
export function setIsa(isa: IsaLevel): void {
  if (!ISA_LEVELS.includes(isa)) throw invalidArgument('isa', `one of ${ISA_LEVELS.join(', ')}`, isa);
  try {
    native().setIsa(isa);
  } catch (e) {
    throw fromNative(e);
  }
}

/** The ISA levels this machine can run, lowest first (always includes `'scalar'`). */
export function availableIsaLevels(): IsaLevel[] {
  const { bestIsa } = native().runtimeInfo();
  if (bestIsa === 'neon') return ['scalar', 'neon'];
  return ISA_LEVELS.filter((l) => l !== 'neon' && ISA_LEVELS.indexOf(l) <= ISA_LEVELS.indexOf(bestIsa));
}

/**
 * Whether this binary has CUDA kernels, and what driver and GPU it sees.
 *
 * @example
 * ```ts
 * const cuda = cudaInfo();
 * if (cuda.deviceCount > 0) console.log(cuda.device?.name);
 * else console.log('CPU only:', cuda.error);
 * ```
 */
export function cudaInfo(): CudaInfo {
  return native().cudaInfo();
}
