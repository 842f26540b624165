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
import {
  compareVersions, CUDA_PLATFORMS, glibcVersion, nvidiaDriverPresent, platformId, platformPackage, PREBUILT_PLATFORMS,
} from './platform.js';

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

/** Parameters of the compression algorithms (native/include/llmc.h, llmc_obs_params). */
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
  /** H = H·seen/(seen+tokens) + 2/(seen+tokens)·XᵀX in place, X [tokens × d]; device 0 CPU, 1 CUDA; resolves to ms. */
  hessianUpdate(h: Float32Array, d: number, seen: number, x: Float32Array, tokens: number, device: 0 | 1): Promise<number>;
  /** GPTQ / SparseGPT column loop (device 0 CPU, 1 CUDA); resolves to the loss. */
  obsCompress(w: Float32Array, h: Float32Array, params: NativeObsParams, outputs: NativeObsOutputs, device: 0 | 1): Promise<number>;
  rtn(w: Float32Array, params: NativeObsParams, outputs: NativeObsOutputs): Promise<number>;
  prune(w: Float32Array, norms: Float32Array | null, params: NativeObsParams, outputs: NativeObsOutputs): Promise<number>;
  /** Ops of a LLaMA forward pass (native/include/llmc.h); each resolves to its milliseconds. */
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
  /** Sizes of packed 2:4 weights (native/core/sparse24.h); bits 32 (f32 values), 8 or 4. */
  s24Sizes(bits: 32 | 8 | 4, n: number, k: number, group: number): { metaBytes: number; valueBytes: number; scaleCount: number };
  /** Rejects on a 2:4 violation after writing its row and first column into bad. */
  s24Pack(
    bits: 32 | 8 | 4, n: number, k: number, group: number, w: Float32Array | null, q: Int8Array | null, scale: Float32Array | null,
    meta: Uint8Array, values: Uint8Array, scaleOut: Float32Array | null, wsumOut: Int32Array | null, bad: Float64Array,
  ): Promise<number>;
  s24Unpack(...args: [...S24Weights, dense: Float32Array | null, q: Int8Array | null, scaleOut: Float32Array | null]): Promise<number>;
  /** compressed: the bytes of the [n × k/2] output (f32 or int8). */
  s24ToBitmask(...args: [...S24Weights, compressed: Uint8Array, bitmask: Uint8Array]): Promise<number>;
  s24NvMetadata(...args: [...S24Weights, out: Uint8Array]): Promise<number>;
  /** 1: the 2:4 kernels, 2: the dense path (what path 0 picks for this shape). */
  s24Path(bits: 32 | 8 | 4, m: number, n: number, k: number): number;
  /** y[m×n] = x[m×k] · Wᵀ; path 0 auto, 1 2:4 kernels, 2 dense path; resolves to the kernel's milliseconds. */
  s24Matmul(...args: [...S24Weights, path: 0 | 1 | 2, x: Float32Array, m: number, y: Float32Array]): Promise<number>;
  /** Weights uploaded to device memory in their kernel's layout (native/cuda/); resolve to a handle. */
  cudaUploadQ4(data: Uint8Array, scale: Float32Array, zero: Uint8Array | null, perm: Int32Array | null, n: number, k: number, group: number): Promise<CudaHandle>;
  cudaUploadQ8(data: Uint8Array, scale: Float32Array, n: number, k: number): Promise<CudaHandle>;
  cudaUploadS24(...args: S24Weights): Promise<CudaHandle>;
  cudaUploadF16(w: Float32Array, n: number, k: number): Promise<CudaHandle>;
  cudaWeightsInfo(handle: CudaHandle): { n: number; k: number; deviceBytes: number; kernel: string };
  /** Frees the device memory now (idempotent); throws while a matmul on the handle runs. */
  cudaWeightsFree(handle: CudaHandle): void;
  /** y[m×n] = x[m×k] · Wᵀ on the device (host arrays); resolves to ms, copies included. */
  cudaMatmul(handle: CudaHandle, x: Float32Array, m: number, y: Float32Array): Promise<number>;
  /** Kernel-only milliseconds of `iters` runs on device-resident random activations (after a warm-up). */
  cudaMatmulBench(handle: CudaHandle, m: number, iters: number): Promise<Float64Array>;
}

/** Device weights as the addon hands them out (an External). */
export type CudaHandle = { readonly __brand: 'CudaHandle' };

/** Packed 2:4 weights as the addon takes them: bits, n, k, group, meta, values, scale, wsum. */
export type S24Weights = [
  bits: 32 | 8 | 4, n: number, k: number, group: number, meta: Uint8Array, values: Uint8Array,
  scale: Float32Array | null, wsum: Int32Array | null,
];

/** Where the loaded addon came from. */
export interface LoadedBinding {
  binding: NativeBinding;
  path: string;
  source: CandidateSource;
  /** Every candidate in order, the ones before the winner with the reason they were passed over. */
  tried: CandidateReport[];
}

export type CandidateSource = 'LLMC_NATIVE_PATH' | 'local build' | 'CUDA package' | 'platform package';

export interface CandidateReport {
  source: CandidateSource;
  /** The npm package, for the package candidates. */
  package?: string;
  /** Absolute path of the `.node` file (or of the package folder); undefined when not even resolved. */
  path?: string;
  /** Why this candidate was not used; undefined for the one that loaded (or one not reached). */
  reason?: string;
}

/** What the loader looks at; every field defaults to this process (tests substitute fakes). */
export interface FindBindingOptions {
  /** Root of the llm-compress-native package: its build/ and the node_modules it resolves from. */
  root?: string;
  /** Version the binary and the platform package must have (default: root's package.json). */
  version?: string;
  /** Default: `process.env.LLMC_NATIVE_PATH`. */
  nativePath?: string;
  /** Whether an NVIDIA driver is present (default: {@link nvidiaDriverPresent}). */
  nvidia?: boolean;
  /** Platform id (default: {@link platformId}), e.g. `linux-x64-gnu`. */
  platform?: string;
  /** glibc of this process (default: {@link glibcVersion}; null: not glibc). */
  glibc?: string | null;
}

const moduleDir = dirname(fileURLToPath(import.meta.url));
const requireNative = createRequire(import.meta.url);

function packageName(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name;
  } catch {
    return undefined;
  }
}

/** The root of this package (the folder with its package.json), from wherever this file was bundled. */
export function packageRoot(): string {
  for (let dir = moduleDir; ; dir = dirname(dir)) {
    if (packageName(dir) === 'llm-compress-native') return dir;
    if (dirname(dir) === dir) return resolve(moduleDir, '..');
  }
}

export function packageVersion(root = packageRoot()): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

interface Candidate extends CandidateReport {
  /** A problem found before loading (glibc too old, package of another version): not loaded at all. */
  blocked?: boolean;
}

interface PlatformPackageJson {
  version?: string;
  config?: { glibc?: string };
}

/** Resolves a platform package from `root` (its node_modules or any above it) to its `.node` file. */
function resolvePackage(source: CandidateSource, name: string, o: Required<FindBindingOptions>): Candidate {
  const c: Candidate = { source, package: name };
  const req = createRequire(join(o.root, 'package.json'));
  let metaPath: string;
  try {
    metaPath = req.resolve(`${name}/package.json`);
  } catch {
    c.reason = `package ${name} is not installed`;
    return c;
  }
  c.path = dirname(metaPath);
  let meta: PlatformPackageJson;
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as PlatformPackageJson;
  } catch (e) {
    c.reason = `package ${name} has an unreadable package.json (${(e as Error).message})`;
    c.blocked = true;
    return c;
  }
  if (meta.version !== o.version) {
    c.reason = `version mismatch: package ${name} is ${meta.version ?? '(no version)'}, llm-compress-native is ${o.version}`;
    c.blocked = true;
    return c;
  }
  const required = meta.config?.glibc;
  if (required && o.glibc && compareVersions(o.glibc, required) < 0) {
    c.reason = `glibc ${o.glibc} found, ${required} required by ${name}`;
    c.blocked = true;
    return c;
  }
  try {
    const exported = (req(name) as { path?: unknown }).path;
    if (typeof exported !== 'string') {
      c.reason = `package ${name} does not export the path of its .node file`;
      c.blocked = true;
      return c;
    }
    c.path = exported;
  } catch (e) {
    c.reason = `package ${name} could not be read: ${(e as Error).message.split('\n')[0]}`;
    c.blocked = true;
  }
  return c;
}

function candidates(o: Required<FindBindingOptions>): Candidate[] {
  const list: Candidate[] = [];
  if (o.nativePath) list.push({ source: 'LLMC_NATIVE_PATH', path: resolve(o.nativePath) });
  list.push({ source: 'local build', path: join(o.root, 'build', 'Release', 'llmc.node') });
  const known = PREBUILT_PLATFORMS.includes(o.platform);
  if (o.nvidia && CUDA_PLATFORMS.includes(o.platform)) {
    list.push(resolvePackage('CUDA package', platformPackage(true, o.platform), o));
  }
  if (known) list.push(resolvePackage('platform package', platformPackage(false, o.platform), o));
  else {
    list.push({
      source: 'platform package',
      package: platformPackage(false, o.platform),
      reason: `no prebuilt package exists for ${o.platform}`,
      blocked: true,
    });
  }
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

function tryLoad(c: Candidate, o: Required<FindBindingOptions>): NativeBinding | undefined {
  if (!c.path || c.blocked) return undefined;
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
    if (binding.version !== o.version) {
      c.reason = `version mismatch: the binary is ${binding.version}, this package is ${o.version}`;
      return undefined;
    }
    return binding;
  } catch (e) {
    const message = (e as Error).message.split('\n')[0] ?? '';
    const glibcNeeded = /GLIBC_(\d+(?:\.\d+)+)' not found/.exec(message)?.[1];
    c.reason = glibcNeeded && o.glibc
      ? `glibc ${o.glibc} found, ${glibcNeeded} required (failed to load: ${message})`
      : `failed to load: ${message}`;
    return undefined;
  }
}

function loadError(list: Candidate[], o: Required<FindBindingOptions>): LlmcError {
  const lines = list.map((c, i) => {
    const what = c.package ? `${c.source} ${c.package}` : c.source;
    return `  ${i + 1}. ${what}: ${c.path ?? '(not installed)'}\n       ${c.reason ?? 'not tried'}`;
  });
  const pkg = platformPackage(false, o.platform);
  const known = PREBUILT_PLATFORMS.includes(o.platform);
  const glibcProblem = list.find((c) => c.reason?.startsWith('glibc '));
  const fixes: string[] = [];
  if (glibcProblem) {
    fixes.push(
      `  - this system's glibc is older than the prebuilt binary needs (${glibcProblem.reason?.split(' (')[0]}): ` +
        `use a newer distribution (or container image), or build from source below`,
    );
  }
  if (known) {
    fixes.push(
      `  - reinstall with optional dependencies, which npm skips with --omit=optional or a lockfile made elsewhere: npm install --include=optional llm-compress-native`,
      `  - installing for another machine (Docker image, CI cache, a copied node_modules)? tell npm the target platform: npm install ${npmFlagsFor(o.platform)} llm-compress-native`,
      `  - or add the platform package at this exact version: npm install ${pkg}@${o.version}`,
    );
  } else {
    fixes.push(`  - no prebuilt binary exists for ${o.platform} (prebuilt: ${PREBUILT_PLATFORMS.join(', ')}): build from source`);
  }
  fixes.push(
    `  - or build from source into ${join(o.root, 'build', 'Release')} (needs CMake >= 3.19 and a C++17 compiler): npx llm-compress build-from-source`,
    `  - or point LLMC_NATIVE_PATH at a llmc.node you built`,
  );
  const glibc = o.glibc ? `, glibc ${o.glibc}` : '';
  const text = [
    `llm-compress-native ${o.version} could not load its native addon for ${o.platform} (Node ${process.version}${glibc}). Tried, in order:`,
    ...lines,
    'To fix it, one of:',
    ...fixes,
  ];
  return new LlmcError('LLMC_NATIVE_LOAD_FAILED', text.join('\n'));
}

function npmFlagsFor(id: string): string {
  const [os, cpu, abi] = id.split('-');
  const flags = [`--os=${os}`, `--cpu=${cpu}`];
  if (os === 'linux') flags.push(`--libc=${abi === 'musl' ? 'musl' : 'glibc'}`);
  return flags.join(' ');
}

/**
 * Finds and loads the addon without caching (see the module comment for the order); throws the
 * aggregated `LLMC_NATIVE_LOAD_FAILED` error when no candidate loads.
 */
export function findBinding(options: FindBindingOptions = {}): LoadedBinding {
  const root = options.root ?? packageRoot();
  const o: Required<FindBindingOptions> = {
    root,
    version: options.version ?? packageVersion(root),
    nativePath: options.nativePath ?? process.env.LLMC_NATIVE_PATH ?? '',
    nvidia: options.nvidia ?? nvidiaDriverPresent(),
    platform: options.platform ?? platformId(),
    glibc: options.glibc === undefined ? (glibcVersion() ?? null) : options.glibc,
  };
  const list = candidates(o);
  const report = () => list.map(({ blocked: _blocked, ...c }) => c);
  for (const c of list) {
    const binding = tryLoad(c, o);
    if (binding && c.path) return { binding, path: c.path, source: c.source, tried: report() };
    if (c.source === 'LLMC_NATIVE_PATH') {
      // An explicit choice that fails is an error, not a reason to silently load something else.
      for (const other of list.slice(1)) if (!other.blocked) other.reason = 'not tried: LLMC_NATIVE_PATH is set and takes precedence';
      break;
    }
  }
  throw loadError(list, o);
}

let loaded: LoadedBinding | undefined;

/** Loads the addon once (see the module comment) and returns it with where it came from. */
export function loadBinding(): LoadedBinding {
  loaded ??= findBinding();
  return loaded;
}

/** The addon's functions (loading it on first use). */
export function native(): NativeBinding {
  return loadBinding().binding;
}
