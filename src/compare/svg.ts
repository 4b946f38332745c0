// The comparison as an SVG chart: perplexity (log scale) against the fraction of decoder linear
// parameters removed, one line per method + recovery, the dense model as a rule.
import type { MethodName } from '../prune/methods.js';
import type { RecoveryName } from '../prune/recoveries.js';
import { fmtPpl, seriesLabel } from './markdown.js';
import type { CompareResult } from './run.js';

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
