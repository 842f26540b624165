/** `llm-compress doctor`: what a bug report needs — platform, binary, CPU, ISA level, threads, CUDA. */
import { Command } from 'commander';

import { packageVersion } from '../../native/loader.js';
import { glibcVersion, platformId } from '../../platform.js';
import { cudaInfo, runtimeInfo } from '../../runtime.js';

/** The doctor report as one object (`--json` prints it as is). */
export function doctorReport() {
  const info = runtimeInfo();
  const features = Object.entries(info.cpu.features)
    .filter(([, on]) => on)
    .map(([name]) => name);
  return {
    package: { name: 'llm-compress-native', version: packageVersion() },
    platform: {
      id: platformId(),
      os: process.platform,
      arch: process.arch,
      glibc: glibcVersion() ?? null,
      node: process.version,
      napi: process.versions.napi,
    },
    binary: { ...info.binary, version: info.version },
    cpu: { arch: info.cpu.arch, vendor: info.cpu.vendor, brand: info.cpu.brand, features },
    isa: { inUse: info.isa, best: info.bestIsa, env: process.env.LLMC_ISA ?? null },
    threads: { pool: info.threads, env: process.env.LLMC_THREADS ?? null },
    cuda: cudaInfo(),
  };
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('print the platform, native binary, CPU features, ISA level, threads and CUDA status')
    .option('--json', 'print one JSON object')
    .action((opts: { json?: boolean }) => {
      const r = doctorReport();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      const cuda = r.cuda.device
        ? `${r.cuda.device.name} (compute ${r.cuda.device.computeCapability}, ${(r.cuda.device.totalMemory / 2 ** 30).toFixed(1)} GiB), driver ${r.cuda.driverVersion}, runtime ${r.cuda.runtimeVersion}`
        : `${r.cuda.compiled ? `kernels compiled (runtime ${r.cuda.runtimeVersion})` : 'kernels not compiled'}; not usable: ${r.cuda.error ?? 'no device'}`;
      const lines = [
        `llm-compress-native ${r.package.version}`,
        `platform   ${r.platform.id} (Node ${r.platform.node}, N-API ${r.platform.napi}${r.platform.glibc ? `, glibc ${r.platform.glibc}` : ''})`,
        `binary     ${r.binary.path} (${r.binary.source}, version ${r.binary.version})`,
        `cpu        ${r.cpu.brand || r.cpu.vendor || 'unknown'} [${r.cpu.arch}]`,
        `features   ${r.cpu.features.join(' ') || '(none detected)'}`,
        `isa        ${r.isa.inUse} (best ${r.isa.best}${r.isa.env ? `, LLMC_ISA=${r.isa.env}` : ''})`,
        `threads    ${r.threads.pool}${r.threads.env ? ` (LLMC_THREADS=${r.threads.env})` : ''}`,
        `cuda       ${cuda}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
