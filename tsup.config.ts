import { defineConfig } from 'tsup';

// The library as ESM + CommonJS with type declarations, and the CLI as ESM.
// shims: gives the CommonJS build import.meta.url and the ESM build __dirname.
export default defineConfig([
  {
    entry: { index: 'lib/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    shims: true,
    target: 'node20',
    outDir: 'dist',
  },
  {
    entry: { 'cli/main': 'lib/cli/main.ts' },
    format: ['esm'],
    shims: true,
    target: 'node20',
    outDir: 'dist',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
