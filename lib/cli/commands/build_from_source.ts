/**
 * `llm-compress build-from-source [--cuda]`: builds the addon from the C++ sources the package
 * ships (native/, CMakeLists.txt) into its own `build/Release/llmc.node`, the loader's second
 * candidate (after `LLMC_NATIVE_PATH`, before the prebuilt packages). For machines without a
 * fitting prebuilt package (an old glibc, another platform) or for a CUDA build of one's own.
 *
 * Needs CMake >= 3.19 and a C++17 compiler (and nvcc with --cuda). cmake-js and node-addon-api are
 * taken from the package's node_modules when there (a source checkout), else installed once with
 * npm into build/tools (an installed package has no devDependencies).
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

import { Command } from 'commander';

import { packageRoot, packageVersion } from '../../native/loader.js';
import { LlmcError } from '../../errors.js';

interface Plan {
  root: string;
  out: string;
  addon: string;
  cuda: boolean;
  /** Packages to install into `toolsDir` first (empty when the package's node_modules has them). */
  install: string[];
  toolsDir: string;
  cmakeJs: string;
  args: string[];
}

const isWindows = process.platform === 'win32';

function run(cmd: string, args: string[], options: SpawnSyncOptions = {}): number {
  const r = spawnSync(cmd, args, { stdio: 'inherit', shell: isWindows && cmd !== process.execPath, ...options });
  if (r.error) throw new LlmcError('LLMC_UNSUPPORTED', `could not run ${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

function found(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore', shell: isWindows });
  return !r.error && r.status === 0;
}

function resolveFrom(dir: string, name: string): string | undefined {
  try {
    return dirname(createRequire(join(dir, 'package.json')).resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

export function buildPlan(cuda: boolean, root = packageRoot()): Plan {
  const out = join(root, 'build');
  const toolsDir = join(out, 'tools');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  const install: string[] = [];
  const tool = (name: string, fallback: string) => {
    const dir = resolveFrom(root, name) ?? resolveFrom(toolsDir, name);
    if (!dir) install.push(`${name}@${pkg.devDependencies?.[name] ?? fallback}`);
    return dir ?? join(toolsDir, 'node_modules', name);
  };
  const cmakeJsDir = tool('cmake-js', '^8.0.0');
  tool('node-addon-api', '^8.0.0');
  return {
    root,
    out,
    addon: join(out, 'Release', 'llmc.node'),
    cuda,
    install,
    toolsDir,
    cmakeJs: join(cmakeJsDir, 'bin', 'cmake-js'),
    args: ['compile', '--directory', root, '--out', out, `--CDLLMC_CUDA=${cuda ? 'ON' : 'OFF'}`],
  };
}

function build(plan: Plan): void {
  if (!existsSync(join(plan.root, 'CMakeLists.txt')) || !existsSync(join(plan.root, 'native', 'sources.json'))) {
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `${plan.root} holds no C++ sources (CMakeLists.txt, native/sources.json) to build from`,
    );
  }
  if (!found('cmake')) {
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      'cmake was not found on the PATH: building from source needs CMake >= 3.19 and a C++17 compiler ' +
        '(Debian/Ubuntu: apt-get install cmake g++; Alpine: apk add cmake g++ make; macOS: xcode-select --install && brew install cmake; ' +
        'Windows: Visual Studio Build Tools with "Desktop development with C++", which includes CMake)',
    );
  }
  if (plan.cuda && !found('nvcc')) {
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      '--cuda: nvcc was not found on the PATH (install the CUDA toolkit, 12.0 or newer, and put its bin/ on the PATH)',
    );
  }
  if (plan.install.length) {
    process.stderr.write(`installing the build tools into ${plan.toolsDir}: ${plan.install.join(' ')}\n`);
    const npmArgs = [
      'install',
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--prefix',
      plan.toolsDir,
      ...plan.install,
    ];
    if (run('npm', npmArgs) !== 0) throw new LlmcError('LLMC_UNSUPPORTED', `npm ${npmArgs.join(' ')} failed`);
  }
  // CMakeLists.txt finds node-addon-api with require.resolve(), which also looks in NODE_PATH.
  const nodePath = [join(plan.toolsDir, 'node_modules'), process.env.NODE_PATH].filter(Boolean).join(delimiter);
  const status = run(process.execPath, [plan.cmakeJs, ...plan.args], {
    cwd: plan.root,
    env: { ...process.env, NODE_PATH: nodePath },
  });
  if (status !== 0)
    throw new LlmcError('LLMC_UNSUPPORTED', `the build failed (cmake-js exit code ${status}); its output is above`);
  // Load it in a child process: this process may already hold another copy of the addon.
  const check = spawnSync(
    process.execPath,
    ['-e', `process.stdout.write(require(${JSON.stringify(plan.addon)}).version)`],
    { encoding: 'utf8' },
  );
  const version = packageVersion(plan.root);
  if (check.status !== 0 || check.stdout !== version) {
    throw new LlmcError(
      'LLMC_UNSUPPORTED',
      `the built ${plan.addon} does not load as version ${version}: ${(check.stderr || check.stdout).trim()}`,
    );
  }
}

export function buildFromSourceCommand(): Command {
  return new Command('build-from-source')
    .description(
      "build the native addon from the package's C++ sources into its build/Release (used before any prebuilt package)",
    )
    .option('--cuda', 'also compile the CUDA kernels (needs nvcc)')
    .option('--dry-run', 'print what would run, build nothing')
    .action((opts: { cuda?: boolean; dryRun?: boolean }) => {
      const plan = buildPlan(Boolean(opts.cuda));
      const steps = [
        ...(plan.install.length ? [`npm install --no-save --prefix ${plan.toolsDir} ${plan.install.join(' ')}`] : []),
        `${process.execPath} ${plan.cmakeJs} ${plan.args.join(' ')}`,
      ];
      if (opts.dryRun) {
        process.stdout.write(
          `${[`build-from-source (${plan.cuda ? 'CPU + CUDA' : 'CPU'}) into ${plan.addon}:`, ...steps.map((s) => `  ${s}`)].join('\n')}\n`,
        );
        return;
      }
      build(plan);
      process.stdout.write(
        `built ${plan.addon} (${plan.cuda ? 'CPU + CUDA' : 'CPU'}); llm-compress-native now loads it (doctor: source "local build")\n`,
      );
    });
}
