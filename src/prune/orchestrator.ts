// The pruning run (ALGORITHM.md section 3): a dense pass for the layer scores, then layer by layer —
// statistics of the unpruned attention on the (already perturbed) input, the method's choice of
// head groups, the recovery of o_proj, a re-run of the pruned attention; statistics of the unpruned
// MLP, the choice of channels, the recovery of down_proj, a re-run of the pruned MLP. Weights are
// read one layer at a time; statistics are streamed on the backend batch by batch, so memory does
// not grow with the number of calibration tokens.
import type { Backend, Tensor } from '../kernels/backend.js';
import { decoderLinearParams, layerLinearParams, type LayerShape, type ModelConfig } from '../model/config.js';
import { attentionBlock, attentionHeads, decoderLayer, embedTokens, freeLayer, mlpBlock, mlpHidden, uploadLayer, type DeviceLayer } from '../model/forward.js';
import { defaultBatchRows, planBatches, yieldToEventLoop } from '../model/runner.js';
import type { LayerWeights, ModelSource } from '../model/weights.js';
import { diskLayerStore, type LayerStore, storedModel } from './layer-store.js';
import { unitColumns, type InputStats, type ModuleContext, type ModuleKind, type PruningMethod, type Recovery } from './module.js';
import { takeRows } from './products.js';
import { layerRatios, unitsToPrune } from './ratios.js';
import { PhaseTimer, type Phase } from './timer.js';

export interface PruneProgress {
  layer: number;
  layers: number;
  phase: string;
}

export interface ModuleReport {
  units: number;
  pruned: number;
  recovery: Record<string, number> | null;
  details?: Record<string, unknown>;
}

export interface LayerReport {
  index: number;
  ratio: number;
  /** Kept KV groups (original indices, ascending); null when the layer was left whole. */
  keptHeadGroups: number[] | null;
  keptChannels: number[] | null;
  /** True when the ratio asked for more than "all but one" group/channel (or a method bound hit). */
  bounded: boolean;
  attention?: ModuleReport;
  mlp?: ModuleReport;
}

export interface PruneReport {
  method: string;
  recovery: string;
  device: string;
  p: number;
  K: number;
  alpha: number;
  calibration: { sequences: number; seqLen: number; tokens: number };
  layerScores: number[];
  ratios: number[];
  layers: LayerReport[];
  params: { before: number; after: number; removedFraction: number };
  timeMs: Record<Phase | 'total', number>;
  peak: { gpuMB: number | null; rssMB: number };
  /** What makes the result doubtful though it ran (degenerate calibration); also printed by the CLI. */
  warnings: string[];
}

/** Throws naming the layer, module and statistic when a read-back statistic is not finite. */
function finiteStatistic(a: Float32Array, name: string, where: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new Error(`${where}: calibration statistic '${name}' is ${a[i]} at input ${i} (activations overflowed or the weights are not finite)`);
  }
}

/** How much each layer loses: SlimLLM's layer-based ratio, or one ratio for every layer. */
export type RatioPolicy =
  | { kind: 'layer-based'; p?: number; targetRatio?: number; K: number; alpha: number }
  | { kind: 'uniform'; p?: number; targetRatio?: number }
  /** Head groups / FFN channels to remove per layer, decided beforehand (FLAP's global threshold). */
  | { kind: 'explicit'; heads: number[]; channels: number[] };

export interface PruneRun {
  method: PruningMethod;
  recovery: Recovery;
  ratios: RatioPolicy;
  batchRows?: number;
  /**
   * Where finished layers go (default: a disk store in the OS temp folder, so host memory does not
   * grow with the layer count). The returned model reads its layers from it; close() frees it.
   */
  layerStore?: LayerStore;
}

/** Fraction of decoder linear parameters removed by given per-layer ratios (before any method bound). */
export function removedFraction(c: ModelConfig, ratios: number[]): number {
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

/** Solves p (bisection) so that ratios(p) remove the fraction of parameters closest to `target`. */
export function solveP(c: ModelConfig, ratiosOf: (p: number) => number[], target: number): number {
  if (target <= 0) return 0;
  const frac = (p: number) => removedFraction(c, ratiosOf(p));
  let lo = 0;
  let hi = 0.999999;
  // Refused rather than silently removing less than asked.
  if (frac(hi) < target) {
    throw new Error(`targetRatio ${target} cannot be reached: at most ${frac(hi).toFixed(4)} of the decoder's linear parameters can be removed with these settings (K, alpha, method)`);
  }
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (frac(mid) < target) lo = mid;
    else hi = mid;
  }
  return Math.abs(frac(lo) - target) <= Math.abs(frac(hi) - target) ? lo : hi;
}

function resolveRatios(c: ModelConfig, scores: number[], pol: RatioPolicy): { p: number; K: number; alpha: number; ratios: number[] } {
  const L = c.nLayers;
  if (pol.kind === 'explicit') {
    // Reported ratio of a layer: the fraction of its linear parameters removed; p: of the decoder.
    if (pol.heads.length !== L || pol.channels.length !== L) throw new Error(`explicit widths need ${L} layers, got ${pol.heads.length} / ${pol.channels.length}`);
    let removed = 0;
    const ratios = c.layers.map((s, l) => {
      const [h, f] = [pol.heads[l], pol.channels[l]];
      if (!(Number.isInteger(h) && h >= 0 && h < s.nKvHeads)) throw new Error(`layer ${l}: cannot remove ${h} of ${s.nKvHeads} head groups`);
      if (!(Number.isInteger(f) && f >= 0 && f < s.ffnDim)) throw new Error(`layer ${l}: cannot remove ${f} of ${s.ffnDim} channels`);
      const q = s.nHeads / s.nKvHeads;
      const r = h * (2 * q * c.headDim * c.hiddenSize + 2 * c.headDim * c.hiddenSize) + f * 3 * c.hiddenSize;
      removed += r;
      return r / layerLinearParams(c, l);
    });
    return { p: removed / decoderLinearParams(c), K: ratios.filter((r) => r > 0).length, alpha: 0, ratios };
  }
  const ratiosOf =
    pol.kind === 'layer-based'
      ? (p: number) => layerRatios(scores, p, pol.K, pol.alpha).ratios
      : (p: number) => Array.from({ length: L }, () => p);
  const p = pol.p ?? solveP(c, ratiosOf, pol.targetRatio ?? 0);
  return { p, K: pol.kind === 'layer-based' ? pol.K : L, alpha: pol.kind === 'layer-based' ? pol.alpha : 0, ratios: ratiosOf(p) };
}

interface CalBatch<T extends Tensor> {
  hidden: T;
}

/** Validates calibration token ids against the model. */
export function checkCalibration(c: ModelConfig, calib: number[][]): number {
  if (calib.length === 0) throw new Error('calibration is empty');
  const seqLen = calib[0].length;
  for (const [i, s] of calib.entries()) {
    if (s.length !== seqLen) throw new Error(`calibration sequence ${i} has ${s.length} tokens; all must have ${seqLen}`);
    for (const id of s) {
      if (!(Number.isInteger(id) && id >= 0 && id < c.vocabSize)) {
        throw new Error(`calibration token ${id} is outside the model's vocabulary (${c.vocabSize}): tokenizer and model do not match`);
      }
    }
  }
  if (seqLen > c.maxSeqLen) throw new Error(`calibration length ${seqLen} exceeds the model's maximum sequence length ${c.maxSeqLen}`);
  return seqLen;
}

export async function pruneModel<T extends Tensor>(
  b: Backend<T>,
  src: ModelSource,
  calib: number[][],
  run: PruneRun,
  onProgress?: (p: PruneProgress) => void,
): Promise<{ model: ModelSource; report: PruneReport }> {
  const store = run.layerStore ?? diskLayerStore();
  try {
    return await pruneInto(b, src, calib, run, store, onProgress);
  } catch (e) {
    store.close(); // nothing of a failed run stays on disk
    throw e;
  }
}

async function pruneInto<T extends Tensor>(
  b: Backend<T>,
  src: ModelSource,
  calib: number[][],
  run: PruneRun,
  store: LayerStore,
  onProgress?: (p: PruneProgress) => void,
): Promise<{ model: ModelSource; report: PruneReport }> {
  const c = src.config;
  const L = c.nLayers;
  const D = c.hiddenSize;
  const d = c.headDim;
  // Each phase also lets the event loop run, so a signal (Ctrl-C) is handled between phases even
  // when the CPU backend computes without ever waiting.
  const progressAt = async (p: PruneProgress) => {
    onProgress?.(p);
    await yieldToEventLoop();
  };
  if (run.ratios.kind === 'layer-based' && run.ratios.K > L) throw new Error(`prunedLayers (K) = ${run.ratios.K} exceeds the model's ${L} layers`);
  const seqLen = checkCalibration(c, calib);
  const timer = new PhaseTimer();
  const t0 = performance.now();
  let peakRss = process.memoryUsage().rss;
  const sampleRss = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  const rows = Math.max(run.batchRows ?? defaultBatchRows(c), seqLen);
  const plan = planBatches(calib.map((s) => s.length), rows, Number.MAX_SAFE_INTEGER)[0];
  const table = src.embedding();
  const embed = (): CalBatch<T>[] =>
    plan.map((members) => {
      const ids = members.flatMap((m) => calib[m]);
      return { hidden: b.upload(embedTokens(c, table, ids), [ids.length, D]) };
    });
  const M = calib.length * seqLen;
  const forEachBatch = async (batches: CalBatch<T>[], f: (h: T) => T | null) => {
    for (const batch of batches) {
      const next = f(batch.hidden);
      if (next) {
        b.free(batch.hidden);
        batch.hidden = next;
      }
    }
    await b.sync();
  };

  // 1. Dense pass: s_l = mean over rows of cos(h_in, h_out).
  const layerScores: number[] = [];
  await timer.time('forward', async () => {
    const batches = embed();
    for (let l = 0; l < L; l++) {
      await progressAt({ layer: l, layers: L, phase: 'layer scores' });
      const dl = uploadLayer(b, c, l, src.layer(l));
      const sums: T[] = [];
      await forEachBatch(batches, (h) => {
        const next = decoderLayer(b, c, dl, h, seqLen);
        sums.push(b.rowCosineSum(h, next));
        return next;
      });
      let sum = 0;
      for (const s of sums) {
        sum += (await b.read(s))[0];
        b.free(s);
      }
      freeLayer(b, dl);
      layerScores.push(sum / M);
      sampleRss();
    }
    for (const batch of batches) b.free(batch.hidden);
  });
  const { p, K, alpha, ratios } = resolveRatios(c, layerScores, run.ratios);

  // Streams `capture(h)` of every batch into covariance statistics of width n.
  const collect = async (batches: CalBatch<T>[], n: number, capture: (h: T) => [T, T | null], where: () => string) => {
    const main = b.covInit(n);
    const side = b.covInit(D);
    let usedSide = false;
    await timer.time('statistics', async () => {
      for (const batch of batches) {
        const [x, y] = capture(batch.hidden);
        b.covAccumulate(main, x);
        b.free(x);
        if (y) {
          b.covAccumulate(side, y);
          b.free(y);
          usedSide = true;
        }
      }
      await b.sync(); // charge the device work to this phase, not to the next read
    });
    const stats: InputStats<T> = { count: main.count, mean: await b.read(main.mean), sumsq: await b.read(main.sumsq), m2: main.m2 };
    finiteStatistic(stats.mean, 'mean', where());
    finiteStatistic(stats.sumsq, 'sum of squares', where());
    b.free(main.mean);
    b.free(main.sumsq);
    const inputSumsq = usedSide ? await b.read(side.sumsq) : undefined;
    b.covFree(side);
    return { stats, inputSumsq };
  };

  // One module: statistics → choice → recovery. Returns the kept units and the new output projection.
  const pruneModule = async (
    kind: ModuleKind, l: number, w: LayerWeights, units: number, colsPerUnit: number, nPrune: number,
    batches: CalBatch<T>[], capture: (h: T) => [T, T | null],
  ) => {
    await progressAt({ layer: l, layers: L, phase: `${kind} statistics` });
    const { stats, inputSumsq } = await collect(batches, units * colsPerUnit, capture, () => `layer ${l} ${kind}`);
    const ctx: ModuleContext<T> = { b, kind, layer: l, w, D, units, colsPerUnit, nPrune, stats, inputSumsq, timer };
    try {
      await progressAt({ layer: l, layers: L, phase: `${kind} scoring` });
      const sel = await timer.time('scoring', () => run.method.select(ctx));
      const keptCols = unitColumns(sel.kept, colsPerUnit);
      await progressAt({ layer: l, layers: L, phase: `${kind} recovery` });
      const rec = await timer.time('regression', () => run.recovery.recover(ctx, keptCols));
      sampleRss();
      return { sel, keptCols, rec };
    } finally {
      b.free(stats.m2);
    }
  };

  // 2. Sequential, error-aware pruning.
  const batches = embed();
  const shapes: LayerShape[] = [];
  const reports: LayerReport[] = [];
  const withShape = (l: number, s: LayerShape): ModelConfig => ({ ...c, layers: c.layers.map((x, i) => (i === l ? s : x)) });
  for (let l = 0; l < L; l++) {
    const w = src.layer(l);
    const s = c.layers[l];
    const r = ratios[l];
    const G = s.nKvHeads;
    const q = s.nHeads / s.nKvHeads;
    const F = s.ffnDim;
    const explicit = run.ratios.kind === 'explicit' ? run.ratios : null;
    const headsCut = explicit ? { n: explicit.heads[l], bounded: false } : unitsToPrune(r, G);
    const chanCut = explicit ? { n: explicit.channels[l], bounded: false } : unitsToPrune(r, F);
    const rep: LayerReport = { index: l, ratio: r, keptHeadGroups: null, keptChannels: null, bounded: headsCut.bounded || chanCut.bounded };
    const dl: DeviceLayer<T> = uploadLayer(b, c, l, w);
    if (headsCut.n === 0 && chanCut.n === 0) {
      // Left whole, bit for bit (ratio 0 must give identical logits).
      await progressAt({ layer: l, layers: L, phase: 'forward (kept whole)' });
      await timer.time('forward', () => forEachBatch(batches, (h) => decoderLayer(b, c, dl, h, seqLen)));
      freeLayer(b, dl);
      store.put(l, w);
      shapes.push(s);
      if (r > 0) {
        rep.keptHeadGroups = Array.from({ length: G }, (_, g) => g);
        rep.keptChannels = Array.from({ length: F }, (_, k) => k);
      }
      reports.push(rep);
      continue;
    }

    // Attention.
    let shape: LayerShape = { ...s };
    let cur: LayerWeights = { ...w };
    rep.keptHeadGroups = Array.from({ length: G }, (_, g) => g);
    if (headsCut.n > 0) {
      const m = await pruneModule('attention', l, w, G, q * d, headsCut.n, batches, (h) => {
        const x = b.rmsnorm(h, dl.attnNorm, c.rmsNormEps);
        const z = attentionHeads(b, c, dl, x, seqLen);
        b.free(x);
        return [z, null];
      });
      // Group g's query heads are g·q..g·q+q−1, so its q_proj rows are exactly its o_proj columns.
      const kvRows = unitColumns(m.sel.kept, d);
      cur = { ...cur, wq: takeRows(w.wq, D, m.keptCols), wk: takeRows(w.wk, D, kvRows), wv: takeRows(w.wv, D, kvRows), wo: m.rec.weight, oBias: m.rec.bias };
      shape = { ...shape, nHeads: m.sel.kept.length * q, nKvHeads: m.sel.kept.length, oBias: m.rec.bias !== null };
      rep.keptHeadGroups = m.sel.kept;
      rep.bounded ||= m.sel.bounded ?? false;
      rep.attention = { units: G, pruned: G - m.sel.kept.length, recovery: m.rec.summary ?? null, details: m.sel.details };
    }
    // The pruned attention produces the MLP's input.
    const pdl = uploadLayer(b, withShape(l, shape), l, cur);
    await progressAt({ layer: l, layers: L, phase: 'attention forward' });
    await timer.time('forward', () => forEachBatch(batches, (h) => attentionBlock(b, c, pdl, h, seqLen)));

    // MLP.
    rep.keptChannels = Array.from({ length: F }, (_, k) => k);
    if (chanCut.n > 0) {
      const m = await pruneModule('mlp', l, w, F, 1, chanCut.n, batches, (h) => {
        const x = b.rmsnorm(h, dl.ffnNorm, c.rmsNormEps);
        return [mlpHidden(b, dl, x), x];
      });
      cur = { ...cur, wGate: takeRows(w.wGate, D, m.sel.kept), wUp: takeRows(w.wUp, D, m.sel.kept), wDown: m.rec.weight, downBias: m.rec.bias };
      shape = { ...shape, ffnDim: m.sel.kept.length, downBias: m.rec.bias !== null };
      rep.keptChannels = m.sel.kept;
      rep.bounded ||= m.sel.bounded ?? false;
      rep.mlp = { units: F, pruned: F - m.sel.kept.length, recovery: m.rec.summary ?? null, details: m.sel.details };
    }
    freeLayer(b, dl);
    freeLayer(b, pdl);
    const fdl = uploadLayer(b, withShape(l, shape), l, cur);
    await progressAt({ layer: l, layers: L, phase: 'MLP forward' });
    await timer.time('forward', () => forEachBatch(batches, (h) => mlpBlock(b, c, fdl, h)));
    freeLayer(b, fdl);
    store.put(l, cur);
    shapes.push(shape);
    reports.push(rep);
    sampleRss();
  }
  for (const batch of batches) b.free(batch.hidden);

  const config: ModelConfig = { ...c, layers: shapes };
  const model = storedModel(config, store, { embedding: table, finalNorm: src.finalNorm(), classifier: c.tieEmbeddings ? null : src.classifier() });
  const before = decoderLinearParams(c);
  const after = decoderLinearParams(config);
  const memory = b.deviceMemory();
  const gpuPeak = memory ? memory.peakBytes / 2 ** 20 : null;
  return {
    model,
    report: {
      method: run.method.name,
      recovery: run.recovery.name,
      device: b.deviceName,
      p, K, alpha,
      calibration: { sequences: calib.length, seqLen, tokens: M },
      layerScores,
      ratios,
      layers: reports,
      params: { before, after, removedFraction: 1 - after / before },
      timeMs: { ...timer.ms, total: performance.now() - t0 },
      peak: { gpuMB: gpuPeak, rssMB: peakRss / 2 ** 20 },
      warnings: calibrationWarnings(c, calib),
    },
  };
}

/**
 * Degenerate calibration: the statistics of a module of width n have rank at most (number of
 * calibration rows − 1), and text with a handful of distinct tokens spans only a few directions.
 * Such a run finishes, but its choices rest on too little: say so.
 */
export function calibrationWarnings(c: ModelConfig, calib: number[][]): string[] {
  const rows = calib.reduce((a, s) => a + s.length, 0);
  const distinct = new Set(calib.flat()).size;
  const width = Math.max(c.hiddenSize, ...c.layers.map((s) => Math.max(s.ffnDim, s.nHeads * c.headDim)));
  const out: string[] = [];
  if (rows - 1 < width) {
    out.push(`calibration has ${rows} token positions, fewer than the widest module's ${width} inputs: its statistics are rank-deficient (use more or longer samples)`);
  }
  if (distinct < Math.min(32, c.vocabSize / 4)) {
    out.push(`calibration uses only ${distinct} distinct token ids: its statistics describe almost nothing of the model's inputs (use real text)`);
  }
  return out;
}
