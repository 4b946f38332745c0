// `slimllm compare`: prune one model at several parameter ratios with several methods and
// recoveries, evaluate each result, and write the grid as JSON, a Markdown table and an SVG chart
// (perplexity against the fraction of decoder linear parameters removed, one line per
// method/recovery). The model, backend, evaluation sequences and the dense perplexity are shared by
// every run. The grid can be repeated over several calibration draws, so a difference between
// methods can be told apart from the luck of one calibration set.
import type { CalibrationDraw } from '../corpus.js';
import { sequencesPerplexity } from '../eval/perplexity.js';
import type { Backend } from '../kernels/backend.js';
import type { ModelSource } from '../model/weights.js';
import { parsePruneOptions, relevantOptions } from '../prune/options.js';
import { pruneWithOptions } from '../prune/run.js';
import type { GridEntry } from './grid.js';
import { summarizeRuns, type CompareSummary } from './summary.js';

export type { CompareSummary } from './summary.js';

export interface CompareRun extends GridEntry {
  targetRatio: number;
  /** Index of the calibration draw this run used (0-based). */
  draw: number;
  /** Seed the draw's calibration windows came from; null when the ids were given. */
  calibSeed: number | null;
  /** The random method's seed for this draw (random runs only). */
  randomSeed?: number;
  /** Fraction of decoder linear parameters actually removed. */
  removedFraction: number | null;
  ppl: number | null;
  nll: number | null;
  /** Kept KV groups, query heads and FFN channels per layer. */
  widths: { heads: number[]; queryHeads: number[]; channels: number[] } | null;
  pruneMs: number;
  evalMs: number;
  error?: string;
}

export interface CompareResult {
  model: string;
  device: string;
  evaluation: { sequences: number; tokens: number; label: string };
  /** Shape of each draw, how many draws, their seeds in draw order, and where the windows came from. */
  calibration: { sequences: number; seqLen: number; draws: number; seeds: (number | null)[]; source: string };
  params: number;
  dense: { ppl: number; nll: number; tokens: number };
  ratios: number[];
  grid: GridEntry[];
  /** Every run of every draw (draw-major, then ratio, then grid entry). */
  runs: CompareRun[];
  /** Per ratio × grid entry: mean and sample sd of the perplexity over the successful draws. */
  summary: CompareSummary[];
  command?: string;
}

export interface CompareOptions {
  ratios: number[];
  grid: GridEntry[];
  /** One calibration set: the grid runs once. Give this or `draws`, not both. */
  calib?: number[][];
  /** Several calibration sets (e.g. from `calibrationDraws`): the grid runs once per draw. */
  draws?: CalibrationDraw[];
  /** Describes where the calibration windows came from in the outputs (e.g. 'stories 500–999 of FILE'). */
  calibLabel?: string;
  evalSeqs: number[][];
  /** Describes the evaluation set in the outputs (e.g. 'TinyStories valid stories 1:201'). */
  evalLabel?: string;
  modelLabel?: string;
  lstsqDamping?: number;
  /** The random method's seed for draw 0; draw d uses seed + d, so its spread over draws is real. */
  seed?: number;
  keepLowest?: number;
  alpha?: number;
  prunedLayers?: number;
  batchRows?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

/** The random method's default seed (as in the prune options), the base of its per-draw seeds. */
const RANDOM_SEED_BASE = 0;

function resolveDraws(o: CompareOptions): CalibrationDraw[] {
  if (o.calib !== undefined && o.draws !== undefined) throw new Error('compare: give calib or draws, not both');
  const draws = o.draws ?? (o.calib !== undefined ? [{ seed: null, tokens: o.calib }] : []);
  if (draws.length === 0) throw new Error('compare: no calibration (give calib or at least one draw)');
  return draws;
}

interface RunSpec extends GridEntry {
  targetRatio: number;
  draw: number;
  calib: CalibrationDraw;
}

/** Prunes and evaluates one configuration on one draw; a failure is recorded in the run, not thrown. */
async function pruneAndEvaluate(b: Backend, src: ModelSource, o: CompareOptions, s: RunSpec): Promise<{ run: CompareRun; params: number }> {
  const randomSeed = (o.seed ?? RANDOM_SEED_BASE) + s.draw;
  let run: CompareRun = {
    method: s.method, recovery: s.recovery, headUnit: s.headUnit, targetRatio: s.targetRatio, draw: s.draw, calibSeed: s.calib.seed,
    ...(s.method === 'random' ? { randomSeed } : {}),
    removedFraction: null, ppl: null, nll: null, widths: null, pruneMs: 0, evalMs: 0,
  };
  const t0 = performance.now();
  try {
    const opts = parsePruneOptions(relevantOptions({
      targetRatio: s.targetRatio,
      method: s.method,
      recovery: s.recovery,
      headUnit: s.headUnit,
      calibration: { tokens: s.calib.tokens },
      lstsqDamping: o.lstsqDamping,
      seed: randomSeed,
      keepLowest: o.keepLowest,
      alpha: o.alpha,
      prunedLayers: o.prunedLayers,
      batchRows: o.batchRows,
    }));
    const { model, report } = await pruneWithOptions(b, src, s.calib.tokens, opts);
    const t1 = performance.now();
    const r = await sequencesPerplexity(b, model, o.evalSeqs).finally(() => model.close());
    run = {
      ...run,
      removedFraction: report.params.removedFraction,
      ppl: r.ppl,
      nll: r.nll,
      widths: { heads: model.config.layers.map((l) => l.nKvHeads), queryHeads: model.config.layers.map((l) => l.nHeads), channels: model.config.layers.map((l) => l.ffnDim) },
      pruneMs: t1 - t0,
      evalMs: performance.now() - t1,
    };
    return { run, params: report.params.before };
  } catch (e) {
    return { run: { ...run, error: (e as Error).message, pruneMs: performance.now() - t0 }, params: 0 };
  }
}

function progressLabel(s: RunSpec, drawCount: number): string {
  const what = `${s.method}/${s.recovery} @ ${s.targetRatio}`;
  if (drawCount === 1) return what;
  return `draw ${s.draw + 1} of ${drawCount}${s.calib.seed === null ? '' : ` (seed ${s.calib.seed})`}: ${what}`;
}

export async function runCompare(b: Backend, src: ModelSource, o: CompareOptions): Promise<CompareResult> {
  for (const r of o.ratios) if (!(r > 0 && r < 1)) throw new Error(`ratio ${r} must be in (0, 1)`);
  const draws = resolveDraws(o);
  const total = draws.length * o.ratios.length * o.grid.length + 1;
  let done = 0;
  o.onProgress?.(done, total, 'dense');
  // The dense model does not depend on calibration: evaluated once for every draw.
  const dense = await sequencesPerplexity(b, src, o.evalSeqs);
  done++;
  const runs: CompareRun[] = [];
  let params = 0;
  for (const [draw, calib] of draws.entries()) {
    for (const targetRatio of o.ratios) {
      for (const g of o.grid) {
        const spec: RunSpec = { ...g, targetRatio, draw, calib };
        o.onProgress?.(done, total, progressLabel(spec, draws.length));
        const one = await pruneAndEvaluate(b, src, o, spec);
        runs.push(one.run);
        params ||= one.params;
        done++;
      }
    }
  }
  o.onProgress?.(done, total, 'done');
  return {
    model: o.modelLabel ?? src.origin,
    device: b.deviceName,
    evaluation: { sequences: o.evalSeqs.length, tokens: dense.tokens, label: o.evalLabel ?? `${o.evalSeqs.length} sequences` },
    calibration: {
      sequences: draws[0].tokens.length,
      seqLen: draws[0].tokens[0]?.length ?? 0,
      draws: draws.length,
      seeds: draws.map((d) => d.seed),
      source: o.calibLabel ?? 'given token ids',
    },
    params,
    dense,
    ratios: o.ratios,
    grid: o.grid,
    runs,
    summary: summarizeRuns(runs, o.grid, o.ratios),
  };
}
