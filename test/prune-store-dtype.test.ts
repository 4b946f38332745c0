// The pruned-layer store keeps each tensor's dtype: from a 16-bit checkpoint, the rows the pruner
// slices stay 16-bit (the same bits), the recovered projections are f32, a layer left whole is
// the checkpoint's bits, and an F16 save of the pruned model writes those bits as they are; for a
// Hugging Face folder and a GGUF file alike.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diskLayerStore } from '../src/model/layer-store.js';
import { loadModelWeights, openModel } from '../src/model/load.js';
import { type ModelSource, type StoredTensor, widenStored } from '../src/model/weights.js';
import { saveModel } from '../src/model/writer.js';
import { bundled } from '../src/paths.js';
import { pruneModel } from '../src/prune/orchestrator.js';
import { regressionRecovery } from '../src/prune/recoveries.js';
import { slimllmMethod } from '../src/prune/slimllm.js';
import { useBackends } from './helpers.js';

const { cpu } = useBackends();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-store-dtype-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const calib = (JSON.parse(fs.readFileSync(new URL('./fixtures/stories260K-calib-32x128.json', import.meta.url), 'utf8')) as number[][]).slice(0, 8);

function bitsOf(t: StoredTensor): Uint16Array {
  if (t instanceof Float32Array) throw new Error('expected a 16-bit tensor, got f32');
  expect(t.dtype).toBe('F16');
  return t.bits;
}

describe('the pruned-layer store keeps the checkpoint dtype', () => {
  // The same model as an F16 folder and as an F16 GGUF: both are read as stored.
  for (const format of ['hf', 'gguf'] as const) {
    it(`${format}: sliced rows stay F16 (the same bits), recovered projections f32, a whole layer as stored; an F16 save copies the bits`, async () => {
      const f16 = path.join(tmp, format === 'hf' ? 'f16' : 'f16.gguf');
      saveModel(loadModelWeights(bundled.model()), f16, { dtype: 'F16' });
      const src = openModel(f16);
      const stored = (m: ModelSource, l: number) => m.storedLayer!(l);
      const c = src.config;
      const run = {
        method: slimllmMethod({ keepLowest: 0.01 }),
        recovery: regressionRecovery,
        ratios: { kind: 'layer-based' as const, p: 0.25, K: 4, alpha: 10 },
        layerStore: diskLayerStore(tmp),
      };
      const { model, report } = await pruneModel(cpu, src, calib, run);
      try {
        const whole = report.layers.find((l) => l.ratio === 0)!;
        const cut = report.layers.find((l) => l.keptChannels !== null && l.keptChannels.length < c.layers[l.index].ffnDim)!;
        expect(whole && cut).toBeTruthy();
        // A layer left whole: every tensor is the checkpoint's, bit for bit.
        const a = stored(model, whole.index);
        const b = stored(src, whole.index);
        for (const k of ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown'] as const) expect(Array.from(bitsOf(a[k])), k).toEqual(Array.from(bitsOf(b[k])));
        // A pruned layer: kept gate rows are the source's rows; down_proj is the recovered f32.
        const p = stored(model, cut.index);
        const srcGate = bitsOf(stored(src, cut.index).wGate);
        const D = c.hiddenSize;
        const gate = bitsOf(p.wGate);
        cut.keptChannels!.forEach((ch, i) => expect(Array.from(gate.subarray(i * D, (i + 1) * D)), `row ${ch}`).toEqual(Array.from(srcGate.subarray(ch * D, (ch + 1) * D))));
        expect(p.wDown).toBeInstanceOf(Float32Array);
        expect(Array.from(model.layer(cut.index).wGate)).toEqual(Array.from(widenStored(p.wGate)));
        // The F16 save of the pruned model, in the source's format, holds the same bits.
        const out = path.join(tmp, format === 'hf' ? 'pruned-f16' : 'pruned-f16.gguf');
        saveModel(model, out, { dtype: 'F16' });
        const back = openModel(out);
        expect(Array.from(bitsOf(stored(back, cut.index).wGate))).toEqual(Array.from(gate));
        back.close();
      } finally {
        model.close();
        src.close();
      }
    });
  }
});
