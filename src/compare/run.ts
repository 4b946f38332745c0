// `slimllm compare`: prune one model at several parameter ratios with several methods and
// recoveries, evaluate each result, and write the grid as JSON, a Markdown table and an SVG chart
// (perplexity against the fraction of decoder linear parameters removed, one line per
// method/recovery). The model, backend, calibration tokens, evaluation sequences and the dense
// perplexity are shared by every run of the grid.
import { sequencesPerplexity } from '../eval/perplexity.js';
import type { Backend } from '../kernels/backend.js';
import type { ModelSource } from '../model/weights.js';
import { parsePruneOptions, relevantOptions } from '../prune/options.js';
import { pruneWithOptions } from '../prune/run.js';
import type { GridEntry } from './grid.js';

export interface CompareRun extends GridEntry {
  targetRatio: number;
  /** Fraction of decoder linear parameters actually removed. */
  removedFraction: number | null;
  ppl: number | null;
  nll: number | null;
  /** Kept KV groups and FFN channels per layer. */
  widths: { heads: number[]; channels: number[] } | null;
  pruneMs: number;
  evalMs: number;
  error?: string;
}

export interface CompareResult {
  model: string;
  device: string;
  evaluation: { sequences: number; tokens: number; label: string };
  calibration: { sequences: number; seqLen: number };
  params: number;
  dense: { ppl: number; nll: number; tokens: number };
  ratios: number[];
  grid: GridEntry[];
  runs: CompareRun[];
  command?: string;
}

export interface CompareOptions {
  ratios: number[];
  grid: GridEntry[];
  calib: number[][];
  evalSeqs: number[][];
  /** Describes the evaluation set in the outputs (e.g. 'TinyStories valid stories 1:201'). */
  evalLabel?: string;
  modelLabel?: string;
  lstsqDamping?: number;
  seed?: number;
  keepLowest?: number;
  alpha?: number;
  prunedLayers?: number;
  batchRows?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

export async function runCompare(b: Backend, src: ModelSource, o: CompareOptions): Promise<CompareResult> {
  for (const r of o.ratios) if (!(r > 0 && r < 1)) throw new Error(`ratio ${r} must be in (0, 1)`);
  const total = o.ratios.length * o.grid.length + 1;
  let done = 0;
  o.onProgress?.(done, total, 'dense');
  const dense = await sequencesPerplexity(b, src, o.evalSeqs);
  done++;
  const runs: CompareRun[] = [];
  let params = 0;
  for (const ratio of o.ratios) {
    for (const g of o.grid) {
      const label = `${g.method}/${g.recovery} @ ${ratio}`;
      o.onProgress?.(done, total, label);
      const t0 = performance.now();
      let run: CompareRun = { ...g, targetRatio: ratio, removedFraction: null, ppl: null, nll: null, widths: null, pruneMs: 0, evalMs: 0 };
      try {
        const opts = parsePruneOptions(relevantOptions({
          targetRatio: ratio,
          method: g.method,
          recovery: g.recovery,
          calibration: { tokens: o.calib },
          lstsqDamping: o.lstsqDamping,
          seed: o.seed,
          keepLowest: o.keepLowest,
          alpha: o.alpha,
          prunedLayers: o.prunedLayers,
          batchRows: o.batchRows,
        }));
        const { model, report } = await pruneWithOptions(b, src, o.calib, opts);
        params = report.params.before;
        const t1 = performance.now();
        const r = await sequencesPerplexity(b, model, o.evalSeqs).finally(() => model.close());
        run = {
          ...run,
          removedFraction: report.params.removedFraction,
          ppl: r.ppl,
          nll: r.nll,
          widths: { heads: model.config.layers.map((l) => l.nKvHeads), channels: model.config.layers.map((l) => l.ffnDim) },
          pruneMs: t1 - t0,
          evalMs: performance.now() - t1,
        };
      } catch (e) {
        run = { ...run, error: (e as Error).message, pruneMs: performance.now() - t0 };
      }
      runs.push(run);
      done++;
    }
  }
  o.onProgress?.(done, total, 'done');
  return {
    model: o.modelLabel ?? src.origin,
    device: b.deviceName,
    evaluation: { sequences: o.evalSeqs.length, tokens: dense.tokens, label: o.evalLabel ?? `${o.evalSeqs.length} sequences` },
    calibration: { sequences: o.calib.length, seqLen: o.calib[0]?.length ?? 0 },
    params,
    dense,
    ratios: o.ratios,
    grid: o.grid,
    runs,
  };
}
