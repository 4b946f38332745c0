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
import { SafetensorsFile, writeStoredTensors } from './safetensors.js';
import { type LayerWeights, type ModelSource, type StoredLayer, type StoredTensor, widenLayer, widenStored } from './weights.js';
import type { ModelConfig } from './config.js';

export interface LayerStore {
  /**
   * Keeps layer i (its arrays must not change afterwards). The disk store writes it while the caller
   * goes on; flush() waits for that write and says if it failed.
   */
  put(i: number, w: StoredLayer): void;
  /** Waits until every layer put so far is written; throws the first write's failure. */
  flush(): Promise<void>;
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
    flush: async () => {},
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
  // Layers being written, held until their file is whole (a read meanwhile gets them from here).
  const writing = new Map<number, { layer: StoredLayer; done: Promise<void> }>();
  let failure: Error | null = null;
  const getStored = (i: number): StoredLayer => {
    if (closed) throw new Error('the pruned model was closed: its layers are gone (save it before closing)');
    const w = writing.get(i);
    if (w) return w.layer;
    if (failure) throw failure;
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
      if (failure) throw failure;
      const tensors = KEYS.filter((k) => w[k] !== null).map((k) => ({ name: k, data: w[k] as StoredTensor }));
      const done = writeStoredTensors(file(i), tensors).then(
        () => void writing.delete(i),
        (e: Error) => {
          failure ??= new Error(`${file(i)}: writing pruned layer ${i} failed: ${e.message}`);
          writing.delete(i);
        },
      );
      writing.set(i, { layer: w, done });
    },
    async flush() {
      await Promise.all([...writing.values()].map((w) => w.done));
      if (failure) throw failure;
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
