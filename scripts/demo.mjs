// `npm run demo` — README's first command (DESIGN.md section 8).
//
// The compression pipeline (GPTQ W4A16 and SparseGPT 2:4 + W4 on ../shared/models/tinystories-656k,
// evaluated against fp32) is not built yet. Until it is, the demo says so plainly and shows what is
// there: the native runtime this machine uses and the fp32 GEMM every later stage runs on.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const cli = resolve('dist/cli/main.js');
if (!existsSync(cli)) {
  console.error('dist/ is missing: run `npm ci` (or `npm run build`) first.');
  process.exit(1);
}
const model = resolve(process.env.LLMC_DEMO_MODEL ?? '../shared/models/tinystories-656k');
const run = (...args) => {
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 2);
};

console.log('== llm-compress doctor');
run('doctor');
console.log(`\n== demo model: ${model} (${existsSync(model) ? 'found' : 'NOT FOUND'})`);
console.log('Compression (GPTQ W4A16, SparseGPT 2:4 + W4) and evaluation are not implemented yet;');
console.log('this demo will run them once the pipeline lands. For now: the fp32 GEMM they build on.\n');
console.log('== llm-compress bench --kernels f32 (a 4096 x 4096 layer; m = 1 cold from DRAM)');
run('bench', '--kernels', 'f32', '--m', '1,512', '--shapes', '4096x4096', '--time', '300');
