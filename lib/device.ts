/**
 * Where compression and matmuls run: `'cpu'`, `'cuda'` (an NVIDIA GPU through the kernels of
 * native/cuda/) or `'auto'` (the GPU when this binary has CUDA kernels and a device is usable,
 * else the CPU).
 */
import { native } from './native/loader.js';
import { invalidArgument, LlmcError } from './errors.js';

export type Device = 'cpu' | 'cuda' | 'auto';

/** A resolved device, with why it was chosen (for `auto`: why not the GPU when it is the CPU). */
export interface DeviceChoice {
  device: 'cpu' | 'cuda';
  /** One line for logs, e.g. `cuda: NVIDIA H100 80GB HBM3 (compute 9.0, 79.1 GiB)` or `cpu: no CUDA device (this binary was built without CUDA)`. */
  note: string;
}

/** Why no GPU can be used, or null when device 0 is usable. */
export function cudaUnavailable(): string | null {
  const info = native().cudaInfo();
  if (!info.compiled) return 'this binary was built without CUDA';
  if (info.deviceCount === 0) return info.error ?? 'no CUDA device';
  return null;
}

/**
 * Resolves a `device` option (`'cpu'`, `'cuda'` or `'auto'`). `'cuda'` without a usable GPU is an
 * error (LLMC_UNSUPPORTED, with the reason); `'auto'` falls back to the CPU and says why in `note`.
 *
 * @example
 * ```ts
 * const { device, note } = resolveDevice('options.device', 'auto');
 * console.log(note); // "cpu: no CUDA device (no NVIDIA driver found)"
 * ```
 */
export function resolveDevice(name: string, value: unknown): DeviceChoice {
  const d = value;
  if (d !== 'cpu' && d !== 'cuda' && d !== 'auto') throw invalidArgument(name, "'cpu', 'cuda' or 'auto'", value);
  if (d === 'cpu') return { device: 'cpu', note: 'cpu' };
  const why = cudaUnavailable();
  if (why === null) {
    const dev = native().cudaInfo().device!;
    return {
      device: 'cuda',
      note: `cuda: ${dev.name} (compute ${dev.computeCapability}, ${(dev.totalMemory / 2 ** 30).toFixed(1)} GiB)`,
    };
  }
  if (d === 'cuda')
    throw new LlmcError('LLMC_UNSUPPORTED', `${name} is 'cuda' but no GPU can be used: ${why}`, {
      argument: name,
      expected: 'a usable NVIDIA GPU',
      actual: why,
    });
  return { device: 'cpu', note: `cpu: no CUDA device (${why})` };
}

/** The addon's device argument. */
export function deviceCode(device: 'cpu' | 'cuda'): 0 | 1 {
  return device === 'cuda' ? 1 : 0;
}
