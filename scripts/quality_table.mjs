// `npm run quality`: the acceptance table of the compression methods (DESIGN.md section 7 protocol)
// on ../shared/models/stories260K and tinystories-656k: bits per byte on paragraphs [0, 500) of
// ../shared/text/tinystories_val.txt for fp32, RTN and GPTQ at W8 per channel, W4 g32 and W3 g32,
// magnitude, Wanda and SparseGPT at 50% and 2:4, and SparseGPT 2:4 + GPTQ W4 g32, calibrated on
// the first 128 windows of 256 tokens of paragraphs [1000, 4300). `--json` prints the rows as JSON;
// `--models a,b` picks models (stories260K, tinystories-656k).
//
// stories260K's down_proj has 172 inputs, which groups of 32 do not divide: its g32 rows quantize
// every other layer with groups of 32 and then down_proj per channel (a second pass over the
// already compressed model, calibrated through it).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const dist = resolve('dist/index.js');
if (!existsSync(dist)) {
  console.error('dist/ is missing: run `npm ci` (or `npm run build`) first.');
  process.exit(1);
}
const { compress, evaluate, loadModel } = await import(dist);
const { values: args } = parseArgs({ options: { json: { type: 'boolean' }, models: { type: 'string' } } });
const text = resolve('../shared/text/tinystories_val.txt');
const models = {
  stories260K: { path: resolve('../shared/models/stories260K/stories260K.bin'), load: {} },
  'tinystories-656k': { path: resolve('../shared/models/tinystories-656k'), load: { prependSpace: false } },
};
const chosen = args.models ? args.models.split(',') : Object.keys(models);
for (const name of chosen) {
  if (!models[name]) throw new Error(`--models: unknown model ${name} (${Object.keys(models).join(', ')})`);
  if (!existsSync(models[name].path) || !existsSync(text)) {
    console.error(`${models[name].path} or ${text} is missing: put ../shared beside the repository.`);
    process.exit(1);
  }
}
const calibration = { file: text, paragraphs: [1000, 4300], samples: 128, seqLen: 256 };
const evalSet = { file: text, paragraphs: [0, 500] };
const q = (method, bits, groupSize) => ({ quantize: { method, bits, groupSize } });
const prune = (method, shape) => ({
  prune: { method, ...(shape === '2:4' ? { structure: '2:4' } : { sparsity: 0.5 }) },
});
const runs = [
  ['RTN W8 per channel', q('rtn', 8, 'row')],
  ['GPTQ W8 per channel', q('gptq', 8, 'row')],
  ['RTN W4 g32', q('rtn', 4, 32)],
  ['GPTQ W4 g32', q('gptq', 4, 32)],
  ['RTN W3 g32', q('rtn', 3, 32)],
  ['GPTQ W3 g32', q('gptq', 3, 32)],
  ['magnitude 50%', prune('magnitude', 0.5)],
  ['Wanda 50%', prune('wanda', 0.5)],
  ['SparseGPT 50%', prune('sparsegpt', 0.5)],
  ['magnitude 2:4', prune('magnitude', '2:4')],
  ['Wanda 2:4', prune('wanda', '2:4')],
  ['SparseGPT 2:4', prune('sparsegpt', '2:4')],
  ['SparseGPT 2:4 + GPTQ W4 g32', { ...prune('sparsegpt', '2:4'), ...q('gptq', 4, 32) }],
];

/** Compresses `path` with `opts`; layers that groups of 32 cannot split get a per-channel second pass. */
async function compressed(path, load, opts) {
  const model = await loadModel(path, load);
  const g = opts.quantize?.groupSize;
  const uneven =
    typeof g === 'number'
      ? [...model.llama.linears.entries()].filter(([n, l]) => n !== 'lm_head' && l.inFeatures % g !== 0).map(([n]) => n)
      : [];
  const base = { ...opts, calibration, ignore: uneven };
  let ms = (await compress(model, base)).report.totalMs;
  if (uneven.length > 0) {
    const others = [...model.llama.linears.keys()].filter((n) => !uneven.includes(n));
    ms += (
      await compress(model, { ...opts, quantize: { ...opts.quantize, groupSize: 'row' }, calibration, ignore: others })
    ).report.totalMs;
  }
  const modules = [...new Set(uneven.map((n) => n.replace(/^model\.layers\.\d+\./, '')))];
  return { model, ms, note: modules.length > 0 ? `${modules.join(', ')} per channel` : '' };
}

const table = [];
for (const name of chosen) {
  const { path, load } = models[name];
  const fp32 = await loadModel(path, load);
  const base = await evaluate(fp32, evalSet);
  table.push({ model: name, method: 'fp32', bitsPerByte: base.bitsPerByte, vsFp32: 0, kl: 0, seconds: 0, note: '' });
  if (!args.json) console.log(`\n${name}: fp32 ${base.bitsPerByte.toFixed(4)} bits/byte (${base.tokens} tokens)`);
  for (const [label, opts] of runs) {
    const { model, ms, note } = await compressed(path, load, opts);
    const r = await evaluate(model, { ...evalSet, reference: fp32 });
    model.dispose();
    const row = {
      model: name,
      method: label,
      bitsPerByte: r.bitsPerByte,
      vsFp32: r.bitsPerByte / base.bitsPerByte - 1,
      kl: r.kl,
      seconds: ms / 1000,
      note,
    };
    table.push(row);
    if (!args.json)
      console.log(
        `  ${label.padEnd(30)}${row.bitsPerByte.toFixed(4).padEnd(9)}${`${row.vsFp32 >= 0 ? '+' : ''}${(100 * row.vsFp32).toFixed(2)}%`.padEnd(10)}KL ${row.kl.toFixed(4).padEnd(8)}${row.seconds.toFixed(1).padStart(6)} s  ${note}`,
      );
  }
  fp32.dispose();
}
if (args.json) console.log(JSON.stringify(table, null, 2));
