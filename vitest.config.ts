import { defineConfig } from 'vitest/config';

import { scaledTimeout } from './test/helpers/timeout.js';

// Test tiers, one vitest project each (`npx vitest run --project <name>`):
//   unit     test/unit: model-free, seconds (`npm run test:fast`); needs only the built addon.
//   model    test/model: the real models of ../shared; skips with a message when it is absent.
//   native   test/native: the C++ test programs of build/tests (npm run build:native).
//   package  test/package: the built dist/ (npm run build:ts), as installed.
// `npm test` builds everything first, then runs all four.
// Timeouts: 120 s per test and hook, times LLMC_TEST_TIMEOUT_FACTOR (default 1; test/helpers/timeout.ts).
export default defineConfig({
  test: {
    testTimeout: scaledTimeout(120_000),
    hookTimeout: scaledTimeout(120_000),
    // Kernels use every core already: run test files one after another.
    fileParallelism: false,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'model', include: ['test/model/**/*.test.ts'] } },
      { extends: true, test: { name: 'native', include: ['test/native/**/*.test.ts'] } },
      { extends: true, test: { name: 'package', include: ['test/package/**/*.test.ts'] } },
    ],
  },
});
