// Baseline methods (src/prune/baselines.ts): each unit score against a direct float64
// implementation of its formula on materialised activations, fed through the orchestrator's
// ModuleContext on both backends; FLAP's global threshold against the reference code's rule;
// and every method reaching the parameter target on stories260K.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../src/kernels/backend.js';
import { decoderLinearParams } from '../src/model/config.js';
import { loadModelWeights } from '../src/model/load.js';
import type { LayerWeights } from '../src/model/weights.js';
import { deviceDiagonal } from '../src/prune/products.js';
import {
  flapMethod,
  flapScores,
  flapWidths,
  magnitudeMethod,
  magnitudeScores,
  randomMethod,
  standardise,
  wandaSpMethod,
  wandaSpScores,
  type FlapLayerMetrics,
} from '../src/prune/baselines.js';
import { expandGrid } from '../src/compare/grid.js';
import { compareMarkdown, seriesLabel } from '../src/compare/markdown.js';
import type { CompareResult } from '../src/compare/run.js';
import { compareSvg } from '../src/compare/svg.js';
import { summarizeRuns } from '../src/compare/summary.js';
import type { ModuleContext, ModuleKind } from '../src/prune/module.js';
import { PhaseTimer } from '../src/prune/timer.js';
import { bundled } from '../src/paths.js';
import { expectClose, randn, useBackends, usePrune } from './helpers.js';

const { gpu, cpu } = useBackends();
const prune = usePrune();

// A small layer: D = 8, G = 3 KV groups of q = 2 query heads of d = 4 (n = 24 o_proj columns), F = 10.
const D = 8;
const G = 3;
const q = 2;
const d = 4;
const nA = G * q * d;
const F = 10;
const M = 300;

const w: LayerWeights = {
  attnNorm: new Float32Array(D).fill(1),
  wq: randn(nA * D, 1),
  wk: randn(G * d * D, 2),
  wv: randn(G * d * D, 3),
  wo: randn(D * nA, 4),
  oBias: null,
  ffnNorm: new Float32Array(D).fill(1),
  wGate: randn(F * D, 5),
  wUp: randn(F * D, 6),
  wDown: randn(D * F, 7),
  downBias: null,
};

/** Activations [M × n] in float64 with different column scales and non-zero means. */
function activations(n: number, seed: number): Float64Array {
  const z = randn(M * n, seed);
  const scale = randn(n, seed + 100);
  const mu = randn(n, seed + 200, 0.7);
  const X = new Float64Array(M * n);
  for (let r = 0; r < M; r++) for (let j = 0; j < n; j++) X[r * n + j] = z[r * n + j] * (0.2 + Math.abs(scale[j])) + mu[j];
  return X;
}

function statsOf(X: Float64Array, n: number) {
  const mean = new Float64Array(n);
  const sumsq = new Float64Array(n);
  for (let r = 0; r < M; r++) for (let j = 0; j < n; j++) {
    mean[j] += X[r * n + j] / M;
    sumsq[j] += X[r * n + j] ** 2;
  }
  const m2 = new Float64Array(n * n);
  for (let r = 0; r < M; r++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m2[i * n + j] += (X[r * n + i] - mean[i]) * (X[r * n + j] - mean[j]);
  return { mean, sumsq, m2 };
}

const Z = activations(nA, 10);
const Hh = activations(F, 20);
const statsZ = statsOf(Z, nA);
const statsH = statsOf(Hh, F);

function context<T extends Tensor>(b: Backend<T>, kind: ModuleKind, nPrune: number): ModuleContext<T> {
  const n = kind === 'attention' ? nA : F;
  const s = kind === 'attention' ? statsZ : statsH;
  return {
    b, kind, layer: 3, w, D,
    wOut: kind === 'attention' ? b.upload(w.wo, [D, nA]) : b.upload(w.wDown, [D, F]),
    units: kind === 'attention' ? G : F,
    blockSize: kind === 'attention' ? G : F,
    colsPerUnit: kind === 'attention' ? q * d : 1,
    nPrune,
    stats: { count: M, mean: Float32Array.from(s.mean), sumsq: Float32Array.from(s.sumsq), m2: b.upload(Float32Array.from(s.m2), [n, n]) },
    timer: new PhaseTimer(),
  };
}

/** Units sorted by score, the nPrune lowest removed: the expected kept set. */
function expectedKept(scores: number[], nPrune: number): number[] {
  const order = scores.map((s, i) => [s, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return order.slice(nPrune).map((x) => x[1]).sort((a, b) => a - b);
}

// ---- direct formulas, element by element ----
const at = (a: Float32Array, cols: number, r: number, c: number) => a[r * cols + c];

function directMagnitude(kind: ModuleKind): number[] {
  if (kind === 'attention') {
    return Array.from({ length: G }, (_, g) => {
      let s = 0;
      for (let h = g * q; h < (g + 1) * q; h++) for (let i = 0; i < d; i++) for (let c = 0; c < D; c++) s += at(w.wq, D, h * d + i, c) ** 2;
      for (let i = 0; i < d; i++) for (let c = 0; c < D; c++) s += at(w.wk, D, g * d + i, c) ** 2 + at(w.wv, D, g * d + i, c) ** 2;
      for (let h = g * q; h < (g + 1) * q; h++) for (let i = 0; i < d; i++) for (let c = 0; c < D; c++) s += at(w.wo, nA, c, h * d + i) ** 2;
      return Math.sqrt(s);
    });
  }
  return Array.from({ length: F }, (_, k) => {
    let s = 0;
    for (let c = 0; c < D; c++) s += at(w.wGate, D, k, c) ** 2 + at(w.wUp, D, k, c) ** 2 + at(w.wDown, F, c, k) ** 2;
    return Math.sqrt(s);
  });
}

function directWanda(kind: ModuleKind): number[] {
  const [X, n, W, cpu_] = kind === 'attention' ? [Z, nA, w.wo, q * d] : [Hh, F, w.wDown, 1];
  const col = Array.from({ length: n }, (_, j) => {
    let norm = 0;
    for (let r = 0; r < M; r++) norm += X[r * n + j] ** 2;
    let a = 0;
    for (let c = 0; c < D; c++) a += Math.abs(at(W, n, c, j));
    return (a / D) * Math.sqrt(norm);
  });
  return Array.from({ length: n / cpu_ }, (_, u) => col.slice(u * cpu_, (u + 1) * cpu_).reduce((x, y) => x + y, 0));
}

/** FLAP: Var(x_j)·‖W[:,j]‖²; attention groups sum the squared column metric (the reference's `** 2`). */
function directFlap(kind: ModuleKind): number[] {
  const [X, n, W, cpu_] = kind === 'attention' ? [Z, nA, w.wo, q * d] : [Hh, F, w.wDown, 1];
  const col = Array.from({ length: n }, (_, j) => {
    let mean = 0;
    for (let r = 0; r < M; r++) mean += X[r * n + j] / M;
    let v = 0;
    for (let r = 0; r < M; r++) v += (X[r * n + j] - mean) ** 2 / M;
    let c2 = 0;
    for (let c = 0; c < D; c++) c2 += at(W, n, c, j) ** 2;
    return v * c2;
  });
  if (kind === 'mlp') return col;
  return Array.from({ length: G }, (_, g) => col.slice(g * cpu_, (g + 1) * cpu_).reduce((x, y) => x + y * y, 0));
}

describe('baseline unit scores match their formulas', () => {
  for (const which of ['cpu', 'gpu'] as const) {
    for (const kind of ['attention', 'mlp'] as const) {
      const nPrune = kind === 'attention' ? 1 : 4;
      it(`${which} ${kind}: magnitude, wanda-sp, flap`, async () => {
        const b: Backend = which === 'gpu' ? gpu() : cpu;
        const ctx = context(b, kind, nPrune);
        try {
          const mag = directMagnitude(kind);
          expectClose(magnitudeScores(ctx), mag, 1e-10, 0, 'magnitude scores');
          expect((await magnitudeMethod.select(ctx)).kept).toEqual(expectedKept(mag, nPrune));

          const wanda = directWanda(kind);
          expectClose(wandaSpScores(ctx), wanda, 1e-5, 0, 'wanda-sp scores');
          expect((await wandaSpMethod.select(ctx)).kept).toEqual(expectedKept(wanda, nPrune));

          const flap = directFlap(kind);
          expectClose(await flapScores(ctx), flap, 1e-4, 0, 'flap scores');
          expect((await flapMethod.select(ctx)).kept).toEqual(expectedKept(flap, nPrune));
        } finally {
          b.free(ctx.stats.m2);
        }
      });
    }
    it(`${which}: deviceDiagonal reads the diagonal block by block`, async () => {
      const b: Backend = which === 'gpu' ? gpu() : cpu;
      const n = 37;
      const a = randn(n * n, 99);
      const t = b.upload(a, [n, n]);
      const diag = await deviceDiagonal(b, t, n, 8);
      b.free(t);
      expect(Array.from(diag)).toEqual(Array.from({ length: n }, (_, i) => a[i * n + i]));
    });
  }

  it('random: seeded, reproducible, independent of call order, prunes exactly nPrune', async () => {
    const ctxA = context(cpu, 'mlp', 4);
    const ctxB = { ...ctxA, layer: 4 };
    const r0 = randomMethod(0);
    const a1 = (await r0.select(ctxA)).kept;
    const b1 = (await r0.select(ctxB)).kept;
    const b2 = (await randomMethod(0).select(ctxB)).kept;
    const a2 = (await randomMethod(0).select(ctxA)).kept;
    expect(a1).toEqual(a2);
    expect(b1).toEqual(b2);
    expect(a1).toHaveLength(F - 4);
    expect(new Set(a1).size).toBe(F - 4);
    const others = await Promise.all([1, 2, 3, 4, 5].map(async (s) => (await randomMethod(s).select(ctxA)).kept.join()));
    expect(new Set([a1.join(), ...others]).size).toBeGreaterThan(1);
  });
});

describe("FLAP's global threshold", () => {
  // Three layers with different metric spreads, so the widths come out adaptive.
  const layers: FlapLayerMetrics[] = [0, 1, 2].map((l) => ({
    attention: Float64Array.from(randn(4 * 6, 30 + l), (x) => Math.abs(x) * (1 + l)),
    colsPerGroup: 6,
    groupParams: 120,
    mlp: Float64Array.from(randn(20, 40 + l), (x) => Math.exp(x * (0.5 + l))),
    channelParams: 9,
  }));
  const total = layers.reduce((s, m) => s + 4 * m.groupParams + 20 * m.channelParams, 0);

  /** The reference rule: standardise per layer/module, sort descending, keep the prefix whose parameters come closest to (1 − ratio)·total. */
  function reference(ratio: number) {
    const units: { s: number; p: number; l: number; mlp: boolean }[] = [];
    layers.forEach((m, l) => {
      const cols = standardise(m.attention.map((x) => x * x));
      for (let g = 0; g < 4; g++) units.push({ s: cols.slice(g * 6, g * 6 + 6).reduce((a, b) => a + b, 0) / 6, p: m.groupParams, l, mlp: false });
      standardise(m.mlp).forEach((s) => units.push({ s, p: m.channelParams, l, mlp: true }));
    });
    units.sort((a, b) => b.s - a.s);
    let best = 0;
    let bestErr = Infinity;
    let cum = 0;
    for (let k = 0; k <= units.length; k++) {
      const err = Math.abs(cum - (1 - ratio) * total);
      if (err < bestErr) [best, bestErr] = [k, err];
      if (k < units.length) cum += units[k].p;
    }
    const heads = [0, 0, 0];
    const channels = [0, 0, 0];
    for (const u of units.slice(best)) (u.mlp ? channels : heads)[u.l]++;
    return { heads, channels };
  }

  for (const ratio of [0.2, 0.5]) {
    it(`ratio ${ratio}: same widths as the reference rule, within one unit of the target, adaptive`, () => {
      const got = flapWidths(layers, total, ratio);
      expect({ heads: got.heads, channels: got.channels }).toEqual(reference(ratio));
      expect(Math.abs(got.removedFraction - ratio)).toBeLessThanOrEqual(120 / 2 / total + 1e-12);
      expect(new Set(got.channels).size).toBeGreaterThan(1);
    });
  }

  it('keeps the best unit of every module even at a ratio near 1', () => {
    const got = flapWidths(layers, total, 0.99);
    got.heads.forEach((h) => expect(h).toBe(3));
    got.channels.forEach((c) => expect(c).toBe(19));
  });

  it('standardise: zero mean, unit (n−1) std; a constant vector gives zeros', () => {
    const s = standardise([1, 2, 3, 4]);
    expect(s.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 12);
    expect(s.reduce((a, b) => a + b * b, 0) / 3).toBeCloseTo(1, 12);
    expect(Array.from(standardise([2, 2, 2]))).toEqual([0, 0, 0]);
  });
});

describe('every method reaches the parameter target on stories260K', () => {
  const weights = loadModelWeights(bundled.model());
  const calib = (JSON.parse(fs.readFileSync(new URL('./fixtures/stories260K-calib-32x128.json', import.meta.url), 'utf8')) as number[][]).slice(0, 4);
  const c = weights.config;
  const group = 2 * (c.layers[0].nHeads / c.layers[0].nKvHeads) * c.headDim * c.hiddenSize + 2 * c.headDim * c.hiddenSize;
  const total = decoderLinearParams(c);
  for (const method of ['magnitude', 'wanda-sp', 'flap', 'random'] as const) {
    for (const ratio of [0.2, 0.5]) {
      it(`${method} at ${ratio} (cpu)`, async () => {
        const { model, report } = await prune(weights, { targetRatio: ratio, method, calibration: { tokens: calib }, device: cpu });
        expect(report.method).toBe(method);
        expect(report.recovery).toBe(method === 'flap' ? 'bias' : 'none');
        expect(Math.abs(report.params.removedFraction - ratio)).toBeLessThan(group / total);
        for (const l of model.config.layers) {
          expect(l.nKvHeads).toBeGreaterThanOrEqual(1);
          expect(l.ffnDim).toBeGreaterThanOrEqual(1);
        }
        if (method !== 'flap') {
          // Uniform: every layer the same width.
          expect(new Set(model.config.layers.map((l) => l.ffnDim)).size).toBe(1);
        }
      });
    }
  }

  it('slimllm + lstsq on the GPU: same choices as on the CPU, close weights and biases', async () => {
    const o = { targetRatio: 0.3, recovery: 'lstsq' as const, calibration: { tokens: calib.slice(0, 2) } };
    const a = await prune(weights, { ...o, device: cpu });
    const b = await prune(weights, { ...o, device: gpu() });
    expect(b.report.recovery).toBe('lstsq');
    expect(b.model.config.layers).toEqual(a.model.config.layers);
    for (let i = 0; i < b.model.config.nLayers; i++) {
      const l = b.model.layer(i);
      const ref = a.model.layer(i);
      if (ref.downBias) expectClose(l.downBias!, ref.downBias, 2e-2, 2e-3, `layer ${i} down_proj bias`);
      expectClose(l.wDown, ref.wDown, 2e-2, 2e-3, `layer ${i} down_proj`);
    }
    a.model.close();
    b.model.close();
  });

  it('flap on the GPU: same widths as on the CPU, reaches the target', async () => {
    const a = await prune(weights, { targetRatio: 0.3, method: 'flap', calibration: { tokens: calib.slice(0, 2) }, device: cpu });
    const b = await prune(weights, { targetRatio: 0.3, method: 'flap', calibration: { tokens: calib.slice(0, 2) }, device: gpu() });
    expect(b.model.config.layers).toEqual(a.model.config.layers);
    expect(b.report.layers.map((l) => l.keptChannels)).toEqual(a.report.layers.map((l) => l.keptChannels));
    expect(Math.abs(b.report.params.removedFraction - 0.3)).toBeLessThan(group / total);
  });
});

describe('compare grid and outputs', () => {
  it('expandGrid: default, plain and method:recovery entries, duplicates dropped', () => {
    const g = expandGrid(['slimllm', 'flap', 'wanda-sp'], ['none', 'default', 'slimllm:lstsq']);
    expect(g.map((x) => `${x.method}/${x.recovery}`)).toEqual(['slimllm/none', 'slimllm/regression', 'slimllm/lstsq', 'flap/none', 'flap/bias', 'wanda-sp/none']);
    expect(() => expandGrid(['slimllm'], ['nope'])).toThrow(/unknown recovery 'nope'/);
    expect(() => expandGrid(['best'], ['none'])).toThrow(/unknown method 'best'/);
  });

  it('expandGrid: one series per head unit, labelled', () => {
    const g = expandGrid(['obs', 'slimllm'], ['default'], ['group', 'query']);
    expect(g.map((x) => `${x.method}/${x.recovery}/${x.headUnit}`)).toEqual(['obs/lstsq/group', 'slimllm/regression/group', 'obs/lstsq/query', 'slimllm/regression/query']);
    expect(g.map(seriesLabel)).toEqual(['obs + lstsq (default)', 'slimllm + regression (default)', 'obs + lstsq (default), query heads', 'slimllm + regression (default), query heads']);
    expect(() => expandGrid(['obs'], ['default'], ['head'])).toThrow("unknown head unit 'head' (one of group, query)");
  });

  it('Markdown table and SVG chart from a result', () => {
    const grid = expandGrid(['slimllm', 'random'], ['default']);
    const run = (method: 'slimllm' | 'random', recovery: 'regression' | 'none', targetRatio: number, ppl: number | null) => ({
      method, recovery, headUnit: 'group' as const, targetRatio, draw: 0, calibSeed: 42, removedFraction: ppl === null ? null : targetRatio + 0.001, ppl, nll: ppl === null ? null : Math.log(ppl),
      widths: null, pruneMs: 1, evalMs: 1, ...(ppl === null ? { error: 'boom' } : {}),
    });
    const runs = [run('slimllm', 'regression', 0.2, 5), run('random', 'none', 0.2, 9), run('slimllm', 'regression', 0.5, 20), run('random', 'none', 0.5, null)];
    const r: CompareResult = {
      model: 'm', device: 'cpu', evaluation: { sequences: 2, tokens: 10, label: 'x' },
      calibration: { sequences: 1, seqLen: 4, draws: 1, seeds: [42], source: 'c' }, params: 100,
      dense: { ppl: 3, nll: Math.log(3), tokens: 10 }, ratios: [0.2, 0.5], grid, runs, summary: summarizeRuns(runs, grid, [0.2, 0.5]),
    };
    const md = compareMarkdown(r);
    expect(md).not.toContain('±');
    expect(md).toContain('Calibration: one draw (seed 42) of 1×4 tokens from c.');
    expect(md).toContain('| slimllm + regression (default) | **5.00** (20.1 %) | **20.00** (50.1 %) |');
    expect(md).toContain('| random + none | 9.00 (20.1 %) | failed: boom |');
    const svg = compareSvg(r);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).not.toContain('error-bar');
    expect(svg).toContain('slimllm + regression (default)');
  });
});
