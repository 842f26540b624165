#!/usr/bin/env node
// The packed-install check (npm run pack:check): what `npm install llm-compress-native` gives a
// user on linux-x64-gnu, end to end, on this machine.
//
//  1. builds the linux-x64-gnu addon (scripts/build-prebuilt.mjs, build-pkg/linux-x64-gnu),
//  2. stages and `npm pack`s the platform package and the main package (build-pkg/tarballs),
//  3. installs both tarballs into a fresh folder with a PATH that holds node, npm, npx and sh only
//     (no cc, c++, make, cmake: nothing can be compiled) and no build folder anywhere,
//  4. runs `npx llm-compress doctor` there (the binary must come from the platform package) and a
//     compression of ../shared/models/tinystories-656k (GPTQ W4A16, a few calibration windows)
//     with an evaluation of the written folder,
//  5. hides the platform package and checks the aggregated error with its fixes,
//  6. where qemu-x86_64 exists: runs doctor on an emulated Haswell (AVX2, no AVX-512) CPU, which
//     fails with SIGILL if anything outside the per-ISA files was compiled for a newer CPU,
//  7. with --build-from-source: restores the full PATH and runs `npx llm-compress build-from-source`
//     in the installed package (cmake-js and node-addon-api come from the npm registry), then
//     checks that doctor reports the local build.
// Options: --skip-build (reuse build-pkg/linux-x64-gnu), --build-from-source, --keep (keep the
// install folder). Prints one summary line: "pack-check: N passed, 0 failed".
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { buildPrebuilt } from './build-prebuilt.mjs';
import { packageName, root, stage, stageMain } from './platforms.mjs';

const argv = process.argv.slice(2);
const ID = 'linux-x64-gnu';
const pkgDir = join(root, 'build-pkg');
const shared = join(root, '..', 'shared');
let passed = 0;

function ok(what) {
  passed++;
  console.log(`  ok  ${what}`);
}
function fail(what) {
  console.error(`  FAIL ${what}`);
  console.log(`pack-check: ${passed} passed, 1 failed`);
  process.exit(1);
}
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log(`pack-check needs linux-x64 (this is ${process.platform}-${process.arch}); skipped`);
  process.exit(0);
}

console.log('== build the linux-x64-gnu addon (static libstdc++, CUDA off)');
const t0 = Date.now();
const built = join(pkgDir, ID, 'Release', 'llmc.node');
const nodeFile = argv.includes('--skip-build') && existsSync(built) ? built : buildPrebuilt(ID, { quiet: true });
console.log(`  ${nodeFile} (${mib(statSync(nodeFile).size)}, ${((Date.now() - t0) / 1000).toFixed(0)} s)`);

console.log('== stage and npm pack the platform package and the main package');
for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/cli/main.js'])
  if (!existsSync(join(root, f))) fail(`${f} is missing: run npm run build:ts first`);
const staged = stage(ID, nodeFile, { out: join(pkgDir, 'npm') });
console.log(`  ${packageName(ID)} needs glibc ${staged.glibc} (from the GLIBC_x.y symbol versions of llmc.node)`);
const main = stageMain({ out: join(pkgDir, 'npm') });
const tarballs = join(pkgDir, 'tarballs');
rmSync(tarballs, { recursive: true, force: true });
mkdirSync(tarballs, { recursive: true });
const packed = {};
for (const [name, dir] of [
  [packageName(ID), staged.dir],
  ['llm-compress-native', main.dir],
]) {
  const out = execFileSync('npm', ['pack', dir, '--pack-destination', tarballs, '--ignore-scripts', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const info = JSON.parse(out)[0];
  packed[name] = join(tarballs, info.filename);
  console.log(
    `  ${info.filename}: ${mib(info.size)} packed, ${mib(info.unpackedSize)} unpacked, ${info.entryCount} files`,
  );
}
for (const dir of [staged.dir, main.dir]) {
  // What the release publishes: npm rewrites a package.json it finds wrong, e.g. drops a bin.
  const dry = spawnSync('npm', ['publish', dir, '--dry-run', '--ignore-scripts'], { encoding: 'utf8' });
  if (dry.status !== 0 || /auto-corrected|invalid and removed/.test(dry.stderr))
    fail(`npm publish --dry-run of ${dir}:\n${dry.stderr}`);
}
ok('npm pack of the main and the platform package; npm publish --dry-run corrects nothing in either');

console.log('== install the tarballs into a fresh folder, with no compiler on the PATH');
const work = mkdtempSync(join(tmpdir(), 'llmc-pack-check-'));
const bin = join(work, 'bin');
mkdirSync(bin);
const which = (cmd, path) => path.split(delimiter).some((d) => d && existsSync(join(d, cmd)));
// sh: npx runs a package's bin through a shell, as on any user's machine.
for (const tool of ['node', 'npm', 'npx', 'sh']) {
  const found = process.env.PATH.split(delimiter)
    .map((d) => join(d, tool))
    .find((p) => existsSync(p));
  if (!found) fail(`${tool} not found on the PATH`);
  symlinkSync(tool === 'node' ? process.execPath : found, join(bin, tool));
}
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !/^npm_/i.test(k) && !['LLMC_NATIVE_PATH', 'NODE_PATH', 'INIT_CWD'].includes(k),
  ),
);
const env = { ...cleanEnv, PATH: bin };
const compilers = ['cc', 'gcc', 'g++', 'c++', 'clang', 'clang++', 'make', 'cmake', 'ninja', 'nvcc'];
const present = compilers.filter((c) => which(c, env.PATH));
if (present.length) fail(`the restricted PATH still has ${present.join(', ')}`);
ok(`PATH=${bin} holds node, npm, npx and sh only (none of ${compilers.join(', ')})`);

const app = join(work, 'app');
mkdirSync(app);
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'llmc-pack-check-app', private: true }, null, 2));
const sh = (cmd, args, options = {}) =>
  spawnSync(cmd, args, { cwd: app, env, encoding: 'utf8', maxBuffer: 256 << 20, ...options });
const t1 = Date.now();
const install = sh('npm', [
  'install',
  '--no-audit',
  '--no-fund',
  '--loglevel=error',
  packed['llm-compress-native'],
  packed[packageName(ID)],
]);
if (install.status !== 0) fail(`npm install of the tarballs failed:\n${install.stdout}${install.stderr}`);
console.log(`  npm install: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
const installed = join(app, 'node_modules', 'llm-compress-native');
const platformDir = join(app, 'node_modules', packageName(ID));
if (existsSync(join(installed, 'build'))) fail('the installed package has a build folder');
if (!existsSync(join(platformDir, 'llmc.node'))) fail(`${platformDir}/llmc.node is missing`);
const installedMeta = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
if (installedMeta.optionalDependencies?.[packageName(ID)] !== installedMeta.version)
  fail('the installed main package does not list the platform package at its exact version');
if (installedMeta.scripts?.install || installedMeta.scripts?.postinstall || installedMeta.scripts?.preinstall)
  fail('the main package has an install script');
ok(
  'installed: no build folder, the binary from the platform package, optionalDependencies at the exact version, no install script',
);

console.log('== npx llm-compress doctor');
const doctor = sh('npx', ['--no-install', 'llm-compress', 'doctor']);
if (doctor.status !== 0) fail(`doctor failed (${doctor.status}):\n${doctor.stdout}${doctor.stderr}`);
process.stdout.write(`${doctor.stdout.trim().replace(/^/gm, '  | ')}\n`);
const report = JSON.parse(sh('npx', ['--no-install', 'llm-compress', 'doctor', '--json']).stdout);
if (report.binary.source !== 'platform package' || !report.binary.path.startsWith(platformDir))
  fail(`doctor: the binary is ${report.binary.path} (${report.binary.source})`);
ok(`doctor: binary from ${packageName(ID)}, isa ${report.isa.inUse}`);

if (existsSync(join(shared, 'models', 'tinystories-656k'))) {
  console.log('== npx llm-compress compress (GPTQ W4A16 g32, 16 calibration windows) and eval of the written folder');
  const out = join(work, 'tinystories-656k-w4a16');
  const text = join(shared, 'text', 'tinystories_val.txt');
  const t2 = Date.now();
  const c = sh('npx', [
    '--no-install',
    'llm-compress',
    'compress',
    join(shared, 'models', 'tinystories-656k'),
    '-o',
    out,
    '--no-prepend-space',
    '--scheme',
    'W4A16',
    '--group-size',
    '32',
    '--calib',
    text,
    '--calib-paragraphs',
    '1000:4300',
    '--samples',
    '16',
    '--eval-data',
    text,
    '--eval-paragraphs',
    '0:100',
  ]);
  if (c.status !== 0) fail(`compress failed (${c.status}):\n${c.stdout}${c.stderr}`);
  process.stdout.write(
    `${c.stdout
      .split('\n')
      .filter((l) => l.trim())
      .slice(-12)
      .join('\n')
      .replace(/^/gm, '  | ')}\n`,
  );
  if (!existsSync(join(out, 'config.json')) || !existsSync(join(out, 'model.safetensors')))
    fail(`${out} lacks config.json / model.safetensors`);
  const e = sh('npx', [
    '--no-install',
    'llm-compress',
    'eval',
    out,
    '--no-prepend-space',
    '--data',
    text,
    '--paragraphs',
    '0:100',
  ]);
  if (e.status !== 0) fail(`eval of the compressed folder failed:\n${e.stdout}${e.stderr}`);
  process.stdout.write(`${e.stdout.trim().replace(/^/gm, '  | ')}\n`);
  ok(
    `compressed and evaluated tinystories-656k with no compiler on the PATH (${((Date.now() - t2) / 1000).toFixed(1)} s)`,
  );
} else {
  console.log(`  ${shared}/models/tinystories-656k is missing: compression skipped`);
}

console.log('== without the platform package: the aggregated error');
const hidden = `${platformDir}.hidden`;
renameSync(platformDir, hidden);
const broken = sh('npx', ['--no-install', 'llm-compress', 'doctor']);
renameSync(hidden, platformDir);
const message = broken.stderr;
process.stdout.write(`${message.trim().replace(/^/gm, '  | ')}\n`);
for (const want of [
  'npm install --include=optional llm-compress-native',
  '--os=linux --cpu=x64 --libc=glibc',
  'npx llm-compress build-from-source',
  `package ${packageName(ID)} is not installed`,
]) {
  if (!message.includes(want)) fail(`the error does not say "${want}"`);
}
if (broken.status !== 1) fail(`doctor exited ${broken.status}, expected 1`);
ok('the load error lists the candidates and the fixes (exit code 1)');

const qemu = ['/usr/bin/qemu-x86_64', '/usr/bin/qemu-x86_64-static'].find((p) => existsSync(p));
if (qemu) {
  console.log('== doctor and a GEMM on an emulated Haswell CPU (AVX2 + FMA, no AVX-512): qemu-x86_64 -cpu Haswell');
  const probe = `const l = require('llm-compress-native'); const i = l.runtimeInfo();
    const k = 64, a = new Float32Array(k * k).fill(1);
    l.kernels.gemm(a, a, { m: k, n: k, k }).then((y) => { console.log(JSON.stringify({ isa: i.isa, best: i.bestIsa, y0: y[0], source: i.binary.source })); });`;
  const r = sh(qemu, ['-cpu', 'Haswell', process.execPath, '-e', probe], { timeout: 300_000 });
  if (r.status !== 0)
    fail(`on Haswell the addon failed (status ${r.status}, signal ${r.signal}):\n${r.stdout}${r.stderr}`);
  const got = JSON.parse(r.stdout.trim().split('\n').at(-1));
  console.log(`  ${JSON.stringify(got)}`);
  if (got.best !== 'avx2' || got.y0 !== 64 || got.source !== 'platform package')
    fail('expected best ISA avx2 and y0 = 64 from the platform package');
  ok('the x64 binary runs on an AVX2-only CPU and picks avx2 there');
}

if (argv.includes('--build-from-source')) {
  console.log('== npx llm-compress build-from-source in the installed package (full PATH)');
  const full = { ...cleanEnv, PATH: `${bin}${delimiter}${process.env.PATH}` };
  const t3 = Date.now();
  const b = sh('npx', ['--no-install', 'llm-compress', 'build-from-source'], { env: full });
  if (b.status !== 0) fail(`build-from-source failed:\n${b.stdout}${b.stderr}`);
  process.stdout.write(`${b.stdout.trim().split('\n').slice(-2).join('\n').replace(/^/gm, '  | ')}\n`);
  const after = JSON.parse(sh('npx', ['--no-install', 'llm-compress', 'doctor', '--json']).stdout);
  if (after.binary.source !== 'local build' || after.binary.path !== join(installed, 'build', 'Release', 'llmc.node'))
    fail(`after build-from-source doctor reports ${after.binary.path} (${after.binary.source})`);
  ok(
    `build-from-source built ${after.binary.path} and the loader prefers it (${((Date.now() - t3) / 1000).toFixed(0)} s)`,
  );
}

if (!argv.includes('--keep')) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
console.log(`pack-check: ${passed} passed, 0 failed`);
