// The error-aware selection (src/prune/obs.ts) against a brute-force float64 greedy search that,
// at every step, re-fits the output projection by least squares for every candidate removal and
// keeps the one whose error grows least — on both backends, for head groups and single channels.
// Then the whole method on stories260K: the same choices on the GPU as on the CPU twin.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../src/kernels/backend.js';
import type { LayerWeights } from '../src/model/weights.js';
import type { ModuleContext, ModuleKind } from '../src/prune/module.js';
import { unitColumns } from '../src/prune/module.js';
import { obsMethod } from '../src/prune/obs.js';
import { PhaseTimer } from '../src/prune/timer.js';
import { bundled } from '../src/paths.js';
import { randn, useBackends, usePrune } from './helpers.js';

const { gpu, cpu } = useBackends();
const prune = usePrune();

const D = 5;
const M = 300;
const DAMPING = 0.01;

interface Module {
  kind: ModuleKind;
  units: number;
  g: number;
  W: Float32Array; // [D × n]
  m2: Float64Array; // [n × n]
  mean: Float64Array;
}

/** Correlated inputs (a few shared factors plus noise of different sizes), their moments and W. */
function makeModule(kind: ModuleKind, units: number, g: number, seed: number): Module {
  const n = units * g;
  const factors = 3;
  const f = randn(M * factors, seed);
  const load = randn(factors * n, seed + 1, 0.8);
  const noise = randn(M * n, seed + 2);
  const X = new Float64Array(M * n);
  for (let r = 0; r < M; r++) for (let j = 0; j < n; j++) {
    let v = noise[r * n + j] * (0.3 + 0.2 * (j % 4));
    for (let k = 0; k < factors; k++) v += f[r * factors + k] * load[k * n + j];
    X[r * n + j] = v + 0.1 * j;
  }
  const mean = new Float64Array(n);
  for (let r = 0; r < M; r++) for (let j = 0; j < n; j++) mean[j] += X[r * n + j] / M;
  const m2 = new Float64Array(n * n);
  for (let r = 0; r < M; r++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m2[i * n + j] += (X[r * n + i] - mean[i]) * (X[r * n + j] - mean[j]);
  return { kind, units, g, W: randn(D * n, seed + 3, 0.5), m2: Float64Array.from(Float32Array.from(m2)), mean };
}

function context<T extends Tensor>(b: Backend<T>, m: Module, nPrune: number): ModuleContext<T> {
  const n = m.units * m.g;
  const zero = new Float32Array(0);
  const w: LayerWeights = {
    attnNorm: zero, wq: zero, wk: zero, wv: zero, ffnNorm: zero, wGate: zero, wUp: zero,
    wo: m.kind === 'attention' ? m.W : zero, oBias: null, wDown: m.kind === 'mlp' ? m.W : zero, downBias: null,
  };
  return {
    b, kind: m.kind, layer: 0, w, wOut: b.upload(m.W, [D, n]), D, units: m.units, colsPerUnit: m.g, blockSize: m.units, nPrune,
    stats: { count: M, mean: Float32Array.from(m.mean), sumsq: new Float32Array(n), m2: b.upload(Float32Array.from(m.m2), [n, n]) },
    timer: new PhaseTimer(),
  };
}

// ---- float64 brute force ----

/** Solves A·X = B (A SPD [k × k], B [k × m]) by Gaussian elimination in float64. */
function solve(A: Float64Array, k: number, B: Float64Array, m: number): Float64Array {
  const a = Float64Array.from(A);
  const x = Float64Array.from(B);
  for (let p = 0; p < k; p++) {
    for (let r = p + 1; r < k; r++) {
      const f = a[r * k + p] / a[p * k + p];
      for (let c = p; c < k; c++) a[r * k + c] -= f * a[p * k + c];
      for (let c = 0; c < m; c++) x[r * m + c] -= f * x[p * m + c];
    }
  }
  for (let p = k - 1; p >= 0; p--) {
    for (let c = 0; c < m; c++) {
      let s = x[p * m + c];
      for (let q = p + 1; q < k; q++) s -= a[p * k + q] * x[q * m + c];
      x[p * m + c] = s / a[p * k + p];
    }
  }
  return x;
}

/**
 * The error left after the best refit on the columns K: min over W' of tr((W'−W)·H·(W'−W)ᵀ) with
 * W' zero outside K, H = m2 + λI. Equals tr(W·H·Wᵀ) − tr(W·H[:,K]·H[K,K]⁻¹·H[K,:]·Wᵀ).
 */
function refitError(m: Module, H: Float64Array, K: number[]): number {
  const n = m.units * m.g;
  const k = K.length;
  const HKK = new Float64Array(k * k);
  K.forEach((a, i) => K.forEach((c, j) => (HKK[i * k + j] = H[a * n + c])));
  let err = 0;
  for (let o = 0; o < D; o++) {
    const w = Array.from({ length: n }, (_, j) => m.W[o * n + j]);
    let full = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) full += w[i] * H[i * n + j] * w[j];
    const r = new Float64Array(k); // H[K,:]·w
    K.forEach((a, i) => {
      for (let j = 0; j < n; j++) r[i] += H[a * n + j] * w[j];
    });
    const x = solve(HKK, k, r, 1);
    let explained = 0;
    for (let i = 0; i < k; i++) explained += r[i] * x[i];
    err += full - explained;
  }
  return err;
}

/** Greedy by exact refit errors: the removal order and each step's error increase. */
function bruteForceGreedy(m: Module, nPrune: number): { order: number[]; increases: number[] } {
  const n = m.units * m.g;
  let diagSum = 0;
  for (let j = 0; j < n; j++) diagSum += Math.max(0, m.m2[j * n + j]);
  const H = Float64Array.from(m.m2);
  for (let j = 0; j < n; j++) H[j * n + j] += DAMPING * (diagSum / n);
  const left = new Set(Array.from({ length: m.units }, (_, u) => u));
  const order: number[] = [];
  const increases: number[] = [];
  let current = 0;
  for (let s = 0; s < nPrune; s++) {
    let best = -1;
    let bestErr = Infinity;
    for (const u of left) {
      const K = unitColumns([...left].filter((v) => v !== u).sort((a, b) => a - b), m.g);
      const e = refitError(m, H, K);
      if (e < bestErr) [best, bestErr] = [u, e];
    }
    left.delete(best);
    order.push(best);
    increases.push(bestErr - current);
    current = bestErr;
  }
  return { order, increases };
}

describe('error-aware selection (obs) against brute-force refits', () => {
  const cases: [string, ModuleKind, number, number, number][] = [
    ['head groups', 'attention', 5, 3, 3],
    ['channels', 'mlp', 11, 1, 6],
  ];
  for (const [what, kind, units, g, nPrune] of cases) {
    for (const [name, be] of [['gpu', () => gpu()], ['cpu', () => cpu]] as const) {
      it(`${what} (${name}): same removal order as the float64 greedy, step errors within 1e-3`, async () => {
        const m = makeModule(kind, units, g, 11 + units);
        const ref = bruteForceGreedy(m, nPrune);
        const b = be() as Backend;
        const ctx = context(b, m, nPrune);
        const sel = await obsMethod({ damping: DAMPING, maxSteps: nPrune }).select(ctx);
        b.free(ctx.stats.m2);
        const details = sel.details as { removalOrder: number[]; stepErrors: number[] };
        expect(details.removalOrder).toEqual(ref.order);
        expect(sel.kept).toEqual(Array.from({ length: units }, (_, u) => u).filter((u) => !ref.order.includes(u)));
        details.stepErrors.forEach((e, s) => expect(Math.abs(e / ref.increases[s] - 1), `step ${s}`).toBeLessThan(1e-3));
      });
    }
  }

  it('batches: channels leave in groups of ⌈nPrune / maxSteps⌉, the first group the cheapest alone', async () => {
    const m = makeModule('mlp', 11, 1, 5);
    const ctx = context(cpu as Backend, m, 6);
    const sel = await obsMethod({ damping: DAMPING, maxSteps: 2 }).select(ctx);
    const details = sel.details as { removalOrder: number[]; stepErrors: number[] };
    expect(details.stepErrors).toHaveLength(2);
    expect(sel.kept).toHaveLength(5);
    expect(details.removalOrder.slice(0, 3)).toContain(bruteForceGreedy(m, 1).order[0]);
    expect(new Set(details.removalOrder).size).toBe(6);
  });

  it('refuses a non-finite or negative damping', () => {
    expect(() => obsMethod({ damping: -1 })).toThrow(/obs damping must be finite and >= 0/);
    expect(() => obsMethod({ damping: NaN })).toThrow(/obs damping/);
  });
});

describe('obs on stories260K', () => {
  it('the GPU makes the same choices as the CPU twin, with the lstsq refit by default', async () => {
    const calib = JSON.parse(fs.readFileSync(new URL('./fixtures/stories260K-calib-32x128.json', import.meta.url), 'utf8')) as number[][];
    const run = async (device: Backend) => {
      const { model, report } = await prune(bundled.model(), { method: 'obs', targetRatio: 0.2, calibration: { tokens: calib }, device });
      model.close();
      return report;
    };
    const g = await run(gpu());
    const c = await run(cpu);
    expect(g.method).toBe('obs');
    expect(g.recovery).toBe('lstsq');
    expect(g.layers.map((l) => [l.keptHeadGroups, l.keptChannels])).toEqual(c.layers.map((l) => [l.keptHeadGroups, l.keptChannels]));
    expect(Math.abs(g.params.removedFraction - 0.2)).toBeLessThan(0.02);
  });
});
