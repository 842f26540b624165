import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

import type { LlmcError } from '../../lib/errors.js';
import { compareVersions, CUDA_PLATFORMS, platformPackage, PREBUILT_PLATFORMS } from '../../lib/platform.js';
import { tempDir } from '../helpers/paths.js';

// Each test loads a fresh copy of the loader so that its one-time cache starts empty.
async function freshLoader() {
  vi.resetModules();
  return import('../../lib/native/loader.js');
}

const saved = process.env.LLMC_NATIVE_PATH;
afterEach(() => {
  if (saved === undefined) delete process.env.LLMC_NATIVE_PATH;
  else process.env.LLMC_NATIVE_PATH = saved;
});

const repoRoot = join(__dirname, '..', '..');
const VERSION = '9.8.7';

/**
 * A fake llm-compress-native in a temp folder: its package.json, and platform packages in its
 * node_modules whose "binary" is a .js file (require() loads it as it would a .node) exporting
 * `version`, and `cudaInfo()` for the CUDA probe in a child process.
 */
function fakeRoot() {
  const root = tempDir('loader');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'llm-compress-native', version: VERSION }));
  const addPackage = (
    name: string,
    o: {
      version?: string;
      binaryVersion?: string;
      glibc?: string;
      devices?: number;
      noBinary?: boolean;
      badIndex?: boolean;
    } = {},
  ) => {
    const dir = join(root, 'node_modules', name);
    mkdirSync(dir, { recursive: true });
    const meta: Record<string, unknown> = { name, version: o.version ?? VERSION, main: 'index.js' };
    if (o.glibc) meta.config = { glibc: o.glibc };
    writeFileSync(join(dir, 'package.json'), JSON.stringify(meta));
    writeFileSync(
      join(dir, 'index.js'),
      o.badIndex
        ? 'module.exports = {};'
        : "module.exports = { path: require('path').join(__dirname, 'fake-binary.js') };",
    );
    if (!o.noBinary) {
      writeFileSync(
        join(dir, 'fake-binary.js'),
        `module.exports = { version: ${JSON.stringify(o.binaryVersion ?? VERSION)}, name: ${JSON.stringify(name)}, ` +
          `cudaInfo: () => ({ deviceCount: ${o.devices ?? 0}, error: 'fake: no CUDA device' }) };`,
      );
    }
    return dir;
  };
  return { root, addPackage };
}

const LINUX = { platform: 'linux-x64-gnu', glibc: '2.36', nativePath: '' };

async function findIn(root: string, options: Record<string, unknown> = {}) {
  const { findBinding } = await freshLoader();
  return findBinding({ root, ...LINUX, nvidia: false, ...options });
}

async function errorOf(root: string, options: Record<string, unknown> = {}): Promise<LlmcError> {
  try {
    await findIn(root, options);
  } catch (e) {
    return e as LlmcError;
  }
  throw new Error('the loader did not fail');
}

describe('native loader (the real addon of this checkout)', () => {
  it('loads the local build by default and reports where it came from', async () => {
    delete process.env.LLMC_NATIVE_PATH;
    const { loadBinding, packageVersion } = await freshLoader();
    const loaded = loadBinding();
    expect(loaded.source).toBe('local build');
    expect(loaded.path).toMatch(/build[\\/]Release[\\/]llmc\.node$/);
    expect(loaded.binding.version).toBe(packageVersion());
  });

  it('honours LLMC_NATIVE_PATH', async () => {
    const { loadBinding: first } = await freshLoader();
    process.env.LLMC_NATIVE_PATH = first().path;
    const { loadBinding } = await freshLoader();
    expect(loadBinding().source).toBe('LLMC_NATIVE_PATH');
  });

  it('says why a file that is not an addon cannot be loaded', async () => {
    const dir = tempDir('loader');
    const fake = join(dir, 'llmc.node');
    writeFileSync(fake, 'not a shared library');
    process.env.LLMC_NATIVE_PATH = fake;
    const { loadBinding } = await freshLoader();
    expect(() => loadBinding()).toThrowError(/1\. LLMC_NATIVE_PATH: .*llmc\.node\n\s+failed to load: /);
  });
});

describe('native loader: candidate order (fake candidates in a temp folder)', () => {
  it('uses the platform package when nothing comes before it', async () => {
    const { root, addPackage } = fakeRoot();
    const dir = addPackage(platformPackage(false, 'linux-x64-gnu'));
    const loaded = await findIn(root);
    expect(loaded.source).toBe('platform package');
    expect(loaded.path).toBe(join(dir, 'fake-binary.js'));
    expect(loaded.tried.map((c) => [c.source, c.reason])).toEqual([
      ['local build', 'file not found'],
      ['platform package', undefined],
    ]);
  });

  it('prefers the local build to the packages, and LLMC_NATIVE_PATH to everything', async () => {
    const { root, addPackage } = fakeRoot();
    addPackage(platformPackage(false, 'linux-x64-gnu'));
    addPackage(platformPackage(true, 'linux-x64-gnu'), { devices: 1 });
    // The local build must be a real addon of the same version: copy this checkout's, and give
    // the fake package its version.
    const { packageVersion, loadBinding } = await freshLoader();
    const real = loadBinding().path;
    writeFileSync(
      join(root, 'package.json'),
      JSON.stringify({ name: 'llm-compress-native', version: packageVersion() }),
    );
    for (const name of readdirSync(join(root, 'node_modules'))) {
      const meta = join(root, 'node_modules', name, 'package.json');
      writeFileSync(meta, readFileSync(meta, 'utf8').replace(VERSION, packageVersion()));
    }
    mkdirSync(join(root, 'build', 'Release'), { recursive: true });
    copyFileSync(real, join(root, 'build', 'Release', 'llmc.node'));
    const local = await findIn(root, { nvidia: true });
    expect(local.source).toBe('local build');
    expect(local.tried.map((c) => c.source)).toEqual(['local build', 'CUDA package', 'platform package']);

    const override = join(tempDir('loader'), 'override.js');
    writeFileSync(override, `module.exports = { version: ${JSON.stringify(packageVersion())} };`);
    const chosen = await findIn(root, { nvidia: true, nativePath: override });
    expect(chosen.source).toBe('LLMC_NATIVE_PATH');
    expect(chosen.path).toBe(override);
  });

  it('prefers the CUDA package when a driver is present and its test load in a child process succeeds', async () => {
    const { root, addPackage } = fakeRoot();
    addPackage(platformPackage(false, 'linux-x64-gnu'));
    const cuda = addPackage(platformPackage(true, 'linux-x64-gnu'), { devices: 1 });
    const loaded = await findIn(root, { nvidia: true });
    expect(loaded.source).toBe('CUDA package');
    expect(loaded.path).toBe(join(cuda, 'fake-binary.js'));
    // Without a driver the CUDA package is not even a candidate.
    const cpu = await findIn(root, { nvidia: false });
    expect(cpu.source).toBe('platform package');
    expect(cpu.tried.map((c) => c.source)).toEqual(['local build', 'platform package']);
  });

  it('falls back to the CPU package when the CUDA test load in a child process fails, saying why', async () => {
    const { root, addPackage } = fakeRoot();
    addPackage(platformPackage(false, 'linux-x64-gnu'));
    addPackage(platformPackage(true, 'linux-x64-gnu'), { devices: 0 });
    const loaded = await findIn(root, { nvidia: true });
    expect(loaded.source).toBe('platform package');
    expect(loaded.tried[1]).toMatchObject({
      source: 'CUDA package',
      package: 'llm-compress-native-linux-x64-gnu-cuda',
      reason: 'test load in a child process failed: fake: no CUDA device',
    });
  });
});

describe('native loader: refusals and the aggregated error', () => {
  it('lists every candidate with its reason and every fix when nothing loads', async () => {
    const { root } = fakeRoot();
    const err = await errorOf(root, { nvidia: true });
    expect(err.code).toBe('LLMC_NATIVE_LOAD_FAILED');
    const text = err.message;
    expect(text).toContain(`llm-compress-native ${VERSION} could not load its native addon for linux-x64-gnu`);
    expect(text).toContain('glibc 2.36');
    expect(text).toMatch(/1\. local build: .*build[\\/]Release[\\/]llmc\.node\n\s+file not found/);
    expect(text).toMatch(
      /2\. CUDA package llm-compress-native-linux-x64-gnu-cuda: \(not installed\)\n\s+package llm-compress-native-linux-x64-gnu-cuda is not installed/,
    );
    expect(text).toMatch(
      /3\. platform package llm-compress-native-linux-x64-gnu: \(not installed\)\n\s+package llm-compress-native-linux-x64-gnu is not installed/,
    );
    expect(text).toContain('npm install --include=optional llm-compress-native');
    expect(text).toContain('npm install --os=linux --cpu=x64 --libc=glibc llm-compress-native');
    expect(text).toContain(`npm install llm-compress-native-linux-x64-gnu@${VERSION}`);
    expect(text).toContain('npx llm-compress build-from-source');
    expect(text).toContain('LLMC_NATIVE_PATH');
  });

  it('names the musl, macOS and Windows flags, and a platform with no prebuilt package', async () => {
    const { root } = fakeRoot();
    expect((await errorOf(root, { platform: 'linux-x64-musl', glibc: null })).message).toContain(
      'npm install --os=linux --cpu=x64 --libc=musl llm-compress-native',
    );
    expect((await errorOf(root, { platform: 'darwin-arm64', glibc: null })).message).toContain(
      'npm install --os=darwin --cpu=arm64 llm-compress-native',
    );
    const other = (await errorOf(root, { platform: 'freebsd-x64', glibc: null })).message;
    expect(other).toContain('no prebuilt package exists for freebsd-x64');
    expect(other).not.toContain('--include=optional');
    expect(other).toContain('npx llm-compress build-from-source');
  });

  it('keeps the LLMC_NATIVE_PATH failure and does not silently load something else', async () => {
    const { root, addPackage } = fakeRoot();
    addPackage(platformPackage(false, 'linux-x64-gnu'));
    const err = await errorOf(root, { nativePath: join(root, 'nowhere', 'llmc.node') });
    expect(err.message).toMatch(/1\. LLMC_NATIVE_PATH: .*nowhere[\\/]llmc\.node\n\s+file not found/);
    expect(err.message).toMatch(/2\. local build: .*\n\s+not tried: LLMC_NATIVE_PATH is set/);
    expect(err.message).toMatch(/3\. platform package .*\n\s+not tried: LLMC_NATIVE_PATH is set/);
  });

  it('refuses a platform package of another version without loading it', async () => {
    const { root, addPackage } = fakeRoot();
    addPackage(platformPackage(false, 'linux-x64-gnu'), { version: '9.8.6', noBinary: true });
    const err = await errorOf(root);
    expect(err.message).toContain(
      'version mismatch: package llm-compress-native-linux-x64-gnu is 9.8.6, llm-compress-native is 9.8.7',
    );
    expect(err.message).toContain('npm install llm-compress-native-linux-x64-gnu@9.8.7');
  });

  it('refuses a binary that reports another version', async () => {
    const { root, addPackage } = fakeRoot();
    addPackage(platformPackage(false, 'linux-x64-gnu'), { binaryVersion: '0.0.0-other' });
    const err = await errorOf(root);
    expect(err.message).toContain('version mismatch: the binary is 0.0.0-other, this package is 9.8.7');
  });

  it('compares the glibc found with the one the package requires', async () => {
    const { root, addPackage } = fakeRoot();
    addPackage(platformPackage(false, 'linux-x64-gnu'), { glibc: '2.28' });
    expect((await findIn(root, { glibc: '2.28' })).source).toBe('platform package');
    const err = await errorOf(root, { glibc: '2.17' });
    expect(err.message).toMatch(
      /platform package llm-compress-native-linux-x64-gnu: .*\n\s+glibc 2\.17 found, 2\.28 required by llm-compress-native-linux-x64-gnu/,
    );
    expect(err.message).toContain(
      "this system's glibc is older than the prebuilt binary needs (glibc 2.17 found, 2.28 required",
    );
    expect(err.message).toContain('npx llm-compress build-from-source');
  });

  it('says when a platform package does not export the path of its binary', async () => {
    const { root, addPackage } = fakeRoot();
    addPackage(platformPackage(false, 'linux-x64-gnu'), { badIndex: true });
    expect((await errorOf(root)).message).toContain('does not export the path of its .node file');
  });

  it('orders dotted versions numerically', () => {
    expect(compareVersions('2.28', '2.36')).toBeLessThan(0);
    expect(compareVersions('2.100', '2.36')).toBeGreaterThan(0);
    expect(compareVersions('2.28', '2.28.0')).toBe(0);
  });
});

describe('platform packages (npm/)', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    version: string;
    scripts: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const ids = [...PREBUILT_PLATFORMS, ...CUDA_PLATFORMS.map((id) => `${id}-cuda`)];

  it('has one folder per target the loader knows, each at the exact version with os/cpu/libc and an index', () => {
    expect(readdirSync(join(repoRoot, 'npm')).sort()).toEqual([...ids].sort());
    for (const id of ids) {
      const dir = join(repoRoot, 'npm', id);
      const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
      const [os, cpu, abi] = id.split('-');
      expect(meta.name).toBe(platformPackage(id.endsWith('-cuda'), id.replace(/-cuda$/, '')));
      expect(meta.version).toBe(pkg.version);
      expect(meta.os).toEqual([os]);
      expect(meta.cpu).toEqual([cpu]);
      expect(meta.main).toBe('index.js');
      expect(meta.files).toEqual(['index.js', 'llmc.node']);
      if (os === 'linux') {
        expect(meta.libc).toEqual([abi === 'musl' ? 'musl' : 'glibc']);
        if (abi === 'gnu') expect((meta.config as { glibc: string }).glibc).toMatch(/^2\.\d+$/);
      } else expect(meta.libc).toBeUndefined();
      expect(existsSync(join(dir, 'README.md'))).toBe(true);
      expect(readFileSync(join(dir, 'index.js'), 'utf8')).toContain("join(__dirname, 'llmc.node')");
    }
  });

  it('the main package has no install script (its optionalDependencies are added when it is staged)', () => {
    for (const s of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts[s]).toBeUndefined();
    expect(pkg.optionalDependencies).toBeUndefined();
  });
});
