// Where the pruner puts each finished layer. Holding every pruned layer in memory makes host
// memory grow with the layer count (~130 MB f32 per TinyLlama layer at 25 %); the disk store
// writes each layer to its own safetensors file in a private temporary folder as soon as it is
// done and reads it back on demand, so pruning a 22- or 32-layer model holds about one layer.
// Each tensor keeps its own dtype (exact): the rows sliced from a 16-bit checkpoint stay 16-bit,
// the recovered projections f32. The pruned model is then a ModelSource over the store; closing
// it removes the folder.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeOnExit, removeStale } from '../cleanup.js';
import { SafetensorsFile, writeSafetensors } from './safetensors.js';
import { type LayerWeights, type ModelSource, type StoredLayer, type StoredTensor, storedLength, widenLayer, widenStored } from './weights.js';
import type { ModelConfig } from './config.js';

export interface LayerStore {
  put(i: number, w: StoredLayer): void;
  /** Layer i in f32. */
  get(i: number): LayerWeights;
  /** Layer i as it was put (16-bit tensors kept). */
  getStored(i: number): StoredLayer;
  /** Releases what the store holds (the disk store removes its folder). Idempotent. */
  close(): void;
}

export function memoryLayerStore(): LayerStore {
  const layers = new Map<number, StoredLayer>();
  const getStored = (i: number) => {
    const w = layers.get(i);
    if (!w) throw new Error(`pruned layer ${i} is not in the store`);
    return w;
  };
  return {
    put: (i, w) => void layers.set(i, w),
    get: (i) => widenLayer(getStored(i)),
    getStored,
    close: () => layers.clear(),
  };
}

const KEYS: (keyof LayerWeights)[] = ['attnNorm', 'wq', 'wk', 'wv', 'wo', 'oBias', 'ffnNorm', 'wGate', 'wUp', 'wDown', 'downBias'];


/**
 * Each layer in `<parent>/slimllm-layers-<pid>-XXXXXX/layer-<i>.safetensors` (parent: the OS temp folder
 * unless given). Needs free disk space of about the pruned model's f32 size.
 */
export function diskLayerStore(parent = os.tmpdir()): LayerStore {
  fs.mkdirSync(parent, { recursive: true });
  // Folders of runs that died without cleaning up (killed outright) go first; this store's folder
  // is removed when it is closed, or at exit if it never is (see cleanup.ts).
  removeStale(parent, /^slimllm-layers-(\d+)-/);
  const dir = fs.mkdtempSync(path.join(parent, `slimllm-layers-${process.pid}-`));
  const forget = removeOnExit(dir);
  const file = (i: number) => path.join(dir, `layer-${i}.safetensors`);
  let closed = false;
  const getStored = (i: number): StoredLayer => {
    if (closed) throw new Error('the pruned model was closed: its layers are gone (save it before closing)');
    if (!fs.existsSync(file(i))) throw new Error(`pruned layer ${i} is not in the store (${file(i)})`);
    const f = SafetensorsFile.open(file(i));
    try {
      const read = (k: keyof LayerWeights) => (f.has(k) ? f.readStored(k) : null);
      const w = Object.fromEntries(KEYS.map((k) => [k, read(k)])) as unknown as StoredLayer;
      for (const k of KEYS) {
        if (w[k] === null && k !== 'oBias' && k !== 'downBias') throw new Error(`${file(i)}: tensor '${k}' is missing`);
      }
      return w;
    } finally {
      f.close();
    }
  };
  return {
    put(i, w) {
      if (closed) throw new Error('the pruned-layer store is closed');
      const tensors = KEYS.filter((k) => w[k] !== null).map((k) => {
        const a = w[k] as StoredTensor;
        return { name: k, shape: [storedLength(a)], data: a, dtype: a instanceof Float32Array ? ('F32' as const) : a.dtype };
      });
      writeSafetensors(file(i), tensors);
    },
    get: (i) => widenLayer(getStored(i)),
    getStored,
    close() {
      if (closed) return;
      closed = true;
      fs.rmSync(dir, { recursive: true, force: true });
      forget();
    },
  };
}

/** The store `prune()`'s `layerStore` option names ('disk' in `workDir`, or 'memory'). */
export function layerStoreFor(kind: 'disk' | 'memory', workDir?: string): LayerStore {
  return kind === 'memory' ? memoryLayerStore() : diskLayerStore(workDir);
}

/** The pruned model: layers from the store, the rest held in memory. close() closes the store. */
export function storedModel(
  config: ModelConfig,
  store: LayerStore,
  parts: { embedding: StoredTensor; finalNorm: Float32Array; classifier: StoredTensor | null },
  origin = 'pruned model',
): ModelSource {
  const layerIndex = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= config.nLayers) throw new Error(`${origin}: no layer ${i} (it has ${config.nLayers})`);
    return i;
  };
  return {
    config,
    origin,
    // 16-bit parts stay as stored: widened for each caller that wants f32, copied as they are by an F16 save.
    embedding: () => widenStored(parts.embedding),
    storedEmbedding: () => parts.embedding,
    layer: (i) => store.get(layerIndex(i)),
    storedLayer: (i) => store.getStored(layerIndex(i)),
    finalNorm: () => parts.finalNorm,
    classifier: () => widenStored(parts.classifier ?? parts.embedding),
    storedClassifier: () => parts.classifier ?? parts.embedding,
    close: () => store.close(),
  };
}
