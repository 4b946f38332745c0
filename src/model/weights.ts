// In-memory weights of one decoder layer, f32, row-major, checkpoint (nn.Linear) layout:
// a projection from `in` to `out` features is [out × in].
import type { ModelConfig } from './config.js';

export interface LayerWeights {
  attnNorm: Float32Array; // [D]
  wq: Float32Array; // [H*d × D]
  wk: Float32Array; // [G*d × D]
  wv: Float32Array; // [G*d × D]
  wo: Float32Array; // [D × H*d]
  oBias: Float32Array | null; // [D]
  ffnNorm: Float32Array; // [D]
  wGate: Float32Array; // [F × D]
  wUp: Float32Array; // [F × D]
  wDown: Float32Array; // [D × F]
  downBias: Float32Array | null; // [D]
}

/**
 * A model whose weights are read on demand, one layer at a time, so that nothing needs the whole
 * model in memory. q/k rows are in the layout `config.ropeLayout` says.
 */
export interface ModelSource {
  readonly config: ModelConfig;
  /** Where it came from (path), for messages. */
  readonly origin: string;
  embedding(): Float32Array; // [V × D]
  layer(i: number): LayerWeights;
  finalNorm(): Float32Array; // [D]
  /** The output classifier [V × D] (the embedding when tied). */
  classifier(): Float32Array;
  close(): void;
}

/** A fully materialised model (what the pruner produces and the writer consumes). */
export interface ModelWeights {
  config: ModelConfig;
  embedding: Float32Array;
  layers: LayerWeights[];
  finalNorm: Float32Array;
  /** null when tied to the embedding. */
  classifier: Float32Array | null;
}

export function inMemorySource(w: ModelWeights, origin = 'memory'): ModelSource {
  return {
    config: w.config,
    origin,
    embedding: () => w.embedding,
    layer: (i) => w.layers[i],
    finalNorm: () => w.finalNorm,
    classifier: () => w.classifier ?? w.embedding,
    close: () => {},
  };
}
