// The comparison as a Markdown table: perplexity (and the fraction removed) per ratio and series;
// over several calibration draws, the mean ± sample standard deviation of each cell.
import { defaultRecovery } from '../prune/options.js';
import { inSeries, type GridEntry } from './grid.js';
import type { CompareResult } from './run.js';
import type { CompareSummary } from './summary.js';

function pct(x: number, digits = 1): string {
  return `${(100 * x).toFixed(digits)} %`;
}

export function fmtPpl(x: number): string {
  return x >= 1000 ? x.toExponential(2) : x >= 100 ? x.toFixed(1) : x.toFixed(2);
}

/** A spread printed at the mean's precision, so "5.18 ± 0.12" lines up digit for digit. */
function fmtSpread(mean: number, sd: number): string {
  return mean >= 1000 ? sd.toExponential(2) : mean >= 100 ? sd.toFixed(1) : sd.toFixed(2);
}

export function seriesLabel(g: GridEntry): string {
  const def = defaultRecovery(g.method) === g.recovery;
  return `${g.method} + ${g.recovery}${def && g.recovery !== 'none' ? ' (default)' : ''}${g.headUnit === 'query' ? ', query heads' : ''}`;
}

function summaryOf(r: CompareResult, g: GridEntry, ratio: number): CompareSummary | undefined {
  return r.summary.find((s) => s.targetRatio === ratio && inSeries(s, g));
}

function failedCell(s: CompareSummary): string {
  return `failed: ${(s.errors[0] ?? '').replace(/\|/g, '/').slice(0, 80)}`;
}

/** One cell: the (mean) perplexity, ± sd over draws when there are several, the removed fraction, failures. */
function cell(s: CompareSummary | undefined, draws: number, best: number): string {
  if (!s) return '';
  if (s.pplMean === null || s.removedFractionMean === null) return failedCell(s);
  const v = fmtPpl(s.pplMean);
  const shown = s.pplMean === best ? `**${v}**` : v;
  const spread = draws > 1 ? (s.pplSd === null ? ' ± n/a' : ` ± ${fmtSpread(s.pplMean, s.pplSd)}`) : '';
  const failures = s.failed > 0 ? `; ${s.failed} of ${draws} draws failed` : '';
  return `${shown}${spread} (${pct(s.removedFractionMean)}${failures})`;
}

/** What the numbers are: the evaluation, the model, and (over draws) how many and which seeds. */
function caption(r: CompareResult): string[] {
  const c = r.calibration;
  const seeds = c.seeds.every((x) => x === null) ? 'given token ids' : `seed${c.seeds.length > 1 ? 's' : ''} ${c.seeds.join(', ')}`;
  const first = `Perplexity on ${r.evaluation.label} (${r.evaluation.tokens} tokens; lower is better) of ${r.model} after removing about the target fraction of its ${r.params || ''} decoder linear parameters; in brackets the fraction actually removed. Bold: best of the column. Device: ${r.device}.`;
  const drawsLine = c.draws > 1
    ? `Each cell is the mean ± sample standard deviation (n − 1) over N = ${c.draws} calibration draws (${seeds}) of ${c.sequences}×${c.seqLen} tokens from ${c.source}; a failed draw is counted in the cell, not averaged in.`
    : `Calibration: one draw (${seeds}) of ${c.sequences}×${c.seqLen} tokens from ${c.source}.`;
  return [first, '', drawsLine];
}

/** One row per method/recovery, one column per target ratio: perplexity (removed fraction reached). */
export function compareMarkdown(r: CompareResult): string {
  const lines: string[] = [];
  lines.push(`| method + recovery | ${r.ratios.map((x) => `${pct(x, 0)} target`).join(' | ')} |`);
  lines.push(`|---|${r.ratios.map(() => '---:').join('|')}|`);
  lines.push(`| dense | ${r.ratios.map(() => fmtPpl(r.dense.ppl)).join(' | ')} |`);
  const best = r.ratios.map((ratio) => Math.min(...r.summary.filter((s) => s.targetRatio === ratio && s.pplMean !== null).map((s) => s.pplMean as number)));
  for (const g of r.grid) {
    const cells = r.ratios.map((ratio, i) => cell(summaryOf(r, g, ratio), r.calibration.draws, best[i]));
    lines.push(`| ${seriesLabel(g)} | ${cells.join(' | ')} |`);
  }
  return [...caption(r), '', ...lines, ''].join('\n');
}
