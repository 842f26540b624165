/** Which prebuilt package fits this process: `<os>-<cpu>[-<libc>]`, as in DESIGN.md section 6. */
import { existsSync } from 'node:fs';

export type Libc = 'gnu' | 'musl';

/** glibc version of this process (e.g. "2.36"), or undefined on musl and non-Linux systems. */
export function glibcVersion(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime;
}

export function libc(): Libc | undefined {
  if (process.platform !== 'linux') return undefined;
  return glibcVersion() ? 'gnu' : 'musl';
}

/** The platform id used in package names, e.g. `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`. */
export function platformId(): string {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform === 'linux') return `${base}-${libc()}`;
  if (process.platform === 'win32') return `${base}-msvc`;
  return base;
}

/** The npm package that holds the prebuilt addon for this platform (optionally the CUDA variant). */
export function platformPackage(cuda = false): string {
  return `llm-compress-native-${platformId()}${cuda ? '-cuda' : ''}`;
}

/** True when an NVIDIA driver seems installed (cheap check; the CUDA binary is test-loaded after). */
export function nvidiaDriverPresent(): boolean {
  if (process.platform === 'linux') return existsSync('/proc/driver/nvidia/version');
  if (process.platform === 'win32') return existsSync(`${process.env.SystemRoot ?? 'C:\\Windows'}\\System32\\nvcuda.dll`);
  return false;
}
