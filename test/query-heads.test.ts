// Query-head pruning inside KV groups (headUnit 'query') on a synthetic GQA model, on both backends:
// - SlimLLM's choice equals an independent float64 search on materialised head outputs;
// - the pruned model's logits equal a brute-force float64 forward that maps every kept query head
//   to the KV head of its ORIGINAL group (so the shrunken groups are wired correctly);
// - every group loses the same number, every KV head stays, and the parameter count is exact.
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../src/kernels/backend.js';
import type { LayerShape, ModelConfig } from '../src/model/config.js';
import { sequenceLogits } from '../src/model/runner.js';
import { readAllWeights } from '../src/model/load.js';
import type { LayerWeights, ModelWeights } from '../src/model/weights.js';
import type { ModuleContext } from '../src/prune/module.js';
import { slimllmMethod } from '../src/prune/slimllm.js';
import { resolveRatios } from '../src/prune/ratios.js';
import { PhaseTimer } from '../src/prune/timer.js';
import { randn, useBackends, usePrune } from './helpers.js';
import { syntheticModel } from './synthetic-model.js';

const { gpu, cpu } = useBackends();
const prune = usePrune();
const BACKENDS = [['gpu', () => gpu() as Backend], ['cpu', () => cpu as Backend]] as const;

// ---- float64 forward ----

function rmsnorm(x: number[], w: ArrayLike<number>, eps: number): number[] {
  const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
  const r = 1 / Math.sqrt(ms + eps);
  return x.map((v, i) => v * r * w[i]);
}

/** y = W·x for W [rows × x.length]. */
function matvec(w: ArrayLike<number>, x: number[], rows: number): number[] {
  const n = x.length;
  return Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let j = 0; j < n; j++) s += w[r * n + j] * x[j];
    return s;
  });
}

/** Rotate-half RoPE of one head vector at position t. */
function rope(v: number[], t: number, theta: number): number[] {
  const d = v.length;
  const h = d / 2;
  const out = v.slice();
  for (let i = 0; i < h; i++) {
    const a = t / theta ** ((2 * i) / d);
    out[i] = v[i] * Math.cos(a) - v[i + h] * Math.sin(a);
    out[i + h] = v[i] * Math.sin(a) + v[i + h] * Math.cos(a);
  }
  return out;
}

/**
 * One layer over a sequence, in float64; query head i reads KV head `kvOf[i]`, so a pruned layer can
 * be run with the mapping of the heads' original groups.
 */
function layerF64(c: ModelConfig, s: LayerShape, w: LayerWeights, hs: number[][], kvOf: number[]): number[][] {
  const D = c.hiddenSize;
  const d = c.headDim;
  const split = (v: number[], n: number) => Array.from({ length: n }, (_, h) => v.slice(h * d, (h + 1) * d));
  const xs = hs.map((h) => rmsnorm(h, w.attnNorm, c.rmsNormEps));
  const qs = xs.map((x, t) => split(matvec(w.wq, x, s.nHeads * d), s.nHeads).map((q) => rope(q, t, c.ropeTheta)));
  const ks = xs.map((x, t) => split(matvec(w.wk, x, s.nKvHeads * d), s.nKvHeads).map((k) => rope(k, t, c.ropeTheta)));
  const vs = xs.map((x) => split(matvec(w.wv, x, s.nKvHeads * d), s.nKvHeads));
  return hs.map((h, t) => {
    const z: number[] = [];
    for (let i = 0; i < s.nHeads; i++) {
      const g = kvOf[i];
      const logits = Array.from({ length: t + 1 }, (_, u) => qs[t][i].reduce((a, q, j) => a + q * ks[u][g][j], 0) / Math.sqrt(d));
      const m = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - m));
      const sum = e.reduce((a, v) => a + v, 0);
      for (let j = 0; j < d; j++) z.push(e.reduce((a, p, u) => a + (p / sum) * vs[u][g][j], 0));
    }
    const o = matvec(w.wo, z, D).map((v, r) => v + (w.oBias ? w.oBias[r] : 0));
    const h1 = h.map((v, r) => v + o[r]);
    const x2 = rmsnorm(h1, w.ffnNorm, c.rmsNormEps);
    const gate = matvec(w.wGate, x2, s.ffnDim);
    const up = matvec(w.wUp, x2, s.ffnDim);
    const hid = gate.map((g, k) => (g / (1 + Math.exp(-g))) * up[k]);
    const y = matvec(w.wDown, hid, D).map((v, r) => v + (w.downBias ? w.downBias[r] : 0));
    return h1.map((v, r) => v + y[r]);
  });
}

function logitsF64(m: ModelWeights, ids: number[], kvOfLayer: number[][]): number[][] {
  const c = m.config;
  const D = c.hiddenSize;
  let hs = ids.map((id) => Array.from(m.embedding.subarray(id * D, (id + 1) * D)));
  c.layers.forEach((s, l) => (hs = layerF64(c, s, m.layers[l], hs, kvOfLayer[l])));
  const cls = m.classifier ?? m.embedding;
  return hs.map((h) => matvec(cls, rmsnorm(h, m.finalNorm, c.rmsNormEps), c.vocabSize));
}

// ---- the model ----

const SHAPE: LayerShape = { nHeads: 6, nKvHeads: 2, ffnDim: 20, oBias: false, downBias: false };
const dense = syntheticModel([SHAPE, SHAPE], { hiddenSize: 16, headDim: 4, vocabSize: 24 });
const calib = Array.from({ length: 8 }, (_, i) => Array.from({ length: 24 }, (_, t) => (i * 7 + t * 5 + ((t * t) % 11)) % 24));

describe('query-head pruning on a synthetic GQA model', () => {
  for (const [name, be] of BACKENDS) {
    for (const method of ['slimllm', 'obs', 'flap', 'wanda-sp', 'magnitude', 'random'] as const) {
      it(`${method} (${name}): equal cuts per group, KV heads kept, logits equal the float64 forward with original groups`, async () => {
        const { model, report } = await prune(dense, { method, headUnit: 'query', layerRatio: 0.4, prunedLayers: method === 'slimllm' || method === 'obs' ? 2 : undefined, calibration: { tokens: calib }, device: be() });
        const q = SHAPE.nHeads / SHAPE.nKvHeads;
        const kvOfLayer = report.layers.map((l, i) => {
          const kept = l.keptQueryHeads ?? Array.from({ length: SHAPE.nHeads }, (_, h) => h);
          expect(model.config.layers[i].nKvHeads).toBe(SHAPE.nKvHeads);
          expect(model.config.layers[i].nHeads).toBe(kept.length);
          const perGroup = [0, 1].map((g) => kept.filter((h) => Math.floor(h / q) === g).length);
          expect(perGroup[0]).toBe(perGroup[1]);
          expect(perGroup[0]).toBeGreaterThan(0);
          return kept.map((h) => Math.floor(h / q));
        });
        expect(report.layers.some((l) => (l.keptQueryHeads?.length ?? SHAPE.nHeads) < SHAPE.nHeads)).toBe(true);
        const removedHeads = report.layers.reduce((s, l) => s + SHAPE.nHeads - (l.keptQueryHeads?.length ?? SHAPE.nHeads), 0);
        const removedChannels = report.layers.reduce((s, l) => s + SHAPE.ffnDim - (l.keptChannels?.length ?? SHAPE.ffnDim), 0);
        expect(report.params.before - report.params.after).toBe(removedHeads * 2 * 4 * 16 + removedChannels * 3 * 16);
        const pruned = readAllWeights(model);
        const ids = calib[3].slice(0, 12);
        const [got] = await sequenceLogits(be(), model, [ids]);
        const want = logitsF64(pruned, ids, kvOfLayer);
        let worst = 0;
        want.forEach((row, t) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - got[t * 24 + j])))));
        expect(worst).toBeLessThan(2e-4);
        // Negative control: the same weights with every kept head wired to the other group differ.
        const crossed = logitsF64(pruned, ids, kvOfLayer.map((m) => m.map((g) => 1 - g)));
        let off = 0;
        crossed.forEach((row, t) => row.forEach((v, j) => (off = Math.max(off, Math.abs(v - got[t * 24 + j])))));
        expect(off).toBeGreaterThan(1e-3);
      });
    }
  }

  it('refuses widths that do not cut every group alike, naming the layer', () => {
    const c = dense.config;
    expect(() => resolveRatios(c, [0, 0], { kind: 'explicit', heads: [1, 0], channels: [0, 0] }, 'query')).toThrow(
      'layer 0: cannot remove 1 of 6 query heads (a multiple of 2 groups, one head left in each)',
    );
    expect(() => resolveRatios(c, [0, 0], { kind: 'explicit', heads: [0, 6], channels: [0, 0] }, 'query')).toThrow(/^layer 1: cannot remove 6 of 6 query heads/);
    expect(resolveRatios(c, [0, 0], { kind: 'explicit', heads: [2, 4], channels: [0, 0] }, 'query').ratios[1]).toBeCloseTo((4 * 2 * 4 * 16) / (6 * 2 * 4 * 16 + 2 * 2 * 4 * 16 + 3 * 16 * 20), 12);
  });
});

// ---- SlimLLM's choice against an independent float64 search ----

/** F(set) = Σ_c |pearson(Σ_{h∈set} O_h[:,c], Y[:,c])| on materialised head outputs O_h = Z[:,S_h]·W_o[:,S_h]ᵀ. */
function setScoreF64(O: number[][][], set: number[]): number {
  const M = O[0].length;
  const D = O[0][0].length;
  const all = O.map((_, h) => h);
  let f = 0;
  for (let c = 0; c < D; c++) {
    const x = Array.from({ length: M }, (_, r) => set.reduce((s, h) => s + O[h][r][c], 0));
    const y = Array.from({ length: M }, (_, r) => all.reduce((s, h) => s + O[h][r][c], 0));
    const mx = x.reduce((a, v) => a + v, 0) / M;
    const my = y.reduce((a, v) => a + v, 0) / M;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let r = 0; r < M; r++) {
      sxy += (x[r] - mx) * (y[r] - my);
      sxx += (x[r] - mx) ** 2;
      syy += (y[r] - my) ** 2;
    }
    if (sxx > 0 && syy > 0) f += Math.abs(sxy / Math.sqrt(sxx * syy));
  }
  return f;
}

/** The reference procedure with equal cuts per group: rank by F(all∖{h}), fill quotas, swap inside groups. */
function searchF64(O: number[][][], q: number, nPrune: number): number[] {
  const H = O.length;
  const all = O.map((_, h) => h);
  const sim = all.map((h) => setScoreF64(O, all.filter((x) => x !== h)));
  const rank = all.slice().sort((a, b) => sim[b] - sim[a] || a - b);
  const quota = nPrune / (H / q);
  const taken = new Map<number, number>();
  const pruned: number[] = [];
  const kept: number[] = [];
  for (const h of rank) {
    const g = Math.floor(h / q);
    if ((taken.get(g) ?? 0) < quota) {
      taken.set(g, (taken.get(g) ?? 0) + 1);
      pruned.push(h);
    } else kept.push(h);
  }
  let f = setScoreF64(O, kept);
  for (const p of pruned) {
    let best = f;
    let pos = -1;
    kept.forEach((j, i) => {
      if (Math.floor(j / q) !== Math.floor(p / q)) return;
      const v = setScoreF64(O, kept.map((x, k) => (k === i ? p : x)));
      if (v > best) [best, pos] = [v, i];
    });
    if (pos >= 0) {
      kept[pos] = p;
      f = best;
    }
  }
  return kept.sort((a, b) => a - b);
}

describe('SlimLLM over query heads against a float64 search on materialised outputs', () => {
  const [H, q, d, D, M] = [6, 3, 2, 5, 80];
  const n = H * d;
  const Z = randn(M * n, 31);
  for (let r = 0; r < M; r++) for (let j = 0; j < n; j++) Z[r * n + j] += 0.7 * Z[r * n + ((j + 5) % n)];
  const wo = randn(D * n, 32, 0.6);
  const O = Array.from({ length: H }, (_, h) =>
    Array.from({ length: M }, (_, r) => Array.from({ length: D }, (_, c) => {
      let s = 0;
      for (let j = h * d; j < (h + 1) * d; j++) s += Z[r * n + j] * wo[c * n + j];
      return s;
    })));
  const mean = new Float64Array(n);
  for (let r = 0; r < M; r++) for (let j = 0; j < n; j++) mean[j] += Z[r * n + j] / M;
  const m2 = new Float32Array(n * n);
  for (let r = 0; r < M; r++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m2[i * n + j] += (Z[r * n + i] - mean[i]) * (Z[r * n + j] - mean[j]);
  for (const [name, be] of BACKENDS) {
    for (const nPrune of [2, 4]) {
      it(`${name}: removing ${nPrune} of ${H} query heads (${q} per group) picks the same heads`, async () => {
        const b = be();
        const zero = new Float32Array(0);
        const w: LayerWeights = { attnNorm: zero, wq: zero, wk: zero, wv: zero, wo, oBias: null, ffnNorm: zero, wGate: zero, wUp: zero, wDown: zero, downBias: null };
        const ctx: ModuleContext<Tensor> = {
          b, kind: 'attention', layer: 0, w, wOut: b.upload(wo, [D, n]), D, units: H, colsPerUnit: d, blockSize: q, nPrune,
          stats: { count: M, mean: Float32Array.from(mean), sumsq: new Float32Array(n), m2: b.upload(m2, [n, n]) },
          timer: new PhaseTimer(),
        };
        const sel = await slimllmMethod({ keepLowest: 0 }).select(ctx);
        b.free(ctx.stats.m2);
        b.free(ctx.wOut);
        expect(sel.kept).toEqual(searchF64(O, q, nPrune));
      });
    }
  }
});
