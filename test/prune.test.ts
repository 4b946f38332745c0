// SlimLLM end to end on stories260K: the shared fixture's decisions and perplexity (GPU and CPU),
// ratio 0 is the identity, bounds are reported, options are validated.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/kernels/backend.js';
import { storiesSequences } from '../src/corpus.js';
import { sequencesPerplexity } from '../src/eval/perplexity.js';
import { diskLayerStore } from '../src/model/layer-store.js';
import { loadModelWeights } from '../src/model/load.js';
import { sequenceLogits } from '../src/model/runner.js';
import { Llama2cTokenizer } from '../src/model/tokenizer.js';
import { inMemorySource } from '../src/model/weights.js';
import { bundled } from '../src/paths.js';
import { useBackends, usePrune } from './helpers.js';

const { gpu, cpu } = useBackends();
const prune = usePrune();
const tok = Llama2cTokenizer.fromFile(bundled.tokenizer());
const weights = loadModelWeights(bundled.model());
const calib = JSON.parse(fs.readFileSync(new URL('./fixtures/stories260K-calib-32x128.json', import.meta.url), 'utf8')) as number[][];
const expected = JSON.parse(fs.readFileSync(new URL('./fixtures/stories260K-slimllm-p0.25-K4-a10.expected.json', import.meta.url), 'utf8'));
const text = fs.readFileSync(bundled.stories(), 'utf8');
const evalSeqs = storiesSequences(tok, text, '1:201', weights.config.maxSeqLen);

describe('SlimLLM on stories260K matches the float64 reference', () => {
  for (const which of ['gpu', 'cpu'] as const) {
    it(`${which}: same layer scores, ratios, kept groups and channels, PPL within 0.5 %`, async () => {
      const b: Backend = which === 'gpu' ? gpu() : cpu;
      const { model, report } = await prune(weights, { layerRatio: 0.25, prunedLayers: 4, alpha: 10, calibration: { tokens: calib }, device: b });
      report.layerScores.forEach((s, i) => expect(Math.abs(s - expected.layerScores[i])).toBeLessThan(1e-4));
      report.ratios.forEach((r, i) => expect(Math.abs(r - expected.ratios[i])).toBeLessThan(1e-4));
      for (const want of expected.layers) {
        const got = report.layers[want.index];
        if (want.keptHeadGroups === null) {
          expect(got.ratio).toBe(0);
          expect(model.config.layers[want.index]).toEqual(weights.config.layers[want.index]);
        } else {
          expect({ layer: want.index, heads: got.keptHeadGroups }).toEqual({ layer: want.index, heads: want.keptHeadGroups });
          expect({ layer: want.index, channels: got.keptChannels }).toEqual({ layer: want.index, channels: want.keptChannels });
        }
      }
      expect(report.params).toMatchObject(expected.params_decoder_linear);
      const r = await sequencesPerplexity(b, model, evalSeqs);
      expect(r.tokens).toBe(expected.pruned.tokens);
      expect(Math.abs(r.ppl / expected.pruned.ppl - 1)).toBeLessThan(0.005);
    });
  }
});

describe('bounds and identities', () => {
  it('ratio 0 returns a model with identical logits', async () => {
    const { model, report } = await prune(weights, { layerRatio: 0, calibration: { tokens: calib.slice(0, 4) }, device: gpu() });
    expect(report.params.after).toBe(report.params.before);
    const probe = [tok.encode('Once upon a time, there was a little dog.')];
    const [a] = await sequenceLogits(cpu, inMemorySource(weights), probe);
    const [b] = await sequenceLogits(cpu, model, probe);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('a ratio that would remove every head group and channel keeps one of each and says so', async () => {
    const { model, report } = await prune(weights, { layerRatio: 0.99, prunedLayers: 1, alpha: 0, calibration: { tokens: calib.slice(0, 4) }, device: gpu() });
    const l = report.layers.find((x) => x.ratio > 0)!;
    expect(l.bounded).toBe(true);
    expect(l.keptHeadGroups).toHaveLength(1);
    expect(l.keptChannels!.length).toBeGreaterThanOrEqual(1);
    expect(model.config.layers[l.index].nKvHeads).toBe(1);
    const r = await sequencesPerplexity(gpu(), model, evalSeqs.slice(0, 3));
    expect(Number.isFinite(r.nll)).toBe(true);
  });

  it('targetRatio reaches the requested parameter fraction within one head group', async () => {
    const { report } = await prune(weights, { targetRatio: 0.2, calibration: { tokens: calib.slice(0, 4) }, device: gpu() });
    const c = weights.config;
    const group = 2 * (c.layers[0].nHeads / c.layers[0].nKvHeads) * c.headDim * c.hiddenSize + 2 * c.headDim * c.hiddenSize;
    expect(Math.abs(report.params.removedFraction - 0.2)).toBeLessThan(group / report.params.before);
  });
});

describe('option validation', () => {
  const base = { calibration: { tokens: calib.slice(0, 2) }, device: cpu };
  it.each([
    [{ layerRatio: 1 }, /layerRatio \(p\) must be in \[0, 1\)/],
    [{ layerRatio: -0.1 }, /layerRatio \(p\) must be in \[0, 1\)/],
    [{ targetRatio: 0.2, layerRatio: 0.2 }, /either targetRatio or layerRatio/],
    [{}, /give targetRatio/],
    [{ layerRatio: 0.2, prunedLayers: 6 }, /prunedLayers \(K\) = 6 exceeds the model's 5 layers/],
    [{ layerRatio: 0.2, calibration: { tokens: [] } }, /calibration is empty/],
    [{ layerRatio: 0.2, calibration: { tokens: [[1, 600]] } }, /token 600 is outside the model's vocabulary \(512\)/],
    [{ layerRatio: 0.2, calibration: { tokens: [Array(513).fill(1)] } }, /calibration length 513 exceeds the model's maximum sequence length 512/],
  ])('%j is rejected', async (o, msg) => {
    await expect(prune(weights, { ...base, ...o } as never)).rejects.toThrow(msg);
  });
});

describe('pruned layers wait on disk', () => {
  const o = { layerRatio: 0.25, prunedLayers: 4, alpha: 10, calibration: { tokens: calib.slice(0, 4) }, device: cpu };

  it('one safetensors file per layer in a private folder, the same weights as in memory, removed by close()', async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-store-test-'));
    try {
      const disk = await prune(weights, { ...o, workDir });
      const mem = await prune(weights, { ...o, layerStore: 'memory' });
      const [folder, ...others] = fs.readdirSync(workDir);
      expect(others).toEqual([]);
      const L = weights.config.nLayers;
      expect(fs.readdirSync(path.join(workDir, folder)).sort()).toEqual(Array.from({ length: L }, (_, i) => `layer-${i}.safetensors`).sort());
      expect(disk.model.config).toEqual(mem.model.config);
      for (let i = 0; i < L; i++) expect(disk.model.layer(i)).toEqual(mem.model.layer(i));
      disk.model.close();
      mem.model.close();
      expect(fs.readdirSync(workDir)).toEqual([]);
      expect(() => disk.model.layer(0)).toThrow(/closed/);
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });

  it('a layer being written is read from memory; after flush() from its file, the same bytes', async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-store-test-'));
    const store = diskLayerStore(workDir);
    try {
      const layer = weights.layers[1];
      store.put(1, layer);
      expect(store.getStored(1)).toBe(layer); // the write may still be under way
      await store.flush();
      const [folder] = fs.readdirSync(workDir);
      expect(fs.readdirSync(path.join(workDir, folder))).toEqual(['layer-1.safetensors']);
      const back = store.getStored(1);
      expect(back).not.toBe(layer);
      expect(back).toEqual(layer);
    } finally {
      store.close();
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });

  it('a failed layer write is reported by flush() and by every later put, naming the file', async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-store-test-'));
    const store = diskLayerStore(workDir);
    try {
      const [folder] = fs.readdirSync(workDir);
      const file = path.join(workDir, folder, 'layer-0.safetensors');
      fs.mkdirSync(file); // the write cannot replace a folder
      store.put(0, weights.layers[0]);
      await expect(store.flush()).rejects.toThrow(`${file}: writing pruned layer 0 failed: EISDIR`);
      expect(() => store.put(1, weights.layers[1])).toThrow(`${file}: writing pruned layer 0 failed`);
      expect(() => store.getStored(0)).toThrow(`${file}: writing pruned layer 0 failed`);
    } finally {
      store.close();
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });

  it('a prune that fails half-way leaves nothing behind', async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-store-test-'));
    try {
      const src = inMemorySource(weights);
      const broken = { ...src, layer: (i: number) => {
        if (i === 3) throw new Error('layer 3 is corrupt');
        return src.layer(i);
      } };
      await expect(prune(broken, { ...o, workDir })).rejects.toThrow('layer 3 is corrupt');
      expect(fs.readdirSync(workDir)).toEqual([]);
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });
});

