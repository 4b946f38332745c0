// Shared by the covariance tests: f64 reference statistics, test data, tolerances and their reasons.
import { randn } from './helpers.js';

/** One-shot two-pass f64 statistics of the rows of X [M×K]. */
export function reference(x: Float32Array, M: number, K: number) {
  const mean = new Float64Array(K);
  const sumsq = new Float64Array(K);
  for (let r = 0; r < M; r++) {
    for (let c = 0; c < K; c++) {
      mean[c] += x[r * K + c];
      sumsq[c] += x[r * K + c] ** 2;
    }
  }
  for (let c = 0; c < K; c++) mean[c] /= M;
  const m2 = new Float64Array(K * K);
  const d = new Float64Array(K);
  for (let r = 0; r < M; r++) {
    for (let c = 0; c < K; c++) d[c] = x[r * K + c] - mean[c];
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) m2[i * K + j] += d[i] * d[j];
  }
  return { mean, m2, sumsq };
}

/** Rows with column c ~ offset + (1 + c % 3)·N(0,1), plus a shared factor so columns correlate. */
export function data(M: number, K: number, offset: number, seed: number): Float32Array {
  const z = randn(M * K, seed);
  const f = randn(M, seed + 1);
  const x = new Float32Array(M * K);
  for (let r = 0; r < M; r++) {
    for (let c = 0; c < K; c++) x[r * K + c] = offset + (1 + (c % 3)) * z[r * K + c] + 0.5 * f[r];
  }
  return x;
}

// Tolerances, and why:
// - mean: f32 storage of values near the offset → 2⁻²⁴·|μ|; chunk means and merges add a few such
//   roundings: |Δμ| ≤ 1e-6·|μ| + 1e-6.
// - M2 element (i, j): two parts.
//   (a) Relative to √(M2ii·M2jj) (the natural scale: |M2ij| ≤ it). CPU: f64 chunks, f32 storage
//       after each merge (≤ 2⁻²⁴ each, ≤ 6 merges) → 2e-6. GPU: f32 Gram over ≤ 300 rows of
//       centred values (≤ 300·6e-8 ≈ 2e-5) → 1e-4 with margin.
//   (b) The merge term δδᵀ·na·nb/n uses δ = μb − μa from means held in f32 (the statistics store
//       them so), each off by up to ~2 ulp of |μ| (e = 2·2⁻²³·|μ|, 1.2e-4 at offset 1e3). That is a
//       first-order error Σ_merges f·(|δi|·ej + |δj|·ei), f = na·nb/n, computed below from the exact
//       f64 chunk means. It dominates for few rows on a large offset and fades as n grows.
//   Without centring each chunk (Σx² − nμ²) the error at offset 1e3 would be ~n·μ²·6e-8 ≈ 20 per
//   element, far above both.
// - sumsq: f32 sums of ~1e6-sized squares (Kahan within a chunk, plain adds across chunks) → 1e-5.
export const TOL = {
  cpu: { m2: 2e-6, sumsq: 1e-6 },
  gpu: { m2: 1e-4, sumsq: 1e-5 },
};

/**
 * Bound (b) above, per element, from the exact means of the prefix and of each chunk; for the M2
 * rows `rows` (default all; the full K² bound is too big at K = 11008), indexed [ri·K + j].
 */
export function mergeBound(x: Float32Array, chunks: number[], K: number, rows: readonly number[] = Array.from({ length: K }, (_, i) => i)): Float64Array {
  const bound = new Float64Array(rows.length * K);
  const sum = new Float64Array(K);
  let na = 0;
  let r0 = 0;
  for (const nb of chunks) {
    const mb = new Float64Array(K);
    for (let r = r0; r < r0 + nb; r++) for (let c = 0; c < K; c++) mb[c] += x[r * K + c] / nb;
    if (na > 0) {
      const f = (na * nb) / (na + nb);
      const d = new Float64Array(K);
      const e = new Float64Array(K);
      for (let c = 0; c < K; c++) {
        d[c] = Math.abs(mb[c] - sum[c] / na);
        e[c] = 2 * 2 ** -23 * Math.abs(mb[c]);
      }
      rows.forEach((i, ri) => {
        for (let j = 0; j < K; j++) bound[ri * K + j] += f * (d[i] * e[j] + d[j] * e[i]);
      });
    }
    for (let c = 0; c < K; c++) sum[c] += mb[c] * nb;
    na += nb;
    r0 += nb;
  }
  return bound;
}
