// FFN channel selection (ALGORITHM.md section 5): feature-space importance of each SwiGLU channel.
//
// Shapes (row-major, nn.Linear layout): W_gate, W_up [F × D]; W_down [D × F]. X is the MLP input
// [M × D] (after RMSNorm), Hh = silu(X W_gateᵀ) ⊙ (X W_upᵀ) [M × F], Y = Hh W_downᵀ [M × D].
import { eigenWeights } from '../kernels/cpu/matfun.js';
import {
  type Vec,
  assertDim,
  assertLength,
  roundHalfEven,
  stableArgsort,
} from './stats-math.js';

/**
 * C_Y = W_down · M2_H · W_downᵀ [D × D] (float64, exactly symmetric), where M2_H is the centred Gram
 * matrix of Hh (not divided by M). This equals Ycᵀ Yc, the matrix the reference eigendecomposes;
 * passing the population covariance instead gives C_Y/M, which changes neither the eigenvectors nor
 * the weights sigmoid(|λ|/mean|λ|) — any positive scale is fine.
 * Cost ≈ D·F² + D²·F/2 multiply-adds: a CPU reference; on real models form it on the GPU.
 */
export function outputCovariance(wDown: Vec, D: number, F: number, hiddenM2: Vec): Float64Array {
  assertDim('D', D);
  assertDim('F', F);
  assertLength('wDown', wDown, D * F);
  assertLength('hiddenM2', hiddenM2, F * F);
  const out = new Float64Array(D * D);
  const t = new Float64Array(F);
  for (let c = 0; c < D; c++) {
    // t = W_down[c,:] · M2_H
    t.fill(0);
    const wrow = c * F;
    for (let k = 0; k < F; k++) {
      const w = wDown[wrow + k];
      if (w === 0) continue;
      const mrow = k * F;
      for (let j = 0; j < F; j++) t[j] += w * hiddenM2[mrow + j];
    }
    for (let c2 = c; c2 < D; c2++) {
      let s = 0;
      const r2 = c2 * F;
      for (let j = 0; j < F; j++) s += t[j] * wDown[r2 + j];
      out[c * D + c2] = s;
      out[c2 * D + c] = s;
    }
  }
  return out;
}

export { eigenWeights };

/** W_downᵀ · V [F × D]: entry [k, m] = ⟨W_down[:,k], V[:,m]⟩. Cost F·D² (GPU-worthy on real models). */
export function downProjections(wDown: Vec, D: number, F: number, eigVectors: Vec): Float64Array {
  assertDim('D', D);
  assertDim('F', F);
  assertLength('wDown', wDown, D * F);
  assertLength('eigVectors', eigVectors, D * D);
  const out = new Float64Array(F * D);
  for (let i = 0; i < D; i++) {
    const vrow = i * D;
    const wrow = i * F;
    for (let k = 0; k < F; k++) {
      const w = wDown[wrow + k];
      if (w === 0) continue;
      const orow = k * D;
      for (let m = 0; m < D; m++) out[orow + m] += w * eigVectors[vrow + m];
    }
  }
  return out;
}

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
  /** [D] eigenvalues of C_Y (any order, any positive scale of C_Y). Needed unless downQuad is given. */
  eigValues?: Vec;
  /** [D × D] row-major, eigenvector m is COLUMN m (V[i,m] at i·D + m); signs are irrelevant. Needed unless downProj is given. */
  eigVectors?: Vec;
  /**
   * Optional precomputed W_downᵀ·V [F × D] (e.g. from the GPU); when given, eigVectors is not needed
   * and the F·D² product is skipped.
   */
  downProj?: Vec;
  /**
   * Optional precomputed ‖P[k,:]‖² [F] = ‖Z·W_down[:,k]‖² with Z = spectralSigmoid(C_Y) (the
   * backend's matrix function); when given, no eigen-decomposition input is needed.
   */
  downQuad?: Vec;
}

/**
 * score_k = ‖W_gate[k,:] ⊙ n‖₂ + ‖W_up[k,:] ⊙ n‖₂ + m_k · ‖P[k,:]‖₂ with
 * P[k,m] = |⟨W_down[:,k], V[:,m]⟩| · w_m, w = `eigenWeights(eigValues)`. Lower = less important.
 * Returns Float64Array [F].
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
  const quad = args.downQuad ?? eigenQuad(args);
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

/** ‖P[k,:]‖² = Σ_m ⟨W_down[:,k], V[:,m]⟩²·w_m² from an eigendecomposition (the reference route). */
function eigenQuad(args: ChannelScoreArgs): Float64Array {
  const { wDown, D, F, eigValues, eigVectors } = args;
  if (!eigValues) throw new Error('channelScores: give downQuad, or eigValues with eigVectors or downProj');
  assertLength('eigValues', eigValues, D);
  let proj = args.downProj;
  if (!proj) {
    if (!eigVectors) throw new Error('channelScores: give eigVectors or downProj');
    proj = downProjections(wDown, D, F, eigVectors);
  }
  assertLength('downProj', proj, F * D);
  const w = eigenWeights(eigValues);
  const quad = new Float64Array(F);
  for (let k = 0; k < F; k++) {
    let p2 = 0;
    for (let m = 0; m < D; m++) p2 += proj[k * D + m] ** 2 * w[m] * w[m];
    quad[k] = p2;
  }
  return quad;
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
