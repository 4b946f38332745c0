// The SlimLLM pruning run (ALGORITHM.md section 3): a dense pass for the layer scores, then layer
// by layer — statistics of the unpruned attention on the (already perturbed) input, head-group
// choice, regression of o_proj, re-run of the pruned attention, statistics of the unpruned MLP,
// channel choice, regression of down_proj, re-run of the pruned MLP. Weights are read one layer at a
// time; the statistics are streamed on the backend, batch by batch, so memory does not grow with the
// number of calibration tokens.
import type { Backend, CovStats, Tensor } from '../kernels/backend.js';
import { decoderLinearParams, type LayerShape, type ModelConfig } from '../model/config.js';
import { attentionBlock, attentionHeads, decoderLayer, embedTokens, freeLayer, mlpBlock, mlpHidden, uploadLayer } from '../model/forward.js';
import { defaultBatchRows, planBatches } from '../model/runner.js';
import type { LayerWeights, ModelSource, ModelWeights } from '../model/weights.js';
import { channelScores, outputCovariance, selectChannels } from './channels.js';
import { groupColumns, selectHeadGroups } from './heads.js';
import type { PruneOptions } from './options.js';
import { layerRatios, unitsToPrune } from './ratios.js';
import { regressionFromCov } from './regression.js';

export type PrunePhase = 'forward' | 'statistics' | 'scoring' | 'eigen' | 'regression';

export interface PruneProgress {
  layer: number;
  layers: number;
  phase: string;
}

export interface LayerReport {
  index: number;
  ratio: number;
  /** Kept KV groups (original indices, ascending); null when the layer was left whole. */
  keptHeadGroups: number[] | null;
  keptChannels: number[] | null;
  prunedHeadGroups: number;
  prunedChannels: number;
  /** True when the ratio asked for more than "all but one" group/channel. */
  bounded: boolean;
  headScores?: number[];
  greedySwaps?: number;
  regression?: { attention: RegressionSummary | null; mlp: RegressionSummary | null };
}

export interface RegressionSummary {
  meanA: number;
  minA: number;
  maxA: number;
  degenerate: number;
}

export interface PruneReport {
  method: 'slimllm';
  recovery: 'regression';
  device: string;
  p: number;
  K: number;
  alpha: number;
  keepLowest: number;
  headUnit: 'group';
  calibration: { sequences: number; seqLen: number; tokens: number };
  layerScores: number[];
  ratios: number[];
  layers: LayerReport[];
  params: { before: number; after: number; removedFraction: number };
  timeMs: Record<PrunePhase | 'total', number>;
}

/** Parameters removed from layer shapes by a given p (before pruning). */
function removedFraction(c: ModelConfig, ratios: number[]): number {
  const D = c.hiddenSize;
  const d = c.headDim;
  let removed = 0;
  ratios.forEach((r, l) => {
    if (r <= 0) return;
    const s = c.layers[l];
    const q = s.nHeads / s.nKvHeads;
    removed += unitsToPrune(r, s.nKvHeads).n * (2 * q * d * D + 2 * d * D);
    removed += unitsToPrune(r, s.ffnDim).n * 3 * D;
  });
  return removed / decoderLinearParams(c);
}

/** Solves p for a target fraction of decoder linear parameters removed (bisection; steps are integral). */
export function solveP(c: ModelConfig, scores: number[], K: number, alpha: number, target: number): number {
  if (target === 0) return 0;
  const frac = (p: number) => removedFraction(c, layerRatios(scores, p, K, alpha).ratios);
  let lo = 0;
  let hi = 0.999999;
  if (frac(hi) < target) return hi;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (frac(mid) < target) lo = mid;
    else hi = mid;
  }
  return Math.abs(frac(lo) - target) <= Math.abs(frac(hi) - target) ? lo : hi;
}

interface Timer {
  t: Record<PrunePhase | 'total', number>;
  run<R>(phase: PrunePhase, f: () => R): R;
  runAsync<R>(phase: PrunePhase, f: () => Promise<R>): Promise<R>;
}

function timer(): Timer {
  const t = { forward: 0, statistics: 0, scoring: 0, eigen: 0, regression: 0, total: 0 };
  return {
    t,
    run(phase, f) {
      const s = performance.now();
      try {
        return f();
      } finally {
        t[phase] += performance.now() - s;
      }
    },
    async runAsync(phase, f) {
      const s = performance.now();
      try {
        return await f();
      } finally {
        t[phase] += performance.now() - s;
      }
    },
  };
}

async function readStats<T extends Tensor>(b: Backend<T>, s: CovStats<T>) {
  return { count: s.count, mean: await b.read(s.mean), m2: await b.read(s.m2), sumsq: await b.read(s.sumsq) };
}

/** Rows of one batch hidden state tensor per calibration batch. */
interface CalBatch<T extends Tensor> {
  seqLen: number;
  hidden: T;
}

function rowsToCols(w: Float32Array, rows: number, cols: number, keepRows: number[]): Float32Array {
  const out = new Float32Array(keepRows.length * cols);
  keepRows.forEach((r, i) => out.set(w.subarray(r * cols, (r + 1) * cols), i * cols));
  return out;
}

function sliceColumns(w: Float32Array, rows: number, cols: number, keep: number[]): Float32Array {
  const out = new Float32Array(rows * keep.length);
  for (let r = 0; r < rows; r++) for (let j = 0; j < keep.length; j++) out[r * keep.length + j] = w[r * cols + keep[j]];
  return out;
}

export async function pruneSlimLLM<T extends Tensor>(
  b: Backend<T>,
  src: ModelSource,
  calib: number[][],
  o: PruneOptions,
  onProgress?: (p: PruneProgress) => void,
): Promise<{ model: ModelWeights; report: PruneReport }> {
  const c = src.config;
  const L = c.nLayers;
  const D = c.hiddenSize;
  const d = c.headDim;
  const K = o.prunedLayers ?? Math.max(1, Math.round(0.8 * L));
  if (K > L) throw new Error(`prunedLayers (K) = ${K} exceeds the model's ${L} layers`);
  const seqLen = calib[0].length;
  for (const [i, s] of calib.entries()) {
    if (s.length !== seqLen) throw new Error(`calibration sequence ${i} has ${s.length} tokens; all must have ${seqLen}`);
    if (s.length > c.maxSeqLen) throw new Error(`calibration length ${s.length} exceeds the model's maximum sequence length ${c.maxSeqLen}`);
    for (const id of s) if (id >= c.vocabSize) throw new Error(`calibration token ${id} is outside the model's vocabulary (${c.vocabSize}): tokenizer and model do not match`);
  }
  const tm = timer();
  const t0 = performance.now();
  const rowsPerBatch = o.batchRows ?? defaultBatchRows(c);
  const plan = planBatches(calib.map((s) => s.length), Math.max(rowsPerBatch, seqLen), Number.MAX_SAFE_INTEGER)[0];
  const table = src.embedding();
  const embed = (): CalBatch<T>[] =>
    plan.map((members) => {
      const ids = members.flatMap((m) => calib[m]);
      return { seqLen, hidden: b.upload(embedTokens(c, table, ids), [ids.length, D]) };
    });
  const M = calib.length * seqLen;

  // 1. Dense pass: s_l = mean cos(h_in, h_out).
  const layerScores: number[] = [];
  await tm.runAsync('forward', async () => {
    const batches = embed();
    for (let l = 0; l < L; l++) {
      onProgress?.({ layer: l, layers: L, phase: 'layer scores' });
      const dl = uploadLayer(b, c, l, src.layer(l));
      let sum = 0;
      for (const batch of batches) {
        const next = decoderLayer(b, c, dl, batch.hidden, seqLen);
        const cs = b.rowCosineSum(batch.hidden, next);
        sum += (await b.read(cs))[0];
        b.free(cs);
        b.free(batch.hidden);
        batch.hidden = next;
      }
      freeLayer(b, dl);
      layerScores.push(sum / M);
    }
    for (const batch of batches) b.free(batch.hidden);
  });

  const p = o.layerRatio ?? solveP(c, layerScores, K, o.alpha, o.targetRatio ?? 0);
  const { ratios } = layerRatios(layerScores, p, K, o.alpha);

  // 2. Sequential, error-aware pruning.
  const batches = embed();
  const outLayers: LayerWeights[] = [];
  const shapes: LayerShape[] = [];
  const reports: LayerReport[] = [];
  for (let l = 0; l < L; l++) {
    const w = src.layer(l);
    const s = c.layers[l];
    const r = ratios[l];
    const G = s.nKvHeads;
    const q = s.nHeads / s.nKvHeads;
    const F = s.ffnDim;
    const headsCut = unitsToPrune(r, G);
    const chanCut = unitsToPrune(r, F);
    const rep: LayerReport = { index: l, ratio: r, keptHeadGroups: null, keptChannels: null, prunedHeadGroups: 0, prunedChannels: 0, bounded: false };
    const dl = uploadLayer(b, c, l, w);
    if (r <= 0) {
      onProgress?.({ layer: l, layers: L, phase: 'forward (kept whole)' });
      await tm.runAsync('forward', async () => {
        for (const batch of batches) {
          const next = decoderLayer(b, c, dl, batch.hidden, seqLen);
          b.free(batch.hidden);
          batch.hidden = next;
        }
        await b.sync();
      });
      freeLayer(b, dl);
      outLayers.push(w);
      shapes.push(s);
      reports.push(rep);
      continue;
    }
    rep.bounded = headsCut.bounded || chanCut.bounded;

    // --- attention -------------------------------------------------------------------------
    let attnW: Pick<LayerWeights, 'wq' | 'wk' | 'wv' | 'wo' | 'oBias'> = w;
    let attnShape = { nHeads: s.nHeads, nKvHeads: G, oBias: s.oBias };
    const allGroups = Array.from({ length: G }, (_, g) => g);
    rep.keptHeadGroups = allGroups;
    if (headsCut.n > 0) {
      onProgress?.({ layer: l, layers: L, phase: 'attention statistics' });
      const zStats = b.covInit(s.nHeads * d);
      await tm.runAsync('statistics', async () => {
        for (const batch of batches) {
          const x = b.rmsnorm(batch.hidden, dl.attnNorm, c.rmsNormEps);
          const z = attentionHeads(b, c, dl, x, seqLen);
          b.covAccumulate(zStats, z);
          b.free(x);
          b.free(z);
        }
      });
      const zs = await tm.runAsync('statistics', () => readStats(b, zStats));
      b.covFree(zStats);
      onProgress?.({ layer: l, layers: L, phase: 'head scoring' });
      const sel = tm.run('scoring', () => selectHeadGroups(w.wo, D, zs, G, q * d, headsCut.n));
      const keptCols = groupColumns(sel.kept, q * d);
      const reg = tm.run('regression', () =>
        regressionFromCov({ w: w.wo, D, n: s.nHeads * d, mean: zs.mean, m2: zs.m2, count: zs.count, kept: keptCols, bias: w.oBias }),
      );
      // Group g's query heads are g·q..g·q+q−1: their q_proj rows are exactly its o_proj columns.
      const keptQRows = keptCols;
      const kvRows = sel.kept.flatMap((g) => Array.from({ length: d }, (_, j) => g * d + j));
      attnW = {
        wq: rowsToCols(w.wq, s.nHeads * d, D, keptQRows),
        wk: rowsToCols(w.wk, G * d, D, kvRows),
        wv: rowsToCols(w.wv, G * d, D, kvRows),
        wo: reg.newWeight,
        oBias: reg.newBias,
      };
      attnShape = { nHeads: sel.kept.length * q, nKvHeads: sel.kept.length, oBias: true };
      rep.keptHeadGroups = sel.kept;
      rep.prunedHeadGroups = sel.pruned.length;
      rep.headScores = sel.scores;
      rep.greedySwaps = sel.swaps;
      rep.regression = { attention: reg.summary, mlp: null };
    }

    // Re-run the (pruned) attention to get the MLP's input.
    const prunedShape: LayerShape = { ...s, ...attnShape };
    const pdl = uploadLayer(b, { ...c, layers: c.layers.map((x, i) => (i === l ? prunedShape : x)) }, l, { ...w, ...attnW });
    onProgress?.({ layer: l, layers: L, phase: 'attention forward' });
    await tm.runAsync('forward', async () => {
      for (const batch of batches) {
        const next = attentionBlock(b, c, pdl, batch.hidden, seqLen);
        b.free(batch.hidden);
        batch.hidden = next;
      }
      await b.sync();
    });

    // --- MLP ---------------------------------------------------------------------------------
    let mlpW: Pick<LayerWeights, 'wGate' | 'wUp' | 'wDown' | 'downBias'> = w;
    let mlpShape = { ffnDim: F, downBias: s.downBias };
    rep.keptChannels = Array.from({ length: F }, (_, k) => k);
    if (chanCut.n > 0) {
      onProgress?.({ layer: l, layers: L, phase: 'MLP statistics' });
      const hStats = b.covInit(F);
      const xStats = b.covInit(D);
      await tm.runAsync('statistics', async () => {
        for (const batch of batches) {
          const x = b.rmsnorm(batch.hidden, dl.ffnNorm, c.rmsNormEps);
          const hid = mlpHidden(b, dl, x);
          b.covAccumulate(hStats, hid);
          b.covAccumulate(xStats, x);
          b.free(x);
          b.free(hid);
        }
      });
      const hs = await tm.runAsync('statistics', () => readStats(b, hStats));
      const xs = await tm.runAsync('statistics', () => readStats(b, xStats));
      b.covFree(hStats);
      b.covFree(xStats);
      onProgress?.({ layer: l, layers: L, phase: 'channel scoring' });
      const cy = tm.run('scoring', () => outputCovariance(w.wDown, D, F, hs.m2));
      const eig = await tm.runAsync('eigen', async () => {
        const t = b.upload(Float32Array.from(cy), [D, D]);
        const e = b.eigh(t);
        const out = { values: await b.read(e.values), vectors: await b.read(e.vectors) };
        b.free(t);
        b.free(e.values);
        b.free(e.vectors);
        return out;
      });
      const scores = tm.run('scoring', () =>
        channelScores({ wGate: w.wGate, wUp: w.wUp, wDown: w.wDown, D, F, inputSumsq: xs.sumsq, hiddenSumsq: hs.sumsq, eigValues: eig.values, eigVectors: eig.vectors }),
      );
      const sel = selectChannels(scores, chanCut.n, o.keepLowest);
      const reg = tm.run('regression', () =>
        regressionFromCov({ w: w.wDown, D, n: F, mean: hs.mean, m2: hs.m2, count: hs.count, kept: sel.kept, bias: w.downBias }),
      );
      mlpW = {
        wGate: rowsToCols(w.wGate, F, D, sel.kept),
        wUp: rowsToCols(w.wUp, F, D, sel.kept),
        wDown: reg.newWeight,
        downBias: reg.newBias,
      };
      mlpShape = { ffnDim: sel.kept.length, downBias: true };
      rep.keptChannels = sel.kept;
      rep.prunedChannels = sel.pruned.length;
      rep.bounded ||= sel.bounded;
      rep.regression = { attention: rep.regression?.attention ?? null, mlp: reg.summary };
    }
    freeLayer(b, dl);
    freeLayer(b, pdl);

    const finalShape: LayerShape = { ...prunedShape, ...mlpShape };
    const finalW: LayerWeights = { ...w, ...attnW, ...mlpW };
    const cfgL = { ...c, layers: c.layers.map((x, i) => (i === l ? finalShape : x)) };
    const fdl = uploadLayer(b, cfgL, l, finalW);
    onProgress?.({ layer: l, layers: L, phase: 'MLP forward' });
    await tm.runAsync('forward', async () => {
      for (const batch of batches) {
        const next = mlpBlock(b, c, fdl, batch.hidden);
        b.free(batch.hidden);
        batch.hidden = next;
      }
      await b.sync();
    });
    freeLayer(b, fdl);
    outLayers.push(finalW);
    shapes.push(finalShape);
    reports.push(rep);
  }
  for (const batch of batches) b.free(batch.hidden);

  const config: ModelConfig = { ...c, layers: shapes };
  const model: ModelWeights = {
    config,
    embedding: table,
    layers: outLayers,
    finalNorm: src.finalNorm(),
    classifier: c.tieEmbeddings ? null : src.classifier(),
  };
  const before = decoderLinearParams(c);
  const after = decoderLinearParams(config);
  tm.t.total = performance.now() - t0;
  return {
    model,
    report: {
      method: 'slimllm',
      recovery: 'regression',
      device: b.deviceName,
      p,
      K,
      alpha: o.alpha,
      keepLowest: o.keepLowest,
      headUnit: o.headUnit,
      calibration: { sequences: calib.length, seqLen, tokens: M },
      layerScores,
      ratios,
      layers: reports,
      params: { before, after, removedFraction: 1 - after / before },
      timeMs: tm.t,
    },
  };
}
