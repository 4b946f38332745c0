// The synthetic checkpoint generator of the benchmarks: a tiny-shaped 2-layer model is a valid
// Hugging Face checkpoint, deterministic per seed and layer, numerically sane, and prunes end to
// end through the benchmark's own run (CPU and GPU).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runOnce } from '../bench/prune.js';
import { EMBED_STD, SHAPE_SPECS, syntheticCalibration, writeSyntheticCheckpoint } from '../bench/synth.js';
import { CpuBackend } from '../src/kernels/cpu/index.js';
import { openHf } from '../src/model/hf.js';
import { sequenceLogits } from '../src/model/runner.js';
import { assertFinite, assertFiniteStored, SafetensorsFile, writeSafetensors } from '../src/model/safetensors.js';
import { storedRows, widenLayer } from '../src/model/weights.js';
import { roundToBf16 } from '../src/model/half.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-synth-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const dir2 = path.join(tmp, 'tiny2');
const written = writeSyntheticCheckpoint(dir2, { shape: 'tiny', layers: 2, seed: 7 });

describe('the checkpoint as stored', () => {
  it('storedLayer keeps f16 bits that widen (host or device) to layer()', async () => {
    const src = openHf(dir2);
    try {
      const stored = src.storedLayer!(1);
      expect(stored.wq).not.toBeInstanceOf(Float32Array);
      expect(widenLayer(stored)).toEqual(src.layer(1));
      const cpu = new CpuBackend();
      const t = cpu.widenHalf((stored.wGate as { bits: Uint16Array }).bits, 'F16', [src.layer(1).wGate.length]);
      expect(t.data).toEqual(src.layer(1).wGate);
    } finally {
      src.close();
    }
  });

  it('16-bit bits are written as they are in their own dtype, widened or narrowed in another; token rows widen alone', () => {
    const src = openHf(dir2);
    try {
      const emb = src.storedEmbedding!();
      expect(emb).not.toBeInstanceOf(Float32Array);
      const wide = src.embedding();
      for (const dtype of ['F16', 'F32', 'BF16'] as const) {
        const file = path.join(tmp, `emb-${dtype}.safetensors`);
        writeSafetensors(file, [{ name: 'e', shape: [wide.length], data: () => emb }], { dtype });
        const f = SafetensorsFile.open(file);
        try {
          if (dtype === 'F16') expect(Array.from((f.readStored('e') as { bits: Uint16Array }).bits)).toEqual(Array.from((emb as { bits: Uint16Array }).bits));
          expect(f.read('e')).toEqual(dtype === 'BF16' ? roundToBf16(wide) : wide);
        } finally {
          f.close();
        }
      }
      const D = src.config.hiddenSize;
      const ids = [3, 0, 3, src.config.vocabSize - 1];
      expect(storedRows(emb, ids, D, src.config.vocabSize)).toEqual(Float32Array.from(ids.flatMap((id) => Array.from(wide.subarray(id * D, (id + 1) * D)))));
      expect(() => storedRows(emb, [src.config.vocabSize], D, src.config.vocabSize)).toThrow(`token id ${src.config.vocabSize} at position 0 is outside the vocabulary`);
    } finally {
      src.close();
    }
  });

  it('a non-finite f16 weight is refused without widening, with the message the f32 check gives', () => {
    const file = path.join(tmp, 'inf.safetensors');
    writeSafetensors(file, [{ name: 'w', shape: [3], data: new Float32Array([1, 2, 3]) }], { dtype: 'F16' });
    const fd = fs.openSync(file, 'r+');
    const size = fs.fstatSync(fd).size;
    fs.writeSync(fd, Buffer.from([0x00, 0xfc]), 0, 2, size - 2); // last element: -Inf
    fs.closeSync(fd);
    const f = SafetensorsFile.open(file);
    try {
      expect(() => assertFiniteStored(f.readStored('w'), 'inf.safetensors')).toThrow('inf.safetensors: element 2 is -Infinity (weights must be finite)');
      expect(() => assertFinite(f.read('w'), 'inf.safetensors')).toThrow('inf.safetensors: element 2 is -Infinity (weights must be finite)');
    } finally {
      f.close();
    }
  });
});

describe('writeSyntheticCheckpoint', () => {
  it('writes a loadable Hugging Face folder with the shape asked for', () => {
    const s = SHAPE_SPECS.tiny;
    const src = openHf(dir2);
    try {
      const c = src.config;
      expect(c.nLayers).toBe(2);
      expect(c.hiddenSize).toBe(s.hidden);
      expect(c.vocabSize).toBe(s.vocab);
      expect(c.layers[1]).toEqual({ nHeads: s.heads, nKvHeads: s.kvHeads, ffnDim: s.ffn, oBias: false, downBias: false });
      const raw = JSON.parse(fs.readFileSync(path.join(dir2, 'config.json'), 'utf8'));
      expect(raw.architectures).toEqual(['LlamaForCausalLM']);
      expect(raw.torch_dtype).toBe('float16');
      expect(fs.statSync(path.join(dir2, 'model.safetensors')).size).toBe(written.bytes);
      const w = src.layer(1);
      expect(Array.from(w.attnNorm).every((v) => v === 1)).toBe(true);
      const std = (a: Float32Array) => Math.sqrt(a.reduce((x, v) => x + v * v, 0) / a.length);
      expect(std(w.wq)).toBeGreaterThan(0.019);
      expect(std(w.wq)).toBeLessThan(0.021);
      expect(Math.abs(std(src.embedding()) / EMBED_STD - 1)).toBeLessThan(0.02);
    } finally {
      src.close();
    }
  });

  it('is deterministic per seed, and `layers` keeps the same first layers', () => {
    const one = openHf(writeSyntheticCheckpoint(path.join(tmp, 'tiny1'), { shape: 'tiny', layers: 1, seed: 7 }).dir);
    const other = openHf(writeSyntheticCheckpoint(path.join(tmp, 'tiny1b'), { shape: 'tiny', layers: 1, seed: 8 }).dir);
    const two = openHf(dir2);
    try {
      expect(Array.from(one.layer(0).wDown)).toEqual(Array.from(two.layer(0).wDown));
      expect(Array.from(one.embedding())).toEqual(Array.from(two.embedding()));
      expect(Array.from(other.layer(0).wDown)).not.toEqual(Array.from(two.layer(0).wDown));
    } finally {
      for (const s of [one, other, two]) s.close();
    }
  });

  it('gives finite, non-degenerate logits', async () => {
    const src = openHf(dir2);
    try {
      const calib = syntheticCalibration(src.config.vocabSize, 2, 16, 1);
      const logits = await sequenceLogits(new CpuBackend(), src, calib);
      for (const l of logits) {
        expect(l.every(Number.isFinite)).toBe(true);
        const mean = l.reduce((a, v) => a + v, 0) / l.length;
        const sd = Math.sqrt(l.reduce((a, v) => a + (v - mean) ** 2, 0) / l.length);
        expect(sd).toBeGreaterThan(1e-3);
      }
    } finally {
      src.close();
    }
  });
});

describe('the benchmark run on the synthetic model', () => {
  const calibFile = path.join(tmp, 'calib.json');
  fs.writeFileSync(calibFile, JSON.stringify(syntheticCalibration(SHAPE_SPECS.tiny.vocab, 4, 32, 0)));
  const variants = [
    { device: 'cpu', layerStore: 'disk' },
    { device: 'gpu', layerStore: 'disk' },
    { device: 'gpu', layerStore: 'memory' },
  ] as const;
  for (const { device, layerStore } of variants) {
    it(`${device} (layers kept in ${layerStore}): prunes both layers, reports phases and memory, writes and cleans up`, async () => {
      const writeDir = path.join(tmp, `out-${device}-${layerStore}`);
      const r = await runOnce({ model: dir2, calib: calibFile, device, layerStore, p: 0.25, alpha: 10, writeDir, quiet: true });
      expect(r.layerScores).toHaveLength(2);
      for (const s of r.layerScores) {
        expect(s).toBeGreaterThan(0);
        expect(s).toBeLessThan(1);
      }
      expect(r.removedFraction).toBeGreaterThan(0.1);
      expect(r.ms).toBeGreaterThan(0);
      expect(r.phases.forward).toBeGreaterThan(0);
      expect(r.phases.write).toBeGreaterThan(0);
      expect(r.peakRssMB).toBeGreaterThan(0);
      // Every phase splits into host time and device wait that add up to it.
      for (const [phase, ms] of Object.entries(r.phases)) {
        const { host, device: wait } = r.phaseSplit[phase as keyof typeof r.phases];
        expect(host).toBeGreaterThanOrEqual(0);
        expect(wait).toBeGreaterThanOrEqual(0);
        expect(Math.abs(host + wait - ms)).toBeLessThan(0.15);
      }
      expect(r.phaseSplit.write.device).toBe(0);
      if (device === 'gpu') expect(r.phaseSplit.forward.device).toBeGreaterThan(0);
      expect(r.hostMs).toBeCloseTo(r.phaseSplit.other.host + r.phaseSplit.write.host, 1);
      if (device === 'gpu') {
        expect(r.peakGpuMB).toBeGreaterThan(0);
        expect(r.gpuLiveAfterMB).toBe(0);
      } else {
        expect(r.peakGpuMB).toBeNull();
      }
      expect(fs.existsSync(writeDir)).toBe(false);
    });
  }
});
