// `node scripts/clang-format.mjs [--fix]` — clang-format over the C++ and CUDA sources that git tracks
// (native/, test/native/), with the style of .clang-format. Without --fix it only checks and exits 1
// on the first file that is not formatted (npm run lint); with --fix it rewrites them (npm run format).
// clang-format comes from the @wasm-fmt/clang-format dev dependency (a WebAssembly build pinned in
// package-lock.json), so every machine formats alike without a system package.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(
  dirname(createRequire(import.meta.url).resolve('@wasm-fmt/clang-format/package.json')),
  'clang-format-cli.cjs',
);
const fix = process.argv.includes('--fix');
const files = execFileSync('git', ['ls-files', '-z', '--', '*.cpp', '*.h', '*.cu', '*.cuh'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\0')
  .filter(Boolean);
try {
  execFileSync(process.execPath, [cli, ...(fix ? ['-i'] : ['--dry-run', '--Werror']), ...files], {
    cwd: root,
    stdio: 'inherit',
  });
} catch {
  console.error(`clang-format: files above are not formatted; run \`npm run format\``);
  process.exit(1);
}
console.log(`clang-format: ${files.length} files ${fix ? 'formatted' : 'checked'}`);
