// GGUF: the container (exact messages for each kind of corruption, a seeded mutation run), the
// model writer (llama vs deci, dtypes, refusals) and reader (round trips, logits), and the
// tokenizer metadata. Agreement with llama.cpp itself is in gguf-interop.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerShape } from '../src/model/config.js';
import { GgufFile, GgufType, quantizeQ8_0, dequantizeQ8_0, writeGguf } from '../src/model/gguf.js';
import { GgufSource, ggufNames, openGguf } from '../src/model/gguf-model.js';
import { tokenizerFromGguf } from '../src/model/gguf-tokenizer.js';
import { roundToBf16, roundToF16 } from '../src/model/half.js';
import { loadModelWeights, openModel } from '../src/model/load.js';
import { sequenceLogits } from '../src/model/runner.js';
import { Llama2cTokenizer, loadTokenizer } from '../src/model/tokenizer.js';
import { type ModelWeights, widenStored } from '../src/model/weights.js';
import { saveModel } from '../src/model/writer.js';
import { CpuBackend } from '../src/kernels/cpu/index.js';
import { rng } from './helpers.js';
import { syntheticModel } from './synthetic-model.js';

const BIN = 'assets/stories260K/stories260K.bin';
const TOK = 'assets/stories260K/tok512.bin';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-gguf-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => path.join(tmp, `${counter++}-${name}`);

const shape = (nHeads: number, nKvHeads: number, ffnDim: number, bias = false): LayerShape => ({ nHeads, nKvHeads, ffnDim, oBias: bias, downBias: bias });

function expectSameWeights(a: ModelWeights, b: ModelWeights): void {
  expect(b.embedding).toEqual(a.embedding);
  expect(b.finalNorm).toEqual(a.finalNorm);
  expect(b.classifier).toEqual(a.classifier);
  a.layers.forEach((l, i) => {
    for (const k of Object.keys(l) as (keyof typeof l)[]) expect(b.layers[i][k], `layer ${i} ${k}`).toEqual(l[k]);
  });
}

describe('GGUF model round trip', () => {
  const dense = loadModelWeights(BIN);

  it('stories260K → GGUF (f32) reads back bit-identical, as `llama`, with its tokenizer', () => {
    const file = fresh('s.gguf');
    saveModel(dense, file, { tokenizerFile: TOK });
    const g = GgufFile.open(file);
    expect(g.metadata.get('general.architecture')?.value).toBe('llama');
    expect(g.has('output.weight')).toBe(false); // tied
    g.close();
    const back = loadModelWeights(file);
    expectSameWeights(dense, back);
    expect({ ...back.config, architecture: '' }).toEqual({ ...dense.config, architecture: '' });
    const a = Llama2cTokenizer.fromFile(TOK);
    const b = loadTokenizer(file);
    for (const text of ['Once upon a time', ' two  spaces\n\nnew lines\ttab', 'héllo wörld 😀 ✓', '']) {
      expect(b.encode(text), text).toEqual(a.encode(text));
      expect(b.decode(b.encode(text))).toBe(a.decode(a.encode(text)));
    }
  });

  it('a Hugging Face folder (rotate-half q/k) → GGUF holds the interleaved rows llama.cpp rotates', () => {
    const dir = fresh('hf');
    saveModel(dense, dir, { tokenizerFile: TOK });
    const file = fresh('from-hf.gguf');
    saveModel(openModel(dir), file, { tokenizerFile: path.join(dir, 'tok512.bin') });
    expectSameWeights(dense, loadModelWeights(file));
  });

  it('logits of the GGUF equal the folder\'s, bit for bit', async () => {
    const dir = fresh('hf');
    saveModel(dense, dir);
    const file = fresh('s.gguf');
    saveModel(dense, file);
    const b = new CpuBackend();
    const seqs = [[1, 403, 407, 261, 378, 436, 414, 261], [1, 20, 30]];
    const fromDir = await sequenceLogits(b, openModel(dir), seqs);
    const fromGguf = await sequenceLogits(b, openModel(file), seqs);
    expect(fromGguf).toEqual(fromDir);
  });

  it('a non-uniform model with biases is written as `deci` with per-layer arrays and reads back exactly', () => {
    const m = syntheticModel([shape(4, 2, 24, true), shape(2, 1, 8), shape(3, 3, 16, true)], { ropeLayout: 'half' });
    const file = fresh('deci.gguf');
    saveModel(m, file);
    const g = GgufFile.open(file);
    expect(g.metadata.get('general.architecture')?.value).toBe('deci');
    expect(g.metadata.get('deci.attention.head_count')?.value).toEqual([4, 2, 3]);
    expect(g.metadata.get('deci.attention.head_count_kv')?.value).toEqual([2, 1, 3]);
    expect(g.metadata.get('deci.feed_forward_length')?.value).toEqual([24, 8, 16]);
    expect(g.metadata.get('deci.attention.key_length')?.value).toBe(4);
    expect(g.metadata.get('deci.rope.dimension_count')?.value).toBe(4);
    expect(g.has('blk.0.attn_output.bias') && g.has('blk.0.ffn_down.bias') && !g.has('blk.1.attn_output.bias')).toBe(true);
    expect(g.info('blk.0.attn_q.weight').dims).toEqual([16, 16]);
    expect(g.info('blk.0.ffn_down.weight').dims).toEqual([24, 16]);
    g.close();
    const src = openModel(file);
    expect(src.config.layers).toEqual(m.config.layers);
    src.close();
    // Back to a folder and compare in the folder's (rotate-half) layout.
    const dir = fresh('deci-hf');
    saveModel(openModel(file), dir);
    expectSameWeights(m, loadModelWeights(dir));
  });

  it('all-zero biases are dropped, so a uniform model with them is still `llama`', () => {
    const m = syntheticModel([shape(2, 1, 8, true), shape(2, 1, 8)]);
    m.layers[0].oBias!.fill(0);
    m.layers[0].downBias!.fill(0);
    const file = fresh('zero-bias.gguf');
    saveModel(m, file);
    const src = openGguf(file);
    expect(src.gguf.metadata.get('general.architecture')?.value).toBe('llama');
    expect(src.config.layers[0].oBias).toBe(false);
    src.close();
  });

  it('F16 and BF16 store the rounded values; norms stay F32', () => {
    const m = syntheticModel([shape(2, 1, 8)], { tied: true });
    for (const [dtype, round] of [['F16', roundToF16], ['BF16', roundToBf16]] as const) {
      const file = fresh(`${dtype}.gguf`);
      saveModel(m, file, { dtype });
      const g = openGguf(file);
      expect(g.gguf.info('blk.0.attn_q.weight').type).toBe(dtype);
      expect(g.gguf.info('blk.0.attn_norm.weight').type).toBe('F32');
      expect(g.layer(0).wUp).toEqual(round(m.layers[0].wUp));
      expect(g.layer(0).attnNorm).toEqual(m.layers[0].attnNorm);
      g.close();
    }
  });

  it('a 16-bit folder saved as F16 GGUF: its halves as stored (q/k rows interleaved), a BF16 one rounded to F16', () => {
    const m = syntheticModel([shape(4, 2, 8), shape(2, 1, 4)], { hiddenSize: 16, headDim: 4 });
    for (const dtype of ['F16', 'BF16'] as const) {
      const dir = fresh(`${dtype}-folder`);
      saveModel(m, dir, { dtype });
      const folder = loadModelWeights(dir);
      const file = fresh(`${dtype}-folder.gguf`);
      const src = openModel(dir);
      saveModel(src, file, { dtype: 'F16' });
      src.close();
      const g = openGguf(file);
      expect(g.gguf.info('token_embd.weight').type).toBe('F16');
      g.close();
      // Back to a folder (rotate-half q/k rows again): every value is the first folder's, rounded to f16.
      const back = fresh(`${dtype}-back`);
      const gs = openModel(file);
      saveModel(gs, back);
      gs.close();
      const fromGguf = loadModelWeights(back);
      const f16 = (a: Float32Array) => (dtype === 'F16' ? a : roundToF16(a));
      expect(fromGguf.embedding).toEqual(f16(folder.embedding));
      expect(folder.classifier).not.toBeNull();
      expect(fromGguf.classifier).toEqual(f16(folder.classifier ?? new Float32Array(0)));
      folder.layers.forEach((l, i) => {
        for (const k of ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown'] as const) expect(fromGguf.layers[i][k], `${dtype} layer ${i} ${k}`).toEqual(f16(l[k]));
        expect(fromGguf.layers[i].attnNorm).toEqual(l.attnNorm);
      });
    }
  });

  it('an F16 or BF16 GGUF is read as stored: 16-bit matrices as their bits, widened exactly what layer() reads; F32 and Q8_0 as f32', () => {
    // Hidden size 32: the Q8_0 file holds Q8_0 rows (32 wide) and F16 ones (narrower).
    const m = syntheticModel([shape(4, 2, 8), shape(2, 1, 4)], { hiddenSize: 32, headDim: 4 });
    for (const dtype of ['F16', 'BF16', 'F32', 'Q8_0'] as const) {
      const file = fresh(`stored-${dtype}.gguf`);
      saveModel(m, file, { dtype });
      const g = openGguf(file);
      try {
        const stored = g.storedLayer(1);
        const widened = g.layer(1);
        for (const k of Object.keys(widened) as (keyof typeof widened)[]) {
          const s = stored[k];
          const w = widened[k];
          if (s === null || w === null) {
            expect(s, k).toBe(w);
            continue;
          }
          // As the file stores it (Q8_0 files keep rows that are not a multiple of 32 in F16).
          const type = g.gguf.info(ggufNames.layer(1)[k]).type;
          expect(s instanceof Float32Array ? (type === 'Q8_0' ? 'Q8_0' : 'F32') : s.dtype, `${dtype} ${k}`).toBe(type);
          if (dtype !== 'F32' && k.startsWith('w')) expect(type, `${dtype} ${k}`).not.toBe('F32');
          if (dtype === 'Q8_0' && k === 'wq') expect(type).toBe('Q8_0');
          expect(widenStored(s), `${dtype} ${k}`).toEqual(w);
        }
        const emb = g.storedEmbedding();
        const embType = g.gguf.info(ggufNames.embedding).type;
        expect(emb instanceof Float32Array ? (embType === 'Q8_0' ? 'Q8_0' : 'F32') : emb.dtype).toBe(embType);
        expect(widenStored(emb)).toEqual(g.embedding());
        expect(widenStored(g.storedClassifier())).toEqual(g.classifier());
        expect(() => g.storedLayer(2)).toThrow(`${file}: layer 2 out of range (0..1)`);
      } finally {
        g.close();
      }
    }
  });

  it('a non-finite 16-bit weight is refused by the stored read and the widened one, naming the file and tensor', () => {
    const m = syntheticModel([shape(2, 1, 8)], { tied: true });
    const good = fresh('f16-src.gguf');
    saveModel(m, good, { dtype: 'F16' });
    const g = GgufFile.open(good);
    const meta = new Map(g.metadata) as Map<string, never>;
    const poisoned = 'blk.0.ffn_gate.weight';
    const bad = fresh('f16-inf.gguf');
    writeGguf(bad, meta, [...g.tensors.values()].map((t) => ({
      name: t.name,
      dims: t.dims,
      type: t.type,
      data: () => {
        const s = g.readStored(t.name);
        if (t.name === poisoned && !(s instanceof Float32Array)) s.bits[5] = 0xfc00; // f16 −Inf
        return s;
      },
    })));
    g.close();
    const src = openGguf(bad);
    try {
      const message = `${bad}: tensor '${poisoned}': element 5 is -Infinity (weights must be finite)`;
      expect(() => src.storedLayer(0)).toThrow(message);
      expect(() => src.layer(0)).toThrow(message);
    } finally {
      src.close();
    }
  });

  it('Q8_0 matches ggml\'s reference quantizer and falls back to F16 for rows not a multiple of 32', () => {
    const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * (i < 32 ? 1 : 1e-3));
    x[5] = 0;
    const q = quantizeQ8_0(x);
    // Block 0: max |x| = the largest |sin|; q = round(x / d) with d = max/127, stored as f16.
    const view = new DataView(q.buffer);
    const amax = Math.max(...Array.from(x.subarray(0, 32), Math.abs));
    const d = Math.fround(amax / 127);
    for (let i = 0; i < 32; i++) expect(view.getInt8(2 + i)).toBe(Math.sign(x[i] * (1 / d)) * Math.round(Math.abs(Math.fround(x[i] * Math.fround(1 / d)))));
    const back = new Float32Array(64);
    dequantizeQ8_0(q, back);
    for (let i = 0; i < 64; i++) expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual((i < 32 ? amax : 1e-3) / 127);
    expect(quantizeQ8_0(new Float32Array(32))).toEqual(new Uint8Array(34)); // all zero: d = 0, no NaN

    const m = syntheticModel([shape(8, 4, 40)], { hiddenSize: 32, vocabSize: 40, ropeLayout: 'interleaved' });
    const file = fresh('q8.gguf');
    saveModel(m, file, { dtype: 'Q8_0' });
    const g = openGguf(file);
    expect(g.gguf.info('blk.0.attn_q.weight').type).toBe('Q8_0');
    expect(g.gguf.info('blk.0.ffn_down.weight').type).toBe('F16'); // rows of 40
    expect(g.gguf.metadata.get('general.file_type')?.value).toBe(7);
    const wq = g.layer(0).wq;
    for (let i = 0; i < wq.length; i++) expect(Math.abs(wq[i] - m.layers[0].wq[i])).toBeLessThanOrEqual(1 / 127 + 1e-3);
    g.close();
  });
});

describe('GGUF writer refusals', () => {
  it('refuses a layer that keeps attention without FFN, and a head-less layer 0', () => {
    const noFfn = syntheticModel([shape(2, 1, 8), shape(2, 1, 8)]);
    noFfn.config.layers[1].ffnDim = 0;
    const f = fresh('x.gguf');
    expect(() => saveModel(noFfn, f)).toThrow(`${f}: layer 1 keeps 2 attention heads but no FFN channels; llama.cpp skips such a layer entirely (attention included), so it cannot be written`);
    const noHeads = syntheticModel([shape(2, 1, 8)]);
    noHeads.config.layers[0].nHeads = 0;
    expect(() => saveModel(noHeads, f)).toThrow(`${f}: layer 0 has no attention heads; llama.cpp reads the head size from layer 0, so it cannot be written`);
    expect(fs.existsSync(f)).toBe(false);
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('never overwrites a file or writes into a folder; Q8_0 is for GGUF only', () => {
    const m = syntheticModel([shape(2, 1, 8)]);
    const f = fresh('keep.gguf');
    fs.writeFileSync(f, 'mine');
    expect(() => saveModel(m, f)).toThrow(`${f}: exists; refusing to overwrite (choose another path or pass overwrite)`);
    expect(fs.readFileSync(f, 'utf8')).toBe('mine');
    saveModel(m, f, { overwrite: true });
    expect(GgufFile.open(f).version).toBe(3);
    const dir = fresh('dir.gguf');
    fs.mkdirSync(dir);
    expect(() => saveModel(m, dir)).toThrow(`${dir}: is a folder; a GGUF model is one file (give a path ending in .gguf)`);
    const out = fresh('folder');
    expect(() => saveModel(m, out, { dtype: 'Q8_0' })).toThrow(`${out}: dtype Q8_0 is for GGUF files only (a folder holds F32, F16 or BF16)`);
  });

  it('refuses non-finite weights naming the tensor, leaving nothing behind', () => {
    const m = syntheticModel([shape(2, 1, 8)]);
    m.layers[0].wUp[3] = NaN;
    const f = fresh('nan.gguf');
    expect(() => saveModel(m, f)).toThrow("memory: tensor 'blk.0.ffn_up.weight' to save: element 3 is NaN (weights must be finite)");
    expect(fs.existsSync(f)).toBe(false);
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Reader validation

/** A small valid model GGUF (with a vocabulary) as bytes. */
function sampleBytes(dtype: 'F32' | 'Q8_0' = 'F32'): Buffer {
  const m = syntheticModel([shape(8, 4, 64, true), shape(4, 2, 32)], { hiddenSize: 32, headDim: 4, vocabSize: 512, tied: true });
  const f = fresh('sample.gguf');
  saveModel(m, f, { tokenizerFile: TOK, dtype });
  return fs.readFileSync(f);
}

/** Byte position just after tensor `name`'s name in the tensor infos. */
function tensorInfoAt(buf: Buffer, name: string): number {
  const n = Buffer.from(name);
  const lenAndName = Buffer.concat([Buffer.alloc(8), n]);
  lenAndName.writeBigUInt64LE(BigInt(n.length));
  const at = buf.indexOf(lenAndName);
  if (at < 0) throw new Error(`no tensor info for ${name}`);
  return at + lenAndName.length;
}

function open(buf: Uint8Array): GgufSource {
  return new GgufSource(GgufFile.fromBytes(buf, 'm.gguf'));
}

describe('GGUF reader validation', () => {
  const good = sampleBytes();

  it('reads the sample', () => {
    const s = open(good);
    expect(s.config.layers.map((l) => l.nHeads)).toEqual([8, 4]);
    expect(tokenizerFromGguf(s.gguf).encode('Once upon a time')).toEqual(Llama2cTokenizer.fromFile(TOK).encode('Once upon a time'));
  });

  const cases: [string, (b: Buffer) => Buffer, string][] = [
    ['bad magic', (b) => (b.write('GGUX', 0, 'latin1'), b), 'm.gguf: magic "GGUX" is not "GGUF" (not a GGUF file)'],
    ['version 1', (b) => (b.writeUInt32LE(1, 4), b), 'm.gguf: GGUF version 1 is not supported (2 or 3)'],
    ['too short', (b) => b.subarray(0, 20), 'm.gguf: 20 bytes, too short for a GGUF file (the header alone is 24)'],
    ['huge tensor count', (b) => (b.writeBigUInt64LE(1n << 40n, 8), b), 'm.gguf: tensor count 1099511627776 is impossible for a'],
    ['huge metadata count', (b) => (b.writeBigUInt64LE(1n << 62n, 16), b), 'm.gguf: metadata count 4611686018427387904 is impossible'],
    ['truncated header', (b) => b.subarray(0, 3000), "m.gguf: metadata 'tokenizer.ggml.tokens': array length 512 is impossible for a 3000-byte file (truncated or corrupt?)"],
    ['truncated data', (b) => b.subarray(0, b.length - 100), "run past the data section's"],
    ['trailing garbage', (b) => Buffer.concat([b, Buffer.alloc(64)]), "m.gguf: 64 bytes after the last tensor's data (expected at most padding to 32; trailing garbage?)"],
    ['unsupported tensor type', (b) => (b.writeUInt32LE(2, tensorInfoAt(b, 'blk.0.attn_q.weight') + 4 + 16), b), "m.gguf: tensor 'blk.0.attn_q.weight' has ggml type Q4_0, which slimllm does not read (F32, F16, BF16, Q8_0)"],
    ['unknown tensor type', (b) => (b.writeUInt32LE(77, tensorInfoAt(b, 'blk.0.attn_q.weight') + 4 + 16), b), "has ggml type type 77, which slimllm does not read"],
    ['misaligned offset', (b) => (b.writeBigUInt64LE(b.readBigUInt64LE(tensorInfoAt(b, 'output_norm.weight') + 4 + 8 + 4) + 4n, tensorInfoAt(b, 'output_norm.weight') + 4 + 8 + 4), b), "m.gguf: tensor 'output_norm.weight': offset"],
    ['overlapping tensors', (b) => (b.writeBigUInt64LE(0n, tensorInfoAt(b, 'output_norm.weight') + 4 + 8 + 4), b), "m.gguf: tensor 'output_norm.weight' at offset 0 overlaps tensor 'token_embd.weight'"],
    ['five dimensions', (b) => (b.writeUInt32LE(5, tensorInfoAt(b, 'output_norm.weight')), b), "m.gguf: tensor 'output_norm.weight': 5 dimensions (1 to 4 allowed)"],
    ['zero dimension', (b) => (b.writeBigUInt64LE(0n, tensorInfoAt(b, 'output_norm.weight') + 4), b), "m.gguf: tensor 'output_norm.weight': dims[0] is 0"],
    ['duplicate tensor name', (b) => (b.write('blk.1', tensorInfoAt(b, 'blk.0.attn_q.weight') - 'blk.0.attn_q.weight'.length, 'latin1'), b), "m.gguf: tensor 'blk.1.attn_q.weight' appears twice"],
    ['dims disagree with metadata', (b) => (b.writeBigUInt64LE(16n, tensorInfoAt(b, 'blk.0.attn_q.weight') + 4 + 8), b), "m.gguf: tensor 'blk.0.attn_q.weight': dims [32, 16], the metadata imply [32, 32]"],
    ['architecture not supported', (b) => (b.write('gpt2', b.indexOf('general.architecture') + 'general.architecture'.length + 4 + 8, 'latin1'), b), "m.gguf: architecture 'gpt2' is not supported (llama, deci)"],
    ['duplicate metadata key', (b) => (b.write('general.archiXXXXXX', b.indexOf('general.name') - 8 + 8, 'latin1'), b), "m.gguf: metadata"],
  ];
  for (const [what, mutate, message] of cases) {
    it(`refuses: ${what}`, () => {
      expect(() => open(mutate(Buffer.from(good)))).toThrow(message);
    });
  }

  it('refuses a tensor llama.cpp would reject as extra, and missing or misshapen tensors', () => {
    const m = syntheticModel([shape(2, 1, 8)], { tied: true });
    const f = fresh('src.gguf');
    saveModel(m, f);
    const g = GgufFile.open(f);
    const meta = new Map(g.metadata) as Map<string, never>;
    const all = [...g.tensors.values()].map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: () => g.read(t.name) }));
    const write = (tensors: typeof all) => {
      const out = fresh('mut.gguf');
      writeGguf(out, meta, tensors);
      return out;
    };
    const extra = write([...all, { name: 'rope_freqs.weight', dims: [2], type: 'F32', data: () => new Float32Array(2) }]);
    expect(() => openGguf(extra)).toThrow(`${extra}: tensor 'rope_freqs.weight' is not part of a llama model slimllm can run`);
    const missing = write(all.filter((t) => t.name !== 'blk.0.ffn_up.weight'));
    expect(() => openGguf(missing)).toThrow(`${missing}: tensor 'blk.0.ffn_up.weight' is missing`);
    const wrong = write(all.map((t) => (t.name === 'blk.0.ffn_up.weight' ? { ...t, dims: [8, 16], data: () => new Float32Array(128) } : t)));
    expect(() => openGguf(wrong)).toThrow(`${wrong}: tensor 'blk.0.ffn_up.weight': dims [8, 16], the metadata imply [16, 8]`);
    g.close();
  });

  it('refuses metadata of the wrong type, naming the key', () => {
    const f = fresh('meta.gguf');
    const m = syntheticModel([shape(2, 1, 8)], { tied: true });
    saveModel(m, f);
    const g = GgufFile.open(f);
    const meta = new Map(g.metadata) as Map<string, never>;
    meta.set('llama.block_count', { type: GgufType.STRING, value: 'two' } as never);
    const out = fresh('badmeta.gguf');
    writeGguf(out, meta, [...g.tensors.values()].map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: () => g.read(t.name) })));
    expect(() => openGguf(out)).toThrow(`${out}: metadata 'llama.block_count' is STRING "two", expected a non-negative integer`);
    g.close();
  });

  it('seeded mutations of a model file: 10,000 files, each read cleanly or refused with one error naming it', () => {
    const bases = [good, sampleBytes('Q8_0')];
    const r = rng(20261202);
    const int = (n: number) => Math.floor(r() * n);
    let refused = 0;
    let readOk = 0;
    const t0 = performance.now();
    for (let k = 0; k < 10_000; k++) {
      const base = bases[k % 2];
      const headerEnd = base.indexOf(Buffer.from('output_norm.weight')) + 64; // the header ends soon after the last tensor info
      let b = Buffer.from(base);
      const kind = int(6);
      const at = int(kind === 5 ? b.length : headerEnd);
      if (kind === 0 || kind === 5) b[at] ^= 1 << int(8); // one bit
      else if (kind === 1) b[at] = int(256); // one byte
      else if (kind === 2) b.writeBigUInt64LE(BigInt(int(2 ** 32)) * BigInt(1 + int(2 ** 20)), Math.min(at, b.length - 8)); // a wild u64
      else if (kind === 3) b = b.subarray(0, int(b.length)); // truncated
      else b = Buffer.concat([b.subarray(0, at), Buffer.from([int(256)]), b.subarray(at + int(2))]); // insert or replace
      try {
        const s = open(b);
        tokenizerFromGguf(s.gguf).encode('Once upon a time, 😀');
        s.embedding();
        for (let i = 0; i < s.config.nLayers; i++) s.layer(i);
        s.finalNorm();
        readOk++;
      } catch (e) {
        if (!(e instanceof Error) || !e.message.startsWith('m.gguf')) throw new Error(`mutation ${k} (kind ${kind} at ${at}): ${String(e)} ${(e as Error).stack}`);
        refused++;
      }
    }
    expect(refused + readOk).toBe(10_000);
    expect(refused).toBeGreaterThan(5000);
    expect(performance.now() - t0).toBeLessThan(100_000);
  });
});
