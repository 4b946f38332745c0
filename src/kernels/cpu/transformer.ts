// CPU twins of the transformer kernels: RMSNorm, RoPE (both layouts) and causal GQA attention.
import type { AttentionOptions, RopeOptions } from '../backend.js';
import { attentionDims, dims2 } from '../shapes.js';
import { CpuTensor } from './tensor.js';

export function rmsnorm(x: CpuTensor, weight: CpuTensor, eps: number): CpuTensor {
  const [rows, D] = dims2(x);
  if (weight.size !== D) throw new Error(`rmsnorm: weight has ${weight.size} values, rows have ${D}`);
  const out = new Float32Array(x.size);
  const xd = x.data;
  const w = weight.data;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let ss = 0;
    for (let j = 0; j < D; j++) ss += xd[o + j] * xd[o + j];
    const inv = 1 / Math.sqrt(ss / D + eps);
    for (let j = 0; j < D; j++) out[o + j] = xd[o + j] * inv * w[j];
  }
  return new CpuTensor(out, x.shape);
}

/** Inverse frequency of rotary pair i (0 ≤ i < d/2): θ^(−2i/d), as llama2.c and HF compute it. */
export function ropeInvFreq(i: number, headDim: number, theta: number): number {
  return 1 / Math.pow(theta, (2 * i) / headDim);
}

export function rope(x: CpuTensor, o: RopeOptions): CpuTensor {
  const [rows, width] = dims2(x);
  const { nHeads, headDim, seqLen, theta, layout } = o;
  if (width !== nHeads * headDim) throw new Error(`rope: rows have ${width} values, expected ${nHeads}×${headDim}`);
  if (headDim % 2 !== 0) throw new Error(`rope: head dim ${headDim} is odd`);
  const half = headDim / 2;
  const out = new Float32Array(x.data);
  for (let r = 0; r < rows; r++) {
    const pos = (r % seqLen) + (o.posOffset ?? 0);
    for (let h = 0; h < nHeads; h++) {
      const base = r * width + h * headDim;
      for (let i = 0; i < half; i++) {
        const ang = pos * ropeInvFreq(i, headDim, theta);
        const c = Math.cos(ang);
        const s = Math.sin(ang);
        const a = layout === 'interleaved' ? base + 2 * i : base + i;
        const b = layout === 'interleaved' ? a + 1 : a + half;
        const x0 = x.data[a];
        const x1 = x.data[b];
        out[a] = x0 * c - x1 * s;
        out[b] = x0 * s + x1 * c;
      }
    }
  }
  return new CpuTensor(out, x.shape);
}

export function attention(q: CpuTensor, k: CpuTensor, v: CpuTensor, o: AttentionOptions): CpuTensor {
  const { seqLen: T, nHeads: H, nKvHeads: G, headDim: d } = o;
  const [rows, qw] = attentionDims(q, k, v, o);
  const groupSize = H / G;
  const kw = G * d;
  const scale = 1 / Math.sqrt(d);
  const out = new Float32Array(rows * qw);
  const scores = new Float64Array(T);
  const qd = q.data;
  const kd = k.data;
  const vd = v.data;
  for (let b = 0; b < rows / T; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / groupSize);
      for (let t = 0; t < T; t++) {
        const qo = (b * T + t) * qw + h * d;
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          const ko = (b * T + s) * kw + g * d;
          let dot = 0;
          for (let j = 0; j < d; j++) dot += qd[qo + j] * kd[ko + j];
          scores[s] = dot * scale;
          if (scores[s] > max) max = scores[s];
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) {
          scores[s] = Math.exp(scores[s] - max);
          sum += scores[s];
        }
        for (let s = 0; s <= t; s++) {
          const p = scores[s] / sum;
          const vo = (b * T + s) * kw + g * d;
          for (let j = 0; j < d; j++) out[qo + j] += p * vd[vo + j];
        }
      }
    }
  }
  return new CpuTensor(out, [rows, qw]);
}
