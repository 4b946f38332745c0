// In-memory weights of one decoder layer, f32, row-major, checkpoint (nn.Linear) layout:
// a projection from `in` to `out` features is [out × in].
import type { LayerShape, ModelConfig } from './config.js';
import { permuteHalfToInterleaved, permuteInterleavedToHalf } from './rope-layout.js';

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

/** Reads layer `i`'s tensors by name (biases only where `shape` has them). */
export function readLayerTensors(names: Record<keyof LayerWeights, string>, shape: LayerShape, read: (name: string) => Float32Array): LayerWeights {
  return {
    attnNorm: read(names.attnNorm),
    wq: read(names.wq),
    wk: read(names.wk),
    wv: read(names.wv),
    wo: read(names.wo),
    oBias: shape.oBias ? read(names.oBias) : null,
    ffnNorm: read(names.ffnNorm),
    wGate: read(names.wGate),
    wUp: read(names.wUp),
    wDown: read(names.wDown),
    downBias: shape.downBias ? read(names.downBias) : null,
  };
}

/**
 * A writer's view of `src`'s layers: one layer is read at a time and kept while its tensors are
 * written, with q/k rows put into the RoPE layout `to` the output format uses.
 */
export function layersInLayout(src: ModelSource, to: 'interleaved' | 'half'): (i: number) => LayerWeights {
  const c = src.config;
  const permute = c.ropeLayout === to ? null : to === 'half' ? permuteInterleavedToHalf : permuteHalfToInterleaved;
  let cached: { i: number; w: LayerWeights } | null = null;
  return (i) => {
    if (cached?.i !== i) {
      const w = src.layer(i);
      const s = c.layers[i];
      cached = {
        i,
        w: permute ? { ...w, wq: permute(w.wq, s.nHeads, c.headDim, c.hiddenSize), wk: permute(w.wk, s.nKvHeads, c.headDim, c.hiddenSize) } : w,
      };
    }
    return cached.w;
  };
}

export function allZero(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

/** The layer shapes with biases that are exactly zero dropped (they carry nothing). */
export function withoutZeroBiases(shapes: readonly LayerShape[], layer: (i: number) => LayerWeights): LayerShape[] {
  return shapes.map((s, i) => {
    if (!s.oBias && !s.downBias) return { ...s };
    const w = layer(i);
    return { ...s, oBias: s.oBias && w.oBias !== null && !allZero(w.oBias), downBias: s.downBias && w.downBias !== null && !allZero(w.downBias) };
  });
}
