// slimllm's GGUF files in the real llama.cpp (node-llama-cpp 3.21.1, installed into interop/ by
// `npm test`): the dense stories260K and a SlimLLM-pruned one (layers of different head, KV-head
// and FFN counts, with regression biases, written as `deci`) continue prompts with exactly
// slimllm's greedy tokens and give the same next-token probabilities; tokenization agrees; the
// same weights labelled `llama` do not load. Never skipped: a missing client fails the file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluatePerplexity } from '../src/api.js';
import { CpuBackend } from '../src/kernels/cpu/index.js';
import { convertModel } from '../src/model/convert.js';
import { GgufFile, type GgufEntry, writeGguf } from '../src/model/gguf.js';
import { loadModelWeights, openModel } from '../src/model/load.js';
import { sequenceLogits } from '../src/model/runner.js';
import { loadTokenizer, type Tokenizer } from '../src/model/tokenizer.js';
import type { ModelSource } from '../src/model/weights.js';
import { saveModel } from '../src/model/writer.js';
import { closeLlama, loadError, loadGguf, type LlamaHandle } from './interop-llama.js';
import { usePrune } from './helpers.js';

const BIN = 'assets/stories260K/stories260K.bin';
const TOK = 'assets/stories260K/tok512.bin';
const STORIES = 'assets/tinystories/tinystories_valid_first1000.txt';
const calib = JSON.parse(fs.readFileSync(new URL('./fixtures/stories260K-calib-32x128.json', import.meta.url), 'utf8')) as number[][];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-interop-'));
const prune = usePrune();
const cpu = new CpuBackend();
const tok = loadTokenizer(TOK);
const PROMPTS = ['Once upon a time', 'Lily and Ben went to the park. They saw', 'The little dog was sad because', 'One day, a girl named Sue'];

afterAll(async () => {
  await closeLlama();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** slimllm's greedy continuation (CPU forward pass, whole prefix each step; stops after EOS). */
async function slimllmGreedy(src: ModelSource, prompt: number[], n: number): Promise<number[]> {
  const ids = [...prompt];
  const V = src.config.vocabSize;
  while (ids.length < prompt.length + n) {
    const [logits] = await sequenceLogits(cpu, src, [ids]);
    const last = logits.subarray((ids.length - 1) * V);
    let best = 0;
    for (let j = 1; j < V; j++) if (last[j] > last[best]) best = j;
    ids.push(best);
    if (best === src.config.eosTokenId) break;
  }
  return ids.slice(prompt.length);
}

/** slimllm's next-token distribution at every position (softmax in float64). */
async function slimllmProbs(src: ModelSource, ids: number[]): Promise<Float64Array[]> {
  const [logits] = await sequenceLogits(cpu, src, [ids]);
  const V = src.config.vocabSize;
  return ids.map((_, i) => {
    const row = logits.subarray(i * V, (i + 1) * V);
    const max = Math.max(...row);
    const e = Float64Array.from(row, (x) => Math.exp(x - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / sum);
  });
}

async function expectSameGreedy(llama: LlamaHandle, src: ModelSource, prompt: string, n: number): Promise<number[]> {
  const ids = tok.encode(prompt, { bos: true });
  const ours = await slimllmGreedy(src, ids, n);
  const theirs = await llama.greedy(ids, n);
  expect(theirs, `greedy continuation of ${JSON.stringify(prompt)}`).toEqual(ours);
  return ours;
}

async function maxProbDiff(llama: LlamaHandle, src: ModelSource, ids: number[]): Promise<number> {
  const ours = await slimllmProbs(src, ids);
  const theirs = await llama.nextTokenProbs(ids);
  let worst = 0;
  ours.forEach((row, i) => row.forEach((p, j) => (worst = Math.max(worst, Math.abs(p - theirs[i][j])))));
  return worst;
}

describe('dense stories260K in llama.cpp', () => {
  const file = path.join(tmp, 'stories260K.gguf');
  let llama: LlamaHandle;
  let src: ModelSource;
  beforeAll(async () => {
    saveModel(loadModelWeights(BIN), file, { tokenizerFile: TOK });
    llama = await loadGguf(file);
    src = openModel(BIN);
  });
  afterAll(async () => {
    await llama?.dispose();
    src?.close();
  });

  it('32 greedy tokens identical to slimllm\'s', async () => {
    const ours = await expectSameGreedy(llama, src, 'Once upon a time', 32);
    expect(ours.length).toBe(32);
  });

  it('tokenizes text exactly as slimllm does (newlines, repeated spaces, accents, emoji via byte fallback)', () => {
    const texts = ['Once upon a time', 'a\nb\n\nc', 'two  spaces   three    four', ' leading and trailing ', 'café naïve Zoë', 'emoji 😀🎉 and ✓', 'tab\there', 'x'];
    for (const t of texts) expect(llama.tokenize(t), JSON.stringify(t)).toEqual(tok.encode(t, { bos: false }));
  });
});

describe('SlimLLM-pruned stories260K (deci) in llama.cpp', () => {
  const dir = path.join(tmp, 'pruned');
  const file = path.join(tmp, 'pruned.gguf');
  let llama: LlamaHandle;
  let src: ModelSource;
  beforeAll(async () => {
    const { model } = await prune(BIN, { targetRatio: 0.3, calibration: { tokens: calib }, device: cpu });
    saveModel(model, dir, { tokenizerFile: TOK });
    convertModel('hf', 'gguf', dir, file, { dtype: 'F32' }); // the documented route: folder → GGUF
    src = openModel(file);
    llama = await loadGguf(file);
  }, 600_000);
  afterAll(async () => {
    await llama?.dispose();
    src?.close();
  });

  it('has layers that differ in heads, KV heads and FFN width, with regression biases, as deci', () => {
    const ls = src.config.layers;
    expect(new Set(ls.map((l) => l.nHeads)).size).toBeGreaterThanOrEqual(2);
    expect(new Set(ls.map((l) => l.nKvHeads)).size).toBeGreaterThanOrEqual(2);
    expect(new Set(ls.map((l) => l.ffnDim)).size).toBeGreaterThanOrEqual(2);
    expect(ls.some((l) => l.oBias) && ls.some((l) => l.downBias)).toBe(true);
    expect(src.config.architecture).toBe('deci');
  });

  it('continues several prompts with exactly slimllm\'s greedy tokens', async () => {
    for (const p of PROMPTS) await expectSameGreedy(llama, src, p, 24);
  });

  it('gives next-token probabilities within 1e-4 of slimllm\'s at every position of a story', async () => {
    const story = fs.readFileSync(STORIES, 'utf8').split('<|endoftext|>')[3];
    const ids = tok.encode(story, { bos: true }).slice(0, 200);
    expect(await maxProbDiff(llama, src, ids)).toBeLessThan(1e-4);
  });

  it('reads back in slimllm with the folder\'s logits (bit-identical) and perplexity', async () => {
    const folder = openModel(dir);
    const seqs = [tok.encode(PROMPTS[1], { bos: true })];
    expect((await sequenceLogits(cpu, src, seqs))[0]).toEqual((await sequenceLogits(cpu, folder, seqs))[0]);
    folder.close();
    const text = fs.readFileSync(STORIES, 'utf8');
    const o = { text, tokenizer: tok, stories: '1:21', device: cpu };
    const [a, b] = [await evaluatePerplexity(file, o), await evaluatePerplexity(dir, o)];
    expect(Math.abs(a.ppl - b.ppl) / b.ppl).toBeLessThan(1e-4);
  });

  it('negative control: the same weights labelled `llama` fail to load in llama.cpp', async () => {
    const g = GgufFile.open(file);
    const meta = new Map<string, GgufEntry>();
    for (const [k, v] of g.metadata) meta.set(k.startsWith('deci.') ? `llama.${k.slice(5)}` : k, v as GgufEntry);
    meta.set('general.architecture', { type: 8, value: 'llama' } as GgufEntry);
    const liar = path.join(tmp, 'pruned-as-llama.gguf');
    writeGguf(liar, meta, [...g.tensors.values()].map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: () => g.read(t.name) })));
    g.close();
    const err = await loadError(liar);
    expect(err).toMatch(/wrong shape|unexpected tensor|check_tensor_dims/);
    expect(await loadError(file)).toBeNull();
  });
});

describe('tokenizer.json vocabularies in llama.cpp', () => {
  it('a sentencepiece-style tokenizer.json written to GGUF tokenizes as slimllm\'s tokenizer.json does', async () => {
    const dir = path.join(tmp, 'hf-dense');
    saveModel(loadModelWeights(BIN), dir, { tokenizerFile: TOK }); // writes tokenizer.json beside tok512.bin
    const file = path.join(tmp, 'from-json.gguf');
    saveModel(openModel(dir), file, { tokenizerFile: path.join(dir, 'tokenizer.json') });
    const hf: Tokenizer = loadTokenizer(path.join(dir, 'tokenizer.json'));
    const llama = await loadGguf(file);
    try {
      for (const t of ['Once upon a time', 'a\nb\n\nc', 'two  spaces', 'café 😀', 'The little dog was sad because']) {
        expect(llama.tokenize(t), JSON.stringify(t)).toEqual(hf.encode(t, { bos: false }));
      }
    } finally {
      await llama.dispose();
    }
  });
});
