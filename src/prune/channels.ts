// FFN channel selection (docs/algorithm.md): feature-space importance of each SwiGLU channel.
//
// Shapes (row-major, nn.Linear layout): W_gate, W_up [F × D]; W_down [D × F]. X is the MLP input
// [M × D] (after RMSNorm), Hh = silu(X W_gateᵀ) ⊙ (X W_upᵀ) [M × F], Y = Hh W_downᵀ [M × D].
import {
  type Vec,
  assertDim,
  assertLength,
  roundHalfEven,
  stableArgsort,
} from './stats-math.js';

export interface ChannelScoreArgs {
  /** W_gate [F × D]. */
  wGate: Vec;
  /** W_up [F × D]. */
  wUp: Vec;
  /** W_down [D × F]. */
  wDown: Vec;
  D: number;
  F: number;
  /** [D] column sums of squares of X (uncentred): n_j = sqrt(inputSumsq_j) = ‖X[:,j]‖₂. */
  inputSumsq: Vec;
  /** [F] column sums of squares of Hh (uncentred): m_k = sqrt(hiddenSumsq_k). */
  hiddenSumsq: Vec;
  /**
   * ‖P[k,:]‖² [F] = Σ_m ⟨W_down[:,k], v_m⟩²·w_m² = ‖Z·W_down[:,k]‖² with Z = spectralSigmoid(C_Y)
   * (the backend's matrix function), C_Y the covariance of the MLP output.
   */
  downQuad: Vec;
}

/**
 * score_k = ‖W_gate[k,:] ⊙ n‖₂ + ‖W_up[k,:] ⊙ n‖₂ + m_k · ‖P[k,:]‖₂ with
 * P[k,m] = |⟨W_down[:,k], v_m⟩| · w_m over the eigenpairs (λ_m, v_m) of C_Y, w = sigmoid(|λ|/mean|λ|)
 * (kernels/cpu/matfun.ts eigenWeights). Lower = less important. Returns Float64Array [F].
 */
export function channelScores(args: ChannelScoreArgs): Float64Array {
  const { wGate, wUp, wDown, D, F, inputSumsq, hiddenSumsq } = args;
  assertDim('D', D);
  assertDim('F', F);
  assertLength('wGate', wGate, F * D);
  assertLength('wUp', wUp, F * D);
  assertLength('wDown', wDown, D * F);
  assertLength('inputSumsq', inputSumsq, D);
  assertLength('hiddenSumsq', hiddenSumsq, F);
  const quad = args.downQuad;
  assertLength('downQuad', quad, F);

  const nrm = new Float64Array(D);
  for (let j = 0; j < D; j++) nrm[j] = Math.sqrt(Math.max(0, inputSumsq[j]));
  const scores = new Float64Array(F);
  for (let k = 0; k < F; k++) {
    const row = k * D;
    let g2 = 0;
    let u2 = 0;
    for (let j = 0; j < D; j++) {
      const gj = wGate[row + j] * nrm[j];
      const uj = wUp[row + j] * nrm[j];
      g2 += gj * gj;
      u2 += uj * uj;
    }
    const mk = Math.sqrt(Math.max(0, hiddenSumsq[k]));
    scores[k] = Math.sqrt(g2) + Math.sqrt(u2) + mk * Math.sqrt(Math.max(0, quad[k]));
  }
  return scores;
}

export interface ChannelSelection {
  /** Kept channels, ascending. */
  kept: number[];
  /** Pruned channels, ascending. */
  pruned: number[];
  /** Lowest-score channels actually kept by the reference quirk (after clamping). */
  keptLowest: number;
  /** True when nPrune or keptLowest had to be reduced (see `selectChannels`). */
  bounded: boolean;
}

/**
 * Channel choice, as the reference: sort scores ascending (stable), keep the lowest
 * L = round_half_even(keepLowestFraction·F) channels (a quirk of the original code; pass 0 to turn
 * it off), prune the next nPrune, keep the rest.
 * Clamping ([ext], the reference would fail): nPrune is reduced to F−1 so one channel survives; if
 * L + nPrune then exceeds F, L is reduced to F − nPrune so exactly nPrune channels are still pruned.
 * `bounded` reports either clamp.
 */
export function selectChannels(scores: ArrayLike<number>, nPrune: number, keepLowestFraction = 0.01): ChannelSelection {
  const F = scores.length;
  if (F === 0) throw new Error('selectChannels: scores is empty');
  for (let k = 0; k < F; k++) {
    if (!Number.isFinite(scores[k])) throw new Error(`selectChannels: score of channel ${k} is not finite (${scores[k]})`);
  }
  if (!Number.isInteger(nPrune) || nPrune < 0) throw new Error(`selectChannels: nPrune must be a non-negative integer, got ${nPrune}`);
  if (!Number.isFinite(keepLowestFraction) || keepLowestFraction < 0 || keepLowestFraction >= 1) {
    throw new Error(`selectChannels: keepLowestFraction must be in [0, 1), got ${keepLowestFraction}`);
  }
  let bounded = false;
  let n = nPrune;
  if (n > F - 1) {
    n = F - 1;
    bounded = true;
  }
  let low = roundHalfEven(keepLowestFraction * F);
  if (low + n > F) {
    low = F - n;
    bounded = true;
  }
  const order = stableArgsort(scores, false);
  const pruned = order.slice(low, low + n).sort((a, b) => a - b);
  const kept = order.slice(0, low).concat(order.slice(low + n)).sort((a, b) => a - b);
  return { kept, pruned, keptLowest: low, bounded };
}
