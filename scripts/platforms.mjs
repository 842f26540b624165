#!/usr/bin/env node
// The prebuilt platform packages (DESIGN.md section 6): one table, and the chores around it.
//
//   node scripts/platforms.mjs sync                    write npm/<id>/{package.json,index.js,README.md}
//   node scripts/platforms.mjs check                   fail when npm/ drifted from this table / the version
//   node scripts/platforms.mjs stage-main [--out build-pkg/npm]
//                                                      <out>/main: the main package as published, with
//                                                      every platform package in optionalDependencies
//   node scripts/platforms.mjs stage <id> <llmc.node> [--out build-pkg/npm] [--strict]
//                                                      copy npm/<id> + the binary into <out>/<id>;
//                                                      checks the binary's architecture and, on glibc
//                                                      targets, reads the newest GLIBC_x.y it needs
//                                                      (readelf) into config.glibc and the README;
//                                                      --strict fails instead when it exceeds the
//                                                      declared minimum (the release workflow)
//   node scripts/platforms.mjs publish <staged dir>... [--dry-run]
//                                                      npm publish --provenance each platform
//                                                      package, then <out>/main
//
// Why not @napi-rs/cli: its create-npm-dirs / artifacts / pre-publish work from Rust target
// triples, which have no CUDA variants; its packages make the .node file itself the `main` (this
// loader needs the path first, to test-load the CUDA binary in a child process); and it is an
// 82 MB devDependency for every `npm ci`. The folder names and package fields follow its layout
// (npm/<platform>, os/cpu/libc, a README per package), so moving to it later is mechanical.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** id -> npm fields, the release runner, and the oldest glibc the release build supports. */
export const TARGETS = {
  'linux-x64-gnu': {
    os: 'linux',
    cpu: 'x64',
    libc: 'glibc',
    glibc: '2.28',
    elf: 'X86-64',
    built: 'in a glibc 2.28 container (AlmaLinux 8)',
  },
  'linux-arm64-gnu': {
    os: 'linux',
    cpu: 'arm64',
    libc: 'glibc',
    glibc: '2.28',
    elf: 'AArch64',
    built: 'in a glibc 2.28 container (AlmaLinux 8) on an arm64 runner',
  },
  'linux-x64-musl': { os: 'linux', cpu: 'x64', libc: 'musl', elf: 'X86-64', built: 'on Alpine Linux' },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64', built: 'on macOS 14 (Apple silicon), for macOS 11 and later' },
  'darwin-x64': { os: 'darwin', cpu: 'x64', built: 'on macOS 13 (Intel), for macOS 10.15 and later' },
  'win32-x64-msvc': { os: 'win32', cpu: 'x64', built: 'with MSVC on Windows Server 2022' },
  'linux-x64-gnu-cuda': {
    os: 'linux',
    cpu: 'x64',
    libc: 'glibc',
    glibc: '2.28',
    elf: 'X86-64',
    cuda: true,
    built: 'in the CUDA 12 toolkit image on Rocky Linux 8 (glibc 2.28)',
  },
  'win32-x64-msvc-cuda': {
    os: 'win32',
    cpu: 'x64',
    cuda: true,
    built: 'with MSVC and the CUDA 12 toolkit on Windows Server 2022',
  },
};

const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
const writeJson = (p, v) => writeFileSync(p, `${JSON.stringify(v, null, 2)}\n`);
export const mainPackage = () => readJson(join(root, 'package.json'));
export const packageName = (id) => `llm-compress-native-${id}`;

function packageJson(id, main) {
  const t = TARGETS[id];
  const pkg = {
    name: packageName(id),
    version: main.version,
    description: `The prebuilt ${t.cuda ? 'CUDA + CPU' : 'CPU'} addon of llm-compress-native for ${id.replace(/-cuda$/, '')}`,
    license: main.license,
    main: 'index.js',
    files: ['index.js', 'llmc.node'],
    os: [t.os],
    cpu: [t.cpu],
  };
  if (t.libc) pkg.libc = [t.libc];
  pkg.engines = main.engines;
  if (t.glibc) pkg.config = { glibc: t.glibc };
  if (main.repository) pkg.repository = main.repository;
  return pkg;
}

const indexJs = (
  id,
) => `// The prebuilt llm-compress-native addon for ${id}. llm-compress-native reads \`path\`, checks this
// package's version and loads the file; nothing here loads it.
'use strict';
module.exports = { path: require('node:path').join(__dirname, 'llmc.node') };
`;

function readme(id, glibc) {
  const t = TARGETS[id];
  const lines = [
    `# ${packageName(id)}`,
    '',
    `The prebuilt native addon (\`llmc.node\`) of [llm-compress-native](https://www.npmjs.com/package/llm-compress-native) for \`${t.os}\` / \`${t.cpu}\`${t.libc ? ` / ${t.libc}` : ''}${t.cuda ? ', with the CUDA kernels (sm_80, 86, 89, 90 + PTX; CUDA runtime linked statically: needs an NVIDIA driver only)' : ''}.`,
    '',
    'Do not install it directly: `npm install llm-compress-native` installs the package that fits the machine',
    '(it is one of its `optionalDependencies`, picked by npm through `os`, `cpu` and `libc`), and the loader',
    `refuses a platform package whose version differs from its own.`,
    '',
    `Built ${t.built}.`,
  ];
  if (t.glibc) lines.push('', `Needs glibc ${glibc ?? t.glibc} or newer (\`config.glibc\` in package.json).`);
  if (t.cpu === 'x64')
    lines.push(
      '',
      'Runs on any x86-64 CPU; the kernels pick AVX2 or AVX-512 (F/BW/DQ/VL/VNNI) at run time from CPUID.',
    );
  if (t.cpu === 'arm64') lines.push('', 'Uses the NEON kernels (part of the arm64 baseline).');
  return `${lines.join('\n')}\n`;
}

/** Writes npm/<id>/ for every target. */
export function sync() {
  const main = mainPackage();
  for (const id of Object.keys(TARGETS)) {
    const dir = join(root, 'npm', id);
    mkdirSync(dir, { recursive: true });
    writeJson(join(dir, 'package.json'), packageJson(id, main));
    writeFileSync(join(dir, 'index.js'), indexJs(id));
    writeFileSync(join(dir, 'README.md'), readme(id));
  }
}

/** Problems with npm/ and optionalDependencies, as sentences (empty: consistent). */
export function check() {
  const main = mainPackage();
  const problems = [];
  for (const id of Object.keys(TARGETS)) {
    const dir = join(root, 'npm', id);
    const expect = {
      'package.json': `${JSON.stringify(packageJson(id, main), null, 2)}\n`,
      'index.js': indexJs(id),
      'README.md': readme(id),
    };
    for (const [file, text] of Object.entries(expect)) {
      const p = join(dir, file);
      if (!existsSync(p)) problems.push(`npm/${id}/${file} is missing`);
      else if (readFileSync(p, 'utf8') !== text)
        problems.push(`npm/${id}/${file} differs from what scripts/platforms.mjs writes`);
    }
  }
  if (main.optionalDependencies)
    problems.push(
      'package.json lists optionalDependencies: they are added when the main package is staged (stage-main), since npm ci fails on unpublished versions',
    );
  if (main.scripts?.install || main.scripts?.preinstall || main.scripts?.postinstall)
    problems.push('the main package has an install script');
  return problems;
}

/** Newest GLIBC_x.y symbol version a binary needs (readelf works on any ELF architecture). */
export function glibcRequired(file) {
  const out = execFileSync('readelf', ['-W', '--version-info', '--dyn-syms', file], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const versions = [...new Set([...out.matchAll(/GLIBC_(\d+\.\d+(?:\.\d+)?)/g)].map((m) => m[1]))];
  versions.sort((a, b) => {
    const pa = a.split('.').map(Number);
    const pb = b.split('.').map(Number);
    for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
    return 0;
  });
  return versions.at(-1);
}

const newer = (a, b) =>
  a
    .split('.')
    .map(Number)
    .reduce((d, x, i) => d || x - (Number(b.split('.')[i]) || 0), 0) > 0;

/** Copies npm/<id> and the binary into <out>/<id>; returns { dir, glibc }. */
export function stage(id, nodeFile, { out = join(root, 'build-pkg', 'npm'), strict = false } = {}) {
  const t = TARGETS[id];
  if (!t) throw new Error(`unknown target ${id} (targets: ${Object.keys(TARGETS).join(', ')})`);
  if (!existsSync(nodeFile)) throw new Error(`${nodeFile} does not exist`);
  const problems = check();
  if (problems.length)
    throw new Error(`npm/ is out of date (run node scripts/platforms.mjs sync):\n  ${problems.join('\n  ')}`);
  const dir = join(out, id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of ['package.json', 'index.js', 'README.md']) copyFileSync(join(root, 'npm', id, f), join(dir, f));
  copyFileSync(nodeFile, join(dir, 'llmc.node'));
  let glibc;
  if (t.elf) {
    const header = execFileSync('readelf', ['-h', nodeFile], { encoding: 'utf8' });
    const machine = /Machine:\s+(.*)/.exec(header)?.[1] ?? '?';
    if (!machine.includes(t.elf)) throw new Error(`${nodeFile} is built for ${machine}, target ${id} needs ${t.elf}`);
  }
  if (t.glibc) {
    glibc = glibcRequired(nodeFile) ?? '2.17';
    if (newer(glibc, t.glibc)) {
      if (strict)
        throw new Error(`${nodeFile} needs glibc ${glibc}, newer than the declared minimum ${t.glibc} of ${id}`);
      const pkg = readJson(join(dir, 'package.json'));
      pkg.config = { ...pkg.config, glibc };
      writeJson(join(dir, 'package.json'), pkg);
      writeFileSync(join(dir, 'README.md'), readme(id, glibc));
    }
  }
  return { dir, glibc };
}

/**
 * Stages the main package as published: the files of its `files` field, and a package.json that
 * lists every platform package in optionalDependencies at the exact version and has no `prepare`
 * (it builds from source, needing the devDependencies). The repository's package.json cannot list
 * them itself: `npm ci` refuses a lockfile without them, and a version is only in the registry once
 * it is published (the role of `napi pre-publish` in @napi-rs/cli).
 */
export function stageMain({ out = join(root, 'build-pkg', 'npm') } = {}) {
  const problems = check();
  if (problems.length)
    throw new Error(`npm/ is out of date (run node scripts/platforms.mjs sync):\n  ${problems.join('\n  ')}`);
  const main = mainPackage();
  const dir = join(out, 'main');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of main.files) {
    const from = join(root, f);
    if (!existsSync(from)) throw new Error(`${f} (in files) does not exist: build it first (npm run build:ts)`);
    cpSync(from, join(dir, f), { recursive: true });
  }
  const { prepare: _prepare, ...scripts } = main.scripts ?? {};
  main.scripts = scripts;
  // npm 11 publish drops a bin whose path starts with "./" ("script name ... was invalid and removed").
  if (main.bin) main.bin = Object.fromEntries(Object.entries(main.bin).map(([k, v]) => [k, v.replace(/^\.\//, '')]));
  main.optionalDependencies = Object.fromEntries(Object.keys(TARGETS).map((id) => [packageName(id), main.version]));
  writeJson(join(dir, 'package.json'), main);
  return { dir };
}

/** Publishes staged platform packages, then the staged main package beside them (the release's last step). */
export function publish(dirs, { dryRun = false } = {}) {
  const args = (d) => ['publish', d, '--provenance', '--access', 'public', ...(dryRun ? ['--dry-run'] : [])];
  const version = mainPackage().version;
  for (const d of dirs) {
    const pkg = readJson(join(d, 'package.json'));
    if (pkg.version !== version) throw new Error(`${d} is ${pkg.name}@${pkg.version}, the main package is ${version}`);
    if (!existsSync(join(d, 'llmc.node'))) throw new Error(`${d} has no llmc.node`);
  }
  const main = join(dirname(resolve(dirs[0] ?? '.')), 'main');
  if (!existsSync(join(main, 'package.json')))
    throw new Error(`stage the main package first (stage-main): ${main} is missing`);
  for (const d of dirs) execFileSync('npm', args(resolve(d)), { stdio: 'inherit' });
  execFileSync('npm', [...args(main), '--ignore-scripts'], { stdio: 'inherit' });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd, ...rest] = process.argv.slice(2);
  const flag = (name) => rest.includes(name);
  const option = (name) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : undefined);
  const positional = rest.filter((a, i) => !a.startsWith('--') && !(i > 0 && rest[i - 1] === '--out'));
  if (cmd === 'sync') {
    sync();
    console.log(`npm/: ${Object.keys(TARGETS).length} platform packages at ${mainPackage().version}`);
  } else if (cmd === 'check') {
    const problems = check();
    if (problems.length) {
      console.error(
        `platform packages out of date (fix: node scripts/platforms.mjs sync):\n  ${problems.join('\n  ')}`,
      );
      process.exit(1);
    }
    console.log(
      `npm/: ${Object.keys(TARGETS).length} platform packages consistent with package.json ${mainPackage().version}`,
    );
  } else if (cmd === 'stage') {
    const [id, file] = positional;
    const { dir, glibc } = stage(id, resolve(file), {
      out: option('--out') ? resolve(option('--out')) : undefined,
      strict: flag('--strict'),
    });
    console.log(`staged ${packageName(id)} in ${dir}${glibc ? ` (needs glibc ${glibc})` : ''}`);
  } else if (cmd === 'stage-main') {
    const { dir } = stageMain({ out: option('--out') ? resolve(option('--out')) : undefined });
    console.log(`staged llm-compress-native in ${dir}`);
  } else if (cmd === 'publish') {
    publish(positional, { dryRun: flag('--dry-run') });
  } else {
    console.error(
      'usage: node scripts/platforms.mjs sync | check | stage-main [--out dir] | stage <id> <llmc.node> [--out dir] [--strict] | publish <dir>... [--dry-run]',
    );
    process.exit(2);
  }
}
