import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

import type { LlmcError } from '../../lib/errors.js';

// Each test loads a fresh copy of the loader so that its one-time cache starts empty.
async function freshLoader() {
  vi.resetModules();
  return import('../../lib/binding.js');
}

const saved = process.env.LLMC_NATIVE_PATH;
afterEach(() => {
  if (saved === undefined) delete process.env.LLMC_NATIVE_PATH;
  else process.env.LLMC_NATIVE_PATH = saved;
});

describe('native loader', () => {
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

  it('lists every candidate with its reason and the fixes when the override is missing', async () => {
    process.env.LLMC_NATIVE_PATH = join(tmpdir(), 'llmc-does-not-exist', 'llmc.node');
    const { loadBinding } = await freshLoader();
    let err: LlmcError | undefined;
    try {
      loadBinding();
    } catch (e) {
      err = e as LlmcError;
    }
    expect(err?.code).toBe('LLMC_NATIVE_LOAD_FAILED');
    const text = err?.message ?? '';
    expect(text).toContain('LLMC_NATIVE_PATH: ');
    expect(text).toContain('llmc-does-not-exist');
    expect(text).toContain('file not found');
    expect(text).toMatch(/local build: .*llmc\.node\n\s+not tried: LLMC_NATIVE_PATH is set/);
    expect(text).toMatch(/platform package: \(unresolved\)\n\s+package llm-compress-native-[a-z0-9-]+ is not installed|platform package: .*\n\s+not tried/);
    expect(text).toContain('npm install --include=optional llm-compress-native');
    expect(text).toContain('npx cmake-js compile --out build');
  });

  it('says why a file that is not an addon cannot be loaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmc-loader-'));
    const fake = join(dir, 'llmc.node');
    writeFileSync(fake, 'not a shared library');
    process.env.LLMC_NATIVE_PATH = fake;
    const { loadBinding } = await freshLoader();
    expect(() => loadBinding()).toThrowError(/LLMC_NATIVE_PATH: .*llmc\.node\n\s+failed to load: /);
  });

  it('refuses a binary of another version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmc-loader-'));
    const fake = join(dir, 'fake.js'); // require() loads .js the same way; stands in for a .node
    writeFileSync(fake, 'module.exports = { version: "0.0.0-other" };');
    process.env.LLMC_NATIVE_PATH = fake;
    const { loadBinding, packageVersion } = await freshLoader();
    expect(() => loadBinding()).toThrowError(`version mismatch: the binary is 0.0.0-other, this package is ${packageVersion()}`);
  });
});
