/**
 * GGUF export checked with the real client: the files written by saveGguf / compress({ format:
 * 'gguf' }) are loaded by llama.cpp through node-llama-cpp (prebuilt CPU binary, nothing downloaded
 * or built), and its greedy continuation and next-token log-probabilities are compared with our
 * own runtime on the same weights.
 *
 * Tolerances (measured values are printed by each test and reported in docs/formats.md, "GGUF export"):
 * - F32 export: llama.cpp computes in float32 (KV cache set to F32, no flash attention) with other
 *   summation orders: log-probabilities within 1e-4 nats (max |Δ| over every vocabulary entry
 *   above e^-20 of every position).
 * - Q8_0 / Q4_0: the weights are the same bits on both sides, but llama.cpp's CPU matmul quantizes
 *   the activations to 8 bits per block of 32 (its Q8_0 dot product), where our runtime keeps them
 *   float: log-probabilities of the sequence's tokens within 0.05 nats (Q8_0) and 0.1 (Q4_0).
 * Greedy continuations (60 tokens) must be equal token for token for F32; for Q8_0 / Q4_0 equal,
 * or equal for at least 20 tokens up to a near tie (our top two within the tolerance) that the
 * activation rounding breaks the other way.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { main } from '../../lib/cli/program.js';
import { compress, generateTokens, loadModel, type Model } from '../../lib/index.js';
import { loadGgufTensors, readGgufHeader } from '../../lib/formats/gguf.js';
import { ggufName, saveGguf } from '../../lib/formats/gguf_write.js';
import { dequantizeCodes } from '../../lib/formats/packed_codes.js';
import { QuantLinear } from '../../lib/model/quant_linear.js';
import { expectError } from '../helpers/errors.js';
import { haveShared, STORIES, tempDir, TEXT, TINY656 } from '../helpers/paths.js';

const stories = STORIES;
const storiesBin = join(stories, 'stories260K.bin');
const tiny656 = TINY656;
const text = TEXT;
const have = haveShared('the GGUF export tests', storiesBin, text);

// node-llama-cpp's prebuilt llama.cpp for this platform (an optional dependency): without it, skip.
let nlc: typeof import('node-llama-cpp') | undefined;
try {
  process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = 'true';
  nlc = await import('node-llama-cpp');
} catch (e) {
  console.warn(`skipping the node-llama-cpp checks: node-llama-cpp does not load (${(e as Error).message})`);
}

const calibration = { file: text, paragraphs: [1000, 4300] as [number, number], samples: 16, seqLen: 256 };
const GREEDY = 60;

let dir: string;
let llama: Awaited<ReturnType<typeof import('node-llama-cpp').getLlama>> | undefined;

beforeAll(async () => {
  dir = tempDir('gguf');
  if (have && nlc) {
    try {
      // CPU only, never build or download: the prebuilt binary or nothing.
      llama = await nlc.getLlama({
        gpu: false,
        build: 'never',
        usePrebuiltBinaries: true,
        progressLogs: false,
        logLevel: nlc.LlamaLogLevel.error,
      });
    } catch (e) {
      console.warn(`skipping the node-llama-cpp checks: no usable prebuilt llama.cpp (${(e as Error).message})`);
    }
  }
});

afterAll(async () => {
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  greedy: number[];
  /** Log-softmax of the logits after each token of the sequence given. */
  logprobs: Float64Array[];
}

function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let mx = -Infinity;
  for (let i = 0; i < logits.length; i++) mx = Math.max(mx, logits[i]!);
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += Math.exp(logits[i]! - mx);
  const lz = mx + Math.log(z);
  return Float64Array.from(logits, (v) => v - lz);
}

/** llama.cpp (node-llama-cpp): greedy tokens after BOS, and the next-token log-probabilities along `tokens`. */
async function runLlamaCpp(file: string, tokens: number[], bos: number, eos: number, vocab: number): Promise<Run> {
  const model = await llama!.loadModel({ modelPath: file, gpuLayers: 0 });
  try {
    // One thread: llama.cpp's spinning thread pool crawls on a loaded machine (1 s per token on two
    // busy cores, 1 ms with one thread). F32 KV cache and no flash attention: the float path we compare with.
    const ctx = await model.createContext({
      contextSize: 512,
      batchSize: 512,
      sequences: 1,
      threads: 1,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    const seq = ctx.getSequence();
    const greedy: number[] = [];
    for await (const t of seq.evaluate([bos as never], { temperature: 0 })) {
      if ((t as number) === eos || greedy.length >= GREEDY) break;
      greedy.push(t as number);
    }
    await seq.clearHistory();
    const all = Array.from({ length: vocab }, (_, i) => i);
    const out = await seq.controlledEvaluate(
      tokens.map((t) => [t as never, { generateNext: { logits: { filter: { tokens: all as never[] } } } }]),
    );
    const logprobs = out.map((o, i) => {
      const m = o?.next.logits;
      if (!m) throw new Error(`no logits at position ${i}`);
      const row = new Float64Array(vocab);
      for (const [t, v] of m) row[t as number] = v;
      return logSoftmax(row);
    });
    await ctx.dispose();
    return { greedy, logprobs };
  } finally {
    await model.dispose();
  }
}

/** Our runtime: greedy tokens after BOS, and the next-token log-probabilities along `tokens`. */
async function runOurs(model: Model, tokens: number[]): Promise<Run> {
  const greedy = await generateTokens(model, '', { maxTokens: GREEDY });
  const v = model.config.vocabSize;
  const logits = await model.llama.forward(Int32Array.from(tokens), 1, tokens.length);
  return { greedy, logprobs: tokens.map((_, i) => logSoftmax(logits.subarray(i * v, (i + 1) * v))) };
}

/** Max |Δ| over every vocabulary entry, and over the log-probability of each next token of the sequence. */
function compare(a: Run, b: Run, tokens: number[]): { all: number; next: number } {
  let all = 0;
  let next = 0;
  a.logprobs.forEach((row, i) => {
    const other = b.logprobs[i]!;
    for (let t = 0; t < row.length; t++) if (row[t]! > -20) all = Math.max(all, Math.abs(row[t]! - other[t]!));
    if (i + 1 < tokens.length) next = Math.max(next, Math.abs(row[tokens[i + 1]!]! - other[tokens[i + 1]!]!));
  });
  return { all, next };
}

/** Checks a GGUF file against `model` in node-llama-cpp; returns the measured differences. */
async function checkInLlamaCpp(file: string, model: Model, label: string) {
  const ours0 = await generateTokens(model, '', { maxTokens: GREEDY });
  const tokens = [model.tokenizer.bos, ...ours0];
  const ours = await runOurs(model, tokens);
  const theirs = await runLlamaCpp(file, tokens, model.tokenizer.bos, model.tokenizer.eos, model.config.vocabSize);
  const d = compare(ours, theirs, tokens);
  console.log(
    `${label}: greedy ${theirs.greedy.length} tokens ${JSON.stringify(theirs.greedy) === JSON.stringify(ours.greedy) ? 'equal' : 'DIFFER'}; ` +
      `max |Δ logprob| next tokens ${d.next.toExponential(2)}, all entries above e^-20 ${d.all.toExponential(2)}`,
  );
  return { ours, theirs, d };
}

/** Every tensor written from codes reads back (our reader) as exactly the model's dequantized layer. */
async function expectSameWeights(file: string, model: Model): Promise<void> {
  const { tensors } = await loadGgufTensors(file);
  for (const [name, lin] of model.llama.linears) {
    if (!(lin instanceof QuantLinear)) continue;
    const t = tensors.get(ggufName(name))!;
    const want = dequantizeCodes(await lin.packed.unpack(), lin.outFeatures, lin.inFeatures);
    expect(t.shape).toEqual([lin.outFeatures, lin.inFeatures]);
    expect(Buffer.from(t.data.buffer).equals(Buffer.from(want.buffer)), `${name}: weights differ`).toBe(true);
  }
}

describe.skipIf(!have)('GGUF export (stories260K)', () => {
  it('F32: llama.cpp gives the same greedy continuation and log-probabilities as our generate', async () => {
    const model = await loadModel(storiesBin);
    const file = join(dir, 'f32.gguf');
    const r = await saveGguf(model, file);
    expect(r.fileType).toBe('F32');
    expect(r.warnings).toEqual([]);
    const h = await readGgufHeader(file);
    expect(h.version).toBe(3);
    expect(h.metadata.get('general.architecture')).toBe('llama');
    expect(h.metadata.get('llama.block_count')).toBe(5);
    expect(h.metadata.get('llama.attention.head_count_kv')).toBe(4);
    expect(h.metadata.get('tokenizer.ggml.model')).toBe('llama');
    expect(h.tensors.some((t) => t.name === 'output.weight')).toBe(false); // tied
    // Our reader: same weights (bit for bit), same vocabulary, same logits.
    const back = await loadModel(file);
    expect(back.tokenizer.encode('Once upon a time, there was a big dog.')).toEqual(
      model.tokenizer.encode('Once upon a time, there was a big dog.'),
    );
    const toks = Int32Array.from([1, ...model.tokenizer.encode('Once upon a time, there was a big dog.')]);
    expect(await back.llama.forward(toks, 1, toks.length)).toEqual(await model.llama.forward(toks, 1, toks.length));
    back.dispose();
    if (!llama) return;
    const { ours, theirs, d } = await checkInLlamaCpp(file, model, 'F32');
    expect(theirs.greedy).toEqual(ours.greedy);
    expect(model.tokenizer.decode(theirs.greedy)).toMatch(/^ ?Once upon a time, there was a little girl named Lily\./);
    expect(d.all).toBeLessThan(1e-4);
    model.dispose();
  });

  it('Q8_0 (GPTQ int8 per channel) and Q4_0 (GPTQ int4 symmetric, groups of 32) load in llama.cpp and match our runtime on the same weights', async () => {
    // Q8_0: every layer with 64 inputs holds its codes; the MLP's down_proj (172 inputs: no whole
    // blocks of 32) is written dequantized in F32, with a warning.
    const q8 = join(dir, 'q8.gguf');
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { model: m8 } = await compress(storiesBin, {
      quantize: { method: 'gptq', bits: 8, groupSize: 'row' },
      calibration,
      output: q8,
      format: 'gguf',
    });
    expect(
      warn.mock.calls
        .map((c) => String(c[0]))
        .filter((w) =>
          /down_proj: 172 inputs make no whole Q8_0 blocks of 32: written dequantized as F32 \(exact\)/.test(w),
        ),
    ).toHaveLength(5);
    warn.mockRestore();
    const h8 = await readGgufHeader(q8);
    expect(h8.metadata.get('general.file_type')).toBe(7); // MOSTLY_Q8_0
    expect(h8.metadata.get('general.quantization_version')).toBe(2);
    expect(h8.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.typeName).toBe('Q8_0');
    expect(h8.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')!.typeName).toBe('F32');
    await expectSameWeights(q8, m8);

    // Q4_0: GPTQ with groups of 32 needs 32 | inputs: the MLP's down_proj is left dense.
    const q4 = join(dir, 'q4.gguf');
    const { model: m4 } = await compress(storiesBin, {
      quantize: { method: 'gptq', bits: 4, groupSize: 32, symmetric: true },
      ignore: [/mlp\.down_proj$/],
      calibration,
      output: q4,
      format: 'gguf',
    });
    const h4 = await readGgufHeader(q4);
    expect(h4.metadata.get('general.file_type')).toBe(2); // MOSTLY_Q4_0
    expect(h4.tensors.filter((t) => t.typeName === 'Q4_0')).toHaveLength(5 * 6);
    await expectSameWeights(q4, m4);
    if (!llama) return;
    for (const [label, file, model, tol] of [
      ['Q8_0', q8, m8, 0.05],
      ['Q4_0', q4, m4, 0.1],
    ] as const) {
      const { ours, theirs, d } = await checkInLlamaCpp(file, model, label);
      expect(d.next, label).toBeLessThan(tol);
      // Greedy: equal, or equal up to a step where our top two tokens are closer than the
      // tolerance (a near tie that llama.cpp's 8-bit activations may break the other way).
      const i = ours.greedy.findIndex((t, j) => theirs.greedy[j] !== t);
      if (i >= 0) {
        const row = ours.logprobs[i]!;
        const gap = row[ours.greedy[i]!]! - row[theirs.greedy[i]!]!;
        console.log(
          `${label}: greedy equal for ${i} tokens, then a near tie (our top-2 gap ${gap.toExponential(2)} nats)`,
        );
        expect(i, label).toBeGreaterThanOrEqual(20);
        expect(gap, label).toBeLessThan(tol);
      }
    }
    m8.dispose();
    m4.dispose();
  });

  it('refuses schemes GGUF cannot hold before any work, and says what to use instead', async () => {
    const out = join(dir, 'refused.gguf');
    await expectError(
      compress(storiesBin, { scheme: '2:4', calibration, output: out, format: 'gguf' }),
      'LLMC_UNSUPPORTED',
      /format 'gguf' has no sparse tensor type.*use format 'compressed-tensors'/,
    );
    await expectError(
      compress(storiesBin, {
        scheme: 'W4A16_2:4',
        quantize: { groupSize: 'row' },
        calibration,
        output: out,
        format: 'gguf',
      }),
      'LLMC_UNSUPPORTED',
      /no sparse tensor type/,
    );
    await expectError(
      compress(storiesBin, { quantize: { method: 'rtn', bits: 3, groupSize: 'row' }, output: out, format: 'gguf' }),
      'LLMC_UNSUPPORTED',
      /not 3-bit.*use bits 4 or 8/,
    );
    await expectError(
      compress(storiesBin, {
        quantize: { method: 'gptq', bits: 4, groupSize: 'row', actOrder: 'static' },
        calibration,
        output: out,
        format: 'gguf',
      }),
      'LLMC_UNSUPPORTED',
      /act-order.*actOrder: false/,
    );
    expect(readdirSync(dir).filter((f) => f.startsWith('refused') || f.includes('.tmp-'))).toEqual([]);
    // A pruned model handed to the writer directly: refused unless asked to write it dense.
    const { model: pruned } = await compress(storiesBin, { prune: { method: 'magnitude', structure: '2:4' } });
    await expectError(
      saveGguf(pruned, out),
      'LLMC_UNSUPPORTED',
      /pruned layer.*GGUF has no sparse tensor type.*compressed-tensors/,
    );
    expect(existsSync(out)).toBe(false);
    const r = await saveGguf(pruned, out, { allowDense: true, floatType: 'F16' });
    expect(r.fileType).toBe('F16');
    pruned.dispose();
  });

  it('llm-compress compress --format gguf -o file.gguf', async () => {
    const out = join(dir, 'cli.gguf');
    let stdout = '';
    const so = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      stdout += String(s);
      return true;
    });
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    let code: number;
    try {
      code = await main([
        'node',
        'llm-compress',
        'compress',
        storiesBin,
        '--format',
        'gguf',
        '-o',
        out,
        '--method',
        'rtn',
        '--bits',
        '8',
        '--group-size',
        'row',
        '--json',
      ]);
    } finally {
      so.mockRestore();
      warn.mockRestore();
    }
    expect(code, stdout).toBe(0);
    const m = await loadModel(out);
    expect(m.format).toBe('gguf');
    expect((await readGgufHeader(out)).tensors.find((t) => t.name === 'blk.4.attn_v.weight')!.typeName).toBe('Q8_0');
    m.dispose();
  });
});

describe.skipIf(!haveShared('the GGUF export test of tinystories-656k', tiny656))(
  'GGUF export (tinystories-656k, Hugging Face)',
  () => {
    it('F32: Q/K rows reordered for ggml rope and the BPE vocabulary as a llama vocabulary: llama.cpp agrees with our runtime', async () => {
      const model = await loadModel(tiny656, { prependSpace: false });
      const file = join(dir, 'tiny.gguf');
      await saveGguf(model, file);
      const h = await readGgufHeader(file);
      expect(h.metadata.get('tokenizer.ggml.add_space_prefix')).toBe(false);
      expect(h.metadata.get('tokenizer.ggml.bos_token_id')).toBe(1);
      if (!llama) return;
      const { ours, theirs, d } = await checkInLlamaCpp(file, model, 'tinystories-656k F32');
      expect(theirs.greedy).toEqual(ours.greedy);
      expect(d.all).toBeLessThan(1e-4);
      // llama.cpp's tokenizer on the written vocabulary (merges by score) against ours.
      const m = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
      const sample =
        'Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much.';
      const theirsTok = Array.from(m.tokenize(sample) as number[]);
      const oursTok = model.tokenizer.encode(sample);
      console.log(
        `tinystories-656k tokenization: ${JSON.stringify(theirsTok) === JSON.stringify(oursTok) ? 'equal' : `differs: ours ${oursTok.join(' ')} / llama.cpp ${theirsTok.join(' ')}`}`,
      );
      expect(theirsTok).toEqual(oursTok);
      await m.dispose();
      model.dispose();
    });
  },
);
