// `slimllm compare`: prune one model at several parameter ratios with several methods and
// recoveries, evaluate each result, and write the grid as JSON, a Markdown table and an SVG chart
// (perplexity against the fraction of decoder linear parameters removed, one line per
// method/recovery). The model, backend, calibration tokens, evaluation sequences and the dense
// perplexity are shared by every run of the grid.
import { sequencesPerplexity } from '../eval/perplexity.js';
import type { Backend } from '../kernels/backend.js';
import type { ModelSource } from '../model/weights.js';
import { METHOD_NAMES, type MethodName } from './methods.js';
import { defaultRecovery, parsePruneOptions, relevantOptions } from './options.js';
import { pruneWithOptions } from './run.js';
import { RECOVERY_NAMES, type RecoveryName } from './recoveries.js';

export interface GridEntry {
  method: MethodName;
  recovery: RecoveryName;
}

/**
 * The (method, recovery) pairs of a grid: every method with every recovery entry, where an entry is
 * a recovery name, `default` (the method's own) or `method:recovery` (that method only). Duplicates
 * (e.g. wanda-sp's default is none) are dropped; order follows `methods`, then `recoveries`.
 */
export function expandGrid(methods: readonly string[], recoveries: readonly string[]): GridEntry[] {
  for (const m of methods) if (!METHOD_NAMES.includes(m as MethodName)) throw new Error(`unknown method '${m}' (one of ${METHOD_NAMES.join(', ')})`);
  const parsed = recoveries.map((e) => {
    const [a, b] = e.includes(':') ? e.split(':', 2) : [null, e];
    if (a !== null && !METHOD_NAMES.includes(a as MethodName)) throw new Error(`unknown method '${a}' in recovery entry '${e}'`);
    if (b !== 'default' && !RECOVERY_NAMES.includes(b as RecoveryName)) throw new Error(`unknown recovery '${b}' (one of default, ${RECOVERY_NAMES.join(', ')})`);
    return { only: a, rec: b };
  });
  const out: GridEntry[] = [];
  const seen = new Set<string>();
  for (const m of methods as MethodName[]) {
    for (const { only, rec } of parsed) {
      if (only !== null && only !== m) continue;
      const recovery = rec === 'default' ? defaultRecovery(m) : (rec as RecoveryName);
      const key = `${m}/${recovery}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ method: m, recovery });
    }
  }
  if (out.length === 0) throw new Error('the grid is empty: check --methods and --recoveries');
  return out;
}

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

// ---- Markdown ----

function pct(x: number, digits = 1): string {
  return `${(100 * x).toFixed(digits)} %`;
}

function fmtPpl(x: number): string {
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

// ---- SVG ----

const METHOD_COLORS: Record<MethodName, string> = {
  slimllm: '#1f77b4',
  flap: '#d62728',
  'wanda-sp': '#2ca02c',
  magnitude: '#9467bd',
  random: '#7f7f7f',
};
const RECOVERY_DASH: Record<RecoveryName, string> = { regression: '', bias: '', none: '7 4', lstsq: '2 3' };
const RECOVERY_MARK: Record<RecoveryName, 'circle' | 'square' | 'diamond' | 'triangle'> = { none: 'square', regression: 'circle', bias: 'circle', lstsq: 'diamond' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function marker(kind: 'circle' | 'square' | 'diamond' | 'triangle', x: number, y: number, color: string): string {
  const f = (v: number) => v.toFixed(1);
  switch (kind) {
    case 'circle':
      return `<circle cx="${f(x)}" cy="${f(y)}" r="3.5" fill="${color}"/>`;
    case 'square':
      return `<rect x="${f(x - 3.2)}" y="${f(y - 3.2)}" width="6.4" height="6.4" fill="white" stroke="${color}" stroke-width="1.6"/>`;
    case 'diamond':
      return `<path d="M${f(x)} ${f(y - 4.5)}L${f(x + 4.5)} ${f(y)}L${f(x)} ${f(y + 4.5)}L${f(x - 4.5)} ${f(y)}Z" fill="${color}"/>`;
    case 'triangle':
      return `<path d="M${f(x)} ${f(y - 4.5)}L${f(x + 4.5)} ${f(y + 3.5)}L${f(x - 4.5)} ${f(y + 3.5)}Z" fill="${color}"/>`;
  }
}

/** Log-scale ticks 1, 2, 5 × 10^k covering [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)) - 1; e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

/** Perplexity (log scale) against removed fraction; one line per method/recovery, dense as a dashed rule. */
export function compareSvg(r: CompareResult, title = `Perplexity after structured pruning — ${r.model}`): string {
  const W = 880;
  const H = 480;
  const m = { left: 64, right: 270, top: 44, bottom: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const pts = r.runs.filter((x) => x.ppl !== null && x.removedFraction !== null && Number.isFinite(x.ppl));
  const ys = [r.dense.ppl, ...pts.map((x) => x.ppl as number)];
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (!(hi > lo)) hi = lo * 2;
  lo = lo / 1.08;
  hi = hi * 1.08;
  const xMax = Math.max(0.1, Math.ceil(Math.max(0, ...pts.map((x) => x.removedFraction as number)) * 20 + 0.5) / 20);
  const sx = (v: number) => m.left + (v / xMax) * pw;
  const sy = (v: number) => m.top + ph - ((Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * ph;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(`<text x="${m.left}" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`);
  // Grid and axes.
  for (const t of logTicks(lo, hi)) {
    const y = sy(t).toFixed(1);
    o.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`);
    o.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${t}</text>`);
  }
  for (let i = 0; i <= Math.floor(xMax * 10 + 1e-9); i++) {
    const v = i / 10;
    const x = sx(v).toFixed(1);
    o.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#efefef"/>`);
    o.push(`<text x="${x}" y="${m.top + ph + 18}" text-anchor="middle">${Math.round(v * 100)} %</text>`);
  }
  o.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  o.push(`<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">decoder linear parameters removed</text>`);
  o.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">perplexity (log scale)</text>`);
  // Dense rule.
  const yd = sy(r.dense.ppl).toFixed(1);
  o.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${yd}" y2="${yd}" stroke="#000" stroke-dasharray="3 3"/>`);
  o.push(`<text x="${m.left + pw - 4}" y="${(Number(yd) - 5).toFixed(1)}" text-anchor="end" fill="#000">dense ${fmtPpl(r.dense.ppl)}</text>`);
  // Series.
  const legend: string[] = [];
  r.grid.forEach((g, i) => {
    const color = METHOD_COLORS[g.method];
    const dash = RECOVERY_DASH[g.recovery];
    const s = pts.filter((x) => x.method === g.method && x.recovery === g.recovery).sort((a, b) => (a.removedFraction as number) - (b.removedFraction as number));
    const path = [{ x: 0, y: r.dense.ppl }, ...s.map((x) => ({ x: x.removedFraction as number, y: x.ppl as number }))];
    o.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${path.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of path.slice(1)) o.push(marker(RECOVERY_MARK[g.recovery], sx(p.x), sy(p.y), color));
    const ly = m.top + 8 + i * 20;
    const lx = m.left + pw + 16;
    legend.push(`<line x1="${lx}" x2="${lx + 30}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    legend.push(marker(RECOVERY_MARK[g.recovery], lx + 15, ly, color));
    legend.push(`<text x="${lx + 38}" y="${ly}" dominant-baseline="middle">${esc(seriesLabel(g))}</text>`);
  });
  o.push(...legend);
  o.push(`<text x="${m.left}" y="${m.top - 8}" font-size="11" fill="#555">${esc(`${r.evaluation.label}, ${r.evaluation.tokens} tokens; calibration ${r.calibration.sequences}×${r.calibration.seqLen} tokens; ${r.device}`)}</text>`);
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}
