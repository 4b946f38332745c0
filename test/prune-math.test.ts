// CPU-only checks of the pruning math (src/prune/{ratios,heads,channels,regression}.ts).
// Each statistics-route result is compared with a brute-force float64 computation on materialised
// per-group outputs / hidden activations (the way the reference code does it), where the
// statistics route is fed fp32 moments of the same data — as the GPU orchestrator will.
import { unitColumns } from '../src/prune/module.js';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/kernels/backend.js';
import { layerRatios, unitsToPrune } from '../src/prune/ratios.js';
import { groupCrossCovFromProducts, headSetScore } from '../src/prune/heads.js';
import { selectChannels } from '../src/prune/channels.js';
import { channelScores, eigenWeights, groupCrossCov, outputCovariance, selectHeadGroups } from './reference/slimllm-cpu.js';
import { regressionFromCov } from '../src/prune/regression.js';
import { roundHalfEven } from '../src/prune/stats-math.js';
import { regressionProducts, weightedDownNorms } from '../src/prune/products.js';
import { rng, useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

// ---------- deterministic data ----------

/** Standard normals, rounded to fp32 so both routes see exactly the same numbers. */
function randn(n: number, seed: number, scale = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = Math.fround(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()) * scale);
  }
  return out;
}

/** Correlated rows with non-zero column means: X = N·L + μ, L random [n×n]. */
function correlatedRows(M: number, n: number, seed: number): Float64Array {
  const N = randn(M * n, seed);
  const L = randn(n * n, seed + 1, 1 / Math.sqrt(n));
  const mu = randn(n, seed + 2, 0.5);
  const X = new Float64Array(M * n);
  for (let r = 0; r < M; r++) {
    for (let j = 0; j < n; j++) {
      let s = mu[j];
      for (let i = 0; i < n; i++) s += N[r * n + i] * (L[i * n + j] + (i === j ? 1 : 0));
      X[r * n + j] = Math.fround(s);
    }
  }
  return X;
}

/** Two-pass float64 moments, cast to fp32 like the GPU statistics. */
function moments(X: Float64Array, M: number, n: number) {
  const mean = new Float64Array(n);
  for (let r = 0; r < M; r++) for (let j = 0; j < n; j++) mean[j] += X[r * n + j];
  for (let j = 0; j < n; j++) mean[j] /= M;
  const m2 = new Float64Array(n * n);
  const sumsq = new Float64Array(n);
  for (let r = 0; r < M; r++) {
    for (let i = 0; i < n; i++) {
      const xi = X[r * n + i];
      sumsq[i] += xi * xi;
      const di = xi - mean[i];
      for (let j = 0; j < n; j++) m2[i * n + j] += di * (X[r * n + j] - mean[j]);
    }
  }
  return { mean: Float32Array.from(mean), m2: Float32Array.from(m2), sumsq: Float32Array.from(sumsq), count: M };
}

/** A·Bᵀ for row-major A [r×k], B [c×k]. */
function matmulT(A: Float64Array, B: Float64Array, r: number, k: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += A[i * k + t] * B[j * k + t];
      out[i * c + j] = s;
    }
  }
  return out;
}

function columnPearson(X: Float64Array, Y: Float64Array, M: number, D: number, c: number): number {
  let mx = 0;
  let my = 0;
  for (let r = 0; r < M; r++) {
    mx += X[r * D + c];
    my += Y[r * D + c];
  }
  mx /= M;
  my /= M;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let r = 0; r < M; r++) {
    const dx = X[r * D + c] - mx;
    const dy = Y[r * D + c] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / M / (Math.sqrt(sxx / M) * Math.sqrt(syy / M)) : 0;
}

function expectRelClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const tol = rel * Math.max(Math.abs(expected[i]), 1e-3 * scale, 1e-12);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`${what}[${i}]: ${actual[i]} vs ${expected[i]} (tol ${tol})`);
    }
  }
}

// ---------- brute-force attention reference ----------

interface HeadCase {
  name: string;
  H: number;
  G: number;
  d: number;
  D: number;
  M: number;
  seed: number;
}

function headProblem(hc: HeadCase) {
  const n = hc.H * hc.d;
  const cpg = (hc.H / hc.G) * hc.d;
  const Z = correlatedRows(hc.M, n, hc.seed);
  const wo = randn(hc.D * n, hc.seed + 10, 1 / Math.sqrt(n));
  // O_g = Z[:,S_g] · W_o[:,S_g]ᵀ, materialised [M × D].
  const O: Float64Array[] = [];
  for (let g = 0; g < hc.G; g++) {
    const Og = new Float64Array(hc.M * hc.D);
    for (let r = 0; r < hc.M; r++) {
      for (let c = 0; c < hc.D; c++) {
        let s = 0;
        for (let j = g * cpg; j < (g + 1) * cpg; j++) s += Z[r * n + j] * wo[c * n + j];
        Og[r * hc.D + c] = s;
      }
    }
    O.push(Og);
  }
  const sumOf = (set: readonly number[]) => {
    const X = new Float64Array(hc.M * hc.D);
    for (const g of set) for (let i = 0; i < X.length; i++) X[i] += O[g][i];
    return X;
  };
  const all = Array.from({ length: hc.G }, (_, g) => g);
  const Y = sumOf(all);
  const F = (set: readonly number[]) => {
    const X = sumOf(set);
    let f = 0;
    for (let c = 0; c < hc.D; c++) f += Math.abs(columnPearson(X, Y, hc.M, hc.D, c));
    return f;
  };
  return { n, cpg, Z, wo, F, all };
}

/** The reference's selection loop, with explicit set evaluation. */
function bruteSelect(G: number, F: (set: readonly number[]) => number, nPrune: number) {
  const all = Array.from({ length: G }, (_, g) => g);
  const sims = all.map((g) => F(all.filter((k) => k !== g)));
  const rank = [...all].sort((a, b) => sims[b] - sims[a] || a - b);
  const prunedRank = rank.slice(0, nPrune);
  let index = rank.slice(nPrune);
  let best = F(index);
  const fBefore = best;
  let swaps = 0;
  for (const p of prunedRank) {
    let indexM = index;
    for (let j = 0; j < index.length; j++) {
      const cand = [...index];
      cand[j] = p;
      const f = F(cand);
      if (f > best) {
        best = f;
        indexM = cand;
      }
    }
    if (indexM !== index) swaps++;
    index = indexM;
  }
  return { sims, kept: [...index].sort((a, b) => a - b), fBefore, fAfter: best, swaps };
}

const headCases: HeadCase[] = [
  { name: 'MHA H=G=4 d=3 D=10', H: 4, G: 4, d: 3, D: 10, M: 200, seed: 11 },
  { name: 'GQA H=6 G=2 d=4 D=9', H: 6, G: 2, d: 4, D: 9, M: 200, seed: 21 },
  { name: 'GQA H=6 G=3 d=4 D=9', H: 6, G: 3, d: 4, D: 9, M: 200, seed: 31 },
  { name: 'MHA H=G=8 d=2 D=6', H: 8, G: 8, d: 2, D: 6, M: 200, seed: 41 },
];

const swapSeen: boolean[] = [];

describe('head groups (section 4)', () => {
  for (const hc of headCases) {
    it(`${hc.name}: scores, greedy search and Σ products match brute force`, () => {
      const { n, cpg, Z, wo, F } = headProblem(hc);
      const st = moments(Z, hc.M, n);
      const wo32 = Float32Array.from(wo);
      let sawSwap = false;
      for (let nPrune = 0; nPrune < hc.G; nPrune++) {
        const ref = bruteSelect(hc.G, F, nPrune);
        const got = selectHeadGroups(wo32, hc.D, st, hc.G, cpg, nPrune);
        expectRelClose(got.scores, ref.sims, 1e-4, 'sim');
        expect(got.kept).toEqual(ref.kept);
        expect(got.kept.length).toBe(hc.G - nPrune);
        expect([...got.kept, ...got.pruned].sort((a, b) => a - b)).toEqual(Array.from({ length: hc.G }, (_, g) => g));
        expect(got.swaps).toBe(ref.swaps);
        expectRelClose([got.fBefore, got.fAfter], [ref.fBefore, ref.fAfter], 1e-4, 'f*');
        expect(got.fAfter).toBeGreaterThanOrEqual(got.fBefore);
        if (got.swaps > 0) sawSwap = true;
      }
      // Products route (what the GPU would supply) gives the same Σ as the CPU route.
      const C = new Float64Array(n * n);
      for (let i = 0; i < n * n; i++) C[i] = st.m2[i] / st.count;
      const viaCpu = groupCrossCov(wo32, hc.D, hc.G, cpg, st.m2, 1 / st.count);
      const viaProducts = groupCrossCovFromProducts(wo32, hc.D, hc.G, cpg, (g) => {
        const B = new Float64Array(hc.D * n);
        for (let c = 0; c < hc.D; c++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let i = g * cpg; i < (g + 1) * cpg; i++) s += wo32[c * n + i] * C[i * n + j];
            B[c * n + j] = s;
          }
        }
        return B;
      });
      expectRelClose(viaProducts, viaCpu, 1e-10, 'Σ');
      // Keep the record of whether the search changed anything (asserted over all cases below).
      swapSeen.push(sawSwap);
    });
  }
  it('the greedy search swapped at least once across the cases', () => {
    expect(swapSeen.some((s) => s)).toBe(true);
  });

  it('a zero group gives Pearson 0, not NaN; nPrune bounds', () => {
    const D = 5;
    const G = 3;
    const cpg = 2;
    const n = G * cpg;
    const Z = correlatedRows(100, n, 5);
    const st = moments(Z, 100, n);
    const wo = Float32Array.from(randn(D * n, 6));
    for (let c = 0; c < D; c++) for (let j = 0; j < cpg; j++) wo[c * n + j] = 0; // group 0 is silent
    const sigma = groupCrossCov(wo, D, G, cpg, st.m2, 1 / st.count);
    expect(headSetScore(sigma, G, D, [0])).toBe(0);
    const sel = selectHeadGroups(wo, D, st, G, cpg, G - 1);
    expect(sel.kept.length).toBe(1);
    expect(sel.kept[0]).not.toBe(0);
    expect(sel.scores.every(Number.isFinite)).toBe(true);
    expect(() => selectHeadGroups(wo, D, st, G, cpg, G)).toThrow(/nPrune/);
    expect(() => selectHeadGroups(wo, D, st, G, cpg, -1)).toThrow(/nPrune/);
    expect(() => selectHeadGroups(wo, D, st, G, cpg, 0.5)).toThrow(/nPrune/);
    expect(() => selectHeadGroups(wo.subarray(1), D, st, G, cpg, 1)).toThrow(/wo/);
    expect(unitColumns([2, 0], 3)).toEqual([6, 7, 8, 0, 1, 2]);
  });
});

// ---------- regression (section 6) ----------

describe('regression recovery (section 6)', () => {
  function bruteRegression(h: Float64Array, M: number, n: number, w: Float64Array, D: number, kept: number[], bias: Float64Array | null) {
    const a = new Float64Array(D);
    const b = new Float64Array(D);
    for (let c = 0; c < D; c++) {
      let sx = 0, sy = 0, sxx = 0, sxy = 0;
      for (let r = 0; r < M; r++) {
        let x = 0;
        for (const j of kept) x += w[c * n + j] * h[r * n + j];
        let y = bias ? bias[c] : 0;
        for (let j = 0; j < n; j++) y += w[c * n + j] * h[r * n + j];
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
      }
      // Normal equations of min Σ (y − a x − b)²: [sxx sx; sx M][a; b] = [sxy; sy].
      const det = sxx * M - sx * sx;
      a[c] = (sxy * M - sx * sy) / det;
      b[c] = (sxx * sy - sx * sxy) / det;
    }
    return { a, b };
  }

  it('matches explicit least squares on materialised x_c, y_c (with and without an old bias)', () => {
    const M = 200, n = 12, D = 10;
    const h = correlatedRows(M, n, 77);
    const w = randn(D * n, 78, 0.5);
    const w32 = Float32Array.from(w);
    const kept = [0, 1, 2, 6, 7, 8, 9, 10, 11];
    const st = moments(h, M, n);
    for (const bias of [null, randn(D, 79)]) {
      const ref = bruteRegression(h, M, n, w, D, kept, bias);
      const got = regressionFromCov({ w: w32, D, n, mean: st.mean, m2: st.m2, count: M, kept, bias: bias ? Float32Array.from(bias) : null });
      expectRelClose(got.a, ref.a, 1e-4, 'a');
      expectRelClose(got.b, ref.b, 1e-4, 'b');
      expect(got.summary.degenerate).toBe(0);
      for (let c = 0; c < D; c++) {
        for (let i = 0; i < kept.length; i++) {
          expect(got.newWeight[c * kept.length + i]).toBeCloseTo(got.a[c] * w32[c * n + kept[i]], 5);
        }
      }
      expect(Array.from(got.newBias)).toEqual(Array.from(Float32Array.from(got.b)));
    }
  });

  it('the precomputed-products route equals the CPU route', () => {
    const M = 150, n = 9, D = 7;
    const h = correlatedRows(M, n, 90);
    const w = Float32Array.from(randn(D * n, 91));
    const kept = [8, 1, 4, 5]; // unsorted on purpose: columns follow this order
    const st = moments(h, M, n);
    const full = new Float64Array(D * kept.length);
    const kk = new Float64Array(D * kept.length);
    for (let c = 0; c < D; c++) {
      kept.forEach((col, i) => {
        let s = 0;
        for (let j = 0; j < n; j++) s += w[c * n + j] * st.m2[j * n + col];
        full[c * kept.length + i] = s;
        let t = 0;
        for (const j of kept) t += w[c * n + j] * st.m2[j * n + col];
        kk[c * kept.length + i] = t;
      });
    }
    const cpu = regressionFromCov({ w, D, n, mean: st.mean, m2: st.m2, count: M, kept });
    const gpuLike = regressionFromCov({ w, D, n, mean: st.mean, count: M, kept, products: { full, kept: kk } });
    expectRelClose(gpuLike.a, cpu.a, 1e-10, 'a');
    expectRelClose(gpuLike.b, cpu.b, 1e-10, 'b');
    expect(gpuLike.newWeight[0]).toBeCloseTo(cpu.a[0] * w[0 * n + 8], 5);
  });

  it('regressionProducts (kept columns of M2 only, whole or in blocks of kept rows) on both backends equal the float64 products', async () => {
    const M = 200, n = 37, D = 9;
    const h = correlatedRows(M, n, 92);
    const w = Float32Array.from(randn(D * n, 93));
    const st = moments(h, M, n);
    const m2 = Float32Array.from(st.m2);
    for (const kept of [[36, 0, 5, 6, 7, 20, 21, 30], Array.from({ length: n }, (_, j) => j)]) {
      const nk = kept.length;
      for (const [b, blockBytes] of [[cpu, undefined], [gpu(), undefined], [cpu, 3 * n * 4], [gpu(), 3 * n * 4]] as [Backend, number | undefined][]) {
        const t = b.upload(m2, [n, n]);
        const wt = b.upload(w, [D, n]);
        const got = await regressionProducts(b, wt, D, n, t, kept, blockBytes); // blocks of 3 kept rows, or all at once
        b.free(t);
        b.free(wt);
        for (let c = 0; c < D; c++) {
          kept.forEach((col, i) => {
            let full = 0, part = 0, mag = 0;
            for (let j = 0; j < n; j++) {
              const v = w[c * n + j] * m2[j * n + col];
              full += v;
              mag += Math.abs(v);
              if (kept.includes(j)) part += v;
            }
            const where = `${b.deviceName} kept ${nk} block ${blockBytes}: [${c}, ${i}]`;
            expect(Math.abs(got.full[c * nk + i] - full), where).toBeLessThanOrEqual(1e-5 * mag);
            expect(Math.abs(got.kept[c * nk + i] - part), where).toBeLessThanOrEqual(1e-5 * mag);
          });
        }
      }
    }
  });

  it('zero variance of x_c gives a = 1, b = mean(y) − mean(x), no NaN', () => {
    const M = 100, n = 6, D = 4;
    const h = correlatedRows(M, n, 3);
    for (let r = 0; r < M; r++) h[r * n + 2] = 1.5; // constant input column
    const w = Float32Array.from(randn(D * n, 4));
    const kept = [0, 1, 2];
    for (const j of kept) w[0 * n + j] = 0; // channel 0: nothing kept feeds it
    w[1 * n + 0] = 0; w[1 * n + 1] = 0; // channel 1: only the constant column is kept
    const st = moments(h, M, n);
    const bias = Float32Array.from([0.25, -1, 0, 2]);
    const got = regressionFromCov({ w, D, n, mean: st.mean, m2: st.m2, count: M, kept, bias });
    expect(got.summary.degenerate).toBe(2);
    for (const c of [0, 1]) {
      expect(got.a[c]).toBe(1);
      let meanY = bias[c];
      for (let j = 0; j < n; j++) meanY += w[c * n + j] * st.mean[j];
      let meanX = 0;
      for (const j of kept) meanX += w[c * n + j] * st.mean[j];
      expect(got.b[c]).toBeCloseTo(meanY - meanX, 10);
    }
    expect([...got.a, ...got.b, ...got.newWeight].every(Number.isFinite)).toBe(true);
    expect(() => regressionFromCov({ w, D, n, mean: st.mean, count: M, kept })).toThrow(/m2 or products/);
    expect(() => regressionFromCov({ w, D, n, mean: st.mean, m2: st.m2, count: M, kept: [0, 0] })).toThrow(/repeated/);
    expect(() => regressionFromCov({ w, D, n, mean: st.mean, m2: st.m2, count: M, kept: [6] })).toThrow(/out of range/);
  });
});

// ---------- FFN channels (section 5) ----------

/** Cyclic Jacobi eigensolver for a symmetric [n×n] matrix: values and eigenvectors as columns. */
function jacobiEigen(S: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(S);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = A[i * n + i];
  return { values, vectors: V };
}

describe('FFN channels (section 5)', () => {
  const M = 200, D = 8, F = 13;
  const X = correlatedRows(M, D, 500);
  const wg = randn(F * D, 501, 0.5);
  const wu = randn(F * D, 502, 0.5);
  const wd = randn(D * F, 503, 0.3);
  const G1 = matmulT(X, wg, M, D, F);
  const U1 = matmulT(X, wu, M, D, F);
  const Hh = new Float64Array(M * F);
  for (let i = 0; i < Hh.length; i++) Hh[i] = (G1[i] / (1 + Math.exp(-G1[i]))) * U1[i];
  const Y = matmulT(Hh, wd, M, F, D);

  function bruteScores(): Float64Array {
    const nrm = new Float64Array(D);
    const mk = new Float64Array(F);
    for (let r = 0; r < M; r++) {
      for (let j = 0; j < D; j++) nrm[j] += X[r * D + j] ** 2;
      for (let k = 0; k < F; k++) mk[k] += Hh[r * F + k] ** 2;
    }
    const meanY = new Float64Array(D);
    for (let r = 0; r < M; r++) for (let c = 0; c < D; c++) meanY[c] += Y[r * D + c] / M;
    const CY = new Float64Array(D * D);
    for (let r = 0; r < M; r++) {
      for (let i = 0; i < D; i++) {
        for (let j = 0; j < D; j++) CY[i * D + j] += (Y[r * D + i] - meanY[i]) * (Y[r * D + j] - meanY[j]);
      }
    }
    const { values, vectors } = jacobiEigen(CY, D);
    let meanAbs = 0;
    for (const v of values) meanAbs += Math.abs(v) / D;
    const wm = Array.from(values, (v) => 1 / (1 + Math.exp(-Math.abs(v) / meanAbs)));
    const out = new Float64Array(F);
    for (let k = 0; k < F; k++) {
      let g = 0, u = 0, p = 0;
      for (let j = 0; j < D; j++) {
        g += (wg[k * D + j] * Math.sqrt(nrm[j])) ** 2;
        u += (wu[k * D + j] * Math.sqrt(nrm[j])) ** 2;
      }
      for (let m = 0; m < D; m++) {
        let dot = 0;
        for (let i = 0; i < D; i++) dot += wd[i * F + k] * vectors[i * D + m];
        p += (Math.abs(dot) * wm[m]) ** 2;
      }
      out[k] = Math.sqrt(g) + Math.sqrt(u) + Math.sqrt(mk[k]) * Math.sqrt(p);
    }
    return out;
  }

  it('channel scores from fp32 statistics match materialised activations', () => {
    const ref = bruteScores();
    const sx = moments(X, M, D);
    const sh = moments(Hh, M, F);
    const wd32 = Float32Array.from(wd);
    const CY = outputCovariance(wd32, D, F, sh.m2);
    const { values, vectors } = jacobiEigen(CY, D);
    const args = {
      wGate: Float32Array.from(wg),
      wUp: Float32Array.from(wu),
      wDown: wd32,
      D,
      F,
      inputSumsq: sx.sumsq,
      hiddenSumsq: sh.sumsq,
      eigValues: values,
      eigVectors: vectors,
    };
    const got = channelScores(args);
    expectRelClose(got, ref, 1e-4, 'score');
    // A precomputed W_downᵀ·V (GPU route) gives identical scores.
    const proj = new Float64Array(F * D);
    for (let k = 0; k < F; k++) {
      for (let m = 0; m < D; m++) {
        let s = 0;
        for (let i = 0; i < D; i++) s += wd32[i * F + k] * vectors[i * D + m];
        proj[k * D + m] = s;
      }
    }
    expectRelClose(channelScores({ ...args, downProj: proj }), got, 1e-12, 'score(downProj)');
    // Scale invariance of C_Y: the population covariance gives the same scores.
    const eigPop = jacobiEigen(CY.map((v) => v / M), D);
    expectRelClose(channelScores({ ...args, eigValues: eigPop.values, eigVectors: eigPop.vectors }), got, 1e-9, 'score(C_Y/M)');
  });

  it('the matrix-function route (spectralSigmoid, ‖Z·w_k‖², no eigenvectors) gives the same scores on GPU and CPU', async () => {
    const ref = bruteScores();
    const sx = moments(X, M, D);
    const sh = moments(Hh, M, F);
    const wd32 = Float32Array.from(wd);
    const CY = Float32Array.from(outputCovariance(wd32, D, F, sh.m2));
    for (const be of [gpu(), cpu] as Backend[]) {
      const t = be.upload(CY, [D, D]);
      const z = await be.spectralSigmoid(t);
      const wdT = be.upload(wd32, [D, F]);
      const downQuad = await weightedDownNorms(be, wdT, z);
      be.free(t);
      be.free(z);
      be.free(wdT);
      const got = channelScores({
        wGate: Float32Array.from(wg), wUp: Float32Array.from(wu), wDown: wd32, D, F,
        inputSumsq: sx.sumsq, hiddenSumsq: sh.sumsq, downQuad,
      });
      expectRelClose(got, ref, 1e-4, `score(${be.deviceName} matrix function)`);
    }
  });

  it('eigen weights: all-zero spectrum gives 0.5, no NaN', () => {
    expect(Array.from(eigenWeights(new Float64Array(4)))).toEqual([0.5, 0.5, 0.5, 0.5]);
    const w = eigenWeights(Float64Array.from([2, -2, 0, 0]));
    expect(w[0]).toBeCloseTo(1 / (1 + Math.exp(-2)), 12);
    expect(w[1]).toBeCloseTo(w[0], 15);
    expect(w[2]).toBe(0.5);
  });

  it('selection keeps the lowest round(f·F), prunes the next nPrune, clamps to F−1', () => {
    const scores = [5, 1, 9, 3, 3, 7, 0, 8, 2, 6, 4, 10, 11]; // F = 13; ascending order: 6,1,8,3,4,10,0,9,5,7,2,11,12
    const def = selectChannels(scores, 4); // round(0.13) = 0 lowest kept
    expect(def.keptLowest).toBe(0);
    expect(def.pruned).toEqual([1, 3, 6, 8]);
    const q = selectChannels(scores, 4, 0.1); // round(1.3) = 1: channel 6 survives
    expect(q.keptLowest).toBe(1);
    expect(q.pruned).toEqual([1, 3, 4, 8]);
    expect(q.kept).toEqual([0, 2, 5, 6, 7, 9, 10, 11, 12]);
    expect(q.bounded).toBe(false);
    const full = selectChannels(scores, 13, 0.1);
    expect(full.bounded).toBe(true);
    expect(full.kept).toEqual([6]);
    const shifted = selectChannels(scores, 12, 0.2); // round(2.6) = 3 lowest, but 3 + 12 > 13 → 1
    expect(shifted.keptLowest).toBe(1);
    expect(shifted.bounded).toBe(true);
    expect(shifted.pruned.length).toBe(12);
    expect(selectChannels(new Array(250).fill(0).map((_, i) => i), 0).keptLowest).toBe(2); // round(2.5) = 2
    expect(() => selectChannels(scores, -1)).toThrow(/nPrune/);
    expect(() => selectChannels([1, NaN], 0)).toThrow(/not finite/);
  });
});

// ---------- layer ratios and rounding (section 2) ----------

describe('layer ratios (section 2)', () => {
  it('hand-computed example', () => {
    const { selected, ratios, order } = layerRatios([0.9, 0.5, 0.8, 0.7], 0.2, 2, 10);
    expect(selected).toEqual([true, false, true, false]);
    expect(order).toEqual([0, 2, 3, 1]);
    const s0 = 1 / (1 + Math.exp(-1)); // softmax(9, 8)_0
    expect(ratios[0]).toBeCloseTo(0.2 * 2 * s0, 14);
    expect(ratios[2]).toBeCloseTo(0.2 * 2 * (1 - s0), 14);
    expect(ratios[1]).toBe(0);
    expect(ratios[3]).toBe(0);
  });

  it('mean over the selected layers is p; alpha = 0 gives p everywhere', () => {
    const r = rng(9);
    const scores = Array.from({ length: 32 }, () => 0.7 + 0.3 * r());
    const { selected, ratios } = layerRatios(scores, 0.25, 26, 10);
    expect(selected.filter(Boolean).length).toBe(26);
    const sel = ratios.filter((_, l) => selected[l]);
    expect(sel.reduce((a, b) => a + b, 0) / 26).toBeCloseTo(0.25, 12);
    // Higher score → higher ratio.
    const minSel = Math.min(...scores.filter((_, l) => selected[l]));
    expect(Math.max(...scores.filter((_, l) => !selected[l]))).toBeLessThanOrEqual(minSel);
    expect(layerRatios(scores, 0.55, 30, 0).ratios.filter((x) => x > 0).every((x) => Math.abs(x - 0.55) < 1e-12)).toBe(true);
  });

  it('invalid arguments throw', () => {
    expect(() => layerRatios([], 0.2, 1, 1)).toThrow(/empty/);
    expect(() => layerRatios([1, 2], 1, 1, 1)).toThrow(/p must/);
    expect(() => layerRatios([1, 2], -0.1, 1, 1)).toThrow(/p must/);
    expect(() => layerRatios([1, 2], 0.2, 0, 1)).toThrow(/K must/);
    expect(() => layerRatios([1, 2], 0.2, 3, 1)).toThrow(/K must/);
    expect(() => layerRatios([1, 2], 0.2, 1.5, 1)).toThrow(/K must/);
    expect(() => layerRatios([1, 2], 0.2, 1, NaN)).toThrow(/alpha/);
    expect(() => layerRatios([1, Infinity], 0.2, 1, 1)).toThrow(/layer 1/);
    expect(() => unitsToPrune(-0.1, 4)).toThrow(/ratio/);
    expect(() => unitsToPrune(0.1, 0)).toThrow(/units/);
  });

  it('Python rounding (half to even) and the keep-one bound', () => {
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(3.5)).toBe(4);
    expect(roundHalfEven(0.5)).toBe(0);
    expect(roundHalfEven(-2.5)).toBe(-2);
    expect(roundHalfEven(2.4999999)).toBe(2);
    expect(roundHalfEven(2.5000001)).toBe(3);
    expect(unitsToPrune(0.25, 10)).toEqual({ n: 2, bounded: false }); // 2.5 → 2
    expect(unitsToPrune(0.35, 10)).toEqual({ n: 4, bounded: false }); // 3.5 → 4
    expect(unitsToPrune(0.99, 4)).toEqual({ n: 3, bounded: true }); // round(3.96) = 4 > 3
    expect(unitsToPrune(1.7, 32)).toEqual({ n: 31, bounded: true });
    expect(unitsToPrune(0, 32)).toEqual({ n: 0, bounded: false });
  });
});
