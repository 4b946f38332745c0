// Baseline unit choices beside SlimLLM (docs/algorithm.md), all through the same orchestrator:
//   magnitude — L2 norm of a unit's weights (q/k/v rows + o_proj columns; gate/up rows + down column);
//   wanda-sp  — mean over output rows of |W[c,j]|·‖x_j‖ per input column of o_proj/down_proj, summed per unit;
//   flap      — fluctuation (input variance × squared column norm), standardised per layer and module,
//               one global threshold giving adaptive widths (FLAP, An et al. 2024, code's "WIFV"/"AL-AM");
//   random    — seeded uniform choice, the floor.
// Every method prunes the ctx.nPrune lowest-scoring units (ties: the lower index is pruned first).
import type { Backend, Tensor } from '../kernels/backend.js';
import { decoderLinearParams, unitParams, type ModelConfig } from '../model/config.js';
import { freeLayer, uploadLayer } from '../model/forward.js';
import { HiddenStream } from '../model/stream.js';
import type { LayerWeights, ModelSource } from '../model/weights.js';
import { seededRandom } from '../corpus.js';
import { deviceDiagonal } from './products.js';
import { outputProjection, type ModuleContext, type ModuleKind, type PruningMethod, type Selection } from './module.js';
import type { MethodName } from './methods.js';
import { stableArgsort } from './stats-math.js';
import { attentionUnits, type HeadUnit } from './units.js';


/**
 * Kept units (ascending) after removing the `nPrune` lowest scores, the same number from every
 * block of `blockSize` consecutive units (blockSize = all units: no blocks).
 */
export function keepHighest(scores: ArrayLike<number>, nPrune: number, blockSize = scores.length): number[] {
  const blocks = scores.length / blockSize;
  const perBlock = nPrune / blocks;
  const kept: number[] = [];
  for (let b0 = 0; b0 < scores.length; b0 += blockSize) {
    const block = Array.from({ length: blockSize }, (_, i) => scores[b0 + i]);
    for (const i of stableArgsort(block, false).slice(perBlock)) kept.push(b0 + i);
  }
  return kept.sort((a, b) => a - b);
}

/** True when the attention units are query heads inside KV groups (their k/v rows stay). */
function queryHeadUnits(ctx: ModuleContext): boolean {
  return ctx.kind === 'attention' && ctx.blockSize < ctx.units;
}

/** Head dimension of a layer from its k_proj [G·d × D] (group units: one KV head per unit). */
function headDimOf(ctx: ModuleContext): number {
  return ctx.w.wk.length / (ctx.units * ctx.D);
}

/** Σ_c W[c,j]² per input column j of a row-major [rows × n] matrix (float64). */
export function columnSumsq(w: ArrayLike<number>, rows: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) out[j] += w[r * n + j] * w[r * n + j];
  return out;
}

function rowsSumsq(w: ArrayLike<number>, cols: number, r0: number, r1: number): number {
  let s = 0;
  for (let i = r0 * cols; i < r1 * cols; i++) s += w[i] * w[i];
  return s;
}

function sumPerUnit(col: ArrayLike<number>, units: number, colsPerUnit: number, f: (x: number) => number = (x) => x): Float64Array {
  const out = new Float64Array(units);
  for (let u = 0; u < units; u++) for (let j = 0; j < colsPerUnit; j++) out[u] += f(col[u * colsPerUnit + j]);
  return out;
}

// ---- magnitude ----

/** L2 norm of every unit's weights: one norm over all the rows/columns that go with the unit. */
export function magnitudeScores(ctx: ModuleContext): Float64Array {
  const { D, units, colsPerUnit, w } = ctx;
  const { w: wOut, n } = outputProjection(ctx);
  const outCols = sumPerUnit(columnSumsq(wOut, D, n), units, colsPerUnit);
  const s = new Float64Array(units);
  if (queryHeadUnits(ctx)) {
    // A query head takes its q_proj rows and o_proj columns; the group's k/v rows stay.
    for (let u = 0; u < units; u++) s[u] = rowsSumsq(w.wq, D, u * colsPerUnit, (u + 1) * colsPerUnit) + outCols[u];
  } else if (ctx.kind === 'attention') {
    const d = headDimOf(ctx);
    for (let g = 0; g < units; g++) {
      // Query heads of group g are rows g·q·d .. (g+1)·q·d of q_proj (= its o_proj columns).
      s[g] = rowsSumsq(w.wq, D, g * colsPerUnit, (g + 1) * colsPerUnit) + rowsSumsq(w.wk, D, g * d, (g + 1) * d) + rowsSumsq(w.wv, D, g * d, (g + 1) * d) + outCols[g];
    }
  } else {
    for (let k = 0; k < units; k++) s[k] = rowsSumsq(w.wGate, D, k, k + 1) + rowsSumsq(w.wUp, D, k, k + 1) + outCols[k];
  }
  for (let u = 0; u < units; u++) s[u] = Math.sqrt(s[u]);
  return s;
}

/** A method that keeps the highest-scoring units and reports every unit's score. */
function scoringMethod(name: string, scoresOf: <T extends Tensor>(ctx: ModuleContext<T>) => Float64Array | Promise<Float64Array>): PruningMethod {
  return {
    name,
    async select<T extends Tensor>(ctx: ModuleContext<T>): Promise<Selection> {
      const scores = await scoresOf(ctx);
      return { kept: keepHighest(scores, ctx.nPrune, ctx.blockSize), details: { scores: Array.from(scores) } };
    },
  };
}

export const magnitudeMethod = scoringMethod('magnitude', magnitudeScores);

// ---- Wanda-sp ----

/** score_j = mean_c |W[c,j]|·‖x_j‖ (‖x_j‖ = sqrt(Σ_rows x_j²)), summed over each unit's columns. */
export function wandaSpScores(ctx: ModuleContext): Float64Array {
  const { D, units, colsPerUnit } = ctx;
  const { w, n } = outputProjection(ctx);
  const col = new Float64Array(n);
  for (let r = 0; r < D; r++) for (let j = 0; j < n; j++) col[j] += Math.abs(w[r * n + j]);
  for (let j = 0; j < n; j++) col[j] = (col[j] / D) * Math.sqrt(Math.max(0, ctx.stats.sumsq[j]));
  return sumPerUnit(col, units, colsPerUnit);
}

export const wandaSpMethod = scoringMethod('wanda-sp', wandaSpScores);

// ---- random ----

export function randomMethod(seed: number): PruningMethod {
  return {
    name: 'random',
    async select<T extends Tensor>(ctx: ModuleContext<T>): Promise<Selection> {
      // One stream per (seed, layer, module): results do not depend on the order of the calls.
      const rand = seededRandom((Math.imul(seed | 0, 0x9e3779b1) ^ (ctx.layer * 2 + (ctx.kind === 'mlp' ? 1 : 0)) * 0x85ebca6b) >>> 0);
      // Uniform random scores ranked like any other method's: the same units as a shuffle when
      // there are no blocks, and an equal number from every block when there are.
      const scores = new Float64Array(ctx.units);
      const idx = Array.from({ length: ctx.units }, (_, i) => i);
      for (let i = idx.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      idx.forEach((u, pos) => (scores[u] = pos));
      return { kept: keepHighest(scores, ctx.nPrune, ctx.blockSize) };
    },
  };
}

// ---- FLAP ----

/**
 * FLAP's per-column fluctuation metric of an output projection W [rows × n]:
 * m_j = Var(x_j) · Σ_c W[c,j]² (Var with population statistics, from the diagonal of m2 / count).
 */
export function flapColumnMetric(w: ArrayLike<number>, rows: number, n: number, variance: ArrayLike<number>): Float64Array {
  const cs = columnSumsq(w, rows, n);
  for (let j = 0; j < n; j++) cs[j] *= Math.max(0, variance[j]);
  return cs;
}

/**
 * Unit scores inside one module, as FLAP ranks them: attention uses the squared column metric
 * (the reference code's `metric ** 2` for o_proj) summed over the group's columns; the MLP the metric
 * itself. Standardising (per layer and module) is affine with a positive scale, so the order is the same.
 */
export function flapUnitScores(kind: ModuleKind, metric: ArrayLike<number>, units: number, colsPerUnit: number): Float64Array {
  return kind === 'attention' ? sumPerUnit(metric, units, colsPerUnit, (x) => x * x) : Float64Array.from(metric);
}

export async function flapScores<T extends Tensor>(ctx: ModuleContext<T>): Promise<Float64Array> {
  const { w, n } = outputProjection(ctx);
  const diag = await deviceDiagonal(ctx.b, ctx.stats.m2, n);
  const variance = diag.map((v) => v / ctx.stats.count);
  return flapUnitScores(ctx.kind, flapColumnMetric(w, ctx.D, n, variance), ctx.units, ctx.colsPerUnit);
}

/**
 * FLAP's unit choice inside a layer: the ctx.nPrune units of lowest fluctuation on the current
 * (already perturbed) statistics. How many units each module loses comes from `flapPlan` (the
 * global threshold on the dense model), handed to the orchestrator as an explicit ratio policy.
 */
export const flapMethod = scoringMethod('flap', flapScores);

/** (x − mean) / std over one vector (std with n − 1, as torch.std); a constant vector gives zeros. */
export function standardise(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i] - mean) ** 2;
  const std = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  const out = new Float64Array(n);
  if (std > 0 && Number.isFinite(std)) for (let i = 0; i < n; i++) out[i] = (x[i] - mean) / std;
  return out;
}

/** Dense-model FLAP metrics of one layer: per-column metric of o_proj and per-channel metric of down_proj. */
export interface FlapLayerMetrics {
  /** m_j of o_proj's input columns [H·d]. */
  attention: Float64Array;
  /** Columns per attention unit: a KV group (q·d) or a query head (d). */
  colsPerGroup: number;
  /** Decoder linear parameters of one unit (group: q/k/v rows + o columns; query head: q rows + o columns). */
  groupParams: number;
  /**
   * Query-head units: the units per KV group. Every group must lose as many, so the threshold ranks
   * slots (the k-th weakest head of every group together), not single heads. Absent: KV groups.
   */
  blockSize?: number;
  /** m_k of down_proj's input channels [F]. */
  mlp: Float64Array;
  /** Parameters of one channel (gate/up rows + down column). */
  channelParams: number;
}

export interface FlapWidths {
  /** Head groups to prune per layer. */
  heads: number[];
  /** FFN channels to prune per layer. */
  channels: number[];
  /** Fraction of decoder linear parameters these widths remove. */
  removedFraction: number;
  /** Standardised scores (attention: per group, mlp: per channel), for the report. */
  scores: { attention: number[]; mlp: number[] }[];
}

/**
 * FLAP's global threshold ("AL-AM"): standardise the metrics per layer and module (attention per
 * column of the squared metric, then the mean per group; MLP per channel), rank every unit of the
 * model together and remove the lowest until the removed parameters come closest to
 * `target · totalParams` (each unit weighted by its parameter count, like the reference's 512/3 weight
 * of a head). [ext] The best unit of every module is always kept.
 */
export function flapWidths(layers: FlapLayerMetrics[], totalParams: number, target: number): FlapWidths {
  interface Unit { score: number; params: number; layer: number; mlp: boolean; heads?: number }
  const all: Unit[] = [];
  const scores = layers.map((m, l) => {
    const cols = standardise(m.attention.map((x) => x * x));
    const G = m.attention.length / m.colsPerGroup;
    const att = sumPerUnit(cols, G, m.colsPerGroup).map((x) => x / m.colsPerGroup);
    const mlp = standardise(m.mlp);
    // Keep the best unit of each module (first index among ties) out of the ranking.
    const best = (s: Float64Array) => stableArgsort(s, true)[0];
    const bA = best(att);
    const bM = best(mlp);
    if (m.blockSize === undefined) att.forEach((s, g) => g !== bA && all.push({ score: s, params: m.groupParams, layer: l, mlp: false }));
    else for (const slot of querySlots(att, m.blockSize)) all.push({ ...slot, params: slot.heads * m.groupParams, layer: l, mlp: false });
    mlp.forEach((s, k) => k !== bM && all.push({ score: s, params: m.channelParams, layer: l, mlp: true }));
    return { attention: Array.from(att), mlp: Array.from(mlp) };
  });
  // Ascending score; ties by layer, then attention before MLP (deterministic).
  all.sort((a, b) => a.score - b.score || a.layer - b.layer || Number(a.mlp) - Number(b.mlp));
  const goal = target * totalParams;
  let removed = 0;
  let bestK = 0;
  let bestErr = Math.abs(goal);
  for (let k = 0; k < all.length; k++) {
    removed += all[k].params;
    const err = Math.abs(removed - goal);
    if (err < bestErr) {
      bestErr = err;
      bestK = k + 1;
    }
  }
  const heads = layers.map(() => 0);
  const channels = layers.map(() => 0);
  let removedParams = 0;
  for (let k = 0; k < bestK; k++) {
    const u = all[k];
    if (u.mlp) channels[u.layer]++;
    else heads[u.layer] += u.heads ?? 1;
    removedParams += u.params;
  }
  return { heads, channels, removedFraction: removedParams / totalParams, scores };
}

/**
 * Query-head slots of one layer: slot k removes the k-th weakest query head of every KV group; its
 * score is their mean. Slots go weakest first (the threshold takes them in order: their scores
 * rise), and the strongest head of each group is never in one.
 */
function querySlots(scores: Float64Array, blockSize: number): { score: number; heads: number }[] {
  const blocks = scores.length / blockSize;
  const sorted = Array.from({ length: blocks }, (_, g) => Array.from(scores.subarray(g * blockSize, (g + 1) * blockSize)).sort((a, b) => a - b));
  return Array.from({ length: blockSize - 1 }, (_, k) => ({ score: sorted.reduce((s, blk) => s + blk[k], 0) / blocks, heads: blocks }));
}

export interface FlapPlanOptions {
  /** What an attention unit is (default: KV groups). */
  headUnit?: HeadUnit;
  batchRows?: number;
  onProgress?: (layer: number, layers: number) => void;
}

/**
 * Dense pass for FLAP's metrics (the reference scores every layer on the unpruned model, then
 * thresholds globally): the calibration stream runs through each layer whole while taps gather the
 * inputs of o_proj and down_proj.
 */
export async function flapDenseMetrics<T extends Tensor>(b: Backend<T>, src: ModelSource, calib: number[][], o: FlapPlanOptions = {}): Promise<FlapLayerMetrics[]> {
  const c = src.config;
  const stream = HiddenStream.calibration(b, src, calib, o.batchRows);
  const out: FlapLayerMetrics[] = [];
  try {
    for (let l = 0; l < c.nLayers; l++) {
      o.onProgress?.(l, c.nLayers);
      out.push(await flapLayerMetrics(b, c, l, src.layer(l), stream, o.headUnit ?? 'group'));
    }
  } finally {
    stream.free();
  }
  return out;
}

/** One layer of FLAP's dense pass: the stream moves through the layer, its metrics come back. */
async function flapLayerMetrics<T extends Tensor>(b: Backend<T>, c: ModelConfig, l: number, w: LayerWeights, stream: HiddenStream<T>, headUnit: HeadUnit): Promise<FlapLayerMetrics> {
  const s = c.layers[l];
  const D = c.hiddenSize;
  const nA = s.nHeads * c.headDim;
  const dl = uploadLayer(b, c, l, w);
  const statsA = b.covInit(nA);
  const statsM = b.covInit(s.ffnDim);
  try {
    stream.throughLayer(dl, { heads: (z) => b.covAccumulate(statsA, z), mlpHidden: (hid) => b.covAccumulate(statsM, hid) });
    await b.sync();
    const varA = (await deviceDiagonal(b, statsA.m2, nA)).map((v) => v / statsA.count);
    const varM = (await deviceDiagonal(b, statsM.m2, s.ffnDim)).map((v) => v / statsM.count);
    const att = attentionUnits(c, s, headUnit);
    return {
      attention: flapColumnMetric(w.wo, D, nA, varA),
      colsPerGroup: att.colsPerUnit,
      groupParams: att.params,
      ...(att.queryHeads ? { blockSize: att.blockSize } : {}),
      mlp: flapColumnMetric(w.wDown, D, s.ffnDim, varM),
      channelParams: unitParams(c, s).channel,
    };
  } finally {
    b.covFree(statsA);
    b.covFree(statsM);
    freeLayer(b, dl);
  }
}

/** FLAP's adaptive widths for a target fraction of decoder linear parameters. */
export async function flapPlan<T extends Tensor>(b: Backend<T>, src: ModelSource, calib: number[][], target: number, o: FlapPlanOptions = {}): Promise<FlapWidths> {
  const metrics = await flapDenseMetrics(b, src, calib, o);
  return flapWidths(metrics, decoderLinearParams(src.config), target);
}

/** The unit choice of a baseline name (FLAP's widths come separately from `flapPlan`). */
export function baselineMethod(name: Exclude<MethodName, 'slimllm' | 'obs'>, o: { seed?: number } = {}): PruningMethod {
  switch (name) {
    case 'magnitude':
      return magnitudeMethod;
    case 'wanda-sp':
      return wandaSpMethod;
    case 'flap':
      return flapMethod;
    case 'random':
      return randomMethod(o.seed ?? 0);
  }
}
