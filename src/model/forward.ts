// The decoder forward pass, written once over the Backend interface (so the GPU path and its CPU
// twin share every line). Weights are uploaded one layer at a time; passes watch the inside of a
// layer through taps, and the pruner computes a module's inputs alone (attentionInput, mlpInputs).
import type { Backend, Tensor } from '../kernels/backend.js';
import type { LayerShape, ModelConfig } from './config.js';
import { type LayerWeights, type StoredLayer, type StoredTensor, storedLength, storedRows } from './weights.js';

/** One decoder layer's weights on a backend. */
export interface DeviceLayer<T extends Tensor = Tensor> {
  shape: LayerShape;
  attnNorm: T;
  wq: T;
  wk: T;
  wv: T;
  wo: T;
  oBias: T | null;
  ffnNorm: T;
  wGate: T;
  wUp: T;
  wDown: T;
  downBias: T | null;
}

export function uploadLayer<T extends Tensor>(b: Backend<T>, c: ModelConfig, l: number, w: LayerWeights | StoredLayer): DeviceLayer<T> {
  const s = c.layers[l];
  const D = c.hiddenSize;
  const d = c.headDim;
  // f16/bf16 tensors go up as their 16-bit words and are widened on the device.
  const up = (t: StoredTensor, shape: number[], what: string): T => {
    const n = shape.reduce((a, x) => a * x, 1);
    if (storedLength(t) !== n) throw new Error(`layer ${l} ${what}: ${storedLength(t)} values, expected ${n}`);
    return t instanceof Float32Array ? b.upload(t, shape) : b.widenHalf(t.bits, t.dtype, shape);
  };
  return {
    shape: s,
    attnNorm: up(w.attnNorm, [D], 'input_layernorm'),
    wq: up(w.wq, [s.nHeads * d, D], 'q_proj'),
    wk: up(w.wk, [s.nKvHeads * d, D], 'k_proj'),
    wv: up(w.wv, [s.nKvHeads * d, D], 'v_proj'),
    wo: up(w.wo, [D, s.nHeads * d], 'o_proj'),
    oBias: w.oBias ? up(w.oBias, [D], 'o_proj bias') : null,
    ffnNorm: up(w.ffnNorm, [D], 'post_attention_layernorm'),
    wGate: up(w.wGate, [s.ffnDim, D], 'gate_proj'),
    wUp: up(w.wUp, [s.ffnDim, D], 'up_proj'),
    wDown: up(w.wDown, [D, s.ffnDim], 'down_proj'),
    downBias: w.downBias ? up(w.downBias, [D], 'down_proj bias') : null,
  };
}

export function freeLayer<T extends Tensor>(b: Backend<T>, dl: DeviceLayer<T>): void {
  for (const t of [dl.attnNorm, dl.wq, dl.wk, dl.wv, dl.wo, dl.oBias, dl.ffnNorm, dl.wGate, dl.wUp, dl.wDown, dl.downBias]) {
    if (t) b.free(t);
  }
}

/** Per-head attention outputs before o_proj, Z [rows, H·d], for x = RMSNorm_att(h). */
export function attentionHeads<T extends Tensor>(b: Backend<T>, c: ModelConfig, dl: DeviceLayer<T>, x: T, seqLen: number): T {
  const { nHeads, nKvHeads } = dl.shape;
  const headDim = c.headDim;
  const rope = { seqLen, headDim, theta: c.ropeTheta, layout: c.ropeLayout };
  const q0 = b.linear(x, dl.wq);
  const k0 = b.linear(x, dl.wk);
  const v = b.linear(x, dl.wv);
  const q = b.rope(q0, { ...rope, nHeads });
  const k = b.rope(k0, { ...rope, nHeads: nKvHeads });
  b.free(q0);
  b.free(k0);
  const z = b.attention(q, k, v, { seqLen, nHeads, nKvHeads, headDim });
  b.free(q);
  b.free(k);
  b.free(v);
  return z;
}

/** SwiGLU hidden activations before down_proj, [rows, F], for x = RMSNorm_ffn(h). */
export function mlpHidden<T extends Tensor>(b: Backend<T>, dl: DeviceLayer<T>, x: T): T {
  const g = b.linear(x, dl.wGate);
  const u = b.linear(x, dl.wUp);
  const hid = b.swiglu(g, u);
  b.free(g);
  b.free(u);
  return hid;
}

/**
 * What a pass may watch inside a layer (statistics, layer scores). A tap sees a tensor the layer
 * computes anyway and must not free or keep it.
 */
export interface LayerTaps<T extends Tensor = Tensor> {
  /** o_proj's input: per-head attention outputs Z [rows, H·d]. */
  heads?: (z: T) => void;
  /** The MLP's input after its RMSNorm [rows, D]. */
  mlpInput?: (x: T) => void;
  /** down_proj's input: SwiGLU hidden activations [rows, F]. */
  mlpHidden?: (hid: T) => void;
  /** The layer's input and output hidden states [rows, D]. */
  output?: (input: T, output: T) => void;
}

/** Z = attention heads of RMSNorm_att(h) [rows, H·d]: o_proj's input. */
export function attentionInput<T extends Tensor>(b: Backend<T>, c: ModelConfig, dl: DeviceLayer<T>, h: T, seqLen: number): T {
  const x = b.rmsnorm(h, dl.attnNorm, c.rmsNormEps);
  const z = attentionHeads(b, c, dl, x, seqLen);
  b.free(x);
  return z;
}

/** x = RMSNorm_ffn(h) and the SwiGLU hidden activations of x: the MLP's input and down_proj's. */
export function mlpInputs<T extends Tensor>(b: Backend<T>, c: ModelConfig, dl: DeviceLayer<T>, h: T): { x: T; hid: T } {
  const x = b.rmsnorm(h, dl.ffnNorm, c.rmsNormEps);
  return { x, hid: mlpHidden(b, dl, x) };
}

/** h + W·z (+ bias): an output projection added to the residual stream; frees z. */
export function residual<T extends Tensor>(b: Backend<T>, h: T, z: T, w: T, bias: T | null): T {
  const y = b.linear(z, w, bias);
  b.free(z);
  const out = b.add(h, y);
  b.free(y);
  return out;
}

/** h + o_proj(attention(RMSNorm(h))). */
export function attentionBlock<T extends Tensor>(b: Backend<T>, c: ModelConfig, dl: DeviceLayer<T>, h: T, seqLen: number, taps: LayerTaps<T> = {}): T {
  const z = attentionInput(b, c, dl, h, seqLen);
  taps.heads?.(z);
  return residual(b, h, z, dl.wo, dl.oBias);
}

/** h + down_proj(SwiGLU(RMSNorm(h))). */
export function mlpBlock<T extends Tensor>(b: Backend<T>, c: ModelConfig, dl: DeviceLayer<T>, h: T, taps: LayerTaps<T> = {}): T {
  const { x, hid } = mlpInputs(b, c, dl, h);
  taps.mlpInput?.(x);
  b.free(x);
  taps.mlpHidden?.(hid);
  return residual(b, h, hid, dl.wDown, dl.downBias);
}

/** One full decoder layer over a batch of equal-length sequences (rows = batch·seqLen). */
export function decoderLayer<T extends Tensor>(b: Backend<T>, c: ModelConfig, dl: DeviceLayer<T>, h: T, seqLen: number, taps: LayerTaps<T> = {}): T {
  const h1 = attentionBlock(b, c, dl, h, seqLen, taps);
  const h2 = mlpBlock(b, c, dl, h1, taps);
  b.free(h1);
  taps.output?.(h, h2);
  return h2;
}

/** Embedding rows for token ids, gathered on the host (the table never goes to the device). */
export function embedTokens(c: ModelConfig, table: StoredTensor, ids: ArrayLike<number>): Float32Array {
  return storedRows(table, ids, c.hiddenSize, c.vocabSize);
}
