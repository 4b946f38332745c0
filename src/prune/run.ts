// One pruning run from validated options: the method's plan (methods.ts), the recovery, and the
// orchestrator. `prune()` (api.ts) and `compare` both come through here.
import type { Backend, Tensor } from '../kernels/backend.js';
import type { ModelSource } from '../model/weights.js';
import { layerStoreFor } from '../model/layer-store.js';
import { METHODS } from './methods.js';
import type { PruneOptions } from './options.js';
import { pruneModel, type PruneProgress, type PruneReport } from './orchestrator.js';
import { recoveryByName } from './recoveries.js';

/** Prunes `src` on `b` with calibration token ids `calib` and options from parsePruneOptions. */
export async function pruneWithOptions<T extends Tensor>(
  b: Backend<T>,
  src: ModelSource,
  calib: number[][],
  o: PruneOptions,
  onProgress?: (p: PruneProgress) => void,
): Promise<{ model: ModelSource; report: PruneReport }> {
  const recovery = recoveryByName(o.recovery, { lstsqDamping: o.lstsqDamping });
  const { method, ratios } = await METHODS[o.method].plan(b, src, calib, o, onProgress);
  const layerStore = layerStoreFor(o.layerStore, o.workDir);
  return pruneModel(b, src, calib, { method, recovery, ratios, headUnit: o.headUnit, batchRows: o.batchRows, layerStore }, onProgress);
}
