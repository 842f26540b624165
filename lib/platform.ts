/**
 * Which prebuilt package fits this process: `<os>-<cpu>[-<libc>]`, as in DESIGN.md section 6.
 * The packaging side of the same table is scripts/platforms.mjs (npm/<id>/ folders); a unit test
 * checks that both agree.
 */
import { existsSync } from 'node:fs';

export type Libc = 'gnu' | 'musl';

/** Platform ids that have a prebuilt package, each also with a `-cuda` variant where listed. */
export const PREBUILT_PLATFORMS: readonly string[] = [
  'linux-x64-gnu',
  'linux-arm64-gnu',
  'linux-x64-musl',
  'darwin-arm64',
  'darwin-x64',
  'win32-x64-msvc',
];
export const CUDA_PLATFORMS: readonly string[] = ['linux-x64-gnu', 'win32-x64-msvc'];

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
export function platformPackage(cuda = false, id = platformId()): string {
  return `llm-compress-native-${id}${cuda ? '-cuda' : ''}`;
}

/** The flags that make npm install the package of this platform (npm >= 10.2: --os, --cpu, --libc). */
export function npmPlatformFlags(): string {
  const flags = [`--os=${process.platform}`, `--cpu=${process.arch}`];
  if (process.platform === 'linux') flags.push(`--libc=${libc() === 'musl' ? 'musl' : 'glibc'}`);
  return flags.join(' ');
}

/** Compares dotted versions numerically ("2.28" < "2.36" < "2.100"): negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** True when an NVIDIA driver seems installed (cheap check; the CUDA binary is test-loaded after). */
export function nvidiaDriverPresent(): boolean {
  if (process.platform === 'linux') return existsSync('/proc/driver/nvidia/version');
  if (process.platform === 'win32')
    return existsSync(`${process.env.SystemRoot ?? 'C:\\Windows'}\\System32\\nvcuda.dll`);
  return false;
}
