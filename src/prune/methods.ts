// The pruning methods by name: how each one chooses units, how it spreads the removal over the
// layers, the recovery it uses unless told otherwise, and the options only it reads. `prune()`,
// option validation and `compare` all look methods up here; adding a method is one entry.
import type { Backend, Tensor } from '../kernels/backend.js';
import type { ModelSource } from '../model/weights.js';
import { baselineMethod, flapMethod, flapPlan } from './baselines.js';
import type { PruningMethod } from './module.js';
import { checkCalibration } from './calibration.js';
import type { PruneProgress } from './orchestrator.js';
import type { RatioPolicy } from './ratios.js';
import type { RecoveryName } from './recoveries.js';
import { obsMethod } from './obs.js';
import { slimllmMethod } from './slimllm.js';
import type { HeadUnit } from './units.js';

export type MethodName = 'slimllm' | 'obs' | 'flap' | 'wanda-sp' | 'magnitude' | 'random';

/** The validated options a method may read. */
export interface MethodSettings {
  layerRatio?: number;
  targetRatio?: number;
  /** Layers pruned (SlimLLM's K); the default is round(0.8·L). */
  prunedLayers?: number;
  alpha: number;
  keepLowest: number;
  seed: number;
  batchRows?: number;
  lstsqDamping: number;
  headUnit: HeadUnit;
}

export interface MethodEntry {
  defaultRecovery: RecoveryName;
  /** prune() options only this method reads: given with another method, they are refused. */
  options: readonly string[];
  /** The unit choice and the per-layer removal plan (which may need a dense pass, as FLAP's). */
  plan<T extends Tensor>(
    b: Backend<T>,
    src: ModelSource,
    calib: number[][],
    s: MethodSettings,
    onProgress?: (p: PruneProgress) => void,
  ): Promise<{ method: PruningMethod; ratios: RatioPolicy }>;
}

/** SlimLLM's K: the layers pruned, round(0.8·L) unless given. */
function layersPruned(src: ModelSource, s: MethodSettings): number {
  const L = src.config.nLayers;
  const K = s.prunedLayers ?? Math.max(1, Math.round(0.8 * L));
  if (K > L) throw new Error(`prunedLayers (K) = ${K} exceeds the model's ${L} layers`);
  return K;
}

/** One ratio for every layer, solved for the parameter target. */
function uniformMethod(name: 'wanda-sp' | 'magnitude' | 'random', options: readonly string[] = []): MethodEntry {
  return {
    defaultRecovery: 'none',
    options,
    plan: async (_b, _src, _calib, s) => ({
      method: baselineMethod(name, { seed: s.seed }),
      ratios: { kind: 'uniform', p: s.layerRatio, targetRatio: s.targetRatio },
    }),
  };
}

export const METHODS: Record<MethodName, MethodEntry> = {
  // SlimLLM: its own scores, layer-based ratios (docs/algorithm.md).
  slimllm: {
    defaultRecovery: 'regression',
    options: ['alpha', 'prunedLayers', 'keepLowest'],
    plan: async (_b, src, _calib, s) => ({
      method: slimllmMethod({ keepLowest: s.keepLowest }),
      ratios: { kind: 'layer-based', p: s.layerRatio, targetRatio: s.targetRatio, K: layersPruned(src, s), alpha: s.alpha },
    }),
  },
  // Error-aware selection: units chosen by the error left after the least-squares refit (obs.ts),
  // spread over the layers by SlimLLM's layer-based rule.
  obs: {
    defaultRecovery: 'lstsq',
    options: ['alpha', 'prunedLayers'],
    plan: async (_b, src, _calib, s) => ({
      method: obsMethod({ damping: s.lstsqDamping }),
      ratios: { kind: 'layer-based', p: s.layerRatio, targetRatio: s.targetRatio, K: layersPruned(src, s), alpha: s.alpha },
    }),
  },
  // FLAP: adaptive widths from one global threshold on the dense model's metrics.
  flap: {
    defaultRecovery: 'bias',
    options: [],
    plan: async (b, src, calib, s, onProgress) => {
      checkCalibration(src.config, calib);
      const widths = await flapPlan(b, src, calib, s.targetRatio ?? s.layerRatio ?? 0, {
        batchRows: s.batchRows,
        headUnit: s.headUnit,
        onProgress: (l, n) => onProgress?.({ layer: l, layers: n, phase: 'FLAP metrics (dense)' }),
      });
      return { method: flapMethod, ratios: { kind: 'explicit', heads: widths.heads, channels: widths.channels } };
    },
  },
  'wanda-sp': uniformMethod('wanda-sp'),
  magnitude: uniformMethod('magnitude'),
  random: uniformMethod('random', ['seed']),
};

export const METHOD_NAMES = Object.keys(METHODS) as readonly MethodName[];
