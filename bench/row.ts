/**
 * One measurement of `llm-compress bench --json`: the stable JSON-lines contract of DESIGN.md
 * section 3. Fields may be added; none is renamed or removed.
 */
export interface BenchRow {
  kernel: string;
  m: number;
  k: number;
  n: number;
  groupSize?: number;
  /** Median milliseconds of the kernel (timed on its native thread). */
  medianMs: number;
  /** 2·m·n·k / time. */
  gflops: number;
  /** Bytes of weights read / time (GB = 1e9 bytes). */
  weightGBps: number;
  threads: number;
  /** ISA level of the kernels. */
  isa: string;
  /** True when the weights came from DRAM (rotated over >= 256 MiB of copies). */
  cold: boolean;
  /**
   * Memory-bound rows only: a plain streaming read of the same weight copies, measured in the same
   * run — the bandwidth the machine gives right now, to compare weightGBps with.
   */
  readGBps?: number;
  /**
   * Compute-bound rows only: the fp32 multiply-add peak of the machine measured right after the
   * row (register-only loop on the same threads and ISA level), to compare gflops with.
   */
  peakGflops?: number;
  /**
   * Compute-bound rows of kernels on int8 activations: the int8 dot-product peak (GOP/s, VNNI,
   * register-only loop) measured right after the row — `gflops` then counts int8 operations.
   */
  peakGops?: number;
  /**
   * Whole-layer algorithms (gptq, sparsegpt): the fp32 GEMM's throughput at m = 512 on the same
   * layer, measured in the same run — the baseline their gflops is compared with.
   */
  gemmGflops?: number;
  /**
   * 2:4 sparse kernels: the dense kernel of the same precision on the 2:4 matrix's dense
   * equivalent (f32 GEMM, w8a8, w4a16), measured in the same run on the same shape and m. GPU rows:
   * the dense f16 GPU kernel on the same shape and m.
   */
  denseMs?: number;
  /** denseMs / medianMs. */
  speedupVsDense?: number;
  /** 2:4 sparse kernels only: the path `matmul` picked ('sparse': 2:4 kernels, 'dense': fp32 GEMM on expanded panels). */
  path?: 'sparse' | 'dense';
  /** 2:4 float kernels only: milliseconds of the path that was not picked (shows the crossover). */
  otherPathMs?: number;
  /** GPU gptq / sparsegpt rows: the same layer compressed by the CPU loop, in the same run. */
  cpuMs?: number;
  /** cpuMs / medianMs. */
  speedupVsCpu?: number;
  /** GPU rows (`--device cuda`): the GPU's name. threads is then 1 and isa 'cuda'. */
  device?: string;
  /** Number of timed runs behind the median. */
  samples: number;
}

export interface BenchSettings {
  /** Batch sizes (rows of activations) from --m; undefined: those of each kernel's perf cases (bench/cases/). */
  ms?: number[];
  /** (k, n) pairs from --shapes (inner dimension and output features); undefined: each kernel's perf cases. */
  shapes?: Array<{ k: number; n: number }>;
  /** Minimum milliseconds spent timing each row. */
  timeMs: number;
  /** Called with each row as soon as it is measured. */
  onRow: (row: BenchRow) => void;
}
