// The forward pass on the real stories260K checkpoint (bundled in assets/): known logits,
// greedy text and perplexity, on the GPU and its CPU twin; converted/bf16/sharded checkpoints.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/kernels/backend.js';
import { storiesSequences } from '../src/corpus.js';
import { sequencesPerplexity } from '../src/eval/perplexity.js';
import { roundToBf16 } from '../src/model/half.js';
import { loadModelWeights, openModel } from '../src/model/load.js';
import { sequenceLogits } from '../src/model/runner.js';
import { Llama2cTokenizer } from '../src/model/tokenizer.js';
import { inMemorySource, type ModelWeights } from '../src/model/weights.js';
import { saveModel } from '../src/model/writer.js';
import { bundled } from '../src/paths.js';
import { useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();
const tok = Llama2cTokenizer.fromFile(bundled.tokenizer());
const weights = loadModelWeights(bundled.model());
const src = inMemorySource(weights);

function top5(logits: Float32Array): { ids: number[]; values: number[] } {
  const ids = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]).slice(0, 5);
  return { ids, values: ids.map((i) => logits[i]) };
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-test-'));
}

describe('stories260K forward pass', () => {
  for (const which of ['gpu', 'cpu'] as const) {
    it(`${which}: logits after [BOS] have the known top-5`, async () => {
      const b: Backend = which === 'gpu' ? gpu() : cpu;
      const [logits] = await sequenceLogits(b, src, [[1]]);
      const t = top5(logits);
      expect(t.ids).toEqual([403, 385, 410, 317, 407]);
      const want = [17.0235, 15.4062, 13.1083, 12.7692, 12.4181];
      t.values.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-3));
    });
  }

  it('gpu: greedy generation from BOS tells the known story', async () => {
    const ids = [1];
    for (let i = 0; i < 16; i++) {
      const [logits] = await sequenceLogits(gpu(), src, [ids]);
      const last = logits.subarray((ids.length - 1) * 512, ids.length * 512);
      let best = 0;
      for (let j = 1; j < 512; j++) if (last[j] > last[best]) best = j;
      ids.push(best);
    }
    expect(tok.decode(ids)).toMatch(/^Once upon a time, there was a little girl named Lily\./);
  });

  it('gpu and cpu agree on a batch of sequences of different lengths', async () => {
    const seqs = [tok.encode('Once upon a time'), tok.encode('The cat sat on the mat and looked at the sun.'), tok.encode('Tom')];
    const g = await sequenceLogits(gpu(), src, seqs);
    const c = await sequenceLogits(cpu, src, seqs);
    for (let i = 0; i < seqs.length; i++) {
      let worst = 0;
      for (let j = 0; j < g[i].length; j++) worst = Math.max(worst, Math.abs(g[i][j] - c[i][j]));
      expect(worst).toBeLessThan(1e-3);
    }
  });
});

describe('perplexity, stories protocol, stories 1–200', () => {
  const text = fs.readFileSync(bundled.stories(), 'utf8');
  const seqs = storiesSequences(tok, text, '1:201', weights.config.maxSeqLen);
  for (const which of ['gpu', 'cpu'] as const) {
    it(`${which}: mean NLL 1.2859 ± 0.001 over 68,808 tokens`, async () => {
      const r = await sequencesPerplexity((which === 'gpu' ? gpu() : cpu) as Backend, src, seqs);
      expect(r.tokens).toBe(68808);
      expect(Math.abs(r.nll - 1.28589)).toBeLessThan(0.001);
      expect(Math.abs(r.ppl - 3.6179)).toBeLessThan(0.004);
    });
  }
});

describe('checkpoints written by slimllm give the same logits', () => {
  const probe = [tok.encode('Once upon a time, there was a big dog.')];
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

  it('llama2.c → Hugging Face conversion (q/k permuted to rotate-half): max |Δlogit| < 1e-4', async () => {
    const dir = path.join(tmpDir(), 'hf');
    saveModel(weights, dir, { tokenizerFile: bundled.tokenizer() });
    const conv = openModel(dir);
    expect(conv.config.ropeLayout).toBe('half');
    const [a] = await sequenceLogits(cpu, src, probe);
    const [b] = await sequenceLogits(cpu, conv, probe);
    expect(maxDiff(a, b)).toBeLessThan(1e-4);
    const [g] = await sequenceLogits(gpu(), conv, probe);
    expect(maxDiff(a, g)).toBeLessThan(1e-3);
  });

  it('bf16 and sharded checkpoints load and give the logits of the same weights', async () => {
    const root = tmpDir();
    saveModel(weights, path.join(root, 'sharded'), { maxShardBytes: 300_000 });
    expect(fs.existsSync(path.join(root, 'sharded', 'model.safetensors.index.json'))).toBe(true);
    const [a] = await sequenceLogits(cpu, src, probe);
    const [s] = await sequenceLogits(cpu, openModel(path.join(root, 'sharded')), probe);
    expect(maxDiff(a, s)).toBeLessThan(1e-4);

    saveModel(weights, path.join(root, 'bf16'), { dtype: 'BF16' });
    const rounded: ModelWeights = {
      ...weights,
      embedding: roundToBf16(weights.embedding),
      finalNorm: roundToBf16(weights.finalNorm),
      layers: weights.layers.map((l) => Object.fromEntries(Object.entries(l).map(([k, v]) => [k, v ? roundToBf16(v) : v])) as typeof l),
    };
    const [r] = await sequenceLogits(cpu, inMemorySource(rounded), probe);
    const [h] = await sequenceLogits(cpu, openModel(path.join(root, 'bf16')), probe);
    expect(maxDiff(r, h)).toBeLessThan(1e-4);
    expect(maxDiff(a, h)).toBeGreaterThan(0); // it really is bf16
  });
});
