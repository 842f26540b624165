// Our compression methods against the authors' reference implementations, on the same models,
// data and sequential protocol (DESIGN.md section 7; docs/compression.md, "Compression quality").
//
// The bridge runs lib/compress/pipeline.ts's procedure with our model runtime: calibration windows
// (first 128 windows of 256 tokens of paragraphs [1000, 4300), each paragraph encoded with BOS)
// go through the model block by block; inside a block in the order [q,k,v] -> o -> [gate, up] ->
// down, each stage's Hessian H = 2/n·Σ x·xᵀ is accumulated (kernels.HessianAccumulator) from
// inputs computed with the already compressed layers before it. Each layer is then compressed by
// --impl: `reference` hands W and H to scripts/reference_layer.py, which calls the authors' code
// (IST-DASLab/gptq GPTQ.fasterquant, IST-DASLab/sparsegpt SparseGPT.fasterprune, locuslab/wanda
// prune_wanda / prune_magnitude) in PyTorch; `ours` calls our kernels (kernels.gptq, ...) in the
// same loop (a control for the bridge itself). The compressed weight goes back into the model as
// a dense fp32 layer; the model is scored with evaluate() on paragraphs [0, 500) against fp32.
//
//   node scripts/reference_compare.mjs --reference /tmp/reference --python /tmp/refenv/bin/python \
//     [--models tinystories-656k,stories260K] [--methods 'GPTQ W4 g32,SparseGPT 2:4'] [--impl reference|ours] [--json]
//   node scripts/reference_compare.mjs --reference ... --python ... --layers   # per-layer losses, same W and H
//   --ref-blocksize 32: run the reference GPTQ / SparseGPT loops with lazy-batch blocks of 32 columns
//   (the reference takes a group's min/max from W as of the start of the 128-column block, i.e.
//   without the updates from the columns before it in the block; with blocks of 32 = the group
//   size it takes them from the fully updated weights, as ours does)
//
// --reference (or LLMC_REFERENCE): a folder with IST-DASLab/gptq/{gptq,quant}.py,
// IST-DASLab/sparsegpt/{sparsegpt,quant}.py and locuslab/wanda/lib/{prune,layerwrapper}.py, the
// authors' files as published (not part of this repository). --python (or LLMC_REFERENCE_PYTHON,
// default python3): an interpreter with torch and numpy. Needs dist/ (`npx tsup`).
//
// Settings are the table's: symmetric min/max quantizer, damp 0.01, blocksize 128, no act-order;
// W8 per channel, W4 / W3 with groups of 32; 50% unstructured and 2:4. stories260K's down_proj
// (172 inputs) is quantized per channel in the g32 rows, in a second pass over the already
// compressed model, as scripts/quality_table.mjs does. The reference SparseGPT quantizes jointly
// per channel only (its fasterprune has no groups), so the joint row is compared at W4 per channel.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: args } = parseArgs({
  options: {
    reference: { type: 'string' },
    python: { type: 'string' },
    models: { type: 'string' },
    methods: { type: 'string' },
    impl: { type: 'string' },
    'ref-blocksize': { type: 'string' },
    layers: { type: 'boolean' },
    json: { type: 'boolean' },
    threads: { type: 'string' },
  },
});
const die = (msg) => {
  console.error(`reference_compare: ${msg}`);
  process.exit(1);
};
const impl = args.impl ?? 'reference';
if (impl !== 'reference' && impl !== 'ours') die(`--impl: 'reference' or 'ours', not ${impl}`);
const refDir = args.reference ?? process.env.LLMC_REFERENCE;
const python = args.python ?? process.env.LLMC_REFERENCE_PYTHON ?? 'python3';
const REF_FILES = [
  'IST-DASLab/gptq/gptq.py',
  'IST-DASLab/gptq/quant.py',
  'IST-DASLab/sparsegpt/sparsegpt.py',
  'IST-DASLab/sparsegpt/quant.py',
  'locuslab/wanda/lib/prune.py',
  'locuslab/wanda/lib/layerwrapper.py',
];
if (impl === 'reference' || args.layers) {
  if (!refDir)
    die(
      "no reference folder: pass --reference DIR (or set LLMC_REFERENCE) holding the authors' files " +
        REF_FILES.join(', '),
    );
  const missing = REF_FILES.filter((f) => !existsSync(join(refDir, f)));
  if (missing.length)
    die(
      `${resolve(refDir)} lacks ${missing.join(', ')}: put the authors' files there, unchanged (repositories IST-DASLab/gptq, IST-DASLab/sparsegpt, locuslab/wanda)`,
    );
}
const dist = join(root, 'dist/index.js');
if (!existsSync(dist)) die('dist/ is missing: build it with `npx tsup` (or `npm run build`).');
const { evaluate, loadModel, kernels } = await import(dist);

const text = resolve(root, '../shared/text/tinystories_val.txt');
const MODELS = {
  stories260K: { path: resolve(root, '../shared/models/stories260K/stories260K.bin'), load: {} },
  'tinystories-656k': { path: resolve(root, '../shared/models/tinystories-656k'), load: { prependSpace: false } },
};
const STAGES = [
  ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'],
  ['self_attn.o_proj'],
  ['mlp.gate_proj', 'mlp.up_proj'],
  ['mlp.down_proj'],
];
const CAL = { paragraphs: [1000, 4300], samples: 128, seqLen: 256 };
const EVAL = { file: text, paragraphs: [0, 500] };

// method: q = { kind: 'gptq' | 'rtn', bits, group: number | 'row' }, p = { kind, sparsity | n:m }
const Q = (kind, bits, group) => ({ q: { kind, bits, group } });
const P = (kind, shape) => ({ p: { kind, ...(shape === '2:4' ? { n: 2, m: 4 } : { sparsity: 0.5 }) } });
const METHODS = [
  ['RTN W8 per channel', Q('rtn', 8, 'row')],
  ['GPTQ W8 per channel', Q('gptq', 8, 'row')],
  ['RTN W4 g32', Q('rtn', 4, 32)],
  ['GPTQ W4 g32', Q('gptq', 4, 32)],
  ['RTN W3 g32', Q('rtn', 3, 32)],
  ['GPTQ W3 g32', Q('gptq', 3, 32)],
  ['magnitude 50%', P('magnitude', 0.5)],
  ['Wanda 50%', P('wanda', 0.5)],
  ['SparseGPT 50%', P('sparsegpt', 0.5)],
  ['magnitude 2:4', P('magnitude', '2:4')],
  ['Wanda 2:4', P('wanda', '2:4')],
  ['SparseGPT 2:4', P('sparsegpt', '2:4')],
  ['SparseGPT 2:4 + W4 per channel', { ...P('sparsegpt', '2:4'), q: { kind: 'gptq', bits: 4, group: 'row' } }],
];
const needsData = (m) => m.q?.kind === 'gptq' || (m.p && m.p.kind !== 'magnitude');

// ---- the Python side: one persistent process, one JSON line per request ----
class Reference {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'llmc-ref-'));
    const extra = args.threads ? ['--threads', args.threads] : [];
    this.proc = spawn(python, [join(root, 'scripts/reference_layer.py'), '--reference', refDir, ...extra], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.stderr = '';
    this.proc.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    this.proc.on('error', (e) =>
      die(
        `cannot run the Python interpreter ${python}: ${e.message} (pass --python PATH or set LLMC_REFERENCE_PYTHON to one with torch and numpy)`,
      ),
    );
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
    this.seq = 0;
  }
  async start() {
    const first = await this.lines.next();
    if (first.done) {
      const code = this.proc.exitCode ?? (await once(this.proc, 'exit'))[0];
      die(`${python} scripts/reference_layer.py did not start (exit ${code}):\n${this.stderr}`);
    }
    const hello = JSON.parse(first.value);
    this.torch = hello.torch;
    return this;
  }
  file(name, arr) {
    const p = join(this.dir, `${this.seq}-${name}.f32`);
    writeFileSync(p, Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
    return p;
  }
  async call(req) {
    this.proc.stdin.write(`${JSON.stringify(req)}\n`);
    const r = await this.lines.next();
    if (r.done) die(`the reference driver exited:\n${this.stderr}`);
    const res = JSON.parse(r.value);
    if (!res.ok) die(`the reference driver failed on ${req.op}: ${res.message}`);
    return res;
  }
  /** Compresses W [rows × cols] with the reference code; returns { weight, error }. */
  async compress(m, W, rows, cols, H, n) {
    this.seq++;
    const out = join(this.dir, `${this.seq}-out.f32`);
    const req = { rows, cols, w: this.file('w', W), out, ...(H ? { h: this.file('h', H), nsamples: n } : {}) };
    if (m.p) {
      Object.assign(req, { op: m.p.kind, sparsity: m.p.sparsity ?? 0.5, prunen: m.p.n ?? 0, prunem: m.p.m ?? 0 });
      if (m.q) req.bits = m.q.bits; // SparseGPT joint quantization (per channel)
    } else Object.assign(req, { op: m.q.kind, bits: m.q.bits, groupsize: m.q.group === 'row' ? -1 : m.q.group });
    if (args['ref-blocksize']) req.blocksize = Number(args['ref-blocksize']);
    const res = await this.call(req);
    const buf = readFileSync(out);
    return { weight: new Float32Array(buf.buffer, buf.byteOffset, rows * cols).slice(), error: res.error };
  }
  async loss(W, Wq, H, rows, cols) {
    this.seq++;
    return this.call({ op: 'loss', rows, cols, w: this.file('w', W), wq: this.file('wq', Wq), h: this.file('h', H) });
  }
  async close() {
    this.proc.stdin.end();
    await once(this.proc, 'exit');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Our kernels with the same settings; returns { weight, loss }. */
async function ours(m, W, rows, cols, H) {
  const shape = { rows, cols };
  if (m.p?.kind === 'sparsegpt') {
    const prune = m.p.n ? { structure: `${m.p.n}:${m.p.m}` } : { sparsity: m.p.sparsity };
    return kernels.sparsegpt(W, H, shape, {
      ...prune,
      dampPercent: 0.01,
      ...(m.q ? { quantize: { bits: m.q.bits, groupSize: m.q.group, symmetric: true } } : {}),
    });
  }
  if (m.p) {
    const prune = m.p.n ? { structure: `${m.p.n}:${m.p.m}` } : { sparsity: m.p.sparsity };
    return m.p.kind === 'wanda'
      ? kernels.wanda(W, shape, { ...prune, hessian: H })
      : kernels.magnitude(W, shape, prune);
  }
  const qo = { bits: m.q.bits, groupSize: m.q.group, symmetric: true };
  return m.q.kind === 'gptq' ? kernels.gptq(W, H, shape, { ...qo, dampPercent: 0.01 }) : kernels.rtn(W, shape, qo);
}

function splitParagraphs(s) {
  return s
    .split('\n\n')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** Calibration tokens exactly as pipeline.ts's calibrationWindows: BOS + paragraph, concatenated. */
function calibrationTokens(model) {
  const paragraphs = splitParagraphs(readFileSync(text, 'utf8')).slice(CAL.paragraphs[0], CAL.paragraphs[1]);
  const ids = [];
  for (const p of paragraphs) {
    ids.push(model.tokenizer.bos);
    for (const id of model.tokenizer.encode(p)) ids.push(id);
  }
  if (ids.length < CAL.samples * CAL.seqLen) die('calibration text too short');
  return Int32Array.from(ids.slice(0, CAL.samples * CAL.seqLen));
}

/**
 * pipeline.ts's compressInPlace with a pluggable per-layer compressor: `compressLayer(name, W,
 * rows, cols, H, n)` returns the new weight; `only(name)` picks the layers of this pass.
 */
async function sequential(model, { data, only, compressLayer }) {
  const llama = model.llama;
  const c = model.config;
  const Dense = llama.linears.get('model.layers.0.mlp.down_proj').constructor; // our DenseLinear
  let x;
  const windows = CAL.samples;
  const seqLen = CAL.seqLen;
  if (data) x = llama.embed(calibrationTokens(model));
  const chunk = Math.max(1, Math.floor(8192 / seqLen));
  const runBlock = async (i, target) => {
    for (let w = 0; w < windows; w += chunk) {
      const b = Math.min(chunk, windows - w);
      await llama.block(i, target.subarray(w * seqLen * c.dim, (w + b) * seqLen * c.dim), b, seqLen);
    }
  };
  for (let i = 0; i < c.nLayers; i++) {
    for (const stage of STAGES) {
      const names = stage.map((s) => `model.layers.${i}.${s}`).filter(only);
      if (names.length === 0) continue;
      let h;
      let n = 0;
      if (x) {
        const first = llama.linears.get(names[0]);
        const acc = new kernels.HessianAccumulator(first.inFeatures);
        llama.linears.set(names[0], {
          outFeatures: first.outFeatures,
          inFeatures: first.inFeatures,
          async forward(v, rows) {
            await acc.add(v.subarray(0, rows * first.inFeatures));
            return first.forward(v, rows);
          },
        });
        try {
          await runBlock(i, Float32Array.from(x));
        } finally {
          llama.linears.set(names[0], first);
        }
        h = acc.hessian;
        n = acc.tokens;
      }
      for (const name of names) {
        const lin = llama.linears.get(name);
        const W = lin.weight;
        const out = await compressLayer(name, W, lin.outFeatures, lin.inFeatures, h, n);
        if (out) llama.linears.set(name, new Dense({ shape: [lin.outFeatures, lin.inFeatures], data: out }));
      }
    }
    if (x) await runBlock(i, x);
  }
}

async function compressModel(spec, method, ref) {
  const model = await loadModel(spec.path, spec.load);
  const g = method.q?.group;
  const uneven =
    typeof g === 'number'
      ? [...model.llama.linears.entries()].filter(([n, l]) => n !== 'lm_head' && l.inFeatures % g !== 0).map(([n]) => n)
      : [];
  const passes = [{ m: method, only: (n) => !uneven.includes(n) }];
  if (uneven.length)
    passes.push({ m: { ...method, q: { ...method.q, group: 'row' } }, only: (n) => uneven.includes(n) });
  for (const pass of passes) {
    await sequential(model, {
      data: needsData(pass.m),
      only: pass.only,
      compressLayer: async (_name, W, rows, cols, H, n) =>
        (impl === 'reference' ? await ref.compress(pass.m, W, rows, cols, H, n) : await ours(pass.m, W, rows, cols, H))
          .weight,
    });
  }
  return model;
}

/** Per-layer: for every layer of the fp32 model (inputs of the fp32 model), ours vs reference on the same W and H. */
async function layerLosses(name, spec, ref) {
  const model = await loadModel(spec.path, spec.load);
  const chosenMethods = METHODS.filter(
    ([label, m]) => (m.q?.kind === 'gptq' || m.p?.kind === 'sparsegpt') && methods.includes(label),
  );
  const rows = [];
  await sequential(model, {
    data: true,
    only: () => true,
    compressLayer: async (layer, W, r, c, H, n) => {
      for (const [label, m] of chosenMethods) {
        const g = m.q?.group;
        const mm = typeof g === 'number' && c % g !== 0 ? { ...m, q: { ...m.q, group: 'row' } } : m;
        const a = await ours(mm, W, r, c, H);
        const b = await ref.compress(mm, W, r, c, H, n);
        const la = await ref.loss(W, a.weight, H, r, c);
        const lb = await ref.loss(W, b.weight, H, r, c);
        let differ = 0;
        for (let k = 0; k < W.length; k++) if (a.weight[k] !== b.weight[k]) differ++;
        rows.push({
          model: name,
          layer: layer.replace('model.layers.', ''),
          method: label,
          ours: la.loss,
          reference: lb.loss,
          oursKernelLoss: a.loss,
          referenceError: b.error,
          oursDamped: la.lossDamped,
          referenceDamped: lb.lossDamped,
          differentWeights: differ / W.length,
        });
      }
      return undefined; // keep the fp32 layer: every layer sees the fp32 model's inputs
    },
  });
  model.dispose();
  return rows;
}

const chosen = args.models ? args.models.split(',') : Object.keys(MODELS);
for (const m of chosen) if (!MODELS[m]) die(`--models: unknown model ${m} (${Object.keys(MODELS).join(', ')})`);
const methods = args.methods ? args.methods.split(',').map((s) => s.trim()) : METHODS.map(([l]) => l);
for (const l of methods)
  if (!METHODS.some(([k]) => k === l)) die(`--methods: unknown method ${l} (${METHODS.map(([k]) => k).join(', ')})`);

const ref = impl === 'reference' || args.layers ? await new Reference().start() : null;
const log = (s) => {
  if (!args.json) console.log(s);
};
if (ref) log(`reference driver: torch ${ref.torch}, ${resolve(refDir)}`);
const table = [];
try {
  for (const name of chosen) {
    const spec = MODELS[name];
    if (args.layers) {
      const rows = await layerLosses(name, spec, ref);
      for (const r of rows) {
        table.push(r);
        log(
          `${name} ${r.layer.padEnd(20)} ${r.method.padEnd(32)} ours ${r.ours.toPrecision(6).padEnd(12)} ref ${r.reference.toPrecision(6).padEnd(12)} (${(100 * (r.ours / r.reference - 1)).toFixed(2)}%)  kernel ${r.oursKernelLoss.toPrecision(6)} ref-printed ${r.referenceError?.toPrecision(6)}  weights differ ${(100 * r.differentWeights).toFixed(1)}%`,
        );
      }
      continue;
    }
    const fp32 = await loadModel(spec.path, spec.load);
    const base = await evaluate(fp32, EVAL);
    log(`\n${name}: fp32 ${base.bitsPerByte.toFixed(4)} bits/byte (${impl} implementation through the bridge)`);
    table.push({ model: name, method: 'fp32', impl, bitsPerByte: base.bitsPerByte, kl: 0 });
    for (const label of methods) {
      const t = performance.now();
      const model = await compressModel(spec, METHODS.find(([k]) => k === label)[1], ref);
      const r = await evaluate(model, { ...EVAL, reference: fp32 });
      model.dispose();
      const row = {
        model: name,
        method: label,
        impl,
        bitsPerByte: r.bitsPerByte,
        vsFp32: r.bitsPerByte / base.bitsPerByte - 1,
        kl: r.kl,
        seconds: (performance.now() - t) / 1000,
      };
      table.push(row);
      log(
        `  ${label.padEnd(32)}${row.bitsPerByte.toFixed(4).padEnd(9)}${`${row.vsFp32 >= 0 ? '+' : ''}${(100 * row.vsFp32).toFixed(2)}%`.padEnd(10)}KL ${row.kl.toFixed(4).padEnd(8)}${row.seconds.toFixed(1).padStart(6)} s`,
      );
    }
    fp32.dispose();
  }
} finally {
  await ref?.close();
}
if (args.json) console.log(JSON.stringify(table, null, 2));
