/**
 * The typed contract with the native addon (native/addon/), and the loader that finds it.
 *
 * Candidates, in order (DESIGN.md section 6):
 *  1. `LLMC_NATIVE_PATH` — an explicit path to a `.node` file;
 *  2. the local build `build/Release/llmc.node` of this package (a source checkout or
 *     `build-from-source`);
 *  3. the CUDA platform package, when an NVIDIA driver is present, after loading it once in a child
 *     process (a broken driver must not take this process down);
 *  4. the CPU platform package.
 * A candidate that loads but reports another version than this package is refused. When every
 * candidate fails — or the `LLMC_NATIVE_PATH` one does: an explicit choice is never silently
 * replaced — one {@link LlmcError} (`LLMC_NATIVE_LOAD_FAILED`) lists each candidate with its reason
 * and the commands that fix it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { LlmcError } from './errors.js';
import { nvidiaDriverPresent, platformId, platformPackage } from './platform.js';

/** ISA levels the CPU kernels dispatch on, lowest first. */
export type IsaLevel = 'scalar' | 'neon' | 'avx2' | 'avx512';

export interface CpuFeatures {
  avx2: boolean;
  fma: boolean;
  f16c: boolean;
  avx512f: boolean;
  avx512bw: boolean;
  avx512dq: boolean;
  avx512vl: boolean;
  avx512vnni: boolean;
  avx512bf16: boolean;
  avxVnni: boolean;
  neon: boolean;
}

export interface NativeRuntimeInfo {
  version: string;
  cpu: { arch: string; vendor: string; brand: string; features: CpuFeatures };
  isa: IsaLevel;
  bestIsa: IsaLevel;
  threads: number;
}

export interface NativeCudaInfo {
  compiled: boolean;
  runtimeVersion: number;
  driverVersion: number;
  deviceCount: number;
  device?: { name: string; computeCapability: string; totalMemory: number };
  error?: string;
}

/** Parameters of the compression algorithms (native/core/llmc.h, llmc_obs_params). */
export interface NativeObsParams {
  rows: number; cols: number; bits: number; group: number; symmetric: number; actOrder: number; mse: number;
  damp: number; block: number; sparsity: number; pruneN: number; pruneM: number;
}

/** Output arrays of the compression algorithms; absent or null ones are not produced. */
export interface NativeObsOutputs {
  weight: Float32Array;
  q?: Int8Array | null;
  scale?: Float32Array | null;
  zero?: Uint8Array | null;
  gIdx?: Int32Array | null;
  mask?: Uint8Array | null;
}

/** Everything the addon exports. Keep in step with native/addon/addon.cpp and bindings.h. */
export interface NativeBinding {
  version: string;
  runtimeInfo(): NativeRuntimeInfo;
  setIsa(isa: IsaLevel): void;
  setThreads(threads: number): void;
  cudaInfo(): NativeCudaInfo;
  /** Runs a small kernel on GPU 0; resolves to its milliseconds. */
  cudaSelftest(): Promise<number>;
  /** fp32 multiply-add peak of this machine (GFLOP/s, all pool threads), measured now. */
  sgemmPeak(): Promise<number>;
  /** Reads every element once on all pool threads (the bandwidth baseline); resolves to ms. */
  streamRead(x: Float32Array): Promise<number>;
  /** C = alpha·op(A)·op(B) + beta·C in place (row-major BLAS semantics); resolves to kernel ms. */
  gemmF32(
    a: Float32Array, b: Float32Array, c: Float32Array,
    m: number, n: number, k: number, transA: boolean, transB: boolean,
    alpha: number, beta: number, lda: number, ldb: number, ldc: number,
  ): Promise<number>;
  /** H = H·seen/(seen+tokens) + 2/(seen+tokens)·XᵀX in place, X [tokens × d]; resolves to ms. */
  hessianUpdate(h: Float32Array, d: number, seen: number, x: Float32Array, tokens: number): Promise<number>;
  /** GPTQ / SparseGPT column loop; resolves to the loss. */
  obsCompress(w: Float32Array, h: Float32Array, params: NativeObsParams, outputs: NativeObsOutputs): Promise<number>;
  rtn(w: Float32Array, params: NativeObsParams, outputs: NativeObsOutputs): Promise<number>;
  prune(w: Float32Array, norms: Float32Array | null, params: NativeObsParams, outputs: NativeObsOutputs): Promise<number>;
  /** Ops of a LLaMA forward pass (native/core/llmc.h); each resolves to its milliseconds. */
  rmsnorm(x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number, out: Float32Array): Promise<number>;
  rope(x: Float32Array, rows: number, heads: number, headDim: number, pos: Int32Array, theta: number, style: 0 | 1): Promise<number>;
  attention(
    q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array,
    batch: number, tq: number, tk: number, heads: number, kvHeads: number, headDim: number,
  ): Promise<number>;
  swiglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): Promise<number>;
  nll(logits: Float32Array, rows: number, vocab: number, targets: Int32Array, out: Float64Array): Promise<number>;
  /** int8 dot-product peak GOP/s (VNNI, all pool threads) measured now; null when the ISA level has none. */
  int8Peak(): Promise<number | null>;
  /** Sizes of packed weights (native/core/gemm_q.h). */
  quantSizes(bits: 4 | 8, n: number, k: number, group: number): { dataBytes: number; scaleCount: number };
  q8Pack(q: Int8Array, scale: Float32Array, n: number, k: number, data: Uint8Array, scaleOut: Float32Array): Promise<number>;
  q8Unpack(data: Uint8Array, scale: Float32Array, n: number, k: number, qOut: Int8Array, scaleOut: Float32Array): Promise<number>;
  /** Resolves to true when the inputs were reordered (act-order): permOut then holds the order. */
  q4Pack(
    q: Int8Array, scale: Float32Array, zero: Uint8Array | null, gIdx: Int32Array | null, n: number, k: number, group: number,
    data: Uint8Array, scaleOut: Float32Array, zeroOut: Uint8Array | null, permOut: Int32Array,
  ): Promise<boolean>;
  q4Unpack(
    data: Uint8Array, scale: Float32Array, zero: Uint8Array | null, perm: Int32Array | null, n: number, k: number, group: number,
    qOut: Int8Array, scaleOut: Float32Array, zeroOut: Uint8Array | null, gIdxOut: Int32Array | null,
  ): Promise<number>;
  /** y[m×n] = x[m×k] · Wᵀ; resolves to the kernel's milliseconds. */
  q8Matmul(data: Uint8Array, scale: Float32Array, n: number, k: number, actInt8: boolean, x: Float32Array, m: number, y: Float32Array): Promise<number>;
  q4Matmul(
    data: Uint8Array, scale: Float32Array, zero: Uint8Array | null, perm: Int32Array | null, n: number, k: number, group: number,
    actInt8: boolean, x: Float32Array, m: number, y: Float32Array,
  ): Promise<number>;
}

/** Where the loaded addon came from. */
export interface LoadedBinding {
  binding: NativeBinding;
  path: string;
  source: 'LLMC_NATIVE_PATH' | 'local build' | 'CUDA package' | 'platform package';
}

interface Candidate {
  source: LoadedBinding['source'];
  /** Absolute path, or undefined when it could not even be resolved (reason says why). */
  path?: string;
  reason?: string;
}

const moduleDir = dirname(fileURLToPath(import.meta.url));
const requireNative = createRequire(import.meta.url);

/** The root of this package (the folder with its package.json), from wherever this file was bundled. */
export function packageRoot(): string {
  for (let dir = moduleDir; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'llm-compress-native') return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    if (dirname(dir) === dir) return resolve(moduleDir, '..');
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

function resolvePackage(name: string): { path?: string; reason?: string } {
  try {
    const index = requireNative.resolve(name, { paths: [packageRoot()] });
    const exported = (requireNative(index) as { path?: unknown }).path;
    if (typeof exported !== 'string') return { reason: `package ${name} does not export the path of its .node file` };
    return { path: exported };
  } catch (e) {
    return { reason: `package ${name} is not installed (${(e as Error).message.split('\n')[0]})` };
  }
}

function candidates(): Candidate[] {
  const list: Candidate[] = [];
  const override = process.env.LLMC_NATIVE_PATH;
  if (override) list.push({ source: 'LLMC_NATIVE_PATH', path: resolve(override) });
  list.push({ source: 'local build', path: join(packageRoot(), 'build', 'Release', 'llmc.node') });
  if (nvidiaDriverPresent()) list.push({ source: 'CUDA package', ...resolvePackage(platformPackage(true)) });
  list.push({ source: 'platform package', ...resolvePackage(platformPackage(false)) });
  return list;
}

/** Loads a CUDA binary in a child process first: a driver problem then cannot crash this process. */
function probeInChild(path: string): string | undefined {
  const probe = `const b = require(${JSON.stringify(path)}); const i = b.cudaInfo(); if (!i.deviceCount) { console.error(i.error || 'no CUDA device'); process.exit(3); }`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 60_000 });
  if (r.status === 0) return undefined;
  const why = (r.stderr || r.error?.message || `exit code ${r.status ?? r.signal}`).trim().split('\n').slice(-1)[0];
  return `test load in a child process failed: ${why}`;
}

function tryLoad(c: Candidate, version: string): NativeBinding | undefined {
  if (!c.path) return undefined;
  if (!existsSync(c.path)) {
    c.reason = 'file not found';
    return undefined;
  }
  if (c.source === 'CUDA package') {
    c.reason = probeInChild(c.path);
    if (c.reason) return undefined;
  }
  try {
    const binding = requireNative(c.path) as NativeBinding;
    if (binding.version !== version) {
      c.reason = `version mismatch: the binary is ${binding.version}, this package is ${version}`;
      return undefined;
    }
    return binding;
  } catch (e) {
    c.reason = `failed to load: ${(e as Error).message.split('\n')[0]}`;
    return undefined;
  }
}

function loadError(list: Candidate[]): LlmcError {
  const lines = list.map((c) => `  - ${c.source}: ${c.path ?? '(unresolved)'}\n      ${c.reason ?? 'not tried'}`);
  const pkg = platformPackage(false);
  const text = [
    `llm-compress-native could not load its native addon for ${platformId()} (Node ${process.version}). Tried:`,
    ...lines,
    'To fix it, one of:',
    `  - reinstall with optional dependencies so that npm adds the prebuilt binary: npm install --include=optional llm-compress-native`,
    `  - installing for another machine (Docker, CI cache)? tell npm its platform: npm install --os=${process.platform} --cpu=${process.arch}${process.platform === 'linux' ? ` --libc=${platformId().endsWith('musl') ? 'musl' : 'glibc'}` : ''} llm-compress-native`,
    `  - or add the platform package yourself: npm install ${pkg}@${packageVersion()}`,
    `  - or build from source (needs CMake >= 3.19 and a C++17 compiler): cd ${packageRoot()} && npx cmake-js compile --out build`,
    `  - or point LLMC_NATIVE_PATH at a llmc.node you built`,
  ];
  return new LlmcError('LLMC_NATIVE_LOAD_FAILED', text.join('\n'));
}

let loaded: LoadedBinding | undefined;

/** Loads the addon once (see the module comment) and returns it with where it came from. */
export function loadBinding(): LoadedBinding {
  if (loaded) return loaded;
  const version = packageVersion();
  const list = candidates();
  for (const c of list) {
    const binding = tryLoad(c, version);
    if (binding && c.path) {
      loaded = { binding, path: c.path, source: c.source };
      return loaded;
    }
    if (c.source === 'LLMC_NATIVE_PATH') {
      // An explicit choice that fails is an error, not a reason to silently load something else.
      for (const other of list.slice(1)) other.reason = 'not tried: LLMC_NATIVE_PATH is set and takes precedence';
      break;
    }
  }
  throw loadError(list);
}

/** The addon's functions (loading it on first use). */
export function native(): NativeBinding {
  return loadBinding().binding;
}
