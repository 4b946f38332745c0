// Recoveries (src/prune/recoveries.ts) through the orchestrator's ModuleContext on both backends:
// lstsq restores the exact output when the kept inputs span the pruned ones, matches a float64
// reference of its closed form, handles dead (constant) kept channels and a failing factorisation;
// bias compensation and none against their formulas.
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../src/kernels/backend.js';
import type { LayerWeights } from '../src/model/weights.js';
import type { ModuleContext, ModuleKind, Recovered, Recovery } from '../src/prune/module.js';
import { unitColumns } from '../src/prune/module.js';
import { biasRecovery, lstsqRecovery, noRecovery, recoveryByName } from '../src/prune/recoveries.js';
import { regressionRecovery } from '../src/prune/recoveries.js';
import { PhaseTimer } from '../src/prune/timer.js';
import { randn, useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

const D = 6;
const M = 400;

interface Case {
  kind: ModuleKind;
  units: number;
  colsPerUnit: number;
  prunedUnits: number[];
  X: Float64Array; // [M × n]
  W: Float32Array; // [D × n]
  bias: Float32Array | null;
}

const nOf = (c: Case) => c.units * c.colsPerUnit;
const keptOf = (c: Case) => unitColumns(Array.from({ length: c.units }, (_, u) => u).filter((u) => !c.prunedUnits.includes(u)), c.colsPerUnit);

/**
 * Inputs whose pruned columns are affine combinations of the kept ones (`span`), or independent;
 * `dead` makes one kept column constant.
 */
function makeCase(kind: ModuleKind, span: boolean, seed: number, dead = false): Case {
  const [units, colsPerUnit, prunedUnits] = kind === 'attention' ? [6, 2, [1, 4]] : [12, 1, [0, 5, 7, 10]];
  const n = units * colsPerUnit;
  const c: Case = { kind, units, colsPerUnit, prunedUnits, X: new Float64Array(M * n), W: randn(D * n, seed, 0.5), bias: kind === 'mlp' ? randn(D, seed + 1) : null };
  const kept = keptOf(c);
  const pruned = Array.from({ length: n }, (_, j) => j).filter((j) => !kept.includes(j));
  const z = randn(M * n, seed + 2);
  const mu = randn(n, seed + 3);
  const mix = randn(pruned.length * kept.length, seed + 4, 0.6);
  for (let r = 0; r < M; r++) {
    for (const j of kept) c.X[r * n + j] = z[r * n + j] * (0.5 + 0.1 * (j % 3)) + mu[j];
    if (dead) c.X[r * n + kept[1]] = 0.75;
    pruned.forEach((j, p) => {
      let s = span ? mu[j] : z[r * n + j] + mu[j];
      if (span) kept.forEach((k, i) => (s += mix[p * kept.length + i] * c.X[r * n + k]));
      c.X[r * n + j] = s;
    });
  }
  return c;
}

function statsOf(c: Case) {
  const n = nOf(c);
  const mean = new Float64Array(n);
  const sumsq = new Float64Array(n);
  for (let r = 0; r < M; r++) for (let j = 0; j < n; j++) {
    mean[j] += c.X[r * n + j];
    sumsq[j] += c.X[r * n + j] ** 2;
  }
  for (let j = 0; j < n; j++) mean[j] /= M;
  const m2 = new Float64Array(n * n);
  for (let r = 0; r < M; r++) for (let i = 0; i < n; i++) {
    const xi = c.X[r * n + i] - mean[i];
    if (xi === 0) continue;
    for (let j = 0; j < n; j++) m2[i * n + j] += xi * (c.X[r * n + j] - mean[j]);
  }
  return { mean, sumsq, m2 };
}

function context<T extends Tensor>(b: Backend<T>, c: Case): ModuleContext<T> {
  const n = nOf(c);
  const s = statsOf(c);
  const zero = new Float32Array(0);
  const w: LayerWeights = {
    attnNorm: zero, wq: zero, wk: zero, wv: zero, ffnNorm: zero, wGate: zero, wUp: zero,
    wo: c.kind === 'attention' ? c.W : zero, oBias: c.kind === 'attention' ? c.bias : null,
    wDown: c.kind === 'mlp' ? c.W : zero, downBias: c.kind === 'mlp' ? c.bias : null,
  };
  return {
    b, kind: c.kind, layer: 3, w, wOut: b.upload(c.W, [D, n]), D, units: c.units, colsPerUnit: c.colsPerUnit, blockSize: c.units, nPrune: c.prunedUnits.length,
    stats: { count: M, mean: Float32Array.from(s.mean), sumsq: Float32Array.from(s.sumsq), m2: b.upload(Float32Array.from(s.m2), [n, n]) },
    timer: new PhaseTimer(),
  };
}

/** Original outputs Y = X·Wᵀ + β and recovered outputs X_K·W'ᵀ + b', float64. */
function outputs(c: Case, rec: Recovered) {
  const n = nOf(c);
  const kept = keptOf(c);
  const k = kept.length;
  const Y = new Float64Array(M * D);
  const Yr = new Float64Array(M * D);
  for (let r = 0; r < M; r++) for (let o = 0; o < D; o++) {
    let y = c.bias ? c.bias[o] : 0;
    for (let j = 0; j < n; j++) y += c.W[o * n + j] * c.X[r * n + j];
    let yr = rec.bias ? rec.bias[o] : 0;
    for (let i = 0; i < k; i++) yr += rec.weight[o * k + i] * c.X[r * n + kept[i]];
    Y[r * D + o] = y;
    Yr[r * D + o] = yr;
  }
  return { Y, Yr };
}

const maxAbsDiff = (a: Float64Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const mse = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length;

async function recover(b: Backend, c: Case, r: Recovery) {
  const ctx = context(b, c);
  try {
    return await r.recover(ctx, keptOf(c));
  } finally {
    b.free(ctx.stats.m2);
  }
}

/** Float64 closed form: W' = W·C[:,K]·(C[K,K] + λI)⁻¹, b' = β + W·μ − W'·μ_K (Gaussian elimination). */
function lstsqReference(c: Case, damping: number) {
  const n = nOf(c);
  const kept = keptOf(c);
  const k = kept.length;
  const { mean, m2 } = statsOf(c);
  const md = kept.reduce((s, j) => s + m2[j * n + j], 0) / k;
  const lambda = md > 0 ? damping * md : 1;
  const weight = new Float64Array(D * k);
  const bias = new Float64Array(D);
  for (let o = 0; o < D; o++) {
    // Solve (C[K,K] + λI) x = (W·C[:,K])ᵀ row o, by Gauss–Jordan.
    const A = kept.map((i, a) => [...kept.map((j, bb) => m2[i * n + j] + (a === bb ? lambda : 0)), 0]);
    kept.forEach((ki, a) => {
      let s = 0;
      for (let j = 0; j < n; j++) s += c.W[o * n + j] * m2[j * n + ki];
      A[a][k] = s;
    });
    for (let p = 0; p < k; p++) {
      const piv = A[p][p];
      for (let x = p; x <= k; x++) A[p][x] /= piv;
      for (let r = 0; r < k; r++) if (r !== p) {
        const f = A[r][p];
        for (let x = p; x <= k; x++) A[r][x] -= f * A[p][x];
      }
    }
    let by = c.bias ? c.bias[o] : 0;
    for (let j = 0; j < n; j++) by += c.W[o * n + j] * mean[j];
    for (let i = 0; i < k; i++) {
      weight[o * k + i] = A[i][k];
      by -= A[i][k] * mean[kept[i]];
    }
    bias[o] = by;
  }
  return { weight, bias };
}

describe('recoveries', () => {
  for (const which of ['cpu', 'gpu'] as const) {
    const be = (): Backend => (which === 'gpu' ? gpu() : cpu);
    for (const kind of ['attention', 'mlp'] as const) {
      it(`${which} ${kind}: lstsq restores the output when the kept inputs span the pruned ones`, async () => {
        const c = makeCase(kind, true, kind === 'mlp' ? 11 : 12);
        const rec = await recover(be(), c, lstsqRecovery({ damping: 1e-7 }));
        const { Y, Yr } = outputs(c, rec);
        expect(maxAbsDiff(Y, Yr)).toBeLessThan(1e-4);
        // Dropping the columns without a refit is far off: the test is not vacuous.
        const none = outputs(c, await recover(be(), c, noRecovery));
        expect(maxAbsDiff(Y, none.Yr)).toBeGreaterThan(0.1);
      });

      it(`${which} ${kind}: lstsq (default damping) matches the float64 closed form; MSE below regression and bias`, async () => {
        const c = makeCase(kind, false, kind === 'mlp' ? 21 : 22);
        const rec = await recover(be(), c, lstsqRecovery());
        const ref = lstsqReference(c, 0.01);
        const tol = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
        expect(tol(rec.weight, ref.weight)).toBeLessThan(2e-4);
        expect(tol(rec.bias!, ref.bias)).toBeLessThan(5e-4);
        const exact = outputs(c, await recover(be(), c, lstsqRecovery({ damping: 0 })));
        const reg = outputs(c, await recover(be(), c, regressionRecovery));
        const bias = outputs(c, await recover(be(), c, biasRecovery));
        expect(mse(exact.Y, exact.Yr)).toBeLessThanOrEqual(mse(reg.Y, reg.Yr) * (1 + 1e-4));
        expect(mse(exact.Y, exact.Yr)).toBeLessThan(mse(bias.Y, bias.Yr));
      });
    }

    it(`${which}: a dead (constant) kept channel gets weight 0 and its value moves into the bias`, async () => {
      const c = makeCase('mlp', true, 31, true);
      for (const damping of [0.01, 0]) {
        // damping 0: the factorisation of the singular matrix fails; it is retried with a small λ.
        const rec = await recover(be(), c, lstsqRecovery({ damping }));
        const k = keptOf(c).length;
        for (let o = 0; o < D; o++) expect(Math.abs(rec.weight[o * k + 1])).toBeLessThan(1e-6);
        expect(rec.summary?.deadKept).toBe(1);
        expect(rec.weight.every(Number.isFinite) && rec.bias!.every(Number.isFinite)).toBe(true);
        const { Y, Yr } = outputs(c, rec);
        expect(maxAbsDiff(Y, Yr)).toBeLessThan(damping === 0 ? 1e-3 : 0.5);
        if (damping === 0) expect(rec.summary?.tries).toBeGreaterThan(1);
      }
    });

    it(`${which}: bias compensation keeps the output mean; none keeps W[:,K] and β`, async () => {
      const c = makeCase('mlp', false, 41);
      const kept = keptOf(c);
      const n = nOf(c);
      const wk = Array.from({ length: D * kept.length }, (_, i) => c.W[Math.floor(i / kept.length) * n + kept[i % kept.length]]);
      const none = await recover(be(), c, noRecovery);
      expect(Array.from(none.weight)).toEqual(wk);
      expect(Array.from(none.bias!)).toEqual(Array.from(c.bias!));
      const bias = await recover(be(), c, biasRecovery);
      expect(Array.from(bias.weight)).toEqual(wk);
      const { Y, Yr } = outputs(c, bias);
      for (let o = 0; o < D; o++) {
        let my = 0;
        let mr = 0;
        for (let r = 0; r < M; r++) {
          my += Y[r * D + o] / M;
          mr += Yr[r * D + o] / M;
        }
        expect(Math.abs(my - mr)).toBeLessThan(1e-4);
      }
      // Attention without a bias: none leaves it null.
      const a = makeCase('attention', false, 42);
      expect((await recover(be(), a, noRecovery)).bias).toBeNull();
    });
  }

  it('registry', () => {
    expect(recoveryByName('regression')).toBe(regressionRecovery);
    expect(recoveryByName('none')).toBe(noRecovery);
    expect(recoveryByName('bias')).toBe(biasRecovery);
    expect(recoveryByName('lstsq').name).toBe('lstsq');
    expect(() => lstsqRecovery({ damping: -1 })).toThrow(/damping/);
  });
});
