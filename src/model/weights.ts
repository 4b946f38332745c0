// In-memory weights of one decoder layer, f32, row-major, checkpoint (nn.Linear) layout:
// a projection from `in` to `out` features is [out × in].
import type { HalfDtype } from '../kernels/backend.js';
import { widenBf16, widenF16 } from '../kernels/cpu/widen.js';
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

/** A checkpoint file (or Hugging Face folder) and its format: enough to open it again elsewhere. */
export interface SourceFile {
  format: 'hf' | 'llama2c' | 'gguf';
  path: string;
}

/** A tensor as the checkpoint stores it: f32 values, or f16/bf16 bits not yet widened. */
export type StoredTensor = Float32Array | { dtype: HalfDtype; bits: Uint16Array };

/** A layer's tensors as stored (what a device upload takes: 16-bit weights are widened there). */
export type StoredLayer = { [K in keyof LayerWeights]: null extends LayerWeights[K] ? StoredTensor | null : StoredTensor };

/** Element count of a stored tensor. */
export function storedLength(t: StoredTensor): number {
  return t instanceof Float32Array ? t.length : t.bits.length;
}

/** `f` applied to a stored tensor's array, in its own dtype (f32 values or 16-bit bits). */
export function mapStored(t: StoredTensor, f: <A extends Float32Array | Uint16Array>(a: A) => A): StoredTensor {
  return t instanceof Float32Array ? f(t) : { dtype: t.dtype, bits: f(t.bits) };
}

/** Throws naming `origin` unless 0 ≤ i < nLayers: every source's check of a layer index. */
export function checkLayerIndex(origin: string, nLayers: number, i: number): void {
  if (!(i >= 0 && i < nLayers)) throw new Error(`${origin}: layer ${i} out of range (0..${nLayers - 1})`);
}

/** Layer `i` of `src` as stored where the source keeps 16-bit weights, else in f32. */
export function storedLayerOf(src: ModelSource, i: number): StoredLayer {
  return src.storedLayer ? src.storedLayer(i) : src.layer(i);
}

/** f32 values of a stored tensor (f16/bf16 widened on the host). */
export function widenStored(t: StoredTensor): Float32Array {
  if (t instanceof Float32Array) return t;
  return t.dtype === 'BF16' ? widenBf16(t.bits) : widenF16(t.bits);
}

/** Rows `ids` of a stored [V × D] table, widened: the embedding of those tokens. */
export function storedRows(t: StoredTensor, ids: ArrayLike<number>, D: number, V: number): Float32Array {
  const out = new Float32Array(ids.length * D);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new Error(`token id ${id} at position ${i} is outside the vocabulary (${V})`);
    const row = out.subarray(i * D, (i + 1) * D);
    if (t instanceof Float32Array) row.set(t.subarray(id * D, (id + 1) * D));
    else (t.dtype === 'BF16' ? widenBf16 : widenF16)(t.bits.subarray(id * D, (id + 1) * D), row);
  }
  return out;
}

/** The f32 layer of a stored one. */
export function widenLayer(w: StoredLayer): LayerWeights {
  const out = {} as Record<keyof LayerWeights, Float32Array | null>;
  for (const k of Object.keys(w) as (keyof LayerWeights)[]) out[k] = w[k] === null ? null : widenStored(w[k]!);
  return out as unknown as LayerWeights;
}

/**
 * A model whose weights are read on demand, one layer at a time, so that nothing needs the whole
 * model in memory. q/k rows are in the layout `config.ropeLayout` says.
 */
export interface ModelSource {
  readonly config: ModelConfig;
  /** Where it came from (path), for messages. */
  readonly origin: string;
  /**
   * The file this source reads, for a reader in another thread to open the same weights (layer-reader.ts);
   * absent where the weights are not in a file of their own (in memory, the pruner's layer store).
   */
  readonly reopen?: SourceFile;
  embedding(): Float32Array; // [V × D]
  layer(i: number): LayerWeights;
  /**
   * Layer `i` as stored, where the source keeps 16-bit weights (so an upload moves half the bytes
   * and widens on the device); the same values as `layer(i)`, checked finite the same way.
   */
  storedLayer?(i: number): StoredLayer;
  /** The embedding as stored (f16/bf16 bits kept): calibration widens only its tokens' rows, an F16 save copies the bits. */
  storedEmbedding?(): StoredTensor;
  /** The classifier as stored (see storedEmbedding). */
  storedClassifier?(): StoredTensor;
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
export function readLayerTensors<A extends StoredTensor = Float32Array>(
  names: Record<keyof LayerWeights, string>,
  shape: LayerShape,
  read: (name: string) => A,
): { [K in keyof LayerWeights]: null extends LayerWeights[K] ? A | null : A } {
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
 * A writer's view of `src`'s layers: one layer is read at a time (as stored, where the source
 * keeps 16-bit weights: a save in that dtype copies the bits) and kept while its tensors are
 * written, with q/k rows put into the RoPE layout `to` the output format uses.
 */
export function layersInLayout(src: ModelSource, to: 'interleaved' | 'half'): (i: number) => StoredLayer {
  const c = src.config;
  const permute = c.ropeLayout === to ? null : to === 'half' ? permuteInterleavedToHalf : permuteHalfToInterleaved;
  const rows = (t: StoredTensor, heads: number): StoredTensor => mapStored(t, (a) => permute!(a, heads, c.headDim, c.hiddenSize));
  let cached: { i: number; w: StoredLayer } | null = null;
  return (i) => {
    if (cached?.i !== i) {
      const w = storedLayerOf(src, i);
      const s = c.layers[i];
      cached = { i, w: permute ? { ...w, wq: rows(w.wq, s.nHeads), wk: rows(w.wk, s.nKvHeads) } : w };
    }
    return cached.w;
  };
}

/** Rows `rows` of a stored row-major [· × n] tensor, in its own dtype. */
export function takeStoredRows(t: StoredTensor, n: number, rows: readonly number[]): StoredTensor {
  return mapStored(t, <A extends Float32Array | Uint16Array>(a: A): A => {
    const out = (a instanceof Float32Array ? new Float32Array(rows.length * n) : new Uint16Array(rows.length * n)) as A;
    rows.forEach((r, i) => out.set(a.subarray(r * n, (r + 1) * n) as never, i * n));
    return out;
  });
}

export function allZero(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

/** The layer shapes with biases that are exactly zero dropped (they carry nothing). */
export function withoutZeroBiases(shapes: readonly LayerShape[], layer: (i: number) => StoredLayer): LayerShape[] {
  return shapes.map((s, i) => {
    if (!s.oBias && !s.downBias) return { ...s };
    const w = layer(i);
    const nonZero = (b: StoredTensor | null) => b !== null && !allZero(widenStored(b));
    return { ...s, oBias: s.oBias && nonZero(w.oBias), downBias: s.downBias && nonZero(w.downBias) };
  });
}
