// Streaming covariance: chunks of different sizes merged with Chan's update must equal the one-shot
// f64 statistics of all rows, on the CPU and the GPU, including 1-row chunks, K % 4 != 0 (scalar
// loads), K over one 128-wide tile (mirrored off-diagonal blocks) and data on a large offset.
import { describe, expect, it } from 'vitest';
import type { CovStats, Tensor } from '../src/kernels/backend.js';
import { covAccumulate as gpuCovAccumulate } from '../src/kernels/gpu/covariance.js';
import { matmulConfig } from '../src/kernels/gpu/linear.js';
import { randn, useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

/** One-shot two-pass f64 statistics of the rows of X [M×K]. */
function reference(x: Float32Array, M: number, K: number) {
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
function data(M: number, K: number, offset: number, seed: number): Float32Array {
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
const TOL = {
  cpu: { m2: 2e-6, sumsq: 1e-6 },
  gpu: { m2: 1e-4, sumsq: 1e-5 },
};

/** Bound (b) above, per element, from the exact means of the prefix and of each chunk. */
function mergeBound(x: Float32Array, chunks: number[], K: number): Float64Array {
  const bound = new Float64Array(K * K);
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
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) bound[i * K + j] += f * (d[i] * e[j] + d[j] * e[i]);
    }
    for (let c = 0; c < K; c++) sum[c] += mb[c] * nb;
    na += nb;
    r0 += nb;
  }
  return bound;
}

async function check(
  kind: 'cpu' | 'gpu',
  stats: CovStats<Tensor>,
  read: (t: Tensor) => Promise<Float32Array>,
  x: Float32Array,
  chunks: number[],
  K: number,
) {
  const M = chunks.reduce((a, b) => a + b, 0);
  const ref = reference(x, M, K);
  const bound = mergeBound(x, chunks, K);
  expect(stats.count).toBe(M);
  const mean = await read(stats.mean);
  const m2 = await read(stats.m2);
  const sumsq = await read(stats.sumsq);
  for (let c = 0; c < K; c++) {
    expect(Math.abs(mean[c] - ref.mean[c]), `${kind} mean[${c}] ${mean[c]} vs ${ref.mean[c]}`).toBeLessThanOrEqual(
      1e-6 * Math.abs(ref.mean[c]) + 1e-6,
    );
    expect(Math.abs(sumsq[c] - ref.sumsq[c]), `${kind} sumsq[${c}]`).toBeLessThanOrEqual(TOL[kind].sumsq * ref.sumsq[c]);
  }
  let worst = 0;
  let at = -1;
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      const scale = Math.sqrt(ref.m2[i * K + i] * ref.m2[j * K + j]);
      const e = Math.abs(m2[i * K + j] - ref.m2[i * K + j]) / (TOL[kind].m2 * scale + bound[i * K + j]);
      if (!(e <= worst)) {
        worst = e;
        at = i * K + j;
      }
    }
  }
  expect(worst, `${kind} M2[${Math.floor(at / K)}, ${at % K}] = ${m2[at]}, want ${ref.m2[at]}`).toBeLessThanOrEqual(1);
}

function splitRows(M: number, rows: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < M; r += rows) out.push(Math.min(rows, M - r));
  return out;
}

const cases = [
  { name: 'K=37 (scalar loads), offset 1e3', K: 37, offset: 1e3, chunks: [7, 1, 64, 33, 1, 130] },
  { name: 'K=64 (vec4 loads), offset 1e3', K: 64, offset: 1e3, chunks: [50, 1, 1, 97, 20] },
  { name: 'K=130 (two tiles, mirrored blocks)', K: 130, offset: 3, chunks: [40, 1, 90] },
  { name: 'K=1', K: 1, offset: 1e3, chunks: [3, 1, 5] },
  { name: '1-row chunks only', K: 12, offset: 1e3, chunks: [1, 1, 1, 1, 1] },
];

describe('covariance', () => {
  it.each(cases)('chunked merge equals one-shot f64: $name', async ({ K, offset, chunks }) => {
    const M = chunks.reduce((a, b) => a + b, 0);
    const x = data(M, K, offset, K * 7 + chunks.length);
    const g = gpu();
    const sc = cpu.covInit(K);
    const sg = g.covInit(K);
    let r0 = 0;
    for (const rows of chunks) {
      const part = x.subarray(r0 * K, (r0 + rows) * K);
      cpu.covAccumulate(sc, cpu.upload(part.slice(), [rows, K]));
      const t = g.upload(part.slice(), [rows, K]);
      g.covAccumulate(sg, t);
      g.free(t);
      r0 += rows;
    }
    await check('cpu', sc, (t) => cpu.read(t as never), x, chunks, K);
    await check('gpu', sg, (t) => g.read(t as never), x, chunks, K);
    g.covFree(sg);
  });

  it('GPU: the other register tile, and row chunks for a too-large X', async () => {
    const g = gpu();
    const K = 40;
    const M = 150;
    const x = data(M, K, 1e3, 5);
    const def = matmulConfig(g.ctx);
    const other = def.WIDE ? { WG_X: 16, WG_Y: 16, BK: 16, WIDE: false } : { WG_X: 8, WG_Y: 8, BK: 16, WIDE: true };
    for (const opts of [{ config: other }, { maxBindingBytes: 4096 }]) {
      const s = g.covInit(K);
      const t = g.upload(x, [M, K]);
      gpuCovAccumulate(g.ctx, s, t, opts);
      g.free(t);
      // The pretend 4 KiB binding limit splits X into chunks of floor(3072 / (4K)) = 19 rows.
      const chunks = 'maxBindingBytes' in opts ? splitRows(M, Math.floor((4096 * 0.75) / (K * 4))) : [M];
      await check('gpu', s, (u) => g.read(u as never), x, chunks, K);
      g.covFree(s);
    }
  });

  it('rejects a chunk with the wrong number of columns', () => {
    const g = gpu();
    const sc = cpu.covInit(4);
    expect(() => cpu.covAccumulate(sc, cpu.upload(new Float32Array(6), [2, 3]))).toThrow(/3 columns.*dim 4/);
    const sg = g.covInit(4);
    expect(() => g.covAccumulate(sg, g.upload(new Float32Array(6), [2, 3]))).toThrow(/3 columns.*dim 4/);
    g.covFree(sg);
  });
});
