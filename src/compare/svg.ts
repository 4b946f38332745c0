// The comparison as an SVG chart: perplexity (log scale) against the fraction of decoder linear
// parameters removed, one line per method + recovery, the dense model as a rule. Over several
// calibration draws the points are the means, with ±1 sample standard deviation as error bars.
import type { MethodName } from '../prune/methods.js';
import { inSeries, type GridEntry } from './grid.js';
import type { RecoveryName } from '../prune/recoveries.js';
import { fmtPpl, seriesLabel } from './markdown.js';
import type { CompareResult } from './run.js';
import type { CompareSummary } from './summary.js';

const METHOD_COLORS: Record<MethodName, string> = {
  slimllm: '#1f77b4',
  obs: '#ff7f0e',
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

interface Frame {
  W: number;
  H: number;
  m: { left: number; right: number; top: number; bottom: number };
  pw: number;
  ph: number;
  lo: number;
  hi: number;
  xMax: number;
  sx: (v: number) => number;
  sy: (v: number) => number;
}

/** A plotted point: the mean over draws, and its spread when there is one. */
interface Point extends CompareSummary {
  pplMean: number;
  removedFractionMean: number;
}

function plotted(r: CompareResult): Point[] {
  return r.summary.filter((s): s is Point => s.pplMean !== null && s.removedFractionMean !== null && Number.isFinite(s.pplMean));
}

/** Lower end of an error bar; a bar reaching zero or below is cut at the mean's tenth (log axis). */
function barLow(p: Point): number {
  return p.pplSd === null ? p.pplMean : Math.max(p.pplMean - p.pplSd, p.pplMean / 10);
}

function barHigh(p: Point): number {
  return p.pplSd === null ? p.pplMean : p.pplMean + p.pplSd;
}

/** Scales covering the dense rule, every mean and every error bar. */
function frame(r: CompareResult, pts: Point[], withBars: boolean): Frame {
  const W = 880;
  const H = 480;
  const m = { left: 64, right: 270, top: 44, bottom: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const ys = [r.dense.ppl, ...pts.flatMap((p) => (withBars ? [barLow(p), barHigh(p)] : [p.pplMean]))];
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (!(hi > lo)) hi = lo * 2;
  lo = lo / 1.08;
  hi = hi * 1.08;
  const xMax = Math.max(0.1, Math.ceil(Math.max(0, ...pts.map((p) => p.removedFractionMean)) * 20 + 0.5) / 20);
  const sx = (v: number) => m.left + (v / xMax) * pw;
  const sy = (v: number) => m.top + ph - ((Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * ph;
  return { W, H, m, pw, ph, lo, hi, xMax, sx, sy };
}

function axes(f: Frame): string[] {
  const { m, pw, ph, sx, sy } = f;
  const o: string[] = [];
  for (const t of logTicks(f.lo, f.hi)) {
    const y = sy(t).toFixed(1);
    o.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`);
    o.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${t}</text>`);
  }
  for (let i = 0; i <= Math.floor(f.xMax * 10 + 1e-9); i++) {
    const v = i / 10;
    const x = sx(v).toFixed(1);
    o.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#efefef"/>`);
    o.push(`<text x="${x}" y="${m.top + ph + 18}" text-anchor="middle">${Math.round(v * 100)} %</text>`);
  }
  o.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  o.push(`<text x="${m.left + pw / 2}" y="${f.H - 12}" text-anchor="middle">decoder linear parameters removed</text>`);
  o.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">perplexity (log scale)</text>`);
  return o;
}

function denseRule(f: Frame, ppl: number): string[] {
  const yd = f.sy(ppl).toFixed(1);
  return [
    `<line x1="${f.m.left}" x2="${f.m.left + f.pw}" y1="${yd}" y2="${yd}" stroke="#000" stroke-dasharray="3 3"/>`,
    `<text x="${f.m.left + f.pw - 4}" y="${(Number(yd) - 5).toFixed(1)}" text-anchor="end" fill="#000">dense ${fmtPpl(ppl)}</text>`,
  ];
}

/** A vertical bar from mean − sd to mean + sd with short caps. */
function errorBar(f: Frame, p: Point, color: string): string {
  const x = f.sx(p.removedFractionMean);
  const [y0, y1] = [f.sy(barLow(p)), f.sy(barHigh(p))];
  const cap = (y: number) => `M${(x - 4).toFixed(1)} ${y.toFixed(1)}H${(x + 4).toFixed(1)}`;
  return `<path class="error-bar" d="M${x.toFixed(1)} ${y0.toFixed(1)}V${y1.toFixed(1)}${cap(y0)}${cap(y1)}" stroke="${color}" stroke-width="1.2" fill="none"/>`;
}

/** One method + recovery: its line from the dense point, markers, bars (over draws) and legend entry. */
function series(f: Frame, r: CompareResult, pts: Point[], withBars: boolean, g: GridEntry, i: number): { plot: string[]; legend: string[] } {
  const color = METHOD_COLORS[g.method];
  const dash = RECOVERY_DASH[g.recovery];
  const s = pts.filter((p) => inSeries(p, g)).sort((a, b) => a.removedFractionMean - b.removedFractionMean);
  const path = [{ x: 0, y: r.dense.ppl }, ...s.map((p) => ({ x: p.removedFractionMean, y: p.pplMean }))];
  const plot = [`<polyline fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${path.map((p) => `${f.sx(p.x).toFixed(1)},${f.sy(p.y).toFixed(1)}`).join(' ')}"/>`];
  if (withBars) for (const p of s) if (p.pplSd !== null) plot.push(errorBar(f, p, color));
  for (const p of path.slice(1)) plot.push(marker(RECOVERY_MARK[g.recovery], f.sx(p.x), f.sy(p.y), color));
  const ly = f.m.top + 8 + i * 20;
  const lx = f.m.left + f.pw + 16;
  const legend = [
    `<line x1="${lx}" x2="${lx + 30}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    marker(RECOVERY_MARK[g.recovery], lx + 15, ly, color),
    `<text x="${lx + 38}" y="${ly}" dominant-baseline="middle">${esc(seriesLabel(g))}</text>`,
  ];
  return { plot, legend };
}

/** Seeds as a range when they run one by one (as calibrationDraws makes them), else listed. */
function seedText(seeds: (number | null)[]): string {
  const consecutive = seeds.length > 2 && seeds.every((x, i) => x !== null && x === (seeds[0] as number) + i);
  return consecutive ? `${seeds[0]}–${seeds[seeds.length - 1]}` : seeds.join(', ');
}

/** The line under the title: evaluation, calibration and, over draws, how many and their seeds. */
function subtitle(r: CompareResult): string {
  const c = r.calibration;
  const calib = c.draws > 1 ? `calibration ${c.draws} draws of ${c.sequences}×${c.seqLen} tokens (seeds ${seedText(c.seeds)})` : `calibration ${c.sequences}×${c.seqLen} tokens`;
  return `${r.evaluation.label}, ${r.evaluation.tokens} tokens; ${calib}; ${r.device}`;
}

/** Under the legend, over draws: what a point and a bar stand for. */
function barsNote(f: Frame, r: CompareResult): string[] {
  const x = f.m.left + f.pw + 16;
  const y = f.m.top + 8 + r.grid.length * 20 + 6;
  return [
    `<text x="${x}" y="${y}" font-size="11" fill="#555">points: mean over ${r.calibration.draws} calibration draws</text>`,
    `<text x="${x}" y="${y + 15}" font-size="11" fill="#555">bars: ±1 sample sd over the draws</text>`,
  ];
}

/** Perplexity (log scale) against removed fraction; one line per method/recovery, dense as a dashed rule. */
export function compareSvg(r: CompareResult, title = `Perplexity after structured pruning — ${r.model}`): string {
  const pts = plotted(r);
  const withBars = r.calibration.draws > 1;
  const f = frame(r, pts, withBars);
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${f.W}" height="${f.H}" viewBox="0 0 ${f.W} ${f.H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<rect width="${f.W}" height="${f.H}" fill="white"/>`);
  o.push(`<text x="${f.m.left}" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`);
  o.push(...axes(f), ...denseRule(f, r.dense.ppl));
  const legend: string[] = [];
  r.grid.forEach((g, i) => {
    const s = series(f, r, pts, withBars, g, i);
    o.push(...s.plot);
    legend.push(...s.legend);
  });
  o.push(...legend);
  if (withBars) o.push(...barsNote(f, r));
  o.push(`<text x="${f.m.left}" y="${f.m.top - 8}" font-size="11" fill="#555">${esc(subtitle(r))}</text>`);
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}
