// `npm run demo` — README's first command (DESIGN.md section 8): compresses the reference model
// (../shared/models/tinystories-656k, or LLMC_DEMO_MODEL) with GPTQ W4A16 and with SparseGPT
// 2:4 + W4, both calibrated on paragraphs [1000, 4300) of ../shared/text/tinystories_val.txt, and
// evaluates both against the fp32 model on paragraphs [0, 500) (the protocol of DESIGN.md section 7).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const dist = resolve('dist/index.js');
if (!existsSync(dist)) {
  console.error('dist/ is missing: run `npm ci` (or `npm run build`) first.');
  process.exit(1);
}
const { compress, runtimeInfo } = await import(dist);
const model = resolve(process.env.LLMC_DEMO_MODEL ?? '../shared/models/tinystories-656k');
const text = resolve('../shared/text/tinystories_val.txt');
for (const [what, path] of [
  ['model', model],
  ['text', text],
])
  if (!existsSync(path)) {
    console.error(`the demo ${what} ${path} is missing: put ../shared beside the repository (or set LLMC_DEMO_MODEL).`);
    process.exit(1);
  }
const info = runtimeInfo();
console.log(
  `llm-compress-native ${info.version}: ${info.cpu.brand || info.cpu.arch}, ISA ${info.isa}, ${info.threads} threads`,
);
console.log(`model ${model}\n`);

// tinystories-656k was trained without the tokenizer's leading '▁' (../shared/README.md).
const prependSpace = model.endsWith('tinystories-656k') ? false : undefined;
const group = 32; // the model is small: 128 inputs per layer at most
const runs = [
  ['GPTQ W4A16 g32', { scheme: 'W4A16', quantize: { groupSize: group } }],
  ['SparseGPT 2:4 + W4 g32', { scheme: 'W4A16_2:4', quantize: { groupSize: group } }],
];
const rows = [];
let fp32;
for (const [label, opts] of runs) {
  process.stdout.write(`compressing: ${label} ...`);
  const { report, model: m } = await compress(model, {
    ...opts,
    ...(prependSpace === undefined ? {} : { prependSpace }),
    calibration: { file: text, paragraphs: [1000, 4300], samples: 128, seqLen: 256 },
    evaluate: { file: text, paragraphs: [0, 500] },
    onProgress: (e) => e.stage === 'compress' && process.stdout.write('.'), // a dot per compressed layer
  });
  m.dispose();
  process.stdout.write(` ${(report.totalMs / 1000).toFixed(1)} s\n`);
  fp32 = report.quality.before;
  rows.push([label, report]);
}
const pad = (s, n) => String(s).padEnd(n);
console.log(
  `\n${pad('', 24)}${pad('bits/weight', 13)}${pad('model size', 12)}${pad('bits/byte', 11)}${pad('vs fp32', 9)}${pad('KL', 9)}${pad('top-1', 8)}time`,
);
console.log(
  `${pad('fp32', 24)}${pad('32', 13)}${pad('1.00x', 12)}${pad(fp32.bitsPerByte.toFixed(4), 11)}${pad('', 9)}${pad('', 9)}${pad('', 8)}`,
);
for (const [label, r] of rows) {
  const q = r.quality.after;
  console.log(
    `${pad(label, 24)}${pad(r.bitsPerWeight.toFixed(2), 13)}${pad(`${(1 / r.ratio).toFixed(2)}x`, 12)}${pad(q.bitsPerByte.toFixed(4), 11)}` +
      `${pad(`+${(100 * (q.bitsPerByte / fp32.bitsPerByte - 1)).toFixed(1)}%`, 9)}${pad(q.kl.toFixed(4), 9)}${pad(`${(100 * q.top1).toFixed(1)}%`, 8)}${(r.totalMs / 1000).toFixed(1)} s`,
  );
}
console.log(`\nbits/weight: the compressed linear layers (int codes, fp16 scale per group of ${group}, 2:4 indices);`);
console.log('model size: all tensors, the embedding and norms kept at fp32 (they are most of this small model).');
console.log(`quality: paragraphs [0, 500) of ${text}, ${fp32.tokens} tokens; KL and top-1 against the fp32 model.`);
