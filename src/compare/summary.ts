// What a comparison repeated over calibration draws says per (method, recovery, ratio): how many
// draws succeeded, how many failed, and the mean and sample standard deviation of the perplexity.
// Failed draws are counted, never averaged in, so a mean always covers exactly `n` runs.
import { inSeries, type GridEntry } from './grid.js';

/** The fields of a run the summary reads (CompareRun has them all). */
export interface DrawOutcome extends GridEntry {
  targetRatio: number;
  ppl: number | null;
  removedFraction: number | null;
  error?: string;
}

export interface CompareSummary extends GridEntry {
  targetRatio: number;
  /** Draws whose run finished with a finite perplexity. */
  n: number;
  /** Draws whose run failed or gave no finite perplexity; not part of the mean. */
  failed: number;
  pplMean: number | null;
  /** Sample standard deviation (divisor n − 1); null with fewer than two successful draws. */
  pplSd: number | null;
  removedFractionMean: number | null;
  /** The failed draws' messages, so a summary row says why its n is short. */
  errors: string[];
}

export function mean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Sample standard deviation (n − 1): the draws are a sample of the calibration sets one might pick. */
export function sampleSd(xs: readonly number[]): number | null {
  const m = mean(xs);
  if (m === null || xs.length < 2) return null;
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

function succeeded(r: DrawOutcome): boolean {
  return r.error === undefined && r.ppl !== null && Number.isFinite(r.ppl) && r.removedFraction !== null;
}

/** One summary per ratio × grid entry (ratio-major, as the runs of one draw are ordered). */
export function summarizeRuns(runs: readonly DrawOutcome[], grid: readonly GridEntry[], ratios: readonly number[]): CompareSummary[] {
  const out: CompareSummary[] = [];
  for (const targetRatio of ratios) {
    for (const g of grid) {
      const cell = runs.filter((r) => r.targetRatio === targetRatio && inSeries(r, g));
      const ok = cell.filter(succeeded);
      const bad = cell.filter((r) => !succeeded(r));
      const ppls = ok.map((r) => r.ppl as number);
      out.push({
        method: g.method,
        recovery: g.recovery,
        headUnit: g.headUnit,
        targetRatio,
        n: ok.length,
        failed: bad.length,
        pplMean: mean(ppls),
        pplSd: sampleSd(ppls),
        removedFractionMean: mean(ok.map((r) => r.removedFraction as number)),
        errors: bad.map((r) => r.error ?? 'no finite perplexity'),
      });
    }
  }
  return out;
}
