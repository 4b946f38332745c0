// Layer-based importance ratio (docs/algorithm.md): which layers are pruned and how hard.
// Layers whose output is most similar to their input (high mean cosine) matter least; the top K of
// them are pruned, with per-layer ratios from a softmax so that their mean is exactly p. Also the
// other ratio policies (one ratio for every layer; widths decided beforehand) and the solve for p.
import { decoderLinearParams, layerLinearParams, unitParams, type ModelConfig } from '../model/config.js';
import { roundHalfEven, stableArgsort } from './stats-math.js';
import { attentionUnits, type AttentionUnits, type HeadUnit } from './units.js';

export interface LayerRatios {
  /** selected[l]: layer l is among the top K by score and gets pruned. */
  selected: boolean[];
  /** r_l = p·K·softmax(alpha·s over selected)_l for selected layers, 0 otherwise (may exceed 1). */
  ratios: number[];
  /** Layer indices by score, descending (stable: ties keep the lower index first). */
  order: number[];
}

/**
 * Per-layer pruning ratios.
 * @param scores s_l = mean cosine(h_in, h_out) of each layer of the unpruned model (finite).
 * @param p mean ratio over the selected layers, in [0, 1).
 * @param K number of layers to prune, 1..L.
 * @param alpha softmax temperature (finite; paper: 10 at ~20 %, 7 at ~50 %).
 */
export function layerRatios(scores: number[], p: number, K: number, alpha: number): LayerRatios {
  const L = scores.length;
  if (L === 0) throw new Error('layerRatios: scores is empty');
  scores.forEach((s, l) => {
    if (!Number.isFinite(s)) throw new Error(`layerRatios: score of layer ${l} is not finite (${s})`);
  });
  if (!Number.isFinite(p) || p < 0 || p >= 1) throw new Error(`layerRatios: p must be in [0, 1), got ${p}`);
  if (!Number.isInteger(K) || K < 1 || K > L) throw new Error(`layerRatios: K must be an integer in 1..${L}, got ${K}`);
  if (!Number.isFinite(alpha)) throw new Error(`layerRatios: alpha must be finite, got ${alpha}`);

  const order = stableArgsort(scores, true);
  const top = order.slice(0, K);
  // Softmax over the selected layers only; subtract the max so large alpha·s cannot overflow.
  let zMax = -Infinity;
  for (const l of top) zMax = Math.max(zMax, alpha * scores[l]);
  const e = top.map((l) => Math.exp(alpha * scores[l] - zMax));
  const sum = e.reduce((a, b) => a + b, 0);

  const selected = new Array<boolean>(L).fill(false);
  const ratios = new Array<number>(L).fill(0);
  top.forEach((l, i) => {
    selected[l] = true;
    // Same association as the reference: p * (softmax · K).
    ratios[l] = p * ((e[i] / sum) * K);
  });
  return { selected, ratios, order };
}

/**
 * Number of units (head groups or FFN channels) to remove for a ratio: round(ratio·units) with
 * Python's half-to-even rounding, clamped to units−1 so at least one unit survives ([ext]: the
 * reference has no bound). `bounded` is true when the clamp changed the result.
 */
export function unitsToPrune(ratio: number, units: number): { n: number; bounded: boolean } {
  if (!Number.isFinite(ratio) || ratio < 0) throw new Error(`unitsToPrune: ratio must be finite and >= 0, got ${ratio}`);
  if (!Number.isInteger(units) || units < 1) throw new Error(`unitsToPrune: units must be a positive integer, got ${units}`);
  const raw = roundHalfEven(ratio * units);
  return raw > units - 1 ? { n: units - 1, bounded: true } : { n: raw, bounded: false };
}

/** Units a layer's attention loses at a ratio: round(ratio·units), per block for query heads, at least one left per block. */
export function attentionCut(ratio: number, a: AttentionUnits): { n: number; bounded: boolean } {
  const blocks = a.units / a.blockSize;
  const perBlock = unitsToPrune(ratio, a.blockSize);
  return { n: perBlock.n * blocks, bounded: perBlock.bounded };
}

/** How much each layer loses: SlimLLM's layer-based ratio, or one ratio for every layer. */
export type RatioPolicy =
  | { kind: 'layer-based'; p?: number; targetRatio?: number; K: number; alpha: number }
  | { kind: 'uniform'; p?: number; targetRatio?: number }
  /** Attention units (groups or query heads) / FFN channels to remove per layer, decided beforehand (FLAP's global threshold). */
  | { kind: 'explicit'; heads: number[]; channels: number[] };

/** Fraction of decoder linear parameters removed by given per-layer ratios (before any method bound). */
export function removedFraction(c: ModelConfig, ratios: number[], headUnit: HeadUnit = 'group'): number {
  let removed = 0;
  ratios.forEach((r, l) => {
    if (r <= 0) return;
    const s = c.layers[l];
    const att = attentionUnits(c, s, headUnit);
    removed += attentionCut(r, att).n * att.params + unitsToPrune(r, s.ffnDim).n * unitParams(c, s).channel;
  });
  return removed / decoderLinearParams(c);
}

/** Solves p (bisection) so that ratios(p) remove the fraction of parameters closest to `target`. */
export function solveP(c: ModelConfig, ratiosOf: (p: number) => number[], target: number, headUnit: HeadUnit = 'group'): number {
  if (target <= 0) return 0;
  const frac = (p: number) => removedFraction(c, ratiosOf(p), headUnit);
  let lo = 0;
  let hi = 0.999999;
  // Refused rather than silently removing less than asked.
  if (frac(hi) < target) {
    throw new Error(`targetRatio ${target} cannot be reached: at most ${frac(hi).toFixed(4)} of the decoder's linear parameters can be removed with these settings (K, alpha, method)`);
  }
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (frac(mid) < target) lo = mid;
    else hi = mid;
  }
  return Math.abs(frac(lo) - target) <= Math.abs(frac(hi) - target) ? lo : hi;
}

/** The per-layer ratios a policy gives, with the p, K and alpha the report states. */
export function resolveRatios(c: ModelConfig, scores: number[], pol: RatioPolicy, headUnit: HeadUnit = 'group'): { p: number; K: number; alpha: number; ratios: number[] } {
  const L = c.nLayers;
  if (pol.kind === 'explicit') return explicitRatios(c, pol, headUnit);
  const ratiosOf =
    pol.kind === 'layer-based'
      ? (p: number) => layerRatios(scores, p, pol.K, pol.alpha).ratios
      : (p: number) => Array.from({ length: L }, () => p);
  const p = pol.p ?? solveP(c, ratiosOf, pol.targetRatio ?? 0, headUnit);
  return { p, K: pol.kind === 'layer-based' ? pol.K : L, alpha: pol.kind === 'layer-based' ? pol.alpha : 0, ratios: ratiosOf(p) };
}

/** Widths decided beforehand: a layer's ratio is the fraction of its linear parameters removed; p, of the decoder's. */
function explicitRatios(c: ModelConfig, pol: { heads: number[]; channels: number[] }, headUnit: HeadUnit): { p: number; K: number; alpha: number; ratios: number[] } {
  const L = c.nLayers;
  if (pol.heads.length !== L || pol.channels.length !== L) throw new Error(`explicit widths need ${L} layers, got ${pol.heads.length} / ${pol.channels.length}`);
  let removed = 0;
  const ratios = c.layers.map((s, l) => {
    const [h, f] = [pol.heads[l], pol.channels[l]];
    const att = attentionUnits(c, s, headUnit);
    const blocks = att.units / att.blockSize;
    if (!(Number.isInteger(h) && h >= 0 && h % blocks === 0 && h / blocks < att.blockSize)) {
      throw new Error(`layer ${l}: cannot remove ${h} of ${att.units} ${att.queryHeads ? `query heads (a multiple of ${blocks} groups, one head left in each)` : 'head groups'}`);
    }
    if (!(Number.isInteger(f) && f >= 0 && f < s.ffnDim)) throw new Error(`layer ${l}: cannot remove ${f} of ${s.ffnDim} channels`);
    const r = h * att.params + f * unitParams(c, s).channel;
    removed += r;
    return r / layerLinearParams(c, l);
  });
  return { p: removed / decoderLinearParams(c), K: ratios.filter((r) => r > 0).length, alpha: 0, ratios };
}

/** How many attention units (groups or query heads) and channels layer l loses under a policy and its resolved ratio. */
export function layerCut(pol: RatioPolicy, c: ModelConfig, l: number, ratio: number, headUnit: HeadUnit = 'group'): { heads: { n: number; bounded: boolean }; channels: { n: number; bounded: boolean } } {
  if (pol.kind === 'explicit') return { heads: { n: pol.heads[l], bounded: false }, channels: { n: pol.channels[l], bounded: false } };
  return { heads: attentionCut(ratio, attentionUnits(c, c.layers[l], headUnit)), channels: unitsToPrune(ratio, c.layers[l].ffnDim) };
}
