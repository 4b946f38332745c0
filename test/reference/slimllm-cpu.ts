// Float64 CPU versions of SlimLLM's scores that materialise what the device route never forms: the
// group cross-covariances Σ from the full covariance, the output covariance C_Y and its
// eigendecomposition. Tests compare the device route (src/prune/heads.ts, channels.ts fed by
// products.ts) with these.
import { eigenWeights } from '../../src/kernels/cpu/matfun.js';
import { channelScores as scoresFromQuad, type ChannelScoreArgs } from '../../src/prune/channels.js';
import { checkShapes, selectHeadGroupsFromCrossCov, type HeadSelection } from '../../src/prune/heads.js';
import { type CovMoments, type Vec, assertDim, assertLength, assertPositiveCount } from '../../src/prune/stats-math.js';

/**
 * Σ computed on the CPU in float64 from the covariance (or m2 with scale = 1/count).
 * Cost ≈ D·n²/2 multiply-adds (only k ≥ g blocks are formed, then mirrored): fine for small and
 * medium layers (≈1.3 s for D = n = 1024 on one core); for n = D = 4096 (≈ 90 s) prefer
 * `groupCrossCovFromProducts` with GPU products.
 * @param cov [n×n] symmetric, row-major: C (population covariance of Z) or any positive multiple.
 */
export function groupCrossCov(
  wo: Vec,
  D: number,
  G: number,
  colsPerGroup: number,
  cov: Vec,
  scale = 1,
): Float64Array {
  const n = checkShapes(wo, D, G, colsPerGroup);
  assertLength('cov', cov, n * n);
  const sigma = new Float64Array(G * G * D);
  const t = new Float64Array(n);
  for (let c = 0; c < D; c++) {
    const row = c * n;
    for (let g = 0; g < G; g++) {
      // t[j] = Σ_{i∈S_g} W_o[c,i]·C[i,j] for the columns j of groups k ≥ g only.
      const j0 = g * colsPerGroup;
      t.fill(0, j0);
      for (let i = j0, ie = j0 + colsPerGroup; i < ie; i++) {
        const w = wo[row + i];
        if (w === 0) continue;
        const crow = i * n;
        for (let j = j0; j < n; j++) t[j] += w * cov[crow + j];
      }
      for (let k = g; k < G; k++) {
        let s = 0;
        for (let j = k * colsPerGroup, e = j + colsPerGroup; j < e; j++) s += t[j] * wo[row + j];
        s *= scale;
        sigma[(g * G + k) * D + c] = s;
        sigma[(k * G + g) * D + c] = s;
      }
    }
  }
  return sigma;
}

/**
 * Head-group choice from the statistics of Z (the o_proj input), all on the CPU in float64.
 * @param wo W_o [D × n] row-major, n = G·colsPerGroup.
 * @param stats moments of Z [M × n]: only m2 and count are used (Pearson is centred; the mean is
 *   validated for shape only). C = m2/count.
 * @param G number of groups (KV heads; = H for plain MHA).
 * @param colsPerGroup q·d columns per group (group g owns [g·q·d, (g+1)·q·d)).
 * @param nPrune groups to remove, in [0, G−1] (see `unitsToPrune`).
 * Cost is dominated by `groupCrossCov` (≈ D·n²/2); pass GPU products through
 * `groupCrossCovFromProducts` + `selectHeadGroupsFromCrossCov` for large layers.
 */
export function selectHeadGroups(
  wo: Vec,
  D: number,
  stats: CovMoments,
  G: number,
  colsPerGroup: number,
  nPrune: number,
): HeadSelection {
  const n = checkShapes(wo, D, G, colsPerGroup);
  assertLength('stats.mean', stats.mean, n);
  assertLength('stats.m2', stats.m2, n * n);
  assertPositiveCount(stats.count);
  const sigma = groupCrossCov(wo, D, G, colsPerGroup, stats.m2, 1 / stats.count);
  return selectHeadGroupsFromCrossCov(sigma, G, D, nPrune);
}

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

/** channelScores' inputs, with the reference route: C_Y's eigenpairs (or W_downᵀ·V) instead of downQuad. */
export interface ReferenceChannelScoreArgs extends Omit<ChannelScoreArgs, 'downQuad'> {
  /** [D] eigenvalues of C_Y (any order, any positive scale of C_Y). Needed unless downQuad is given. */
  eigValues?: Vec;
  /** [D × D] row-major, eigenvector m is COLUMN m (V[i,m] at i·D + m); signs are irrelevant. Needed unless downProj is given. */
  eigVectors?: Vec;
  /** Precomputed W_downᵀ·V [F × D]; when given, eigVectors is not needed. */
  downProj?: Vec;
  downQuad?: Vec;
}

/** channelScores with ‖P[k,:]‖² from an eigendecomposition when downQuad is not given. */
export function channelScores(args: ReferenceChannelScoreArgs): Float64Array {
  return scoresFromQuad({ ...args, downQuad: args.downQuad ?? eigenQuad(args) });
}

/** ‖P[k,:]‖² = Σ_m ⟨W_down[:,k], V[:,m]⟩²·w_m² from an eigendecomposition (the reference route). */
function eigenQuad(args: ReferenceChannelScoreArgs): Float64Array {
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

