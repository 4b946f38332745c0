// Model I/O: safetensors validation (exact messages), llama2.c readers, the HF checkpoint writer
// and reader (round trips, per-layer shapes, biases, f16/bf16, shards), the q/k RoPE permutation.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerShape, ModelConfig } from '../src/model/config.js';
import { convertLlama2cToHf } from '../src/model/convert.js';
import { f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, roundToBf16, roundToF16 } from '../src/model/half.js';
import { loadModelWeights, openModel, readAllWeights } from '../src/model/load.js';
import { permuteHalfToInterleaved, permuteInterleavedToHalf } from '../src/model/rope-layout.js';
import { assertFinite, SafetensorsFile, writeSafetensors } from '../src/model/safetensors.js';
import { Llama2cTokenizer, loadTokenizer } from '../src/model/tokenizer.js';
import type { LayerWeights, ModelWeights } from '../src/model/weights.js';
import { saveModel } from '../src/model/writer.js';
import { rand, syntheticModel } from './synthetic-model.js';

const BIN = 'assets/stories260K/stories260K.bin';
const BIN_V1 = 'assets/stories260K/stories260K_v1.bin';
const TOK = 'assets/stories260K/tok512.bin';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-io-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => path.join(tmp, `${name}-${counter++}`);


const PRUNED_LAYERS: LayerShape[] = [
  { nHeads: 4, nKvHeads: 2, ffnDim: 40, oBias: true, downBias: false },
  { nHeads: 3, nKvHeads: 3, ffnDim: 24, oBias: false, downBias: true },
  { nHeads: 2, nKvHeads: 1, ffnDim: 8, oBias: true, downBias: true },
];

const LAYER_KEYS: (keyof LayerWeights)[] = ['attnNorm', 'wq', 'wk', 'wv', 'wo', 'oBias', 'ffnNorm', 'wGate', 'wUp', 'wDown', 'downBias'];

/** Bit-exact equality of two f32 arrays (or both null); fast where toEqual walks element by element. */
function expectSame(a: Float32Array | null, b: Float32Array | null, what = ''): void {
  if (a === null || b === null) {
    expect(a, what).toBe(b);
    return;
  }
  expect(a.length, `${what} length`).toBe(b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) expect.fail(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
  }
}

function expectSameWeights(a: ModelWeights, b: ModelWeights): void {
  expect(a.config).toEqual(b.config);
  expectSame(a.embedding, b.embedding, 'embedding');
  expectSame(a.finalNorm, b.finalNorm, 'finalNorm');
  expectSame(a.classifier, b.classifier, 'classifier');
  a.layers.forEach((l, i) => {
    for (const k of LAYER_KEYS) expectSame(l[k], b.layers[i][k], `layer ${i} ${k}`);
  });
}

/** A safetensors file from raw parts: header (object or text), data bytes, optional header length. */
function rawSafetensors(header: unknown, dataBytes: number, headerLen?: number): string {
  const f = `${fresh('raw')}.safetensors`;
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLen ?? json.length));
  fs.writeFileSync(f, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return f;
}

describe('safetensors reader: every malformed case is named', () => {
  it('file shorter than the 8-byte header length', () => {
    const f = fresh('short');
    fs.writeFileSync(f, Buffer.alloc(5));
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: 5 bytes, too short for a safetensors file (the header length alone is 8)`);
  });

  it('header length beyond the file, or absurdly large', () => {
    const f = rawSafetensors({}, 8, 1000);
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: header length 1000 runs past the end of the 18-byte file (truncated?)`);
    const g = rawSafetensors({}, 0, 200_000_000);
    expect(() => SafetensorsFile.open(g)).toThrow(`${g}: header length 200000000 exceeds the 100000000-byte limit (not a safetensors file?)`);
  });

  it('header that is not JSON, or not an object', () => {
    const f = rawSafetensors('{"a": ', 0);
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: header is not valid JSON (`);
    const g = rawSafetensors([1, 2], 0);
    expect(() => SafetensorsFile.open(g)).toThrow(`${g}: header JSON is not an object`);
  });

  it('unknown dtype, missing fields, bad offsets', () => {
    const t = (entry: unknown, data = 8) => rawSafetensors({ a: entry }, data);
    let f = t({ dtype: 'I64', shape: [1], data_offsets: [0, 8] });
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: tensor 'a': dtype "I64" is not supported (F32, F16, BF16)`);
    f = t({ shape: [2], data_offsets: [0, 8] });
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: tensor 'a': missing dtype`);
    f = t({ dtype: 'F32', data_offsets: [0, 8] });
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: tensor 'a': missing shape`);
    f = t({ dtype: 'F32', shape: [2] });
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: tensor 'a': missing data_offsets`);
    f = t({ dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] });
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: tensor 'a': shape [2,-1] is not a list of non-negative integers`);
    f = t({ dtype: 'F32', shape: [2], data_offsets: [8, 0] });
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: tensor 'a': data_offsets [8, 0] have begin after end`);
    f = t({ dtype: 'F32', shape: [4], data_offsets: [0, 16] });
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: tensor 'a': data_offsets [0, 16] run past the data section's 8 bytes (truncated?)`);
  });

  it('byte length that does not match the shape', () => {
    const name = 'model.layers.0.mlp.up_proj.weight';
    const f = rawSafetensors({ [name]: { dtype: 'F32', shape: [172, 64], data_offsets: [0, 100] } }, 100);
    expect(() => SafetensorsFile.open(f)).toThrow(
      `${f}: tensor '${name}': data_offsets [0, 100] hold 100 bytes, shape [172, 64] of F32 needs 44032`,
    );
  });

  it('overlapping tensors', () => {
    const f = rawSafetensors(
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
      12,
    );
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]`);
  });

  it('a truncated real file', () => {
    const f = `${fresh('trunc')}.safetensors`;
    writeSafetensors(f, [
      { name: 'x', shape: [4], data: rand(4, 1) },
      { name: 'y', shape: [2, 3], data: rand(6, 2) },
    ]);
    const bytes = fs.readFileSync(f);
    fs.writeFileSync(f, bytes.subarray(0, bytes.length - 4));
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: tensor 'y': data_offsets [16, 40] run past the data section's 36 bytes (truncated?)`);
  });

  it('assertFinite names the tensor', () => {
    expect(() => assertFinite(Float32Array.of(1, NaN), "m.safetensors: tensor 'w'")).toThrow(
      "m.safetensors: tensor 'w': element 1 is NaN (weights must be finite)",
    );
    expect(() => assertFinite(Float32Array.of(1, 2), 'x')).not.toThrow();
  });
});

describe('safetensors writer', () => {
  it('writes an aligned header with metadata, read back exactly (lazily, per tensor)', () => {
    const f = `${fresh('w')}.safetensors`;
    const a = rand(12, 3);
    const b = rand(5, 4);
    writeSafetensors(f, [{ name: 'a', shape: [3, 4], data: a }, { name: 'b', shape: [5], data: () => b }], { metadata: { format: 'pt' } });
    const headerLen = Number(fs.readFileSync(f).readBigUInt64LE(0));
    expect((8 + headerLen) % 8).toBe(0);
    const st = SafetensorsFile.open(f);
    expect(st.metadata).toEqual({ format: 'pt' });
    expect(st.info('a').shape).toEqual([3, 4]);
    expectSame(st.read('b'), b, 'b');
    expectSame(st.read('a'), a, 'a');
    st.close();
    expect(fs.readdirSync(path.dirname(f)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('f16 and bf16: stored rounded to nearest even, widened on read', () => {
    const vals = Float32Array.of(1, -2.5, 65504, 1e-8, 0.1, 3.14159, -0, 6.1e-5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, ...rand(100, 9));
    for (const dtype of ['F16', 'BF16'] as const) {
      const f = `${fresh(dtype)}.safetensors`;
      writeSafetensors(f, [{ name: 'v', shape: [vals.length], data: vals }], { dtype });
      const st = SafetensorsFile.open(f);
      expect(st.info('v').dtype).toBe(dtype);
      expectSame(st.read('v'), dtype === 'F16' ? roundToF16(vals) : roundToBf16(vals), dtype);
      st.close();
    }
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to Inf
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(roundToBf16(Float32Array.of(NaN))[0])).toBe(true);
  });
});

describe('llama2.c checkpoints', () => {
  it('legacy and v1 hold identical weights and config', () => {
    const a = loadModelWeights(BIN);
    const b = loadModelWeights(BIN_V1);
    expectSameWeights(a, b);
    expect(a.config).toMatchObject({
      hiddenSize: 64,
      nLayers: 5,
      headDim: 8,
      vocabSize: 512,
      maxSeqLen: 512,
      ropeLayout: 'interleaved',
      tieEmbeddings: true,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      bosTokenId: 1,
      eosTokenId: 2,
    });
    expect(a.config.layers[4]).toEqual({ nHeads: 8, nKvHeads: 4, ffnDim: 172, oBias: false, downBias: false });
  });

  it('a truncated file names the expected size', () => {
    const f = `${fresh('trunc')}.bin`;
    fs.writeFileSync(f, fs.readFileSync(BIN).subarray(0, 1_000_000));
    expect(() => openModel(f)).toThrow(
      `${f}: 1000000 bytes, but a llama2.c legacy checkpoint with dim 64, hidden_dim 172, 5 layers, 8/4 heads, vocab 512, seq_len 512 is 1056540 bytes (truncated?)`,
    );
    const g = `${fresh('trunc')}.bin`;
    fs.writeFileSync(g, fs.readFileSync(BIN_V1).subarray(0, 1_040_000));
    expect(() => openModel(g)).toThrow(`${g}: 1040000 bytes, but a llama2.c v1 checkpoint with dim 64,`);
  });

  it('unknown version and nonsense headers are rejected', () => {
    const v2 = Buffer.from(fs.readFileSync(BIN_V1));
    v2.writeInt32LE(2, 4);
    const f = `${fresh('v2')}.bin`;
    fs.writeFileSync(f, v2);
    expect(() => openModel(f)).toThrow(
      `${f}: llama2.c checkpoint version 2 is not supported (int8 Q8_0; export with --version 1 for fp32); only legacy and version 1`,
    );
    const g = `${fresh('junk')}.bin`;
    fs.writeFileSync(g, Buffer.from(Int32Array.of(64, 172, 5, 7, 4, 512, 512, 0).buffer));
    expect(() => openModel(g)).toThrow(`${g}: header [64, 172, 5, 7, 4, 512, 512] is not a llama2.c checkpoint`);
  });
});

describe('HF checkpoint writer and reader', () => {
  const stories = loadModelWeights(BIN);

  it('stories260K: save → reload is exact, q/k permuted into rotate-half order', () => {
    const dir = fresh('stories');
    saveModel(stories, dir);
    const back = loadModelWeights(dir);
    expect(back.config).toEqual({ ...stories.config, ropeLayout: 'half' });
    expectSame(back.embedding, stories.embedding, 'embedding');
    expect(back.classifier).toBeNull();
    const s = stories.config.layers[0];
    back.layers.forEach((l, i) => {
      const o = stories.layers[i];
      expectSame(l.wq, permuteInterleavedToHalf(o.wq, s.nHeads, 8, 64), `layer ${i} wq`);
      expectSame(l.wk, permuteInterleavedToHalf(o.wk, s.nKvHeads, 8, 64), `layer ${i} wk`);
      for (const k of ['attnNorm', 'wv', 'wo', 'ffnNorm', 'wGate', 'wUp', 'wDown', 'oBias', 'downBias'] as const) {
        expectSame(l[k], o[k], `layer ${i} ${k}`);
      }
    });
    // A 'half' model is written as is: saving the reloaded model again changes nothing.
    const again = fresh('again');
    saveModel(openModel(dir), again);
    const bytes = (d: string) => fs.readFileSync(path.join(d, 'model.safetensors'));
    expect(bytes(again).equals(bytes(dir))).toBe(true);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      hidden_size: 64,
      intermediate_size: 172,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      tie_word_embeddings: true,
      rope_scaling: null,
    });
    expect(cfg.slimllm).toBeUndefined(); // uniform, no biases: a plain Llama config
  });

  it('pruned model: per-layer heads/FFN widths and biases round-trip exactly', () => {
    const m = syntheticModel(PRUNED_LAYERS);
    const dir = fresh('pruned');
    saveModel(m, dir);
    expectSameWeights(loadModelWeights(dir), m);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg.slimllm.layers).toEqual(PRUNED_LAYERS);
  });

  it('interleaved synthetic model: reload = permuted q/k, and un-permuting gives the original', () => {
    const m = syntheticModel(PRUNED_LAYERS, { ropeLayout: 'interleaved', tied: true });
    const dir = fresh('inter');
    saveModel(m, dir);
    const back = loadModelWeights(dir);
    back.layers.forEach((l, i) => {
      const s = PRUNED_LAYERS[i];
      expectSame(permuteHalfToInterleaved(l.wq, s.nHeads, 4, 16), m.layers[i].wq, `layer ${i} wq`);
      expectSame(permuteHalfToInterleaved(l.wk, s.nKvHeads, 4, 16), m.layers[i].wk, `layer ${i} wk`);
    });
  });

  it('all-zero biases are dropped', () => {
    const m = syntheticModel([
      { nHeads: 2, nKvHeads: 2, ffnDim: 8, oBias: true, downBias: true },
      { nHeads: 2, nKvHeads: 2, ffnDim: 8, oBias: false, downBias: false },
    ]);
    m.layers[0].oBias = new Float32Array(16);
    const dir = fresh('zero');
    saveModel(m, dir);
    const back = loadModelWeights(dir);
    expect(back.config.layers[0]).toEqual({ nHeads: 2, nKvHeads: 2, ffnDim: 8, oBias: false, downBias: true });
    expect(back.layers[0].oBias).toBeNull();
    expectSame(back.layers[0].downBias, m.layers[0].downBias, 'downBias');
  });

  it('f16 and bf16 checkpoints reload as the rounded values', () => {
    const m = syntheticModel(PRUNED_LAYERS);
    for (const [dtype, round, torch] of [['F16', roundToF16, 'float16'], ['BF16', roundToBf16, 'bfloat16']] as const) {
      const dir = fresh(dtype);
      saveModel(m, dir, { dtype });
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).torch_dtype).toBe(torch);
      const back = loadModelWeights(dir);
      expectSame(back.embedding, round(m.embedding), `${dtype} embedding`);
      expectSame(back.classifier, round(m.classifier!), `${dtype} classifier`);
      back.layers.forEach((l, i) => {
        for (const k of LAYER_KEYS) {
          const o = m.layers[i][k];
          expectSame(l[k], o === null ? null : round(o), `${dtype} layer ${i} ${k}`);
        }
      });
    }
  });

  it('a sharded checkpoint (index + 2 shards) reads identically', () => {
    const dir = fresh('sharded');
    saveModel(stories, dir, { maxShardBytes: 600_000 });
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    const single = fresh('single');
    saveModel(stories, single);
    expectSameWeights(loadModelWeights(dir), loadModelWeights(single));
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(fs.statSync(path.join(single, 'model.safetensors')).size - 8 - Number(fs.readFileSync(path.join(single, 'model.safetensors')).readBigUInt64LE(0)));
    // A shard the index names but that is gone.
    fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    expect(() => openModel(dir)).toThrow(
      `${path.join(dir, 'model.safetensors.index.json')}: shard 'model-00002-of-00002.safetensors' (holding tensor `,
    );
  });

  it('never overwrites a non-empty folder unless asked', () => {
    const m = syntheticModel(PRUNED_LAYERS);
    const dir = fresh('exists');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'mine');
    expect(() => saveModel(m, dir)).toThrow(`${dir}: folder exists and is not empty; refusing to overwrite (choose another path or pass overwrite)`);
    expect(fs.readdirSync(dir)).toEqual(['keep.txt']);
    const file = fresh('file');
    fs.writeFileSync(file, 'x');
    expect(() => saveModel(m, file)).toThrow(`${file}: exists and is not a folder; refusing to overwrite`);
    saveModel(m, dir, { overwrite: true });
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    const bad = syntheticModel(PRUNED_LAYERS);
    bad.layers[1].wUp[3] = Infinity;
    expect(() => saveModel(bad, fresh('inf'))).toThrow("memory: tensor 'model.layers.1.mlp.up_proj.weight' to save: element 3 is Infinity");
    const empty = fresh('empty');
    fs.mkdirSync(empty);
    saveModel(m, empty); // an empty folder is fine
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('convertLlama2cToHf writes a complete HF folder with the tokenizer', () => {
    const dir = fresh('converted');
    convertLlama2cToHf(BIN, dir, TOK);
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'tok512.bin', 'tokenizer.json', 'tokenizer_config.json']);
    const src = openModel(dir);
    expect(src.config.ropeLayout).toBe('half');
    expectSame(readAllWeights(src).embedding, stories.embedding, 'embedding');
    src.close();
    expect(loadTokenizer(dir).encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(loadTokenizer(path.join(dir, 'tokenizer.json')).encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(Llama2cTokenizer.fromFile(path.join(dir, 'tok512.bin')).vocabSize).toBe(512);
  });
});

describe('HF folder validation', () => {
  // One valid folder, then a broken copy per case.
  const base = fresh('base');
  saveModel(syntheticModel(PRUNED_LAYERS), base);
  const copy = (edit: (dir: string, cfg: Record<string, unknown>) => Record<string, unknown> | void) => {
    const dir = fresh('case');
    fs.cpSync(base, dir, { recursive: true });
    const cfgFile = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    fs.writeFileSync(cfgFile, JSON.stringify(edit(dir, cfg) ?? cfg));
    return dir;
  };
  /** Rewrites model.safetensors with `change` applied to the tensor list. */
  const rewrite = (dir: string, change: (ts: { name: string; shape: number[]; data: Float32Array }[]) => typeof ts) => {
    const f = path.join(dir, 'model.safetensors');
    const st = SafetensorsFile.open(f);
    const ts = [...st.tensors.values()].map((t) => ({ name: t.name, shape: t.shape, data: st.read(t.name) }));
    st.close();
    writeSafetensors(f, change(ts));
  };

  it('a missing tensor', () => {
    const name = 'model.layers.2.mlp.up_proj.weight';
    const dir = copy((d) => rewrite(d, (ts) => ts.filter((t) => t.name !== name)));
    expect(() => openModel(dir)).toThrow(`${path.join(dir, 'model.safetensors')}: tensor '${name}' (layer 2) is missing`);
  });

  it('a declared bias that is missing, and an undeclared one that is present', () => {
    const dir = copy((_d, cfg) => {
      (cfg.slimllm as { layers: LayerShape[] }).layers[1].oBias = true;
    });
    expect(() => openModel(dir)).toThrow(
      `${path.join(dir, 'model.safetensors')}: tensor 'model.layers.1.self_attn.o_proj.bias' (layer 1) is missing (config.json declares it)`,
    );
    const dir2 = copy((_d, cfg) => {
      (cfg.slimllm as { layers: LayerShape[] }).layers[0].oBias = false;
    });
    expect(() => openModel(dir2)).toThrow(
      `${path.join(dir2, 'model.safetensors')}: tensor 'model.layers.0.self_attn.o_proj.bias' (layer 0) is present but config.json's slimllm.layers[0].oBias is false`,
    );
  });

  it('a layer whose tensor has the wrong shape', () => {
    const dir = copy((_d, cfg) => {
      (cfg.slimllm as { layers: LayerShape[] }).layers[1].ffnDim = 20;
    });
    expect(() => openModel(dir)).toThrow(
      `${path.join(dir, 'model.safetensors')}: tensor 'model.layers.1.mlp.gate_proj.weight' (layer 1): shape [24, 16], expected [20, 16]`,
    );
  });

  it('unsupported architectures, RoPE scaling, biases', () => {
    let dir = copy((_d, cfg) => ({ ...cfg, architectures: ['GPT2LMHeadModel'] }));
    expect(() => openModel(dir)).toThrow(
      `${path.join(dir, 'config.json')}: architecture "GPT2LMHeadModel" is not supported (LlamaForCausalLM, MistralForCausalLM)`,
    );
    dir = copy((_d, cfg) => ({ ...cfg, rope_scaling: { type: 'linear', factor: 2 } }));
    expect(() => openModel(dir)).toThrow(`${path.join(dir, 'config.json')}: rope_scaling {"type":"linear","factor":2} is not supported (only null)`);
    dir = copy((d) => rewrite(d, (ts) => [...ts, { name: 'model.layers.0.self_attn.q_proj.bias', shape: [16], data: rand(16, 5) }]));
    expect(() => openModel(dir)).toThrow(
      `${path.join(dir, 'model.safetensors')}: tensor 'model.layers.0.self_attn.q_proj.bias' (layer 0): non-zero bias on q_proj is not supported`,
    );
    dir = copy((_d, cfg) => ({ ...cfg, hidden_size: undefined }));
    expect(() => openModel(dir)).toThrow(`${path.join(dir, 'config.json')}: hidden_size is missing`);
  });

  it('Mistral configs and plain HF configs (biases detected from the weights) are read', () => {
    const dir = copy((_d, cfg) => ({ ...cfg, architectures: ['MistralForCausalLM'], sliding_window: 32 }));
    const src = openModel(dir);
    expect(src.config.architecture).toBe('MistralForCausalLM');
    expect(src.config.maxSeqLen).toBe(32);
    src.close();
    const m = syntheticModel([
      { nHeads: 2, nKvHeads: 1, ffnDim: 8, oBias: true, downBias: false },
      { nHeads: 2, nKvHeads: 1, ffnDim: 8, oBias: false, downBias: false },
    ]);
    const plain = fresh('plain');
    saveModel(m, plain);
    const cfgFile = path.join(plain, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    delete cfg.slimllm;
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    expectSameWeights(loadModelWeights(plain), m);
  });

  it('openModel says what it expected', () => {
    const nothing = path.join(tmp, 'nothing-here');
    expect(() => openModel(nothing)).toThrow(`${nothing}: no such file or folder`);
    const emptyDir = fresh('nocfg');
    fs.mkdirSync(emptyDir);
    expect(() => openModel(emptyDir)).toThrow(`${emptyDir}: folder has no config.json (expected a Hugging Face checkpoint folder)`);
    const st = path.join(base, 'model.safetensors');
    expect(() => openModel(st)).toThrow(`${st}: a bare safetensors file has no config; give the folder holding it and its config.json`);
    const txt = `${fresh('x')}.txt`;
    fs.writeFileSync(txt, 'x');
    expect(() => openModel(txt)).toThrow(`${txt}: not a model (expected a llama2.c .bin file, a .gguf file or a folder with config.json)`);
    const noWeights = copy((d) => fs.rmSync(path.join(d, 'model.safetensors')));
    expect(() => openModel(noWeights)).toThrow(
      `${noWeights}: neither model.safetensors nor model.safetensors.index.json (only safetensors checkpoints are read)`,
    );
  });
});

describe('q/k permutation between RoPE layouts', () => {
  it('matches HF convert_llama_weights_to_hf permute on a small example', () => {
    // 2 heads of d=4, one input column: rows 0..7. Per head new order [0, 2, 1, 3].
    const w = Float32Array.from({ length: 8 }, (_, i) => i);
    expect([...permuteInterleavedToHalf(w, 2, 4, 1)]).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    // d=8, per head [0,2,4,6,1,3,5,7]; two input columns keep rows together.
    const w2 = Float32Array.from({ length: 16 }, (_, i) => i);
    expect([...permuteInterleavedToHalf(w2, 1, 8, 2)]).toEqual([0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15]);
  });

  it('inverse ∘ permute = identity', () => {
    const w = rand(3 * 8 * 5, 11);
    expectSame(permuteHalfToInterleaved(permuteInterleavedToHalf(w, 3, 8, 5), 3, 8, 5), w, 'half→interleaved');
    expectSame(permuteInterleavedToHalf(permuteHalfToInterleaved(w, 3, 8, 5), 3, 8, 5), w, 'interleaved→half');
    expect(permuteInterleavedToHalf(w, 3, 8, 5)).not.toEqual(w);
  });

  it('interleaved RoPE of Wq·x = un-permuted rotate-half RoPE of Wq_perm·x', () => {
    const H = 2;
    const d = 8;
    const D = 5;
    const W = rand(H * d * D, 12);
    const x = rand(D, 13);
    const Wp = permuteInterleavedToHalf(W, H, d, D);
    const matvec = (m: Float32Array) => Float64Array.from({ length: H * d }, (_, r) => x.reduce((a, v, c) => a + m[r * D + c] * v, 0));
    const freq = (i: number) => 10000 ** (-(2 * i) / d);
    for (const pos of [0, 1, 7, 100]) {
      const qi = matvec(W);
      const qh = matvec(Wp);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < d / 2; i++) {
          const c = Math.cos(pos * freq(i));
          const s = Math.sin(pos * freq(i));
          const a = h * d + 2 * i; // interleaved pair (2i, 2i+1)
          [qi[a], qi[a + 1]] = [qi[a] * c - qi[a + 1] * s, qi[a] * s + qi[a + 1] * c];
          const b = h * d + i; // rotate-half pair (i, i + d/2)
          [qh[b], qh[b + d / 2]] = [qh[b] * c - qh[b + d / 2] * s, qh[b] * s + qh[b + d / 2] * c];
        }
      }
      const back = permuteHalfToInterleaved(Float32Array.from(qh), H, d, 1);
      for (let k = 0; k < H * d; k++) expect(back[k]).toBeCloseTo(qi[k], 5);
    }
  });
});
