// Layer-based importance ratio (ALGORITHM.md section 2): which layers are pruned and how hard.
// Layers whose output is most similar to their input (high mean cosine) matter least; the top K of
// them are pruned, with per-layer ratios from a softmax so that their mean is exactly p.
import { roundHalfEven, stableArgsort } from './stats-math.js';

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
