#!/usr/bin/env node
// Builds the addon of one platform package with cmake-js into its own folder (never build/):
//
//   node scripts/build-prebuilt.mjs <id> [--out build-pkg/<id>] [--tests]
//
// - linux: libstdc++ and libgcc linked statically (and kept out of the exported symbols), so the
//   binary needs only glibc (or musl) and not the build machine's libstdc++; no -march: the x86
//   kernels are compiled per ISA level with their own flags and picked at run time (CMakeLists.txt).
// - linux-arm64-gnu on an x86-64 machine: cross-compiled with Debian's aarch64-linux-gnu-g++.
// - *-cuda: LLMC_CUDA=ON (nvcc required); otherwise LLMC_CUDA=OFF whatever is installed.
// - --tests also builds the native test programs (<out>/tests/*_test), e.g. to run under qemu.
// Prints the path of the .node file last.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join, resolve } from 'node:path';

import { root, TARGETS } from './platforms.mjs';

export function buildPrebuilt(id, { out = join(root, 'build-pkg', id), tests = false, quiet = false } = {}) {
  const t = TARGETS[id];
  if (!t) throw new Error(`unknown target ${id} (targets: ${Object.keys(TARGETS).join(', ')})`);
  const args = [
    'compile',
    '--directory',
    root,
    '--out',
    out,
    `--CDLLMC_CUDA=${t.cuda ? 'ON' : 'OFF'}`,
    `--CDLLMC_TESTS=${tests ? 'ON' : 'OFF'}`,
  ];
  if (t.os === 'linux') {
    args.push('--CDCMAKE_SHARED_LINKER_FLAGS=-static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL');
    if (tests) args.push('--CDCMAKE_EXE_LINKER_FLAGS=-static-libstdc++ -static-libgcc');
  }
  if (t.os !== platform()) throw new Error(`${id} builds on ${t.os}, this is ${platform()}`);
  if (t.cpu !== arch()) {
    if (!(t.os === 'linux' && t.cpu === 'arm64' && arch() === 'x64'))
      throw new Error(`no cross build from ${arch()} to ${id}`);
    args.push(
      '--arch',
      'arm64',
      '--CDCMAKE_SYSTEM_NAME=Linux',
      '--CDCMAKE_SYSTEM_PROCESSOR=aarch64',
      '--CDCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++',
      '--CDCMAKE_C_COMPILER=aarch64-linux-gnu-gcc',
    );
  }
  const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  execFileSync(process.execPath, [cmakeJs, ...args], {
    cwd: root,
    stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
  });
  const node = join(out, 'Release', 'llmc.node');
  if (!existsSync(node)) throw new Error(`the build made no ${node}`);
  return node;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const rest = process.argv.slice(2);
  const id = rest.find((a, i) => !a.startsWith('--') && rest[i - 1] !== '--out');
  const out = rest.includes('--out') ? resolve(rest[rest.indexOf('--out') + 1]) : undefined;
  if (!id) {
    console.error('usage: node scripts/build-prebuilt.mjs <id> [--out dir] [--tests]');
    process.exit(2);
  }
  console.log(buildPrebuilt(id, { out, tests: rest.includes('--tests') }));
}
