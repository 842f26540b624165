/** `llm-compress bench`: kernel benchmarks; `--json` prints the JSON-lines contract of DESIGN.md §3. */
import { Command } from 'commander';

import { CUDA_KERNELS, benchCuda, type CudaBenchKernel } from '../../../bench/cuda.js';
import { benchCompress } from '../../../bench/compress.js';
import { BENCH_MS, LAYER_SHAPES } from '../../../bench/cases/index.js';
import { SUITES, type BenchRow } from '../../../bench/index.js';
import { resolveDevice } from '../../device.js';
import { invalidArgument } from '../../errors.js';
import { setIsa, setThreads, type IsaLevel } from '../../runtime.js';

// Without --shapes / --m the CPU kernels run the perf cases of their tables (bench/cases/).
const DEFAULT_SHAPES = LAYER_SHAPES.map(({ k, n }) => `${k}x${n}`).join(',');
const DEFAULT_MS = BENCH_MS.join(',');
const DEFAULT_KERNELS = 'f32,w8a16,w8a8,w4a16,w4a8';
const CUDA_SHAPES = '8192x8192,4096x11008,11008x4096';

function positiveInts(name: string, text: string): number[] {
  const values = text.split(',').map((t) => Number(t.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1))
    throw invalidArgument(name, 'a comma-separated list of positive integers', text);
  return values;
}

function shapes(text: string): Array<{ k: number; n: number }> {
  return text.split(',').map((t) => {
    const match = /^\s*(\d+)x(\d+)\s*$/.exec(t);
    const k = Number(match?.[1]);
    const n = Number(match?.[2]);
    if (!match || k < 1 || n < 1)
      throw invalidArgument('--shapes', 'a comma-separated list of KxN (e.g. 4096x11008)', text);
    return { k, n };
  });
}

function printRow(r: BenchRow, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const cols = [
    r.kernel.padEnd(r.kernel.startsWith('sparse24') ? 15 : 8),
    `m=${r.m}`.padEnd(7),
    `k=${r.k}`.padEnd(8),
    `n=${r.n}`.padEnd(8),
    `${r.medianMs.toFixed(3).padStart(9)} ms`,
    `${r.gflops.toFixed(1).padStart(7)} ${r.peakGops !== undefined ? 'GOP/s  ' : 'GFLOP/s'}`,
    `${r.weightGBps.toFixed(1).padStart(6)} GB/s${r.cold ? ' (cold)' : ''}`,
    r.readGBps !== undefined
      ? `plain read ${r.readGBps.toFixed(1)} GB/s (${((100 * r.weightGBps) / r.readGBps).toFixed(0)}%)`
      : '',
    r.peakGflops !== undefined
      ? `peak ${r.peakGflops.toFixed(0)} GFLOP/s (${((100 * r.gflops) / r.peakGflops).toFixed(0)}%)`
      : '',
    r.gemmGflops !== undefined
      ? `fp32 GEMM m=512 ${r.gemmGflops.toFixed(0)} GFLOP/s (${((100 * r.gflops) / r.gemmGflops).toFixed(0)}%)`
      : '',
    r.peakGops !== undefined
      ? `int8 peak ${r.peakGops.toFixed(0)} GOP/s (${((100 * r.gflops) / r.peakGops).toFixed(0)}%)`
      : '',
    r.speedupVsDense !== undefined && r.device === undefined
      ? `dense ${r.denseMs!.toFixed(3)} ms: ${r.speedupVsDense.toFixed(2)}x (${r.path} path${r.otherPathMs !== undefined ? `; other path ${r.otherPathMs.toFixed(3)} ms` : ''})`
      : '',
    r.device !== undefined && r.denseMs !== undefined
      ? `${(r.gflops / 1000).toFixed(2)} TFLOP/s, dense f16 ${r.denseMs.toFixed(3)} ms: ${r.speedupVsDense!.toFixed(2)}x  (${r.device})`
      : '',
    r.cpuMs !== undefined ? `CPU loop ${r.cpuMs.toFixed(1)} ms: ${r.speedupVsCpu!.toFixed(2)}x  (${r.device})` : '',
  ];
  process.stdout.write(`${cols.join('  ')}\n`);
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('benchmark the kernels on real layer shapes (medians of native timings)')
    .option(
      '--kernels <list>',
      `comma-separated kernels: ${Object.keys(SUITES).join(', ')} (gptq and sparsegpt take minutes: not in the default); with --device cuda: ${CUDA_KERNELS.join(', ')} (default all), gptq, sparsegpt`,
    )
    .option(
      '--m <list>',
      `batch sizes (rows of activations) (default: the kernels' perf cases in bench/cases/, ${DEFAULT_MS})`,
    )
    .option(
      '--shapes <list>',
      `comma-separated KxN layer shapes (in x out features) (default: the kernels' perf cases in bench/cases/, ${DEFAULT_SHAPES}; with --device cuda ${CUDA_SHAPES})`,
    )
    .option('--device <d>', 'cpu, or cuda: the GPU kernels against the dense f16 GPU kernel', 'cpu')
    .option('--time <ms>', 'minimum time spent timing each row', '500')
    .option('--threads <n>', 'threads of the pool (default: all cores)')
    .option('--isa <level>', 'force an ISA level: scalar, neon, avx2, avx512')
    .option('--json', 'one JSON object per line (the stable contract)')
    .action(
      async (opts: {
        kernels?: string;
        m?: string;
        shapes?: string;
        time: string;
        threads?: string;
        isa?: string;
        device: string;
        json?: boolean;
      }) => {
        if (opts.device !== 'cpu' && opts.device !== 'cuda')
          throw invalidArgument('--device', 'cpu or cuda', opts.device);
        if (opts.device === 'cuda') {
          resolveDevice('--device', 'cuda'); // a clear error when no GPU can be used
          const kernels = (opts.kernels ?? CUDA_KERNELS.join(',')).split(',').map((k) => k.trim());
          const allowed = [...CUDA_KERNELS, 'gptq', 'sparsegpt'];
          for (const k of kernels)
            if (!allowed.includes(k))
              throw invalidArgument(
                '--kernels',
                `a comma-separated list of ${allowed.join(', ')} with --device cuda`,
                k,
              );
          const settings = {
            ms: positiveInts('--m', opts.m ?? DEFAULT_MS),
            shapes: shapes(opts.shapes ?? CUDA_SHAPES),
            timeMs: positiveInts('--time', opts.time)[0]!,
            onRow: (r: BenchRow) => printRow(r, !!opts.json),
          };
          const matmuls = kernels.filter((k): k is CudaBenchKernel => (CUDA_KERNELS as readonly string[]).includes(k));
          if (matmuls.length > 0) await benchCuda(matmuls, settings);
          for (const k of kernels) if (k === 'gptq' || k === 'sparsegpt') await benchCompress(k, 'cuda')(settings);
          return;
        }
        const kernels = (opts.kernels ?? DEFAULT_KERNELS).split(',').map((k) => k.trim());
        for (const k of kernels) {
          if (!(k in SUITES))
            throw invalidArgument('--kernels', `a comma-separated list of ${Object.keys(SUITES).join(', ')}`, k);
        }
        const ms = opts.m === undefined ? undefined : positiveInts('--m', opts.m);
        const timeMs = positiveInts('--time', opts.time)[0]!;
        if (opts.threads !== undefined) setThreads(positiveInts('--threads', opts.threads)[0]!);
        if (opts.isa !== undefined) setIsa(opts.isa as IsaLevel);
        const settings = {
          ms,
          shapes: opts.shapes === undefined ? undefined : shapes(opts.shapes),
          timeMs,
          onRow: (r: BenchRow) => printRow(r, !!opts.json),
        };
        for (const k of kernels) await SUITES[k]!(settings);
      },
    );
}
