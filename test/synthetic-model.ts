// Small random models with a chosen shape per layer, for model I/O tests.
import type { LayerShape, ModelConfig } from '../src/model/config.js';
import type { ModelWeights } from '../src/model/weights.js';

/** Seeded uniform values in [-1, 1). */
export function rand(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export interface SyntheticOptions {
  tied?: boolean;
  ropeLayout?: 'half' | 'interleaved';
  hiddenSize?: number;
  headDim?: number;
  vocabSize?: number;
}

/** A small model with its own shape per layer (hidden 16, head dim 4, vocabulary 24 by default). */
export function syntheticModel(layers: LayerShape[], opts: SyntheticOptions = {}): ModelWeights {
  const D = opts.hiddenSize ?? 16;
  const d = opts.headDim ?? 4;
  const V = opts.vocabSize ?? 24;
  const config: ModelConfig = {
    architecture: 'LlamaForCausalLM',
    hiddenSize: D,
    nLayers: layers.length,
    headDim: d,
    vocabSize: V,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeLayout: opts.ropeLayout ?? 'half',
    tieEmbeddings: opts.tied ?? false,
    maxSeqLen: 64,
    bosTokenId: 1,
    eosTokenId: 2,
    layers,
  };
  let seed = 1;
  const r = (n: number) => rand(n, seed++);
  return {
    config,
    embedding: r(V * D),
    layers: layers.map((s) => ({
      attnNorm: r(D),
      wq: r(s.nHeads * d * D),
      wk: r(s.nKvHeads * d * D),
      wv: r(s.nKvHeads * d * D),
      wo: r(D * s.nHeads * d),
      oBias: s.oBias ? r(D) : null,
      ffnNorm: r(D),
      wGate: r(s.ffnDim * D),
      wUp: r(s.ffnDim * D),
      wDown: r(D * s.ffnDim),
      downBias: s.downBias ? r(D) : null,
    })),
    finalNorm: r(D),
    classifier: opts.tied ? null : r(V * D),
  };
}
