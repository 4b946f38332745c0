// The pruned module's forward from the inputs its statistics pass kept (orchestrator.ts,
// forwardFromInputs) against the forward that computes them again with the pruned layer: the
// same decisions and the same pruned weights, on both backends, for head groups and query heads.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/kernels/backend.js';
import { loadModelWeights } from '../src/model/load.js';
import { memoryLayerStore } from '../src/model/layer-store.js';
import { inMemorySource } from '../src/model/weights.js';
import { bundled } from '../src/paths.js';
import { pruneModel, type PruneRun } from '../src/prune/orchestrator.js';
import { regressionRecovery } from '../src/prune/recoveries.js';
import { slimllmMethod } from '../src/prune/slimllm.js';
import { useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();
const weights = loadModelWeights(bundled.model());
const calib = (JSON.parse(fs.readFileSync(new URL('./fixtures/stories260K-calib-32x128.json', import.meta.url), 'utf8')) as number[][]).slice(0, 8);

async function pruned(b: Backend, keptInputsBytes: number, headUnit: PruneRun['headUnit']) {
  const run: PruneRun = {
    method: slimllmMethod({ keepLowest: 0.01 }),
    recovery: regressionRecovery,
    ratios: { kind: 'layer-based', p: 0.4, K: 4, alpha: 10 },
    headUnit,
    batchRows: 256, // several batches, so each batch's kept input is used for its own rows
    layerStore: memoryLayerStore(),
    keptInputsBytes,
  };
  const { model, report } = await pruneModel(b, inMemorySource(weights), calib, run);
  const layers = Array.from({ length: model.config.nLayers }, (_, i) => model.layer(i));
  model.close();
  return { report, layers };
}

describe('the pruned forward from the kept inputs', () => {
  for (const which of ['gpu', 'cpu'] as const) {
    for (const headUnit of ['group', 'query'] as const) {
      it(`${which}, ${headUnit} units: same choices and pruned weights as computing the inputs again`, async () => {
        const b: Backend = which === 'gpu' ? gpu() : cpu;
        const again = await pruned(b, 0, headUnit);
        const kept = await pruned(b, 2 ** 30, headUnit);
        expect(kept.report.layers.map((l) => [l.keptHeadGroups, l.keptQueryHeads, l.keptChannels])).toEqual(
          again.report.layers.map((l) => [l.keptHeadGroups, l.keptQueryHeads, l.keptChannels]),
        );
        expect(kept.report.layers.filter((l) => l.keptChannels && l.keptChannels.length < weights.config.layers[l.index].ffnDim).length).toBeGreaterThan(1);
        for (const [i, w] of kept.layers.entries()) {
          for (const k of Object.keys(w) as (keyof typeof w)[]) {
            const got = w[k];
            const want = again.layers[i][k];
            if (got === null || want === null) expect(got).toBe(want);
            else expect(Array.from(got), `layer ${i} ${k}`).toEqual(Array.from(want));
          }
        }
      });
    }
  }
});
