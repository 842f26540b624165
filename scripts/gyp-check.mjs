// `npm run check:gyp` — checks that binding.gyp (the node-gyp build of the CPU addon) still builds the
// sources that CMakeLists.txt builds: node-gyp configures a copy of package.json, binding.gyp and native/
// in a temporary folder (so that it never touches cmake-js's build/), and every file of the CPU
// native/sources.json groups for this architecture must be an object of the generated makefiles.
// It compiles nothing: the sources are compiled once, by CMake (`npm run build:native`); run
// `npm run build:native:gyp` by hand to compile with node-gyp when changing flags or include folders.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = JSON.parse(readFileSync(join(root, 'native/sources.json'), 'utf8'));
const groups = [
  'common',
  'core',
  'no_cuda',
  'addon',
  ...(arch() === 'x64' ? ['x86_avx2', 'x86_avx512'] : []),
  ...(arch() === 'arm64' ? ['arm_neon'] : []),
];
const dir = mkdtempSync(join(tmpdir(), 'llmc-gyp-'));
try {
  for (const f of ['package.json', 'binding.gyp', 'native']) cpSync(join(root, f), join(dir, f), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const r = spawnSync('node-gyp', ['configure'], { cwd: dir, encoding: 'utf8', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(
      `node-gyp configure failed (run this through npm run, which puts npm's node-gyp on PATH):\n${r.error ?? ''}${r.stdout}${r.stderr}`,
    );
    process.exit(1);
  }
  const made = readdirSync(join(dir, 'build'))
    .filter((f) => f.endsWith('.mk'))
    .map((f) => readFileSync(join(dir, 'build', f), 'utf8'))
    .join('\n');
  const missing = groups
    .flatMap((g) => sources[g].map((s) => [g, s]))
    .filter(([, s]) => !made.includes(`/${s.replace(/\.cpp$/, '.o')}`));
  if (missing.length > 0) {
    console.error(`binding.gyp does not build ${missing.map(([g, s]) => `${s} (${g})`).join(', ')}`);
    process.exit(1);
  }
  console.log(
    `binding.gyp: node-gyp configures and builds all ${groups.map((g) => `${sources[g].length} ${g}`).join(', ')} sources`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
