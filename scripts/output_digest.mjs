// `node scripts/output_digest.mjs [out.json]` — a behaviour fingerprint for refactors: compresses the
// shared models with every scheme and writes every output format, then prints one line per case with
// the sha256 of each file written (or the error code and message when the case is refused) and the
// nll of the returned model on a few paragraphs. Run it before and after a change that must not change
// behaviour and diff the two outputs: any difference is a behaviour change.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const dist = resolve('dist/index.js');
if (!existsSync(dist)) {
  console.error('dist/ is missing: run `npm run build` first.');
  process.exit(1);
}
const { compress, evaluate } = await import(dist);
const shared = resolve('../shared');
const text = join(shared, 'text/tinystories_val.txt');
if (!existsSync(text)) {
  console.error(`${shared} is missing: put ../shared beside the repository.`);
  process.exit(1);
}

const models = [
  ['tinystories-656k', join(shared, 'models/tinystories-656k'), { prependSpace: false }],
  [
    'stories260K.bin',
    join(shared, 'models/stories260K/stories260K.bin'),
    { tokenizer: join(shared, 'models/stories260K/tok512.bin') },
  ],
  ['stories260K.gguf', join(shared, 'models/stories260K/stories260K.gguf'), {}],
];
const schemes = [
  ['rtn-w4-g32', { quantize: { method: 'rtn', bits: 4, groupSize: 32 } }],
  ['rtn-w4-row-asym', { quantize: { method: 'rtn', bits: 4, groupSize: 'row', symmetric: false } }],
  ['gptq-w4-g32', { scheme: 'W4A16', quantize: { groupSize: 32 } }],
  ['gptq-w4-g64-asym', { scheme: 'W4A16_ASYM', quantize: { groupSize: 64 } }],
  ['gptq-w4-g32-static', { scheme: 'W4A16', quantize: { groupSize: 32, actOrder: 'static' } }],
  ['gptq-w4-g32-dynamic', { scheme: 'W4A16', quantize: { groupSize: 32, actOrder: 'dynamic' } }],
  ['gptq-w4-row', { scheme: 'W4A16', quantize: { groupSize: 'row' } }],
  ['gptq-w4-g4', { scheme: 'W4A16', quantize: { groupSize: 4 } }],
  ['gptq-w3-g32', { quantize: { bits: 3, groupSize: 32 } }],
  ['gptq-w8a16', { scheme: 'W8A16' }],
  ['gptq-w8a8', { scheme: 'W8A8' }],
  ['gptq-w4a8-g32', { scheme: 'W4A8', quantize: { groupSize: 32 } }],
  ['sparsegpt-2:4', { scheme: '2:4' }],
  ['sparsegpt-50', { prune: { sparsity: 0.5 } }],
  ['wanda-2:4', { prune: { method: 'wanda', structure: '2:4' } }],
  ['magnitude-50', { prune: { method: 'magnitude', sparsity: 0.5 } }],
  ['sparsegpt-2:4-w4-g32', { scheme: 'W4A16_2:4', quantize: { groupSize: 32 } }],
  ['sparsegpt-2:4-w4-row', { scheme: 'W4A16_2:4', quantize: { groupSize: 'row' } }],
  ['sparsegpt-2:4-w8a8', { scheme: 'W8A8_2:4' }],
];
const formats = ['compressed-tensors', 'gptq', 'gguf'];
const calibration = { file: text, paragraphs: [1000, 1400], samples: 16, seqLen: 128 };

const sha = (path) => createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
function digest(path) {
  if (!statSync(path).isDirectory()) return { [path.split('/').pop()]: sha(path) };
  return Object.fromEntries(
    readdirSync(path)
      .sort()
      .map((f) => [f, sha(join(path, f))]),
  );
}

const tmp = mkdtempSync(join(tmpdir(), 'llmc-digest-'));
const lines = [];
try {
  for (const [mname, mpath, load] of models)
    for (const [sname, opts] of schemes)
      for (const format of formats) {
        const output = join(tmp, `${mname}-${sname}-${format}${format === 'gguf' ? '.gguf' : ''}`);
        let line;
        try {
          const { model, report } = await compress(mpath, { ...load, ...opts, calibration, output, format });
          const { nll } = await evaluate(model, { file: text, paragraphs: [0, 20] });
          model.dispose();
          line = {
            model: mname,
            scheme: sname,
            format,
            nll,
            bitsPerWeight: report.bitsPerWeight,
            compressedBytes: report.compressedBytes,
            files: digest(output),
          };
        } catch (e) {
          line = { model: mname, scheme: sname, format, error: `${e.code ?? e.name}: ${e.message}` };
        }
        lines.push(JSON.stringify(line));
        console.log(lines.at(-1));
      }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (process.argv[2]) writeFileSync(process.argv[2], `${lines.join('\n')}\n`);
