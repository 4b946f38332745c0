// The comparison as a Markdown table: perplexity (and the fraction removed) per ratio and series.
import { defaultRecovery } from '../prune/options.js';
import type { GridEntry } from './grid.js';
import type { CompareResult } from './run.js';

function pct(x: number, digits = 1): string {
  return `${(100 * x).toFixed(digits)} %`;
}

export function fmtPpl(x: number): string {
  return x >= 1000 ? x.toExponential(2) : x >= 100 ? x.toFixed(1) : x.toFixed(2);
}

export function seriesLabel(g: GridEntry): string {
  const def = defaultRecovery(g.method) === g.recovery;
  return `${g.method} + ${g.recovery}${def && g.recovery !== 'none' ? ' (default)' : ''}`;
}

/** One row per method/recovery, one column per target ratio: perplexity (removed fraction reached). */
export function compareMarkdown(r: CompareResult): string {
  const lines: string[] = [];
  lines.push(`| method + recovery | ${r.ratios.map((x) => `${pct(x, 0)} target`).join(' | ')} |`);
  lines.push(`|---|${r.ratios.map(() => '---:').join('|')}|`);
  lines.push(`| dense | ${r.ratios.map(() => fmtPpl(r.dense.ppl)).join(' | ')} |`);
  const best = r.ratios.map((ratio) => Math.min(...r.runs.filter((x) => x.targetRatio === ratio && x.ppl !== null).map((x) => x.ppl as number)));
  for (const g of r.grid) {
    const cells = r.ratios.map((ratio, i) => {
      const run = r.runs.find((x) => x.targetRatio === ratio && x.method === g.method && x.recovery === g.recovery);
      if (!run) return '';
      if (run.ppl === null || run.removedFraction === null) return `failed: ${(run.error ?? '').replace(/\|/g, '/').slice(0, 80)}`;
      const v = fmtPpl(run.ppl);
      return `${run.ppl === best[i] ? `**${v}**` : v} (${pct(run.removedFraction)})`;
    });
    lines.push(`| ${seriesLabel(g)} | ${cells.join(' | ')} |`);
  }
  return [
    `Perplexity on ${r.evaluation.label} (${r.evaluation.tokens} tokens; lower is better) of ${r.model} after removing about the target fraction of its ${r.params || ''} decoder linear parameters; in brackets the fraction actually removed. Bold: best of the column. Device: ${r.device}.`,
    '',
    ...lines,
    '',
  ].join('\n');
}
