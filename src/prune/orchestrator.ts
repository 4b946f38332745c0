// The pruning run (docs/algorithm.md, "Order of work"): a dense pass for the layer scores, then
// layer by layer — statistics of the unpruned attention on the (already perturbed) input, the
// method's choice of head groups, the recovery of o_proj, the pruned attention run; statistics of the
// unpruned MLP, the choice of channels, the recovery of down_proj, the pruned MLP run. Weights are
// read a layer at a time (the next by the layer reader's thread while this one is pruned) and
// finished layers written in the background; statistics are streamed on the backend batch by
// batch, so memory does not grow with the number of calibration tokens or layers.
import type { Backend, Tensor } from '../kernels/backend.js';
import { decoderLinearParams, type LayerShape, type ModelConfig } from '../model/config.js';
import { attentionBlock, attentionInput, decoderLayer, freeLayer, mlpBlock, mlpInputs, residual, uploadLayer, type DeviceLayer } from '../model/forward.js';
import { yieldToEventLoop } from '../model/runner.js';
import { HiddenStream } from '../model/stream.js';
import { LayerReader } from '../model/layer-reader.js';
import { type LayerWeights, type ModelSource, type StoredLayer, type StoredTensor, takeStoredRows } from '../model/weights.js';
import { calibrationWarnings, checkCalibration } from './calibration.js';
import { diskLayerStore, type LayerStore, storedModel } from '../model/layer-store.js';
import { unitColumns, type InputStats, type ModuleContext, type ModuleKind, type PruningMethod, type Recovered, type Recovery, type Selection } from './module.js';
import { layerCut, resolveRatios, type RatioPolicy } from './ratios.js';
import { PhaseTimer, type Phase } from './timer.js';
import { attentionUnits, type HeadUnit } from './units.js';

export type { RatioPolicy };

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
  /** With query-head units: the kept query heads (original indices, ascending). */
  keptQueryHeads?: number[];
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

export interface PruneRun {
  method: PruningMethod;
  recovery: Recovery;
  ratios: RatioPolicy;
  /** What an attention unit is: a whole KV group (default) or a query head inside its group. */
  headUnit?: HeadUnit;
  batchRows?: number;
  /**
   * Where finished layers go (default: a disk store in the OS temp folder, so host memory does not
   * grow with the layer count). The returned model reads its layers from it; close() frees it.
   */
  layerStore?: LayerStore;
  /** Times the phases (default: a fresh one); a caller passes its own to see which phase runs when. */
  timer?: PhaseTimer;
  /**
   * Device bytes of a module's output-projection inputs (every batch's) that the statistics pass
   * keeps for the pruned module's forward (default KEPT_INPUTS_BYTES); over it, or 0, that forward
   * computes them again.
   */
  keptInputsBytes?: number;
}

/** Throws naming the layer, module and statistic when a read-back statistic is not finite. */
function finiteStatistic(a: Float32Array, name: string, where: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new Error(`${where}: calibration statistic '${name}' is ${a[i]} at input ${i} (activations overflowed or the weights are not finite)`);
  }
}

export async function pruneModel<T extends Tensor>(
  b: Backend<T>,
  src: ModelSource,
  calib: number[][],
  run: PruneRun,
  onProgress?: (p: PruneProgress) => void,
): Promise<{ model: ModelSource; report: PruneReport }> {
  const store = run.layerStore ?? diskLayerStore();
  const reader = new LayerReader(src);
  try {
    return await pruneInto(new RunState(b, src, run, store, reader, onProgress), calib);
  } catch (e) {
    await store.flush().catch(() => {}); // a write still under way would race the folder's removal
    store.close(); // nothing of a failed run stays on disk
    throw e;
  } finally {
    reader.close();
  }
}

/** What every step of one pruning run shares. */
class RunState<T extends Tensor> {
  readonly c: ModelConfig;
  readonly timer: PhaseTimer;
  readonly started = performance.now();
  /** Read once: both calibration passes embed from it and the pruned model keeps it. */
  readonly embedding: StoredTensor;
  peakRss = process.memoryUsage().rss;

  constructor(
    readonly b: Backend<T>,
    readonly src: ModelSource,
    readonly run: PruneRun,
    readonly store: LayerStore,
    /** Both passes take their layers from it; it reads the next one while this one runs. */
    readonly reader: LayerReader,
    private readonly onProgress?: (p: PruneProgress) => void,
  ) {
    this.c = src.config;
    this.timer = run.timer ?? new PhaseTimer();
    this.embedding = src.storedEmbedding?.() ?? src.embedding();
  }

  /** Reports a phase, then lets the event loop run: a signal (Ctrl-C) is handled between phases even when the CPU backend never waits. */
  async progress(layer: number, phase: string): Promise<void> {
    this.onProgress?.({ layer, layers: this.c.nLayers, phase });
    await yieldToEventLoop();
  }

  /** Hands layer l to the store once the previous layer's write is done (one write runs beside the pruning). */
  async keep(l: number, w: StoredLayer): Promise<void> {
    await this.store.flush();
    this.store.put(l, w);
  }

  sampleRss(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage().rss);
  }

  /** Moves the stream on by `step` (timed as forward work, device work included). */
  async forward(stream: HiddenStream<T>, step: (h: T, seqLen: number, batch: number) => T): Promise<void> {
    await this.timer.time('forward', async () => {
      stream.advance(step);
      await this.b.sync();
    });
  }
}

async function pruneInto<T extends Tensor>(st: RunState<T>, calib: number[][]): Promise<{ model: ModelSource; report: PruneReport }> {
  const { b, c, src, run } = st;
  if (run.ratios.kind === 'layer-based' && run.ratios.K > c.nLayers) throw new Error(`prunedLayers (K) = ${run.ratios.K} exceeds the model's ${c.nLayers} layers`);
  const seqLen = checkCalibration(c, calib);
  const layerScores = await st.timer.time('forward', () => denseLayerScores(st, calib));
  const plan = resolveRatios(c, layerScores, run.ratios, run.headUnit);
  const stream = HiddenStream.calibration(b, src, calib, run.batchRows, st.embedding);
  const layers: PrunedLayer[] = [];
  try {
    for (let l = 0; l < c.nLayers; l++) layers.push(await pruneLayer(st, stream, l, plan.ratios[l]));
  } finally {
    stream.free();
  }
  await st.store.flush();
  const config: ModelConfig = { ...c, layers: layers.map((x) => x.shape) };
  const model = storedModel(config, st.store, { embedding: st.embedding, finalNorm: src.finalNorm(), classifier: c.tieEmbeddings ? null : (src.storedClassifier?.() ?? src.classifier()) });
  const before = decoderLinearParams(c);
  const after = decoderLinearParams(config);
  const memory = b.deviceMemory();
  const report: PruneReport = {
    method: run.method.name,
    recovery: run.recovery.name,
    device: b.deviceName,
    p: plan.p,
    K: plan.K,
    alpha: plan.alpha,
    calibration: { sequences: calib.length, seqLen, tokens: calib.length * seqLen },
    layerScores,
    ratios: plan.ratios,
    layers: layers.map((x) => x.report),
    params: { before, after, removedFraction: 1 - after / before },
    timeMs: { ...st.timer.ms, total: performance.now() - st.started },
    peak: { gpuMB: memory ? memory.peakBytes / 2 ** 20 : null, rssMB: st.peakRss / 2 ** 20 },
    warnings: calibrationWarnings(c, calib),
  };
  return { model, report };
}

/** The dense pass: s_l = mean over calibration rows of cos(h_in, h_out) of every layer, unpruned. */
async function denseLayerScores<T extends Tensor>(st: RunState<T>, calib: number[][]): Promise<number[]> {
  const { b, c, src } = st;
  const stream = HiddenStream.calibration(b, src, calib, st.run.batchRows, st.embedding);
  const scores: number[] = [];
  try {
    for (let l = 0; l < c.nLayers; l++) {
      await st.progress(l, 'layer scores');
      const { stored } = await st.reader.take(l, false);
      // The next layer is read while this one runs: the next of the dense pass, or the pruning pass's first.
      if (l + 1 < c.nLayers) st.reader.request(l + 1, false);
      else st.reader.request(0, true);
      const dl = uploadLayer(b, c, l, stored);
      const sums: T[] = [];
      stream.throughLayer(dl, { output: (input, output) => sums.push(b.rowCosineSum(input, output)) });
      await b.sync();
      let sum = 0;
      for (const s of sums) {
        sum += (await b.read(s))[0];
        b.free(s);
      }
      freeLayer(b, dl);
      scores.push(sum / stream.rows);
      st.sampleRss();
    }
  } finally {
    stream.free();
  }
  return scores;
}

/** A finished layer: its weights went to the store; its shape and report stay. */
interface PrunedLayer {
  shape: LayerShape;
  report: LayerReport;
}

/** Layer l: attention, then MLP, each chosen on the stream as the layers before left it. */
async function pruneLayer<T extends Tensor>(st: RunState<T>, stream: HiddenStream<T>, l: number, ratio: number): Promise<PrunedLayer> {
  const { b, c } = st;
  // As stored (what the device takes: 16-bit weights are widened there) and in f32 (what the methods read).
  const { stored, widened } = await st.reader.take(l, true);
  st.reader.request(l + 1, true);
  const w = widened!;
  const s = c.layers[l];
  const cut = layerCut(st.run.ratios, c, l, ratio, st.run.headUnit);
  const report: LayerReport = { index: l, ratio, keptHeadGroups: null, keptChannels: null, bounded: cut.heads.bounded || cut.channels.bounded };
  const dl = uploadLayer(b, c, l, stored);
  try {
    if (cut.heads.n === 0 && cut.channels.n === 0) return await keepWhole(st, stream, l, stored, dl, report);
    const att = await pruneAttention(st, stream, l, { w, stored }, dl, cut.heads.n);
    const mlp = await pruneMlp(st, stream, l, w, dl, att, cut.channels.n);
    report.keptHeadGroups = att.keptGroups ?? att.kept;
    if (att.keptQueryHeads) report.keptQueryHeads = att.keptQueryHeads;
    report.keptChannels = mlp.kept;
    report.bounded ||= att.bounded || mlp.bounded;
    if (att.report) report.attention = att.report;
    if (mlp.report) report.mlp = mlp.report;
    await st.keep(l, mlp.weights);
    st.sampleRss();
    return { shape: mlp.shape, report };
  } finally {
    freeLayer(b, dl);
  }
}

/** A layer with nothing to remove is left whole, bit for bit (ratio 0 must give identical logits). */
async function keepWhole<T extends Tensor>(st: RunState<T>, stream: HiddenStream<T>, l: number, stored: StoredLayer, dl: DeviceLayer<T>, report: LayerReport): Promise<PrunedLayer> {
  const s = st.c.layers[l];
  await st.progress(l, 'forward (kept whole)');
  await st.forward(stream, (h, seqLen) => decoderLayer(st.b, st.c, dl, h, seqLen));
  await st.keep(l, stored);
  if (report.ratio > 0) {
    report.keptHeadGroups = allUnits(s.nKvHeads);
    report.keptChannels = allUnits(s.ffnDim);
  }
  return { shape: s, report };
}

function allUnits(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** One module's outcome: what it kept and the layer as it stands after it. */
interface ModuleOutcome {
  kept: number[];
  /** Attention: the kept KV groups, and (query-head units) the kept query heads. */
  keptGroups?: number[];
  keptQueryHeads?: number[];
  bounded: boolean;
  report: ModuleReport | null;
  /** As stored: rows sliced from 16-bit weights stay 16-bit; recovered projections are f32. */
  weights: StoredLayer;
  shape: LayerShape;
}

/** Chooses the head groups (or query heads), rebuilds o_proj, then moves the stream through the pruned attention. */
async function pruneAttention<T extends Tensor>(st: RunState<T>, stream: HiddenStream<T>, l: number, layer: { w: LayerWeights; stored: StoredLayer }, dl: DeviceLayer<T>, nPrune: number): Promise<ModuleOutcome> {
  const { b, c } = st;
  const { w, stored } = layer;
  const s = c.layers[l];
  const G = s.nKvHeads;
  const unit = attentionUnits(c, s, st.run.headUnit ?? 'group');
  let out: ModuleOutcome = { kept: allUnits(unit.units), keptGroups: allUnits(G), bounded: false, report: null, weights: stored, shape: s };
  if (nPrune > 0) {
    const spec = { kind: 'attention' as const, layer: l, w, wOut: dl.wo, units: unit.units, colsPerUnit: unit.colsPerUnit, blockSize: unit.blockSize, nPrune };
    const m = await pruneModule(st, stream, spec, (h, seqLen) => [attentionInput(b, c, dl, h, seqLen), null]);
    const D = c.hiddenSize;
    // A unit's q_proj rows are exactly its o_proj columns; a KV group's k/v rows go only with the group.
    const kvRows = unit.queryHeads ? null : unitColumns(m.sel.kept, c.headDim);
    const weights = { ...stored, wq: takeStoredRows(stored.wq, D, m.keptCols), wo: m.rec.weight, oBias: m.rec.bias, ...(kvRows ? { wk: takeStoredRows(stored.wk, D, kvRows), wv: takeStoredRows(stored.wv, D, kvRows) } : {}) };
    const nKvHeads = unit.queryHeads ? G : m.sel.kept.length;
    const shape = { ...s, nHeads: m.keptCols.length / c.headDim, nKvHeads, oBias: m.rec.bias !== null };
    const keptGroups = unit.queryHeads ? allUnits(G) : m.sel.kept;
    out = { kept: m.sel.kept, keptGroups, keptQueryHeads: unit.queryHeads ? m.sel.kept : undefined, bounded: m.sel.bounded ?? false, report: moduleReport(unit.units, m.sel, m.rec), weights, shape };
    if (m.inputs) {
      await forwardFromInputs(st, stream, l, 'attention forward', m.inputs, m.keptCols, m.rec);
      return out;
    }
  }
  // The pruned attention produces the MLP's input.
  const pdl = uploadLayer(b, withShape(c, l, out.shape), l, out.weights);
  await st.progress(l, 'attention forward');
  await st.forward(stream, (h, seqLen) => attentionBlock(b, c, pdl, h, seqLen));
  freeLayer(b, pdl);
  return out;
}

/** Chooses the FFN channels, rebuilds down_proj, then moves the stream through the pruned MLP. */
async function pruneMlp<T extends Tensor>(st: RunState<T>, stream: HiddenStream<T>, l: number, w: LayerWeights, dl: DeviceLayer<T>, att: ModuleOutcome, nPrune: number): Promise<ModuleOutcome> {
  const { b, c } = st;
  const F = c.layers[l].ffnDim;
  let out: ModuleOutcome = { kept: allUnits(F), bounded: false, report: null, weights: att.weights, shape: att.shape };
  if (nPrune > 0) {
    const m = await pruneModule(st, stream, { kind: 'mlp', layer: l, w, wOut: dl.wDown, units: F, colsPerUnit: 1, blockSize: F, nPrune }, (h) => {
      const { x, hid } = mlpInputs(b, c, dl, h);
      return [hid, x];
    });
    const D = c.hiddenSize;
    const weights = { ...att.weights, wGate: takeStoredRows(att.weights.wGate, D, m.sel.kept), wUp: takeStoredRows(att.weights.wUp, D, m.sel.kept), wDown: m.rec.weight, downBias: m.rec.bias };
    const shape = { ...att.shape, ffnDim: m.sel.kept.length, downBias: m.rec.bias !== null };
    out = { kept: m.sel.kept, bounded: m.sel.bounded ?? false, report: moduleReport(F, m.sel, m.rec), weights, shape };
    if (m.inputs) {
      await forwardFromInputs(st, stream, l, 'MLP forward', m.inputs, m.keptCols, m.rec);
      return out;
    }
  }
  const fdl = uploadLayer(b, withShape(c, l, out.shape), l, out.weights);
  await st.progress(l, 'MLP forward');
  await st.forward(stream, (h) => mlpBlock(b, c, fdl, h));
  freeLayer(b, fdl);
  return out;
}

/**
 * Moves the stream through a pruned module from the output projection's unpruned inputs that its
 * statistics pass kept: h + W'·x[:, K] (+ b'). A pruned layer's q/k/v and attention (gate and up)
 * compute for the kept heads (channels) exactly those columns, so this is the pruned module's
 * output without computing them again. Frees `inputs`.
 */
async function forwardFromInputs<T extends Tensor>(st: RunState<T>, stream: HiddenStream<T>, l: number, phase: string, inputs: T[], keptCols: number[], rec: Recovered): Promise<void> {
  const { b, c } = st;
  const D = c.hiddenSize;
  let w: T | null = null;
  let bias: T | null = null;
  try {
    w = b.upload(rec.weight, [D, keptCols.length]);
    bias = rec.bias ? b.upload(rec.bias, [D]) : null;
    const [wt, bt] = [w, bias];
    await st.progress(l, phase);
    await st.forward(stream, (h, _seqLen, i) => residual(b, h, b.gatherColumns(inputs[i], keptCols), wt, bt));
  } finally {
    for (const t of [...inputs, w, bias]) if (t) b.free(t);
  }
}

function withShape(c: ModelConfig, l: number, s: LayerShape): ModelConfig {
  return { ...c, layers: c.layers.map((x, i) => (i === l ? s : x)) };
}

function moduleReport(units: number, sel: Selection, rec: Recovered): ModuleReport {
  return { units, pruned: units - sel.kept.length, recovery: rec.summary ?? null, details: sel.details };
}

/** A module to prune, before its statistics exist. */
type ModuleSpec<T extends Tensor> = Pick<ModuleContext<T>, 'kind' | 'layer' | 'w' | 'wOut' | 'units' | 'colsPerUnit' | 'blockSize' | 'nPrune'>;

/**
 * What a module's statistics are taken of, for one batch: the output projection's input, and
 * (MLP only) the module's input X, whose column sums of squares some methods read.
 */
type ModuleInputs<T extends Tensor> = (h: T, seqLen: number) => [T, T | null];

/**
 * Device bytes of output-projection inputs the statistics pass may keep for the pruned module's
 * forward (forwardFromInputs); beyond it (many calibration tokens) that forward computes them again.
 */
const KEPT_INPUTS_BYTES = 2 ** 30;

/** One module: statistics → choice → recovery; `inputs`: each batch's output-projection input, when kept (the caller frees them). */
async function pruneModule<T extends Tensor>(st: RunState<T>, stream: HiddenStream<T>, spec: ModuleSpec<T>, inputs: ModuleInputs<T>): Promise<{ sel: Selection; keptCols: number[]; rec: Recovered; inputs: T[] | null }> {
  const { b, timer, run } = st;
  const l = spec.layer;
  const n = spec.units * spec.colsPerUnit;
  await st.progress(l, `${spec.kind} statistics`);
  const keep = stream.rows * n * 4 <= (run.keptInputsBytes ?? KEPT_INPUTS_BYTES);
  const { stats, inputSumsq, kept } = await moduleStatistics(st, stream, n, inputs, `layer ${l} ${spec.kind}`, keep);
  const ctx: ModuleContext<T> = { ...spec, b, D: st.c.hiddenSize, stats, inputSumsq, timer };
  try {
    await st.progress(l, `${spec.kind} scoring`);
    const sel = await timer.time('scoring', () => run.method.select(ctx));
    const keptCols = unitColumns(sel.kept, spec.colsPerUnit);
    await st.progress(l, `${spec.kind} recovery`);
    const rec = await timer.time('regression', () => run.recovery.recover(ctx, keptCols));
    st.sampleRss();
    return { sel, keptCols, rec, inputs: kept };
  } catch (e) {
    for (const t of kept ?? []) b.free(t);
    throw e;
  } finally {
    b.free(stats.m2);
  }
}

/** Streams a module's inputs, batch by batch, into covariance statistics of width n; `keep`: the inputs are returned, not freed. */
async function moduleStatistics<T extends Tensor>(
  st: RunState<T>, stream: HiddenStream<T>, n: number, inputs: ModuleInputs<T>, where: string, keep: boolean,
): Promise<{ stats: InputStats<T>; inputSumsq?: Float32Array; kept: T[] | null }> {
  const { b } = st;
  const main = b.covInit(n);
  const kept: T[] = [];
  // The side input's column sums of squares, per batch (summed on the host in float64).
  const side: T[] = [];
  await st.timer.time('statistics', async () => {
    stream.observe((h, seqLen) => {
      const [x, y] = inputs(h, seqLen);
      b.covAccumulate(main, x);
      if (keep) kept.push(x);
      else b.free(x);
      if (y) {
        side.push(b.columnSumsq(y));
        b.free(y);
      }
    });
    await b.sync(); // charge the device work to this phase, not to the next read
  });
  try {
    const stats: InputStats<T> = { count: main.count, mean: await b.read(main.mean), sumsq: await b.read(main.sumsq), m2: main.m2 };
    finiteStatistic(stats.mean, 'mean', where);
    finiteStatistic(stats.sumsq, 'sum of squares', where);
    b.free(main.mean);
    b.free(main.sumsq);
    const inputSumsq = side.length > 0 ? await sumOnHost(b, side) : undefined;
    return { stats, inputSumsq, kept: keep ? kept : null };
  } catch (e) {
    for (const t of kept) b.free(t);
    throw e;
  } finally {
    for (const t of side) b.free(t);
  }
}

/** The elementwise sum of equal-length device vectors, in float64 on the host. */
async function sumOnHost<T extends Tensor>(b: Backend<T>, parts: T[]): Promise<Float32Array> {
  let sum: Float64Array | null = null;
  for (const t of parts) {
    const v = await b.read(t);
    sum ??= new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) sum[i] += v[i];
  }
  return Float32Array.from(sum ?? []);
}
