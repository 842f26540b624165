/**
 * The loader of the native addon (its typed contract is ./contract.ts): finds it, checks its
 * version and loads it once.
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

import { LlmcError } from '../errors.js';
import {
  compareVersions,
  CUDA_PLATFORMS,
  glibcVersion,
  nvidiaDriverPresent,
  platformId,
  platformPackage,
  PREBUILT_PLATFORMS,
} from '../platform.js';
import type { NativeBinding } from './contract.js';

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
    c.reason =
      glibcNeeded && o.glibc
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
    fixes.push(
      `  - no prebuilt binary exists for ${o.platform} (prebuilt: ${PREBUILT_PLATFORMS.join(', ')}): build from source`,
    );
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
      for (const other of list.slice(1))
        if (!other.blocked) other.reason = 'not tried: LLMC_NATIVE_PATH is set and takes precedence';
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
