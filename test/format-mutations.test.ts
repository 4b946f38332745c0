// Seeded mutations of every other input format (1,000 files each): each mutated file is refused
// with an error naming it, or read back exactly as its bytes say — never a shifted tensor, never a
// crash or a hang. (safetensors: safetensors-strict.test.ts; GGUF: gguf.test.ts.)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { llama2cTokenizerBytes } from '../src/model/gguf-tokenizer.js';
import { loadModelWeights } from '../src/model/load.js';
import { Llama2cTokenizer } from '../src/model/tokenizer.js';
import type { ModelWeights } from '../src/model/weights.js';
import { saveModel } from '../src/model/writer.js';
import { bundled } from '../src/paths.js';
import { readCalibTokens } from '../src/text-files.js';
import { rng } from './helpers.js';
import { syntheticModel } from './synthetic-model.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-mut-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const N = 1000;

/** One seeded mutation of `b`: a bit, a byte, a wild int32, an inserted or deleted byte, or a cut. */
function mutate(b: Buffer, r: () => number, region = b.length): Buffer {
  const int = (n: number) => Math.floor(r() * n);
  const at = int(Math.min(region, b.length));
  const out = Buffer.from(b);
  switch (int(6)) {
    case 0: out[at] ^= 1 << int(8); return out;
    case 1: out[at] = int(256); return out;
    case 2: out.writeInt32LE(int(2 ** 31) * (r() < 0.5 ? -1 : 1), Math.min(at, b.length - 4)); return out;
    case 3: return Buffer.concat([b.subarray(0, at), Buffer.from([int(256)]), b.subarray(at)]);
    case 4: return Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    default: return b.subarray(0, at);
  }
}

/** How many values of `b` differ from `a`'s (Infinity when a tensor's presence or length differs). */
function differingElements(a: ModelWeights, b: ModelWeights): number {
  let n = 0;
  const cmp = (x: Float32Array | null, y: Float32Array | null) => {
    if (x === null || y === null) return void (n += x === y ? 0 : Infinity);
    if (x.length !== y.length) return void (n = Infinity);
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) n++;
  };
  cmp(a.embedding, b.embedding);
  cmp(a.finalNorm, b.finalNorm);
  cmp(a.classifier, b.classifier);
  a.layers.forEach((l, i) => (Object.keys(l) as (keyof typeof l)[]).forEach((k) => cmp(l[k], b.layers[i]?.[k] ?? null)));
  return n;
}

function expectNamedError(e: unknown, names: string, k: number): void {
  if (!(e instanceof Error) || !e.message.startsWith(names)) throw new Error(`mutation ${k}: not an error naming ${names}: ${String(e)}`);
}

/** A small legacy llama2.c checkpoint (run.c's layout) of `m` (interleaved q/k, tied). */
function llama2cBytes(m: ModelWeights): Buffer {
  const c = m.config;
  const s = c.layers[0];
  const head = Buffer.alloc(28);
  [c.hiddenSize, s.ffnDim, c.nLayers, s.nHeads, s.nKvHeads, c.vocabSize, c.maxSeqLen].forEach((v, i) => head.writeInt32LE(v, 4 * i));
  const cat = (get: (l: ModelWeights['layers'][number]) => Float32Array) => m.layers.map(get);
  const parts = [m.embedding, ...cat((l) => l.attnNorm), ...cat((l) => l.wq), ...cat((l) => l.wk), ...cat((l) => l.wv), ...cat((l) => l.wo),
    ...cat((l) => l.ffnNorm), ...cat((l) => l.wGate), ...cat((l) => l.wDown), ...cat((l) => l.wUp), m.finalNorm, new Float32Array(c.maxSeqLen * c.headDim)];
  return Buffer.concat([head, ...parts.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))]);
}

describe(`seeded mutations, ${N} files per format`, () => {
  it('llama2.c checkpoints: refused, or the same weights (at most the 2 elements a 4-byte data write touches)', () => {
    const m = syntheticModel([{ nHeads: 2, nKvHeads: 1, ffnDim: 8, oBias: false, downBias: false }, { nHeads: 2, nKvHeads: 1, ffnDim: 8, oBias: false, downBias: false }], { tied: true, ropeLayout: 'interleaved', hiddenSize: 8, vocabSize: 16 });
    m.config.maxSeqLen = 4;
    const good = llama2cBytes(m);
    const f = path.join(tmp, 'm.bin');
    fs.writeFileSync(f, good);
    const want = loadModelWeights(f);
    const r = rng(1);
    let refused = 0;
    for (let k = 0; k < N; k++) {
      fs.writeFileSync(f, mutate(good, r, k % 2 ? 28 : good.length));
      try {
        expect(differingElements(want, loadModelWeights(f)), `mutation ${k}`).toBeLessThanOrEqual(2);
      } catch (e) {
        if ((e as Error).name === 'AssertionError') throw e;
        expectNamedError(e, f, k);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(N / 4);
  });

  it('llama2.c tokenizers: refused, or pieces and scores exactly as the bytes say', () => {
    const good = fs.readFileSync(bundled.tokenizer());
    const f = path.join(tmp, 'tok.bin');
    const r = rng(2);
    let refused = 0;
    for (let k = 0; k < N; k++) {
      const b = mutate(good, r);
      fs.writeFileSync(f, b);
      let tok: Llama2cTokenizer;
      try {
        tok = Llama2cTokenizer.fromFile(f);
      } catch (e) {
        expectNamedError(e, f, k);
        refused++;
        continue;
      }
      expect(llama2cTokenizerBytes(tok).equals(b), `mutation ${k}: re-serialized bytes differ`).toBe(true);
      try {
        tok.encode('Once upon a time, 😀');
      } catch (e) {
        expectNamedError(e, f, k); // e.g. the byte piece for an emoji byte was mutated away
      }
    }
    expect(refused).toBeGreaterThan(N / 10);
  });

  it('config.json and model.safetensors.index.json: refused naming a file of the folder, or the same weights', () => {
    const m = syntheticModel([{ nHeads: 2, nKvHeads: 1, ffnDim: 8, oBias: true, downBias: false }, { nHeads: 4, nKvHeads: 2, ffnDim: 12, oBias: false, downBias: true }]);
    const dir = path.join(tmp, 'folder');
    saveModel(m, dir, { maxShardBytes: 4000 });
    const want = loadModelWeights(dir);
    for (const [name, seed] of [['config.json', 3], ['model.safetensors.index.json', 4]] as const) {
      const file = path.join(dir, name);
      const good = fs.readFileSync(file);
      const r = rng(seed);
      let refused = 0;
      for (let k = 0; k < N; k++) {
        fs.writeFileSync(file, mutate(good, r));
        try {
          expect(differingElements(want, loadModelWeights(dir)), `${name} mutation ${k}`).toBe(0);
        } catch (e) {
          if ((e as Error).name === 'AssertionError') throw e;
          expectNamedError(e, dir, k);
          refused++;
        }
      }
      fs.writeFileSync(file, good);
      expect(refused, name).toBeGreaterThan(N / 4);
    }
  });

  it('calibration token files: refused naming the file, or rows of token ids exactly as written', () => {
    const good = Buffer.from(JSON.stringify([[1, 403, 407, 261], [1, 20, 30, 511, 2]]));
    const f = path.join(tmp, 'calib.json');
    const r = rng(5);
    let refused = 0;
    for (let k = 0; k < N; k++) {
      const b = mutate(good, r);
      fs.writeFileSync(f, b);
      try {
        const rows = readCalibTokens(f);
        expect(rows).toEqual(JSON.parse(b.toString('utf8')));
      } catch (e) {
        if ((e as Error).name === 'AssertionError') throw e;
        expectNamedError(e, f, k);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(N / 4);
  });
});
