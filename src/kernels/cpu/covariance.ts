// Streaming column covariance on the CPU: the twin of shaders/covariance.wgsl. Per chunk: column
// mean and Σx², the Gram matrix of the chunk centred on its own mean, then Chan's merge. Sums are
// f64 inside a chunk; the statistics are stored as f32 like the GPU's.
import type { CovStats } from '../backend.js';
import { dims2 } from '../shapes.js';
import { CpuTensor } from './tensor.js';

export function covInit(dim: number): CovStats<CpuTensor> {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`covInit: dim must be a positive integer, got ${dim}`);
  return {
    dim,
    count: 0,
    mean: CpuTensor.zeros([dim]),
    m2: CpuTensor.zeros([dim, dim]),
    sumsq: CpuTensor.zeros([dim]),
  };
}

export function covAccumulate(stats: CovStats<CpuTensor>, x: CpuTensor): void {
  const [M, K] = dims2(x);
  if (K !== stats.dim) {
    throw new Error(`covAccumulate: x [${x.shape}] has ${K} columns, the statistics have dim ${stats.dim}`);
  }
  if (M === 0) return;
  const X = x.data;

  // Chunk mean and Σx² (f64).
  const mu = new Float64Array(K);
  const sq = new Float64Array(K);
  for (let r = 0; r < M; r++) {
    const o = r * K;
    for (let c = 0; c < K; c++) {
      const v = X[o + c];
      mu[c] += v;
      sq[c] += v * v;
    }
  }
  for (let c = 0; c < K; c++) mu[c] /= M;

  // Upper triangle of G = Σ_r (x_r − μ)(x_r − μ)ᵀ, four rows at a time so each pass over G does
  // four rank-1 updates (G is the large operand: K² f64).
  const G = new Float64Array(K * K);
  const c0 = new Float64Array(K), c1 = new Float64Array(K), c2 = new Float64Array(K), c3 = new Float64Array(K);
  let r = 0;
  for (; r + 4 <= M; r += 4) {
    for (let c = 0; c < K; c++) {
      c0[c] = X[r * K + c] - mu[c];
      c1[c] = X[(r + 1) * K + c] - mu[c];
      c2[c] = X[(r + 2) * K + c] - mu[c];
      c3[c] = X[(r + 3) * K + c] - mu[c];
    }
    for (let i = 0; i < K; i++) {
      const a0 = c0[i], a1 = c1[i], a2 = c2[i], a3 = c3[i];
      const o = i * K;
      for (let j = i; j < K; j++) G[o + j] += a0 * c0[j] + a1 * c1[j] + a2 * c2[j] + a3 * c3[j];
    }
  }
  for (; r < M; r++) {
    for (let c = 0; c < K; c++) c0[c] = X[r * K + c] - mu[c];
    for (let i = 0; i < K; i++) {
      const a0 = c0[i];
      const o = i * K;
      for (let j = i; j < K; j++) G[o + j] += a0 * c0[j];
    }
  }

  // Chan: n = na + nb, δ = μb − μa, M2 = M2a + M2b + δδᵀ·na·nb/n, μ = μa + δ·nb/n.
  const na = stats.count;
  const n = na + M;
  const f = (na * M) / n;
  const w = M / n;
  const meanA = stats.mean.data;
  const m2 = stats.m2.data;
  const delta = new Float64Array(K);
  for (let c = 0; c < K; c++) delta[c] = mu[c] - meanA[c];
  for (let i = 0; i < K; i++) {
    const di = delta[i] * f;
    const o = i * K;
    for (let j = i; j < K; j++) {
      const g = G[o + j] + di * delta[j];
      m2[o + j] += g;
      if (j !== i) m2[j * K + i] += g;
    }
  }
  const sumsq = stats.sumsq.data;
  for (let c = 0; c < K; c++) {
    meanA[c] = meanA[c] + delta[c] * w;
    sumsq[c] += sq[c];
  }
  stats.count = n;
}

/** See Backend.columnSumsq (float64 sums, as covAccumulate's). */
export function columnSumsq(x: CpuTensor): CpuTensor {
  const [M, K] = dims2(x);
  const sq = new Float64Array(K);
  for (let r = 0; r < M; r++) {
    const o = r * K;
    for (let c = 0; c < K; c++) sq[c] += x.data[o + c] * x.data[o + c];
  }
  return new CpuTensor(Float32Array.from(sq), [K]);
}
